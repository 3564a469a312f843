"""Per-step TensorBoard logging of the learning rate, loss and metrics."""

import os
import shlex
import time

import keras
import numpy as np
from keras.optimizers.schedules import LearningRateSchedule

from keras_lrtools._optimizer_rates import jax_trainer_reloads
from keras_lrtools._optimizer_rates import rate_holders
from keras_lrtools._optimizer_rates import rate_terms
from keras_lrtools._validation import check_bool
from keras_lrtools._validation import check_positive_int
from keras_lrtools.callbacks._distribution import is_chief
from keras_lrtools.callbacks._writers import ScalarWriter
from keras_lrtools.callbacks.step_recorder import per_step_trackers
from keras_lrtools.callbacks.step_recorder import watch_model
from keras_lrtools.schedules._common import scalar_values
from keras_lrtools.schedules._common import vectorized_values
from keras_lrtools.schedules.scaled import ScaledSchedule

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
    records them inside the compiled step into a buffer on the device,
    which this callback reads once an epoch (or before it overflows),
    so logging every update costs almost nothing. It is required with
    `steps_per_execution > 1` (otherwise fit raises, and says so, once
    the first compiled call has run); without it, at
    `steps_per_execution=1`, the totals are read from the device after
    every update (slower). It has no `on_train_batch_end`: its work after
    a compiled call is done when the next one begins, so Keras keeps
    dispatching batch ends asynchronously (jax, torch). Each update is
    logged with the rate it used, also when a callback changes a float LR
    or a plateau scale between calls: the recorder records the rates
    inside each step on tensorflow and torch; without it, and on jax,
    they are read before each call, so list it after callbacks that set
    a float LR at a batch's begin (a hand-written warmup). List it before
    callbacks that restore the model or call `evaluate()` at an epoch's
    end (`LearningRateGuard`), which reset the metrics it reads.
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
        self._recorder = None
        self._execution_open = False

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
        self._execution_open = False  # a compiled call not yet accounted
        self._epoch_drained = False
        # (batches after each call, the time it was seen done (the next
        # call's begin or the epoch's end), its _rates_in_force or None
        # where the recorder records them)
        self._execution_ends = []
        self._last_row = None  # Keras resets the metrics every epoch.

    def _read_counter(self):
        """The x-axis counter now (the first optimizer's)."""
        self._counter_read = int(
            keras.ops.convert_to_numpy(self._holders[0].counter)
        )
        return self._counter_read

    # Per execution ----------------------------------------------------------

    # The work after each compiled call is done when the next one begins
    # (or at the epoch's end): a callback without `on_train_batch_end`
    # lets Keras keep dispatching batch ends asynchronously (jax, torch),
    # which overlaps the next call's input slicing with the device's work.

    def on_train_batch_begin(self, batch, logs=None):
        if not self._active:
            return
        if self._execution_open:
            self._execution_ended(last_of_epoch=False)
        self._execution_open = True
        # A recorder records them inside each step (not on jax): no device
        # read here.
        if self._recorder is None or self._recorder.rate_layout is None:
            self._in_force = self._rates_in_force()
        else:
            self._in_force = None

    def _rates_in_force(self):
        """The rates the coming call's updates use (see `rate_terms`).

        Read before any callback at its end (a plateau at the epoch's end)
        can change them.
        """
        # self.model would sync jax's trainer state after every call.
        on_jax = keras.backend.backend() == "jax"
        plateau, per_holder = rate_terms(
            self._model if on_jax else self.model, self._holders
        )
        reads = {}  # one read per value (a shared scale once)

        def read(value):
            if value is None:
                return 1.0
            if id(value) not in reads:
                reads[id(value)] = float(keras.ops.convert_to_numpy(value))
            return reads[id(value)]

        # jax's trainer takes a float LR from its variable only when it
        # takes its state from the model's variables again.
        if not on_jax or jax_trainer_reloads(self._model):
            self._fixed_rates = [
                read(value) if kind == "rate" else None
                for kind, value in per_holder
            ]
        per_holder = [
            (kind, fixed if kind == "rate" else read(value))
            for (kind, value), fixed in zip(
                per_holder, self._fixed_rates, strict=True
            )
        ]
        return (None if plateau is None else read(plateau)), per_holder

    def _end_epoch(self):
        """Accounts for the epoch's last compiled call and drains."""
        if self._execution_open:
            self._execution_open = False
            self._execution_ended(last_of_epoch=True)
        if self._trackers is not None:
            self._drain(final=True)

    def _execution_ended(self, last_of_epoch):
        if self._trackers is None:
            self._find_trackers()
        # Every execution is full but maybe the last of the epoch, whose
        # true length is read from the device when it is drained.
        self._batches_run += self._steps_per_execution
        if self._recorder is not None:
            self._execution_ends.append(
                (self._batches_run, time.time(), self._in_force)
            )
            # The recorder must be read before it drops unread rows.
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
        if counter < first:
            # A restore (the guard) put the counter back and reset the
            # metrics: count from there.
            self._last_row = None
        if counter <= first or (counter - 1) % self.update_freq:
            # No update (a LossScaleOptimizer skipped it): the batch
            # counts in the next point.
            return
        row = _read_trackers(self._trackers)
        counted = 0 if self._last_row is None else self._last_row[1]
        if len(row) >= 2 and row[1] <= counted:  # the loss counts each batch
            raise _metrics_reset_error(first)
        rows = {counter - 1: row}
        self._write([counter - 1], rows, [time.time()], [self._in_force])

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
        counter = self._read_counter()
        if counter < self._written_upto:
            # A restore (the guard) put the counter back and reset the
            # metrics: the recorder holds the batches since then.
            self._written_upto = max(counter - done, 0)
            self._batches_read = 0
            self._last_row = None
        updates_done = counter - self._written_upto
        if done - self._batches_read < updates_done:  # fewer batches: reset
            raise _metrics_reset_error(self._written_upto)
        # A batch whose update a LossScaleOptimizer skipped (non-finite
        # gradients) did not advance the counter; the first batches of the
        # block are taken as the skipped ones, their loss counts in the
        # next point.
        batches = range(done - updates_done, done)
        first_update = self._written_upto
        self._batches_read = self._batches_run = done
        self._written_upto += updates_done
        chosen = [
            (first_update + i, batch)
            for i, batch in enumerate(batches)
            if (first_update + i) % self.update_freq == 0
        ]
        updates = [update for update, _ in chosen]
        # The recorder's newest row first.
        rows = {
            update: snapshots[done - 1 - batch].astype(np.float64)
            for update, batch in chosen
        }
        # Each update's wall time and rates: those of its compiled call,
        # or the rates its row recorded.
        ends = self._execution_ends
        layout = self._recorder.rate_layout
        wall_times, in_force = [], []
        for update, batch in chosen:
            while len(ends) > 1 and ends[0][0] <= batch:
                ends.pop(0)
            _, wall_time, read = ends[0]
            wall_times.append(wall_time)
            in_force.append(
                read
                if layout is None
                else _recorded_rates(rows[update], layout)
            )
        if updates:
            self._write(updates, rows, wall_times, in_force)

    def on_test_begin(self, logs=None):
        # Validation inside fit() resets the metrics: read them first.
        if getattr(self, "_active", False):
            self._end_epoch()

    def _write(self, updates, rows, wall_times, in_force):
        """One event per update: its LRs, effective steps and batch values.

        `in_force`: per update, what its call used (`_rates_in_force`).
        """
        per_update = [{} for _ in updates]
        for position, (holder, cache, corrections) in enumerate(
            zip(self._holders, self._rates, self._corrections, strict=True)
        ):
            suffix = "/" + holder.name if holder.name else ""
            forced = [per_holder[position] for _, per_holder in in_force]
            values = _learning_rates(holder, cache, forced, updates)
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
            plateau = in_force[index][0]
            if plateau is not None:
                values["learning_rate_scale"] = plateau
            self._writer.scalars(update, values, wall_times[index])

    def on_epoch_end(self, epoch, logs=None):
        if not self._active:
            return
        self._counter_read = None
        self._end_epoch()
        if self.epoch_metrics:
            # At the update count the epoch ends with, like every point:
            # read by the epoch's last drain just now, or read here.
            step = self._counter_read
            if step is None:
                _ = self.model  # on jax, syncs the trainer's state
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
        if getattr(self, "_active", False) and self._writer is not None:
            self._end_epoch()  # an interrupted epoch's pending updates
        for writer in (self._writer, self._validation_writer):
            if writer is not None:
                writer.close()
        self._writer = None
        self._validation_writer = None


