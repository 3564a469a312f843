"""Exponential decay: TF1's `exponential_decay` and `natural_exp_decay`."""

import keras
from keras import ops

from keras_lrtools._validation import check_bool
from keras_lrtools._validation import check_float
from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_step_count
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import decay_periods


@REGISTER
class ExponentialDecay(keras.optimizers.schedules.ExponentialDecay):
    """Exponential decay, TF1 `tf.train.exponential_decay` semantics.

    Keras's `ExponentialDecay`, with every argument validated and the class
    registered under `keras_lrtools`, so a saved model loads back without
    `custom_objects`. Periods are counted exactly: Keras's float32 step
    moves a staircase boundary past 2 ** 24 updates.

    Formula (t = optimizer step, counted from 0):

    ```
    lr(t) = initial_learning_rate * decay_rate ** p
    p     = t / decay_steps            if staircase is False
    p     = floor(t / decay_steps)     if staircase is True
    ```

    Args:
        initial_learning_rate: Float >= 0. LR at step 0.
        decay_steps: Int > 0. Optimizer updates per decay period.
        decay_rate: Float > 0. Factor applied per period (< 1 decays,
            > 1 grows without bound).
        staircase: Bool. If True, the LR changes only at multiples of
            `decay_steps`. Default False.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is outside the range given above.

    Example:
    >>> schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> [round(float(schedule(s)), 4) for s in (0, 5, 10, 20)]
    [0.1, 0.0707, 0.05, 0.025]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="ExponentialDecay",
    ):
        super().__init__(
            initial_learning_rate=check_learning_rate(
                "initial_learning_rate", initial_learning_rate
            ),
            decay_steps=check_step_count("decay_steps", decay_steps),
            decay_rate=check_float(
                "decay_rate", decay_rate, low=0.0, low_inclusive=False
            ),
            staircase=check_bool("staircase", staircase),
            name=name,
        )

    def __call__(self, step):
        periods = decay_periods(as_step(step), self.decay_steps, self.staircase)
        return self.initial_learning_rate * ops.power(self.decay_rate, periods)


@REGISTER
class NaturalExpDecay(LearningRateSchedule):
    """Natural exponential decay, TF1 `tf.train.natural_exp_decay`.

    Keras 3 has no equivalent. As in TF1, it is an exponential decay with
    a per-period factor of `exp(-decay_rate)`.

    Formula (t = optimizer step, counted from 0):

    ```
    lr(t) = initial_learning_rate * exp(-decay_rate * p)
    p     = t / decay_steps            if staircase is False
    p     = floor(t / decay_steps)     if staircase is True
    ```

    Args:
        initial_learning_rate: Float >= 0. LR at step 0.
        decay_steps: Int > 0. Optimizer updates per decay period.
        decay_rate: Float >= 0. Decay constant k per period.
        staircase: Bool. If True, the LR changes only at multiples of
            `decay_steps`. Default False.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is outside the range given above.

    Example:
    >>> schedule = NaturalExpDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> [round(float(schedule(s)), 4) for s in (0, 10, 20)]
    [0.1, 0.0607, 0.0368]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="NaturalExpDecay",
    ):
        self.initial_learning_rate = check_learning_rate(
            "initial_learning_rate", initial_learning_rate
        )
        self.decay_steps = check_step_count("decay_steps", decay_steps)
        self.decay_rate = check_float("decay_rate", decay_rate, low=0.0)
        self.staircase = check_bool("staircase", staircase)
        self.name = name

    def __call__(self, step):
        periods = decay_periods(as_step(step), self.decay_steps, self.staircase)
        return self.initial_learning_rate * ops.exp(-self.decay_rate * periods)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }
