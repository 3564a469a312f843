"""Inverse time decay: TF1's `inverse_time_decay`."""

import keras

from keras_lrtools._validation import check_bool
from keras_lrtools._validation import check_float
from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_step_count
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import decay_periods


@REGISTER
class InverseTimeDecay(keras.optimizers.schedules.InverseTimeDecay):
    """Inverse time decay, TF1 `tf.train.inverse_time_decay` semantics.

    Keras's `InverseTimeDecay`, with every argument validated and the class
    registered under `keras_lrtools`. Periods are counted exactly: Keras's
    float32 step moves a staircase boundary past 2 ** 24 updates.

    Formula (t = optimizer step, counted from 0):

    ```
    lr(t) = initial_learning_rate / (1 + decay_rate * p)
    p     = t / decay_steps            if staircase is False
    p     = floor(t / decay_steps)     if staircase is True
    ```

    Args:
        initial_learning_rate: Float >= 0. LR at step 0.
        decay_steps: Int > 0. Optimizer updates per decay period.
        decay_rate: Float >= 0. How fast the LR falls per period.
        staircase: Bool. If True, the LR changes only at multiples of
            `decay_steps`. Default False.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is outside the range given above.

    Example:
    >>> schedule = InverseTimeDecay(0.1, decay_steps=10, decay_rate=1.0)
    >>> [round(float(schedule(s)), 4) for s in (0, 10, 30)]
    [0.1, 0.05, 0.025]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="InverseTimeDecay",
    ):
        super().__init__(
            initial_learning_rate=check_learning_rate(
                "initial_learning_rate", initial_learning_rate
            ),
            decay_steps=check_step_count("decay_steps", decay_steps),
            decay_rate=check_float("decay_rate", decay_rate, low=0.0),
            staircase=check_bool("staircase", staircase),
            name=name,
        )

    def __call__(self, step):
        periods = decay_periods(as_step(step), self.decay_steps, self.staircase)
        return self.initial_learning_rate / (1.0 + self.decay_rate * periods)