def _learning_rates(holder, cache, in_force, updates):
    """The LR of each update, from what its call used (`in_force`).

    ("rate", lr): a float LR, as read then. ("scale", s): the schedule the
    optimizer holds (inside its `ScaledSchedule`, if scaled since) at
    update k, evaluated in blocks (a pure function of k), times s.
    """
    held = holder.schedule
    if isinstance(held, ScaledSchedule):
        held = held.schedule
    if isinstance(held, LearningRateSchedule):
        cache.keep_for(id(held))
        values = cache.values(updates, held)
    else:  # a float (inside a ScaledSchedule), or a float LR
        values = [held] * len(updates)
    rates = []
    for value, (kind, number) in zip(values, in_force, strict=True):
        if kind == "rate":
            rates.append(number)
        else:  # in float32, as ScaledSchedule multiplies them
            rates.append(float(np.float32(value) * np.float32(number)))
    return rates


def _recorded_rates(row, layout):
    """`_rates_in_force` of an update, from its recorder row."""
    plateau, per_holder = layout

    def value(column):
        return 1.0 if column is None else float(np.float32(row[column]))

    return (
        None if plateau is None else value(plateau),
        [(kind, value(column)) for kind, column in per_holder],
    )


def _metrics_reset_error(update):
    return RuntimeError(
        "The model's metrics were reset mid-epoch before StepTensorBoard "
        f"read updates {update}..; list StepTensorBoard before callbacks "
        "that call model.evaluate()."
    )


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
        while missing:
            # Always BLOCK long: on jax an op of a new shape is compiled.
            block = np.arange(min(missing), min(missing) + self.BLOCK)
            computed = vectorized_values(function, block)
            if computed is None:
                # Only scalar steps: evaluate just the updates needed.
                block = np.asarray(missing)
                computed = scalar_values(function, block)
            self._values.update(
                zip(block.tolist(), computed.tolist(), strict=True)
            )
            missing = [k for k in missing if k not in self._values]
        if len(self._values) > 8 * self.BLOCK:  # bounded memory
            floor = min(updates)
            self._values = {k: v for k, v in self._values.items() if k >= floor}
        return [self._values[k] for k in updates]
