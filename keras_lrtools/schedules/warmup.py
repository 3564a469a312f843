"""Warmup in front of any schedule."""

from keras import ops

from keras_lrtools._validation import check_choice
from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_step_count
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import anneal
from keras_lrtools.schedules._common import as_float_step
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import check_schedule
from keras_lrtools.schedules._common import evaluate
from keras_lrtools.schedules._common import from_config_with_schedules
from keras_lrtools.schedules._common import is_before
from keras_lrtools.schedules._common import progress
from keras_lrtools.schedules._common import serialize
from keras_lrtools.schedules._common import shifted_step

WARMUP_SHAPES = ("linear", "exponential", "cosine")


@REGISTER
class Warmup(LearningRateSchedule):
    """A warmup ramp in front of any schedule, ours or Keras's.

    The wrapped schedule starts after the warmup with its own clock at 0,
    and the ramp ends exactly at its first value, so the LR is continuous
    at the seam.

    Formula (t = optimizer step, W = warmup_steps, S = schedule,
    I = initial_learning_rate, f = t / W):

    ```
    lr(t) = ramp(I, S(0), f)     if t < W
    lr(t) = S(t - W)             otherwise
    linear:      ramp = I + (S(0) - I) * f
    exponential: ramp = I * (S(0) / I) ** f               (I > 0)
    cosine:      ramp = S(0) + (I - S(0)) * (1 + cos(pi * f)) / 2
    ```

    Args:
        schedule: A `keras.optimizers.schedules.LearningRateSchedule`, or
            a float >= 0 for a constant LR after the warmup.
        warmup_steps: Int > 0. Updates spent warming up.
        initial_learning_rate: Float >= 0 (> 0 for the exponential shape).
            LR at step 0. Default 0.
        shape: "linear", "exponential" or "cosine". Default "linear".
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if `schedule` is neither a schedule nor a float, or
            another argument has the wrong type.
        ValueError: if an argument is outside the range given above.

    Example:
    >>> import keras
    >>> decay = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    >>> schedule = Warmup(decay, warmup_steps=10)
    >>> [round(float(schedule(s)), 4) for s in (0, 5, 10, 20)]
    [0.0, 0.05, 0.1, 0.05]
    """

    def __init__(
        self,
        schedule,
        warmup_steps,
        initial_learning_rate=0.0,
        shape="linear",
        name="Warmup",
    ):
        self.schedule = check_schedule("schedule", schedule)
        self.warmup_steps = check_step_count("warmup_steps", warmup_steps)
        self.shape = check_choice("shape", shape, WARMUP_SHAPES)
        self.initial_learning_rate = check_learning_rate(
            "initial_learning_rate",
            initial_learning_rate,
            positive=self.shape == "exponential",
        )
        self.name = name

    def __call__(self, step):
        step = as_step(step)
        target = evaluate(self.schedule, 0)
        fraction = progress(as_float_step(step), 0, self.warmup_steps)
        ramp = anneal(self.shape, self.initial_learning_rate, target, fraction)
        after = evaluate(self.schedule, shifted_step(step, self.warmup_steps))
        return ops.where(is_before(step, self.warmup_steps), ramp, after)

    def get_config(self):
        return {
            "schedule": serialize(self.schedule),
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "shape": self.shape,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return from_config_with_schedules(cls, config, "schedule")
