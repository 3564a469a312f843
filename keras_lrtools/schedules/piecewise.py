"""Piecewise constant decay: TF1's `piecewise_constant`."""

import keras
from keras import ops

from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_sequence
from keras_lrtools._validation import check_step_count
from keras_lrtools._validation import check_strictly_increasing
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import is_past


@REGISTER
class PiecewiseConstantDecay(keras.optimizers.schedules.PiecewiseConstantDecay):
    """Piecewise constant LR, TF1 `tf.train.piecewise_constant` semantics.

    Keras's `PiecewiseConstantDecay`, but it refuses what Keras lets through:
    unsorted boundaries (Keras returns a sum of two values between them),
    negative or NaN values, and non-integer boundaries; and it compares
    steps and boundaries exactly past 2 ** 31 (Keras casts the boundaries
    to the step's dtype, int32 for a Python int).

    Formula (t = optimizer step, b = boundaries, v = values, n = len(b)):

    ```
    lr(t) = v[0]    if t <= b[0]
    lr(t) = v[i]    if b[i-1] < t <= b[i]
    lr(t) = v[n]    if t > b[n-1]
    ```

    A boundary step still uses the earlier value; the new one starts at
    `b[i] + 1`.

    Args:
        boundaries: Non-empty list of strictly increasing ints >= 0
            (optimizer steps).
        values: List of `len(boundaries) + 1` floats >= 0, the LR of each
            interval.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if the boundaries are not strictly increasing, a value
            is negative or not finite, or the lengths do not match.

    Example:
    >>> schedule = PiecewiseConstantDecay([10, 20], [0.1, 0.05, 0.01])
    >>> [round(float(schedule(s)), 4) for s in (0, 10, 11, 20, 21)]
    [0.1, 0.1, 0.05, 0.05, 0.01]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries = check_sequence("boundaries", boundaries, min_length=1)
        boundaries = [
            check_step_count(f"boundaries[{i}]", b, minimum=0)
            for i, b in enumerate(boundaries)
        ]
        check_strictly_increasing("boundaries", boundaries)
        values = check_sequence("values", values)
        values = [
            check_learning_rate(f"values[{i}]", v) for i, v in enumerate(values)
        ]
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "Argument `values` must have exactly one more element than "
                f"`boundaries` ({len(boundaries) + 1}). Received: "
                f"boundaries={boundaries} ({len(boundaries)} elements), "
                f"values={values} ({len(values)} elements)"
            )
        super().__init__(boundaries=boundaries, values=values, name=name)

    def __call__(self, step):
        step = as_step(step)
        result = ops.convert_to_tensor(self.values[-1], "float32")
        for boundary, value in zip(
            reversed(self.boundaries), reversed(self.values[:-1]), strict=True
        ):
            result = ops.where(is_past(step, boundary), result, value)
        return result
