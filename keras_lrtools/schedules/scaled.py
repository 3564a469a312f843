"""A schedule times a constant: how a plateau reduction scales a schedule."""

import numbers

from keras_lrtools._validation import check_float
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import check_schedule
from keras_lrtools.schedules._common import evaluate
from keras_lrtools.schedules._common import from_config_with_schedules
from keras_lrtools.schedules._common import serialize


@REGISTER
class ScaledSchedule(LearningRateSchedule):
    """Any schedule multiplied by a constant `scale`.

    `keras_lrtools.callbacks.ReduceLROnPlateau` wraps the optimizer's
    schedule in one and lowers `scale` at each reduction, so a schedule and
    a plateau reduction compose (Keras's own callback raises TypeError
    there). The scale is a plain float kept in the config, so a saved
    model reloads with the LR it had.

    Formula (t = optimizer step, S = schedule):

    ```
    lr(t) = scale * S(t)
    ```

    Args:
        schedule: A `LearningRateSchedule`, or a float >= 0 (constant).
        scale: Float >= 0. Default 1.0.
        plateau_state: Optional dict of floats, the state of the plateau
            callback that owns the scale (best, wait, cooldown_counter), so
            that a saved model resumes its plateau. Not used in the formula.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if `schedule` is neither a schedule nor a float.
        ValueError: if `scale` is negative or not finite.

    Example:
    >>> import keras
    >>> decay = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    >>> schedule = ScaledSchedule(decay, scale=0.1)
    >>> [round(float(schedule(s)), 4) for s in (0, 10)]
    [0.01, 0.005]
    """

    def __init__(
        self, schedule, scale=1.0, plateau_state=None, name="ScaledSchedule"
    ):
        self.schedule = check_schedule("schedule", schedule)
        self.scale = check_float("scale", scale, low=0.0)
        self.plateau_state = _check_state(plateau_state)
        self.name = name

    def __call__(self, step):
        # `scale` is read when the train step is traced: whoever changes it
        # must retrace (model.make_train_function(force=True)).
        return evaluate(self.schedule, step) * self.scale

    def get_config(self):
        return {
            "schedule": serialize(self.schedule),
            "scale": self.scale,
            "plateau_state": self.plateau_state,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return from_config_with_schedules(cls, config, "schedule")


def _check_state(state):
    if state is None:
        return None
    if not isinstance(state, dict) or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool)
        for v in state.values()
    ):
        raise TypeError(
            "Argument `plateau_state` must be None or a dict of numbers. "
            f"Received: plateau_state={state!r}"
        )
    return {str(key): float(value) for key, value in state.items()}
