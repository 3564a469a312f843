"""Reduce the learning rate on a plateau, also when it is a schedule."""

import math

import keras

from keras_lrtools._messages import say
from keras_lrtools._optimizer_rates import float32
from keras_lrtools._optimizer_rates import install_scaling
from keras_lrtools._optimizer_rates import per_optimizer
from keras_lrtools._optimizer_rates import plateau_state
from keras_lrtools._optimizer_rates import rate_holders
from keras_lrtools._optimizer_rates import scale_learning_rates
from keras_lrtools._validation import check_float
from keras_lrtools._validation import check_int
from keras_lrtools._validation import check_non_negative_int
from keras_lrtools._validation import check_open_fraction
from keras_lrtools.callbacks._distribution import is_chief
from keras_lrtools.callbacks._monitor import Improvement
from keras_lrtools.callbacks._monitor import resolve_mode


class ReduceLROnPlateau(keras.callbacks.Callback):
    """Reduce the learning rate when a metric stops improving.

    A drop-in for `keras.callbacks.ReduceLROnPlateau` (same arguments, same
    meaning) that also works when the optimizer holds a
    `LearningRateSchedule`, where Keras's raises TypeError at the first
    reduction, possibly hours into training.

    - Float learning rate: each reduction sets it to
      `max(lr * factor, min_lr)`, as Keras does.
    - Schedule (yours, registered or not, or Keras's): the schedule object
      is wrapped, once, in `keras_lrtools.schedules.ScaledSchedule`, so the
      LR applied at step t is `schedule(t) * scale`. Each reduction
      multiplies `scale` by `factor`, but never so far that the LR in
      force falls below `min_lr` (the schedule itself may still decay
      below it later). The train step is retraced after a reduction, so
      the new scale is used on every backend, jax's included.
    - Any optimizer, also inside `LossScaleOptimizer` (mixed precision):
      a `MultiOptimizer`'s optimizers are all scaled by the same factor
      (each keeps its own float or schedule, their ratios stay), the
      factor raised if needed so that the largest LR does not fall below
      `min_lr`. A plain callable learning rate is refused at `set_model`.

    Counting, at the end of every epoch (`patience` and `cooldown` count
    epochs):

    ```
    if cooldown_counter > 0:        # protected epoch after a reduction
        cooldown_counter -= 1; wait = 0; best = better of (best, value)
    elif value improves on best:    # see min_delta, min_delta_mode
        best = value; wait = 0
    else:
        wait += 1
        if wait >= patience: reduce; wait = 0; cooldown_counter = cooldown
    ```

    So the LR is reduced after `patience` consecutive epochs without
    improvement (Keras's rule; PyTorch waits one epoch more), and
    `cooldown=c` protects exactly c epochs after a reduction. Keras
    decrements its counter before testing it, so there `cooldown=1`
    behaves like 0 and `cooldown=c` protects c - 1 epochs.

    State: `best`, `wait`, `cooldown_counter` and `scale` live in one
    `PlateauState`, saved with the model's weights (a `BackupAndRestore`
    or `save_weights` checkpoint) and, with a schedule, in the
    `ScaledSchedule`'s config of a `.keras` file, so a resumed run
    continues the same LR trajectory. (With a float LR a `.keras` file
    keeps the reduced LR itself; a model loaded from it in a new process
    starts the counters afresh.)
    A new `fit()` on a model already in memory starts a new run: the
    counters reset, as in Keras, and the LR stays where it was. Callbacks
    run in list order, so list this one before `BackupAndRestore` or
    `ModelCheckpoint`: a checkpoint then holds the state of the epoch it
    closes.

    After each epoch, `logs["learning_rate"]` is the LR in force for the
    next update (the scaled one; `learning_rate/<name>` for each optimizer
    of a MultiOptimizer) and `logs["learning_rate_scale"]` the total
    reduction factor so far.

    Args:
        monitor: Name of the value in the epoch logs. Default "val_loss".
        factor: Float in (0, 1). Multiplier of each reduction. Default 0.1.
        patience: Int >= 0. Epochs without improvement before a reduction.
            Default 10.
        verbose: Int, 0 (quiet) or 1 (a line per reduction).
        mode: "auto", "min" or "max". "auto" is "min" for names ending in
            "loss" and "max" for accuracy-like names, an error otherwise.
        min_delta: Float >= 0. Smallest change that counts as an
            improvement (absolute, or relative with `min_delta_mode="rel"`,
            where it must be <= 1). Default 1e-4.
        cooldown: Int >= 0. Epochs after a reduction during which no
            reduction happens. Default 0.
        min_lr: Float >= 0. The LR is never reduced below this. Default 0.
        min_delta_mode: "abs" (Keras) or "rel" (PyTorch's
            `threshold_mode="rel"`). Default "abs".

    Raises:
        ValueError, TypeError: at construction for a bad argument; at the
            end of the first epoch if `monitor` is not in the logs (the
            message lists the names that are).

    Example:
    >>> import keras
    >>> from keras_lrtools.schedules import CosineDecay
    >>> callback = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=2)
    >>> optimizer = keras.optimizers.Adam(CosineDecay(1e-3, 10_000))
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
        min_delta_mode="abs",
    ):
        super().__init__()
        self.monitor = monitor
        self.mode = mode
        self.factor = check_open_fraction("factor", factor)
        self.patience = check_non_negative_int("patience", patience)
        self.verbose = check_int("verbose", verbose, minimum=0)
        self.min_delta = min_delta
        self.cooldown = check_non_negative_int("cooldown", cooldown)
        self.min_lr = check_float("min_lr", min_lr, low=0.0)
        self.min_delta_mode = min_delta_mode
        self._improvement = Improvement(
            resolve_mode(monitor, mode), min_delta, min_delta_mode
        )
        self._holders = []
        self._state = None
        self._synced = False
        self._seen_monitor = False

    def get_config(self):
        return {
            "monitor": self.monitor,
            "factor": self.factor,
            "patience": self.patience,
            "verbose": self.verbose,
            "mode": self.mode,
            "min_delta": self.min_delta,
            "cooldown": self.cooldown,
            "min_lr": self.min_lr,
            "min_delta_mode": self.min_delta_mode,
        }

    @property
    def scale(self):
        """Product of all reductions so far (1.0 before the first)."""
        return 1.0 if self._state is None else self._state.read()["scale"]

    def set_model(self, model):
        # Runs when fit() builds its callbacks, before any on_train_begin,
        # so a BackupAndRestore listed anywhere restores over these values.
        super().set_model(model)
        holders = rate_holders(model, "ReduceLROnPlateau", scalable=True)
        state, new = plateau_state(model, holders)
        if install_scaling(model, holders, state) and (
            getattr(model, "train_function", None) is not None
        ):
            model.make_train_function(force=True)  # it holds the old rate
        values = state.read()
        if not new or math.isnan(values["best"]):
            # A new fit() in this process, or no plateau seen yet: the
            # counters start afresh; a model loaded from a .keras file
            # resumes those of its config.
            worst = self._improvement.worst
            state.write({"best": worst, "wait": 0, "cooldown_counter": 0})
        self._holders = holders
        self._state = state
        self._scale_at_start = values["scale"]
        self._synced = False
        self._seen_monitor = False

    def on_epoch_begin(self, epoch, logs=None):
        if self._synced:
            return
        # First epoch of the run: a BackupAndRestore may have restored the
        # scale, which jax's compiled step does not see until retraced.
        self._synced = True
        if any(h.schedule is not None for h in self._holders) and (
            self._state.read()["scale"] != self._scale_at_start
        ):
            self.model.make_train_function(force=True)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        _ = self.model  # jax: sync the trainer's state into the variables
        if not self._synced:
            self.on_epoch_begin(epoch)
        current = logs.get(self.monitor)
        if current is None:
            if not self._seen_monitor:
                raise ValueError(
                    f"ReduceLROnPlateau monitors `{self.monitor}`, which is "
                    f"not in the logs of epoch {epoch}. Available: "
                    f"{sorted(logs)}. (val_* values need validation_data.)"
                )
        else:
            self._seen_monitor = True
            self._step(epoch, float32(current))
        for holder in self._holders:
            key = "/".join(filter(None, ("learning_rate", holder.name)))
            logs[key] = holder.in_force()
        logs["learning_rate_scale"] = self._state.read()["scale"]

    def _step(self, epoch, current):
        values = self._state.read()
        improved = self._improvement(current, values["best"])
        if values["cooldown_counter"] > 0:
            values["cooldown_counter"] -= 1
            values["wait"] = 0
            if improved:
                values["best"] = current
        elif improved:
            values["best"] = current
            values["wait"] = 0
        else:
            values["wait"] += 1
            if values["wait"] >= self.patience:
                if self._reduce(epoch):
                    values["cooldown_counter"] = self.cooldown
                values["wait"] = 0
        del values["scale"]  # written by _reduce (scale_learning_rates)
        self._state.write(values)

    def _reduce(self, epoch):
        """Applies one reduction; False if the LR is already at min_lr."""
        reduced = scale_learning_rates(
            self.model, self._holders, self._state, self.factor, self.min_lr
        )
        if reduced is None:
            return False
        _, new = reduced
        if self.verbose and is_chief(self.model):
            rates = per_optimizer(self._holders, [f"{r:.4g}" for r in new])
            say(
                f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning "
                f"rate to {rates} (total scale "
                f"{self._state.read()['scale']:.4g})."
            )
        return True
