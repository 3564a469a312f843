"""Polynomial decay: TF1's `polynomial_decay`, `cycle` included."""

import keras
from keras import ops

from keras_lrtools._validation import check_bool
from keras_lrtools._validation import check_float
from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_step_count
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import as_float_step
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import periods_and_position


@REGISTER
class PolynomialDecay(keras.optimizers.schedules.PolynomialDecay):
    """Polynomial decay, TF1 `tf.train.polynomial_decay` semantics.

    Keras's `PolynomialDecay`, with every argument validated and the class
    registered under `keras_lrtools`. Note the TF1 default
    `end_learning_rate=0.0001`, not 0.

    Formula (t = optimizer step, D = decay_steps, I = initial_learning_rate,
    E = end_learning_rate):

    ```
    lr(t) = (I - E) * (1 - t' / D') ** power + E
    t' = min(t, D), D' = D                       if cycle is False
    t' = t, D' = D * max(1, ceil(t / D))         if cycle is True
    ```

    Without `cycle` the LR holds at E after D steps. With `cycle` it reaches
    E at every multiple of D and jumps back up to a lower peak, about
    (I - E) / (k + 1) ** power + E after the k-th multiple.

    Args:
        initial_learning_rate: Float >= 0. LR at step 0.
        decay_steps: Int > 0. Optimizer updates to reach E.
        end_learning_rate: Float >= 0. LR at the end of the decay. Default
            0.0001 (TF1's).
        power: Float > 0. Exponent of the polynomial; 1.0 is linear.
        cycle: Bool. Restart the decay past `decay_steps`. Default False.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is outside the range given above.

    Example:
    >>> schedule = PolynomialDecay(1.0, 10, end_learning_rate=0.0)
    >>> [round(float(schedule(s)), 4) for s in (0, 5, 10, 15)]
    [1.0, 0.5, 0.0, 0.0]
    >>> schedule = PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True)
    >>> [round(float(schedule(s)), 4) for s in (10, 11, 20, 21)]
    [0.0, 0.45, 0.0, 0.3]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        super().__init__(
            initial_learning_rate=check_learning_rate(
                "initial_learning_rate", initial_learning_rate
            ),
            decay_steps=check_step_count("decay_steps", decay_steps),
            end_learning_rate=check_learning_rate(
                "end_learning_rate", end_learning_rate
            ),
            power=check_float("power", power, low=0.0, low_inclusive=False),
            cycle=check_bool("cycle", cycle),
            name=name,
        )

    def __call__(self, step):
        step = as_step(step)
        if self.cycle:
            # horizon = decay_steps * ceil(t / decay_steps) (1 period at
            # t = 0), and the part of it left, both from exact periods.
            completed, position = periods_and_position(step, self.decay_steps)
            started = ops.cast(position > 0, "float32")
            periods = ops.maximum(completed + started, 1.0)
            left = ops.where(
                position > 0,
                float(self.decay_steps) - position,
                ops.where(completed > 0, 0.0, float(self.decay_steps)),
            )
            remaining = left / (float(self.decay_steps) * periods)
        else:
            elapsed = ops.minimum(as_float_step(step), float(self.decay_steps))
            remaining = 1.0 - elapsed / float(self.decay_steps)
        end = self.end_learning_rate
        height = self.initial_learning_rate - end
        return height * ops.power(remaining, self.power) + end
