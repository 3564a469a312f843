"""Cosine decay, with optional linear warmup, and cosine with restarts."""

import math

import keras
import numpy as np
from keras import ops

from keras_lrtools._validation import check_float
from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_step_count
from keras_lrtools.schedules._common import MAX_STEP
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import anneal
from keras_lrtools.schedules._common import as_float_step
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import period_and_position
from keras_lrtools.schedules._common import periods_and_position
from keras_lrtools.schedules._common import progress


@REGISTER
class CosineDecay(keras.optimizers.schedules.CosineDecay):
    """Cosine decay with optional linear warmup (Keras's `CosineDecay`).

    Keras's class with every argument validated, and evaluated without
    Keras's `ops.cond`, so it also takes an array of steps. Unlike Keras, giving
    `warmup_steps` without `warmup_target` (which Keras silently ignores) or
    `warmup_target` without `warmup_steps` is an error. The warmup arguments
    are keyword-only.

    Formula (t = optimizer step, W = warmup_steps, D = decay_steps,
    I = initial_learning_rate, P = warmup_target if given, else I):

    ```
    lr(t) = I + (P - I) * t / W                        if t < W
    lr(t) = P * ((1 - alpha) * c + alpha)              otherwise,
            c = (1 + cos(pi * min(t - W, D) / D)) / 2
    ```

    The decay lasts D steps after the warmup, so the LR reaches its floor
    `alpha * P` at step W + D and holds it.

    Args:
        initial_learning_rate: Float >= 0. LR at step 0.
        decay_steps: Int > 0. Updates spent decaying, not counting warmup.
        alpha: Float in [0, 1]. Floor as a fraction of the peak. Default 0.
        warmup_target: Optional float >= 0, the peak reached after warmup.
            Requires `warmup_steps` > 0.
        warmup_steps: Int >= 0. Updates of linear warmup from
            `initial_learning_rate` to `warmup_target`. Default 0.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is out of range, or only one of
            `warmup_target` and `warmup_steps` is given.

    Example:
    >>> schedule = CosineDecay(0.1, decay_steps=100)
    >>> [round(float(schedule(s)), 4) for s in (0, 50, 100, 200)]
    [0.1, 0.05, 0.0, 0.0]
    >>> schedule = CosineDecay(0.0, 100, warmup_target=0.1, warmup_steps=10)
    >>> [round(float(schedule(s)), 4) for s in (0, 5, 10, 60, 110)]
    [0.0, 0.05, 0.1, 0.05, 0.0]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        *,
        warmup_target=None,
        warmup_steps=0,
        name="CosineDecay",
    ):
        warmup_steps = check_step_count("warmup_steps", warmup_steps, minimum=0)
        if warmup_target is not None:
            warmup_target = check_learning_rate("warmup_target", warmup_target)
        if warmup_steps > 0 and warmup_target is None:
            raise ValueError(
                "Argument `warmup_target` is required when `warmup_steps` "
                "> 0 (Keras silently ignores the warmup then). Received: "
                f"warmup_steps={warmup_steps}, warmup_target=None"
            )
        if warmup_target is not None and warmup_steps == 0:
            raise ValueError(
                "Argument `warmup_steps` must be > 0 when `warmup_target` is "
                "given (otherwise `initial_learning_rate` is never used). "
                f"Received: warmup_steps=0, warmup_target={warmup_target}"
            )
        super().__init__(
            initial_learning_rate=check_learning_rate(
                "initial_learning_rate", initial_learning_rate
            ),
            decay_steps=check_step_count("decay_steps", decay_steps),
            alpha=check_float("alpha", alpha, low=0.0, high=1.0),
            name=name,
            warmup_target=warmup_target,
            warmup_steps=warmup_steps,
        )

    def __call__(self, step):
        # Keras's values, computed without its `ops.cond`, so that an array
        # of steps gives all their LRs in one call (logging, previews).
        step = as_float_step(as_step(step))
        initial = float(self.initial_learning_rate)
        peak = (
            initial if self.warmup_target is None else float(self.warmup_target)
        )
        fraction = progress(step, self.warmup_steps, self.decay_steps)
        decayed = anneal("cosine", peak, self.alpha * peak, fraction)
        if not self.warmup_steps:
            return decayed
        ramp = anneal(
            "linear", initial, peak, progress(step, 0, self.warmup_steps)
        )
        return ops.where(step < float(self.warmup_steps), ramp, decayed)


# Periods a CosineDecayRestarts looks steps up among (to 2 ** 53 updates).
MAX_RESTARTS = 4096


def period_starts(first_decay_steps, t_mul):
    """Each period's real start, T * (t_mul**i - 1) / (t_mul - 1), to 2**53.

    Refuses a `t_mul` so close to 1 that this needs over MAX_RESTARTS.
    """
    starts = []
    index = 0
    while True:
        start = first_decay_steps * (t_mul**index - 1.0) / (t_mul - 1.0)
        if start > MAX_STEP:
            return starts
        if index == MAX_RESTARTS:
            raise ValueError(
                f"Argument `t_mul` must be 1.0, or large enough that "
                f"{MAX_RESTARTS} periods reach 2**53 updates (the steps "
                "the schedule counts exactly). Received: "
                f"t_mul={t_mul}, first_decay_steps={first_decay_steps}"
            )
        starts.append(start)
        index += 1


@REGISTER
class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR), TF1 `cosine_decay_restarts`.

    Keras's `CosineDecayRestarts` semantics, with every argument validated.
    Periods never shrink (`t_mul >= 1`), so the schedule is defined at
    every step; peaks shrink with `m_mul < 1` and grow with `m_mul > 1`
    (as in Keras and TF1: without bound, inf once past float32's range).
    Keras finds the
    period with a float32 logarithm, which can round a restart step into
    the previous period (with `t_mul=1.5` on torch, step 20 of `T=8` gave
    the floor instead of the peak; past 2 ** 24 updates, any restart
    moves); here the periods' starts are computed once in float64, up to
    2 ** 53 updates, and each step is looked up among them exactly, so
    every restart lands on its peak.

    Formula (t = optimizer step, T = first_decay_steps, I =
    initial_learning_rate):

    ```
    f = t / T
    i = floor(f), g = f - i                        if t_mul == 1
    i = floor(log(1 - f * (1 - t_mul)) / log(t_mul))
    g = (f - (1 - t_mul ** i) / (1 - t_mul)) / t_mul ** i   otherwise
    lr(t) = I * ((1 - alpha) * m_mul ** i * (1 + cos(pi * g)) / 2 + alpha)
    ```

    Period i lasts `T * t_mul ** i` steps and peaks at
    `I * ((1 - alpha) * m_mul ** i + alpha)`; the floor `alpha * I` is not
    scaled by `m_mul`.

    Args:
        initial_learning_rate: Float >= 0. LR at step 0.
        first_decay_steps: Int > 0. Length of the first period in updates.
        t_mul: Float >= 1. Each period is `t_mul` times the previous one.
            Default 2.0.
        m_mul: Float > 0. Each peak is `m_mul` times the previous one.
            Default 1.0.
        alpha: Float in [0, 1]. Floor as a fraction of
            `initial_learning_rate`. Default 0.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is outside the range given above.

    Example:
    >>> schedule = CosineDecayRestarts(1.0, 10, t_mul=2.0, m_mul=0.5)
    >>> [round(float(schedule(s)), 4) for s in (0, 5, 10, 20, 30)]
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(
        self,
        initial_learning_rate,
        first_decay_steps,
        t_mul=2.0,
        m_mul=1.0,
        alpha=0.0,
        name="SGDRDecay",
    ):
        self.initial_learning_rate = check_learning_rate(
            "initial_learning_rate", initial_learning_rate
        )
        self.first_decay_steps = check_step_count(
            "first_decay_steps", first_decay_steps
        )
        self.t_mul = check_float("t_mul", t_mul, low=1.0)
        self.m_mul = check_float("m_mul", m_mul, low=0.0, low_inclusive=False)
        self.alpha = check_float("alpha", alpha, low=0.0, high=1.0)
        self.name = name
        if self.t_mul != 1.0:
            self._period_starts = period_starts(
                self.first_decay_steps, self.t_mul
            )
            powers = np.arange(len(self._period_starts))
            with np.errstate(over="ignore"):
                self._period_lengths = np.float32(
                    self.first_decay_steps * self.t_mul**powers
                )
                self._period_peaks = np.float32(self.m_mul**powers)

    def __call__(self, step):
        step = as_step(step)
        if self.t_mul == 1.0:
            index, position = periods_and_position(step, self.first_decay_steps)
            length = float(self.first_decay_steps)
            peak = ops.power(self.m_mul, index)
        else:
            # Lengths and peaks from float64 tables: float32's t_mul ** i
            # is 1e-5 off after a thousand periods of t_mul=1.01.
            index, position = period_and_position(step, self._period_starts)
            length = ops.take(self._period_lengths, index)
            peak = ops.take(self._period_peaks, index)
        completed = ops.clip(position / length, 0.0, 1.0)
        cosine = 0.5 * (1.0 + ops.cos(math.pi * completed))
        return self.initial_learning_rate * (
            (1.0 - self.alpha) * peak * cosine + self.alpha
        )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self.t_mul,
            "m_mul": self.m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }
