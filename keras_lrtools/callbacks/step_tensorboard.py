"""Per-step TensorBoard logging of the learning rate, loss and metrics."""

import os
import shlex
import time

import keras
import numpy as np

from keras_lrtools._optimizer_rates import attached_plateau_state
from keras_lrtools._optimizer_rates import rate_holders
from keras_lrtools._validation import check_bool
from keras_lrtools._validation import check_positive_int
from keras_lrtools.callbacks._distribution import is_chief
from keras_lrtools.callbacks._writers import ScalarWriter
from keras_lrtools.callbacks.step_recorder import per_step_trackers
from keras_lrtools.callbacks.step_recorder import watch_model
from keras_lrtools.schedules._common import scalar_values
from keras_lrtools.schedules._common import vectorized_values

# TensorBoard shows 1,000 sampled points per scalar tag by default: these
# flags make it show every update.
EVERY_POINT_FLAGS = ("--samples_per_plugin", "scalars=100000")


def tensorboard_command(log_dir):
    """The command that shows every logged update of `log_dir`."""
    command = ("tensorboard", "--logdir", shlex.quote(str(log_dir)))
    return " ".join(command + EVERY_POINT_FLAGS)


class StepTensorBoard(keras.callbacks.Callback):
    """Writes the learning rate, loss and metrics of every update.

    Keras's `TensorBoard` logs the learning rate once per epoch, and as
    "batch" values the running mean of the epoch so far. This callback
    writes, into `<log_dir>/<run_name>` (default `train`, next to Keras's
    own run so the curves line up), one point per optimizer update:

    - `learning_rate`: the LR update k actually used, schedule(k) (times
      the plateau scale), not the next one that `optimizer.learning_rate`
      shows at batch end;
    - `loss` and every mean metric (`accuracy`, ...): the value of that
      batch alone;
    - the effective step size, where the optimizer's bias correction has
      a closed form (`keras_lrtools.schedules.adam`):
      `adam_effective_learning_rate` for Adam and AdamW,
      lr_t = lr * sqrt(1 - beta_2 ** (k + 1)) / (1 - beta_1 ** (k + 1)),
      and `bias_corrected_learning_rate` for Adamax and Nadam (their own
      formulas); nothing for the other optimizers;
    - `learning_rate_scale`: the product of the plateau reductions, when
      `ReduceLROnPlateau` (or the guard) scales the LR.

    With a `MultiOptimizer`, each optimizer's rates are logged under its
    name: `learning_rate/<name>`, `adam_effective_learning_rate/<name>`.
    Mixed precision (`LossScaleOptimizer`), gradient accumulation, EMA and
    schedules of your own (registered or not) need nothing more.

    The x-axis is the counter Keras passes to the schedule, counted from
    0: the optimizer's update count, so a second `fit()` or a resumed run
    continues the curves. With `gradient_accumulation_steps=n` it counts
    batches (n per applied update, the public `optimizer.iterations` is it
    divided by n), and `learning_rate` at k is the LR Keras applies when
    batch k completes an update. An update a `LossScaleOptimizer` skips
    (non-finite gradients) does not advance the counter: that batch gets
    no point of its own, its loss counts in the next point's.

    Per-batch values come from the running totals of Keras's own loss
    tracker and mean metrics. Compile
    `keras_lrtools.callbacks.StepRecorder()` as the last metric: it
    records them inside the compiled step into a ring buffer on the
    device, which this callback reads once an epoch (or before it wraps),
    so logging every update costs almost nothing. It is required with
    `steps_per_execution > 1` (otherwise the end of the first compiled
    call raises and says so); without it, at `steps_per_execution=1`,
    the totals are read from the device after every update (slower).
    Metrics that are not means (AUC, precision) have no per-batch value
    and are not logged here. In a distributed run only the chief writes.

    With `update_freq=N`, a point is written every N updates; the loss and
    metrics are then the mean over the N batches since the last point (no
    device reads happen in between), the LR that of the update itself.
    The event files are written with the `tensorboard` package, without
    TensorFlow, on every backend. TensorBoard shows only 1,000 sampled
    points per tag unless told otherwise: `tensorboard --logdir LOG_DIR
    --samples_per_plugin scalars=100000` (`tensorboard_command(log_dir)`)
    shows every update.

    With `epoch_metrics=True` (the default) it also writes, like Keras's
    `TensorBoard`, the epoch's values as `epoch_loss`, `epoch_accuracy`,
    ..., `epoch_learning_rate` into the run folder and the validation ones
    into `<log_dir>/validation`, on the same x-axis: at the update count
    the epoch ends with (Keras's uses the epoch's index).

    A run resumed from a backup (`BackupAndRestore`, a checkpoint) replays
    what followed it; each writer marks where its run starts (a
    `SessionLog.START` event at the update count its first epoch starts
    from, after `BackupAndRestore` has restored the optimizer), and
    TensorBoard hides the earlier files' points from there on, so each
    update is shown once, with the values of the run that went on. They
    stay in the files. A run started anew (from update 0) into the same
    folder hides all the old points the same way.

    Args:
        log_dir: Folder of the TensorBoard logs. Default "logs".
        update_freq: Int > 0. Write every N updates. Default 1.
        run_name: Sub-folder of the run. Default "train".
        epoch_metrics: Bool. Also write the epoch-level values. Default
            True.

    Example:
    >>> callback = StepTensorBoard("logs/run-1")
    """

    def __init__(
        self,
        log_dir="logs",
        update_freq=1,
        run_name="train",
        epoch_metrics=True,
    ):
        super().__init__()
        if not isinstance(log_dir, (str, os.PathLike)):
            raise TypeError(
                "Argument `log_dir` must be a path. "
                f"Received: log_dir={log_dir!r}"
            )
        if not isinstance(run_name, str) or not run_name:
            raise TypeError(
                "Argument `run_name` must be a non-empty string. "
                f"Received: run_name={run_name!r}"
            )
        self.log_dir = os.fspath(log_dir)
        self.update_freq = check_positive_int("update_freq", update_freq)
        self.run_name = run_name
        self.epoch_metrics = check_bool("epoch_metrics", epoch_metrics)
        self._writer = None
        self._validation_writer = None

    @property
    def run_dir(self):
        return os.path.join(self.log_dir, self.run_name)

    # Set-up ---------------------------------------------------------------

    def set_model(self, model):
        super().set_model(model)
        # A compiled StepRecorder finds what to record when the train step
        # is traced: retrace only a step traced before it could see this
        # model (on tensorflow an untraced model has no built metrics yet).
        watch_model(model)
        recorder, _ = per_step_trackers(model.metrics)
        if (
            recorder is not None
            and not recorder.watched
            and getattr(model, "train_function", None) is not None
        ):
            model.make_train_function(force=True)

    def on_train_begin(self, logs=None):
        holders = rate_holders(self.model, "StepTensorBoard")
        # In a distributed run only the chief writes (see _distribution).
        self._active = is_chief(self.model)
        if not self._active:
            return
        self._steps_per_execution = int(
            getattr(self.model, "steps_per_execution", 1)
        )
        self._holders = holders
        self._rates = [_BlockCache() for _ in holders]
        self._corrections = [_BlockCache() for _ in holders]
        # Where this run starts on the x-axis, known at the first epoch's
        # start (after BackupAndRestore has restored the optimizer).
        self._start_step = None
        # Found after the first step: the compiled metrics of the
        # tensorflow backend are built only when the step is traced.
        self._trackers = None

    def _find_trackers(self):
        recorder, trackers = per_step_trackers(self.model.metrics)
        if recorder is None and self._steps_per_execution > 1:
            raise ValueError(
                "StepTensorBoard needs a StepRecorder to log every update "
                f"with steps_per_execution={self._steps_per_execution} "
                "(Keras shows callbacks only the last step of each "
                "execution). Compile with keras_lrtools.callbacks."
                "StepRecorder() as the last metric: model.compile(..., "
                "metrics=[..., StepRecorder()])."
            )
        if recorder is not None and (
            recorder.capacity <= self._steps_per_execution
        ):
            raise ValueError(
                f"StepRecorder(capacity={recorder.capacity}) must hold "
                "more steps than steps_per_execution="
                f"{self._steps_per_execution}."
            )
        self._recorder = recorder
        self._trackers = trackers

    def on_epoch_begin(self, epoch, logs=None):
        if not self._active:
            return
        # One device read per epoch: the update count at its start.
        _ = self.model  # on jax, syncs the trainer's state into variables
        self._written_upto = self._read_counter()  # next update to write
        if self._start_step is None:
            # Points of earlier files from here on (a killed run's, that a
            # resumed one replays) are hidden by TensorBoard.
            self._start_step = self._written_upto
            if self._writer is None:
                self._writer = self._new_writer(self.run_dir)
        self._batches_run = self._batches_read = 0
        self._epoch_drained = False
        self._execution_ends = []  # (batches after the execution, time)
        self._last_row = None  # Keras resets the metrics every epoch.

    def _read_counter(self):
        """The x-axis counter now (the first optimizer's)."""
        return int(keras.ops.convert_to_numpy(self._holders[0].counter))

    # Per execution ----------------------------------------------------------

    def on_train_batch_end(self, batch, logs=None):
        if not self._active:
            return
        if self._trackers is None:
            self._find_trackers()
        # Every execution is full but maybe the last of the epoch, whose
        # true length is read from the device when it is drained.
        self._batches_run += self._steps_per_execution
        if self._recorder is not None:
            self._execution_ends.append((self._batches_run, time.time()))
            steps = (self.params or {}).get("steps")
            last_of_epoch = steps is not None and batch + 1 >= steps
            # The ring must be read before it wraps over unread rows.
            full = (
                self._batches_run
                + self._steps_per_execution
                - self._batches_read
                > self._recorder.capacity
            )
            if last_of_epoch or full:
                self._drain(final=last_of_epoch)
            return
        first = self._written_upto  # this batch's update, if applied
        if first % self.update_freq:
            self._written_upto += 1
            return  # nothing to write: no device access at all
        _ = self.model  # on jax, syncs the trainer's state into variables
        counter = self._read_counter()
        self._written_upto = counter
        if counter <= first or (counter - 1) % self.update_freq:
            # No update (a LossScaleOptimizer skipped it): the batch
            # counts in the next point.
            return
        rows = {counter - 1: _read_trackers(self._trackers)}
        self._write([counter - 1], rows, [time.time()])

    def _drain(self, final):
        """Writes the updates the recorder holds that are not written yet.

        One device read for up to `capacity` batches. `final`: the epoch's
        last one (evaluate() resets the recorder afterwards).
        """
        if self._epoch_drained or self._recorder is None:
            return
        self._epoch_drained = final
        _ = self.model  # on jax, syncs the trainer's state into variables
        snapshots = keras.ops.convert_to_numpy(self._recorder.snapshots)
        done = int(keras.ops.convert_to_numpy(self._recorder.position))
        if done < self._batches_read:
            raise RuntimeError(
                "The model's metrics were reset mid-epoch before "
                "StepTensorBoard read updates "
                f"{self._written_upto}..; list StepTensorBoard before "
                "callbacks that call model.evaluate()."
            )
        # A batch whose update a LossScaleOptimizer skipped (non-finite
        # gradients) did not advance the counter; the first batches of the
        # block are taken as the skipped ones, their loss counts in the
        # next point.
        updates_done = self._read_counter() - self._written_upto
        batches = range(done - updates_done, done)
        first_update = self._written_upto
        self._batches_read = self._batches_run = done
        self._written_upto += updates_done
        capacity = self._recorder.capacity
        chosen = [
            (first_update + i, batch)
            for i, batch in enumerate(batches)
            if (first_update + i) % self.update_freq == 0
        ]
        updates = [update for update, _ in chosen]
        rows = {
            update: snapshots[batch % capacity].astype(np.float64)
            for update, batch in chosen
        }
        ends = self._execution_ends
        wall_times = []
        for _, batch in chosen:
            while len(ends) > 1 and ends[0][0] <= batch:
                ends.pop(0)
            wall_times.append(ends[0][1] if ends else time.time())
        if updates:
            self._write(updates, rows, wall_times)

    def on_test_begin(self, logs=None):
        # Validation inside fit() resets the recorder: read it first.
        if getattr(self, "_active", False) and self._trackers is not None:
            self._drain(final=True)

    def _write(self, updates, rows, wall_times):
        """One event per update: its LRs, effective steps and batch values."""
        state = attached_plateau_state(self.model)
        scale = None if state is None else state.read()["scale"]
        per_update = [{} for _ in updates]
        for holder, rates, corrections in zip(
            self._holders, self._rates, self._corrections, strict=True
        ):
            suffix = "/" + holder.name if holder.name else ""
            values = self._learning_rates(holder, rates, scale, updates)
            tag = holder.effective_tag
            if tag is not None:
                # lr_t = lr * correction(k): the effective step of an LR of 1.
                factors = corrections.values(updates, holder.bias_corrections)
            for index, rate in enumerate(values):
                per_update[index]["learning_rate" + suffix] = rate
                if tag is not None:
                    per_update[index][tag + suffix] = rate * factors[index]
        for index, update in enumerate(updates):
            # Per-batch value = change of the running totals since the last
            # point of this epoch (the previous update when update_freq=1).
            row = rows[update]
            previous = self._last_row
            if previous is None:
                previous = np.zeros_like(row)
            values = {}
            for position, (name, _) in enumerate(self._trackers):
                total = row[2 * position] - previous[2 * position]
                count = row[2 * position + 1] - previous[2 * position + 1]
                if count > 0:
                    values[name] = total / count
            self._last_row = row
            values.update(per_update[index])
            if scale is not None:
                values["learning_rate_scale"] = scale
            self._writer.scalars(update, values, wall_times[index])

    @staticmethod
    def _learning_rates(holder, cache, scale, updates):
        """The LR of each update, schedule(k), evaluated in blocks."""
        if holder.schedule is None:
            return [holder.in_force()] * len(updates)
        # The LR is a pure function of the step for a given schedule and
        # scale: a change of either (a plateau reduction) empties the cache.
        cache.keep_for((id(holder.schedule), scale))
        return cache.values(updates, holder.rates)

    def on_epoch_end(self, epoch, logs=None):
        if not self._active:
            return
        if self._trackers is not None:
            self._drain(final=True)
        if self.epoch_metrics:
            # At the update count the epoch ends with, like every point.
            _ = self.model  # on jax, syncs the trainer's state into variables
            step = self._read_counter()
            # The recorder's own log entry (the last batch's loss; under
            # validation a copy of the loss) is no epoch value: left out.
            recorder = getattr(self, "_recorder", None)
            own = () if recorder is None else (recorder.name,)
            for key, value in (logs or {}).items():
                if key.removeprefix("val_") in own:
                    continue
                if key.startswith("val_"):
                    if self._validation_writer is None:
                        self._validation_writer = self._new_writer(
                            os.path.join(self.log_dir, "validation")
                        )
                    self._validation_writer.scalar(
                        f"epoch_{key[4:]}", float(value), step
                    )
                else:
                    self._writer.scalar(f"epoch_{key}", float(value), step)
        for writer in (self._writer, self._validation_writer):
            if writer is not None:
                writer.flush()

    def _new_writer(self, folder):
        writer = ScalarWriter(folder)
        writer.session_start(self._start_step)
        return writer

    def on_train_end(self, logs=None):
        for writer in (self._writer, self._validation_writer):
            if writer is not None:
                writer.close()
        self._writer = None
        self._validation_writer = None


def _read_trackers(trackers):
    return np.array(
        [
            float(keras.ops.convert_to_numpy(v))
            for _, pair in trackers
            for v in pair
        ],
        dtype=np.float64,
    )


class _BlockCache:
    """Values of a pure function of the update index.

    Computed for BLOCK updates at a time in one vectorized call: one host
    round trip per block instead of one per update.
    """

    BLOCK = 1024

    def __init__(self):
        self._values = {}
        self._key = None

    def keep_for(self, key):
        if key != self._key:
            self._values = {}
            self._key = key

    def values(self, updates, function):
        missing = [k for k in updates if k not in self._values]
        if missing:
            block = np.arange(min(missing), max(missing) + self.BLOCK)
            computed = vectorized_values(function, block)
            if computed is None:
                # Only scalar steps: evaluate just the updates needed.
                block = np.asarray(missing)
                computed = scalar_values(function, block)
            self._values.update(
                zip(block.tolist(), computed.tolist(), strict=True)
            )
            if len(self._values) > 8 * self.BLOCK:  # bounded memory
                floor = min(updates)
                self._values = {
                    k: v for k, v in self._values.items() if k >= floor
                }
        return [self._values[k] for k in updates]
