"""A schedule times a constant: how a plateau reduction scales a schedule."""

import math
import numbers

import keras
import numpy as np
from keras import ops

from keras_lrtools._validation import check_float
from keras_lrtools._validation import check_learning_rate
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import check_schedule
from keras_lrtools.schedules._common import evaluate
from keras_lrtools.schedules._common import from_config_with_schedules
from keras_lrtools.schedules._common import serialize

COUNTERS = ("best", "wait", "cooldown_counter")


class PlateauState(keras.layers.Layer):
    """The plateau's state: the LR scale and the counters that drive it.

    Float32 scalars kept as Keras variables, so a `BackupAndRestore` or
    `save_weights` checkpoint holds them (`keras_lrtools`'s optimizer
    module attaches the state to the model's optimizer) and a
    `ScaledSchedule` config carries them into a `.keras` file. `best` is
    NaN until a plateau callback has seen a value.
    """

    NAMES = ("scale", *COUNTERS)

    def __init__(
        self, scale=1.0, best=math.nan, wait=0.0, cooldown_counter=0.0
    ):
        super().__init__(name="plateau_state", trainable=False)
        unseen = math.isnan(best)
        initial = dict(
            scale=scale,
            best=0.0 if unseen else best,
            wait=wait,
            cooldown_counter=cooldown_counter,
        )
        self._variables_by_name = {
            key: self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(initial[key]),
                dtype="float32",
                trainable=False,
                name=key,
            )
            for key in self.NAMES
        }
        if unseen:
            # Made on the device: JAX's multi-process device_put checks
            # that every process passes the same value, and NaN != NaN.
            variable = self._variables_by_name["best"]
            variable.assign(variable * math.nan)

    @property
    def scale_variable(self):
        return self._variables_by_name["scale"]

    def read(self):
        """{name: float} of every value (one device read each)."""
        return {
            key: float(ops.convert_to_numpy(variable))
            for key, variable in self._variables_by_name.items()
        }

    def write(self, values):
        for key, value in values.items():
            self._variables_by_name[key].assign(np.float32(value))

    def load_own_variables(self, store):
        # A checkpoint written before the plateau was used has no entry:
        # keep the current values rather than failing the whole load.
        if len(store.keys()) == 0:
            return
        super().load_own_variables(store)


@REGISTER
class ScaledSchedule(LearningRateSchedule):
    """Any schedule multiplied by a constant `scale`.

    `keras_lrtools.callbacks.ReduceLROnPlateau` wraps the optimizer's
    schedule in one (the schedule object itself, not a copy) and lowers
    `scale` at each reduction, so a schedule and a plateau reduction
    compose (Keras's own callback raises TypeError there). The scale and
    the plateau's counters live in one `PlateauState` (`.state`), saved in
    the config and, once attached to an optimizer, in its checkpoints.

    Formula (t = optimizer step, S = schedule):

    ```
    lr(t) = scale * S(t)
    ```

    Args:
        schedule: A `LearningRateSchedule`, or a float >= 0 (constant).
        scale: Float >= 0. Default 1.0.
        plateau_state: Optional dict of floats, the counters of the plateau
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
        scale = check_float("scale", scale, low=0.0)
        if not isinstance(self.schedule, LearningRateSchedule):
            check_learning_rate("schedule * scale", self.schedule * scale)
        self.state = PlateauState(scale=scale, **_check_counters(plateau_state))
        self.name = name

    @property
    def scale(self):
        """The scale in force (a device read)."""
        return float(ops.convert_to_numpy(self.state.scale_variable))

    @scale.setter
    def scale(self, value):
        self.state.write({"scale": check_float("scale", value, low=0.0)})

    def __call__(self, step):
        # On jax the compiled train step holds the scale it was traced
        # with: whoever changes it retraces (make_train_function(force=True)).
        scale = ops.cast(self.state.scale_variable.value, "float32")
        return evaluate(self.schedule, as_step(step)) * scale

    def get_config(self):
        values = self.state.read()
        counters = {key: values[key] for key in COUNTERS}
        return {
            "schedule": serialize(self.schedule),
            "scale": values["scale"],
            # None until a plateau callback has seen a value.
            "plateau_state": None if math.isnan(values["best"]) else counters,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        return from_config_with_schedules(cls, config, "schedule")


def _check_counters(counters):
    if counters is None:
        return {}
    if not isinstance(counters, dict) or not all(
        isinstance(v, numbers.Real) and not isinstance(v, bool)
        for v in counters.values()
    ):
        raise TypeError(
            "Argument `plateau_state` must be None or a dict of numbers. "
            f"Received: plateau_state={counters!r}"
        )
    unknown = sorted(set(counters) - set(COUNTERS))
    if unknown:
        raise ValueError(
            f"Argument `plateau_state` takes the keys {list(COUNTERS)}. "
            f"Received: plateau_state={counters!r}"
        )
    return {str(key): float(value) for key, value in counters.items()}
