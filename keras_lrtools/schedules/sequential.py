"""Joining schedules one after another."""

from keras import ops

from keras_lrtools._validation import check_sequence
from keras_lrtools._validation import check_step_count
from keras_lrtools._validation import check_strictly_increasing
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import check_schedule
from keras_lrtools.schedules._common import evaluate
from keras_lrtools.schedules._common import from_config_with_schedules
from keras_lrtools.schedules._common import is_before
from keras_lrtools.schedules._common import serialize
from keras_lrtools.schedules._common import shifted_step


@REGISTER
class SequentialSchedule(LearningRateSchedule):
    """Runs schedules one after another, each with its own clock.

    optax `join_schedules` semantics: schedule i takes over at step
    `boundaries[i-1]` and sees the step counted from there, so every piece
    starts at its own step 0 (unlike PyTorch's `SequentialLR`, there is no
    off-by-one at the milestone).

    Formula (t = optimizer step, S = schedules, b = boundaries,
    n = len(b)):

    ```
    lr(t) = S[0](t)               if t < b[0]
    lr(t) = S[i](t - b[i-1])      if b[i-1] <= t < b[i]
    lr(t) = S[n](t - b[n-1])      if t >= b[n-1]
    ```

    Args:
        schedules: Non-empty list of `LearningRateSchedule`s or floats >= 0
            (constant pieces).
        boundaries: List of `len(schedules) - 1` strictly increasing ints
            > 0: the steps at which the next schedule takes over.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if a piece is neither a schedule nor a float, or a
            boundary is not an int.
        ValueError: if the lengths do not match or the boundaries are not
            positive and strictly increasing.

    Example:
    >>> import keras
    >>> decay = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    >>> schedule = SequentialSchedule([0.1, decay], boundaries=[5])
    >>> [round(float(schedule(s)), 4) for s in (0, 4, 5, 15)]
    [0.1, 0.1, 0.1, 0.05]
    """

    def __init__(self, schedules, boundaries, name="SequentialSchedule"):
        schedules = check_sequence("schedules", schedules, min_length=1)
        self.schedules = [
            check_schedule(f"schedules[{i}]", s)
            for i, s in enumerate(schedules)
        ]
        boundaries = check_sequence("boundaries", boundaries)
        self.boundaries = [
            check_step_count(f"boundaries[{i}]", b)
            for i, b in enumerate(boundaries)
        ]
        check_strictly_increasing("boundaries", self.boundaries)
        if len(self.boundaries) != len(self.schedules) - 1:
            raise ValueError(
                "Argument `boundaries` must have one element fewer than "
                f"`schedules` ({len(self.schedules) - 1}). Received: "
                f"boundaries={self.boundaries} "
                f"({len(self.boundaries)} elements), "
                f"schedules with {len(self.schedules)} elements"
            )
        self.name = name

    def __call__(self, step):
        step = as_step(step)
        value = evaluate(self.schedules[0], step)
        for boundary, schedule in zip(
            self.boundaries, self.schedules[1:], strict=True
        ):
            piece = evaluate(schedule, shifted_step(step, boundary))
            value = ops.where(is_before(step, boundary), value, piece)
        return value

    def get_config(self):
        return {
            "schedules": [serialize(s) for s in self.schedules],
            "boundaries": list(self.boundaries),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return from_config_with_schedules(cls, config, "schedules")
