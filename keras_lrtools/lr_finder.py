"""The learning-rate range test (Smith, 2015; fastai's `lr_find`)."""

import math

import keras
import numpy as np

from keras_lrtools import lr_suggestions
from keras_lrtools._messages import say
from keras_lrtools._optimizer_rates import OptimizerSnapshot
from keras_lrtools._optimizer_rates import model_optimizer
from keras_lrtools._optimizer_rates import rate_holders
from keras_lrtools._validation import check_choice
from keras_lrtools._validation import check_float
from keras_lrtools._validation import check_int
from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_non_negative_int
from keras_lrtools._validation import check_positive_int
from keras_lrtools.schedules import ExponentialDecay
from keras_lrtools.schedules import PolynomialDecay
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import evaluate
from keras_lrtools.schedules._common import shifted_step
from keras_lrtools.schedules._common import values_at_steps

MODES = ("exponential", "linear")
DEFAULT_RULE = "descent_midpoint"
MIN_STEPS = 5
MAX_STEPS = 10**6


class LRFinderResult:
    """What an LR range test recorded, and the rates it suggests.

    Attributes:
        learning_rates: The rate of each update of the sweep.
        losses: The loss of each update's batch alone.
        smoothed_losses: Debiased exponential moving average of `losses`.
        stop_reason: None if the sweep ran all its steps, else why it
            stopped ("nan" or "diverged").
    """

    def __init__(
        self,
        learning_rates,
        losses,
        smoothed_losses,
        stop_reason,
        skip_start,
        skip_end,
    ):
        self.learning_rates = np.asarray(learning_rates)
        self.losses = np.asarray(losses)
        self.smoothed_losses = np.asarray(smoothed_losses)
        self.stop_reason = stop_reason
        self.skip_start = skip_start
        self.skip_end = skip_end

    def _window(self):
        stop = len(self.smoothed_losses) - self.skip_end
        start = min(self.skip_start, max(stop - 3, 0))
        return (
            self.learning_rates[start:stop],
            self.smoothed_losses[start:stop],
        )

    def suggestion(self, rule=None):
        """The rate suggested by `rule` (a name of `suggestions()`).

        The default rule is `descent_midpoint`. On the SIGNS network it
        gave 1.2e-4 to 3e-4 (rates that train, with a warmup), where
        `steepest_descent` jumped between 4e-4 and 7e-3 with the noise of
        single batches (rates that collapse the network) and
        `minimum_divided_by_10` fell to 3.5e-5 on a run whose minimum sat
        just before the collapse (too small to train in 300 epochs).
        """
        rule = DEFAULT_RULE if rule is None else rule
        rule = check_choice("rule", rule, tuple(lr_suggestions.RULES))
        return lr_suggestions.RULES[rule](*self._window())

    def suggestions(self):
        """{rule name: suggested rate} for every rule."""
        return {
            name: rule(*self._window())
            for name, rule in lr_suggestions.RULES.items()
        }

    def plot(self, path, title=None):
        """Writes a PNG of the loss against the rate; returns `path`.

        The rate axis is logarithmic and every suggestion is marked.
        """
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(8, 5))
        axis.plot(
            self.learning_rates,
            self.losses,
            color="0.75",
            linewidth=0.8,
            label="loss of each batch",
        )
        axis.plot(
            self.learning_rates,
            self.smoothed_losses,
            color="C0",
            label="smoothed (debiased EMA)",
        )
        for index, (name, rate) in enumerate(self.suggestions().items()):
            default = " (default)" if name == DEFAULT_RULE else ""
            axis.axvline(
                rate,
                color=f"C{index + 1}",
                linestyle="--",
                label=f"{name}{default}: {rate:.2g}",
            )
        axis.set_xscale("log")
        axis.set_xlabel("learning rate")
        axis.set_ylabel("loss")
        finite = self.smoothed_losses[np.isfinite(self.smoothed_losses)]
        if len(finite):
            low, high = finite.min(), finite[: max(len(finite) // 10, 1)].max()
            axis.set_ylim(low - 0.1 * abs(low), max(high, low) * 1.5 + 0.1)
        axis.legend(fontsize=8)
        axis.set_title(title or "LR range test")
        figure.tight_layout()
        figure.savefig(path, dpi=110)
        plt.close(figure)
        return path


def find_learning_rate(
    model,
    x,
    y=None,
    *,
    min_lr=1e-7,
    max_lr=1.0,
    num_steps=100,
    mode="exponential",
    batch_size=32,
    smoothing=0.98,
    divergence_factor=4.0,
    skip_start=10,
    skip_end=5,
    seed=0,
    verbose=0,
):
    """LR range test: trains with a rising rate and records the loss.

    Sweeps the learning rate from `min_lr` to `max_lr` over `num_steps`
    updates, recording the loss of each batch alone (not the epoch's
    running mean, which makes finders suggest rates that are too high),
    smoothed with a debiased exponential moving average:

    ```
    exponential: lr_i = min_lr * (max_lr / min_lr) ** (i / (num_steps - 1))
    linear:      lr_i = min_lr + (max_lr - min_lr) * i / (num_steps - 1)
    avg_i  = smoothing * avg_{i-1} + (1 - smoothing) * loss_i, avg_-1 = 0
    smooth_i = avg_i / (1 - smoothing ** (i + 1))
    ```

    It stops early when a loss is NaN or infinite, or when the smoothed
    loss exceeds `divergence_factor` times its best (a positive best: a
    loss that can go negative is stopped by NaN only). The model is left as
    it was found: its weights and the optimizer's variables (iteration
    count and moments included) and its learning rate or schedule are put
    back afterwards, also when the sweep stops early or raises.

    Works on the tensorflow, jax and torch backends, with a float learning
    rate or any schedule in the optimizer (the schedule is swapped for the
    sweep and the same object put back), any Keras optimizer, mixed
    precision (LossScaleOptimizer) and a `MultiOptimizer`: its optimizers
    are swept together, keeping the ratios of their rates in force, and
    the rates recorded are those of the one with the largest.

    Args:
        model: A compiled Keras model (built, or buildable from `x`).
        x: Inputs as an array (with `y`), or a dataset of `(x, y)` batches
            (a `tf.data.Dataset`, `keras.utils.PyDataset` or any iterable).
            Arrays and re-iterable datasets are cycled as needed.
        y: Targets, with array `x`.
        min_lr: Float > 0. First rate. Default 1e-7.
        max_lr: Float > min_lr. Last rate. Default 1.0.
        num_steps: Int, 5 to 10**6. Updates of the sweep. Default 100.
        mode: "exponential" (default) or "linear" spacing.
        batch_size: Int > 0, with array data. Default 32.
        smoothing: Float in [0, 1). EMA factor. Default 0.98.
        divergence_factor: Float > 1. Default 4.0.
        skip_start: Int >= 0. Points left out of the suggestions at the
            start (the EMA is still settling). Default 10.
        skip_end: Int >= 0. Points left out at the end. Default 5.
        seed: Int >= 0. Seed of the batch order with array data.
        verbose: 1 prints a line at the end.

    Returns:
        An `LRFinderResult`: `.suggestion()`, `.suggestions()`, `.plot()`.

    Raises:
        ValueError, TypeError: for bad arguments, an uncompiled model, or
            data that runs out before the sweep ends.

    Example:
    >>> # result = find_learning_rate(model, x_train, y_train)
    >>> # result.suggestion(), result.plot("lr_find.png")
    """
    min_lr = check_learning_rate("min_lr", min_lr, positive=True)
    max_lr = check_learning_rate("max_lr", max_lr, positive=True)
    if max_lr <= min_lr:
        raise ValueError(
            "Argument `max_lr` must be greater than `min_lr`. Received: "
            f"min_lr={min_lr}, max_lr={max_lr}"
        )
    num_steps = check_int("num_steps", num_steps, minimum=MIN_STEPS)
    if num_steps > MAX_STEPS:
        raise ValueError(
            f"Argument `num_steps` must be <= {MAX_STEPS} (a sweep is a few "
            f"hundred to a few thousand updates). Received: num_steps="
            f"{num_steps}"
        )
    seed = check_non_negative_int("seed", seed)
    mode = check_choice("mode", mode, MODES)
    batch_size = check_positive_int("batch_size", batch_size)
    smoothing = check_float(
        "smoothing", smoothing, low=0.0, high=1.0, high_inclusive=False
    )
    divergence_factor = check_float(
        "divergence_factor", divergence_factor, low=1.0, low_inclusive=False
    )
    skip_start = check_int("skip_start", skip_start, minimum=0)
    skip_end = check_int("skip_end", skip_end, minimum=0)
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Argument `model` must be a keras.Model. "
            f"Received: model of type {type(model).__name__}"
        )
    if not getattr(model, "compiled", False):
        raise ValueError(
            "find_learning_rate needs a compiled model: call "
            "model.compile(optimizer=..., loss=...) first."
        )
    model_optimizer(model, "find_learning_rate")  # a clear error first
    batches = _batches(x, y, batch_size, seed)
    first = next(batches, None)
    if first is None:
        raise ValueError(
            "Argument `x` must hold at least one batch. Received: an empty "
            "dataset"
        )
    if not model.built:
        model(first[0])
    if not model.optimizer.built:
        # (A LossScaleOptimizer built twice gets a second loss scale.)
        model.optimizer.build(model.trainable_variables)
    holders = rate_holders(model, "find_learning_rate")
    rates = _sweep_rates(min_lr, max_lr, num_steps, mode)
    # Every optimizer is swept, keeping the ratios of the rates in force.
    in_force = [holder.in_force() for holder in holders]
    top = max(in_force)
    ratios = [rate / top if top > 0 else 1.0 for rate in in_force]

    snapshot = OptimizerSnapshot(model, holders)
    losses, smoothed = [], []
    stop_reason = None
    try:
        for holder, ratio in zip(holders, ratios, strict=True):
            if not holder.is_float:
                # The sweep as a schedule of the optimizer's own counter.
                start = int(keras.ops.convert_to_numpy(holder.counter))
                holder.hold(
                    _SweepSchedule(
                        _sweep_schedule(min_lr, max_lr, num_steps, mode),
                        start,
                        ratio,
                    )
                )
        model.make_train_function(force=True)
        average, best = 0.0, math.inf
        batch = first
        for index, rate in enumerate(rates):
            if index:
                try:
                    batch = next(batches)
                except StopIteration:
                    raise ValueError(
                        f"The data ran out after {index} batches; the sweep "
                        f"needs num_steps={num_steps}. Pass more data, a "
                        "re-iterable dataset, or fewer `num_steps`."
                    ) from None
            for holder, ratio in zip(holders, ratios, strict=True):
                if holder.is_float:
                    holder.hold(rate * ratio)
            logs = model.train_on_batch(*batch, return_dict=True)
            loss = float(logs["loss"])
            losses.append(loss)
            if not math.isfinite(loss):
                smoothed.append(loss)
                stop_reason = "nan"
                break
            average = smoothing * average + (1.0 - smoothing) * loss
            smooth = average / (1.0 - smoothing ** (index + 1))
            smoothed.append(smooth)
            best = min(best, smooth)
            if index > 0 and 0 < best < smooth / divergence_factor:
                stop_reason = "diverged"
                break
    finally:
        snapshot.restore(model, learning_rates=True)
        model.reset_metrics()
        model.make_train_function(force=True)
    result = LRFinderResult(
        rates[: len(losses)],
        losses,
        smoothed,
        stop_reason,
        skip_start,
        skip_end,
    )
    if verbose:
        say(
            f"LR range test: {len(losses)} updates from {min_lr:g} to "
            f"{rates[len(losses) - 1]:.3g}"
            + (f", stopped ({stop_reason})" if stop_reason else "")
            + f"; suggestion ({DEFAULT_RULE}): {result.suggestion():.3g}"
        )
    return result


def _sweep_rates(min_lr, max_lr, num_steps, mode):
    schedule = _sweep_schedule(min_lr, max_lr, num_steps, mode)
    return values_at_steps(schedule, np.arange(num_steps)).tolist()


def _sweep_schedule(min_lr, max_lr, num_steps, mode):
    """The sweep as a schedule: ours, so the formula is written once."""
    if mode == "exponential":
        rate = (max_lr / min_lr) ** (1.0 / (num_steps - 1))
        return ExponentialDecay(min_lr, 1, rate)
    return PolynomialDecay(
        min_lr, num_steps - 1, end_learning_rate=max_lr, power=1.0
    )


class _SweepSchedule(LearningRateSchedule):
    """`sweep(step - start) * ratio`: the sweep from the counter `start`."""

    def __init__(self, sweep, start, ratio):
        self.sweep = sweep
        self.start = start
        self.ratio = ratio

    def __call__(self, step):
        step = shifted_step(as_step(step), self.start)
        return evaluate(self.sweep, step) * self.ratio

    def get_config(self):
        return {
            "sweep": keras.saving.serialize_keras_object(self.sweep),
            "start": self.start,
            "ratio": self.ratio,
        }


def _batches(x, y, batch_size, seed):
    """An iterator of (x, y) batches.

    Arrays and re-iterable datasets are cycled; a one-shot iterator ends.
    """
    if x is None or isinstance(x, (str, bytes, int, float)):
        raise TypeError(
            "Argument `x` must be an array or a dataset of (x, y) batches. "
            f"Received: x of type {type(x).__name__}"
        )
    if isinstance(x, np.ndarray) or (hasattr(x, "__array__") and y is not None):
        x = np.asarray(x)
        if y is None:
            raise ValueError("Argument `y` is required with array `x`.")
        y = np.asarray(y)
        if len(x) == 0 or len(x) != len(y):
            raise ValueError(
                "Arguments `x` and `y` must be non-empty and of the same "
                f"length. Received: {len(x)} and {len(y)} examples"
            )
        return _array_batches(x, y, batch_size, seed)
    if y is not None:
        raise ValueError("Argument `y` must be None when `x` is a dataset.")
    if isinstance(x, keras.utils.PyDataset):
        return _py_dataset_batches(x)
    if hasattr(x, "as_numpy_iterator"):  # tf.data.Dataset
        return _reiterate(x.as_numpy_iterator, x)
    if hasattr(x, "__iter__"):
        return _reiterate(lambda: iter(x), x)
    raise TypeError(
        "Argument `x` must be an array or a dataset of (x, y) batches. "
        f"Received: x of type {type(x).__name__}"
    )


def _array_batches(x, y, batch_size, seed):
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(len(x))
        for start in range(0, len(x), batch_size):
            index = order[start : start + batch_size]
            yield x[index], y[index]


def _py_dataset_batches(dataset):
    while True:
        for index in range(len(dataset)):
            batch = dataset[index]
            yield batch[0], batch[1]


def _reiterate(make_iterator, source):
    """Cycles a dataset that can be iterated again (an iterator cannot)."""
    once = iter(source) is source
    while True:
        empty = True
        for batch in make_iterator():
            empty = False
            yield batch[0], batch[1]
        if once or empty:
            return
