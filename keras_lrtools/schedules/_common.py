"""Helpers shared by the schedule families.

Shapes of an anneal, step arithmetic, and the handling of "a schedule or a
constant float" in composite schedules.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_lrtools._validation import MAX_STEP
from keras_lrtools._validation import check_learning_rate

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule

REGISTER = keras.saving.register_keras_serializable(package="keras_lrtools")

# Every anneal goes from `start` (fraction 0) to `end` (fraction 1).
ANNEAL_SHAPES = ("linear", "cosine", "exponential", "1-sqrt")


def anneal(shape, start, end, fraction):
    """Value of a `shape` anneal from `start` to `end` at `fraction` in [0, 1].

    ```
    linear:       start * (1 - f) + end * f
    cosine:       end + (start - end) * (1 + cos(pi * f)) / 2
    exponential:  start * (end / start) ** f          (start > 0)
    1-sqrt:       end + (start - end) * (1 - sqrt(f))
    ```
    """
    if shape == "linear":
        # Written so that fraction 1 gives `end` exactly in float32.
        return start * (1.0 - fraction) + end * fraction
    if shape == "cosine":
        return end + (start - end) * 0.5 * (1.0 + ops.cos(math.pi * fraction))
    if shape == "exponential":
        return start * ops.power(end / start, fraction)
    if shape == "1-sqrt":
        return end + (start - end) * (1.0 - ops.sqrt(fraction))
    raise ValueError(f"Unknown anneal shape {shape!r}; use {ANNEAL_SHAPES}.")


def as_step(step):
    """The step as a tensor a schedule can do exact integer arithmetic on.

    Host steps (Python or NumPy numbers and arrays) must be >= 0 and at
    most `MAX_STEP`; floats become float32 tensors, integers int64 ones
    (int32 on jax without `jax_enable_x64`, whose optimizer counts in
    int32: larger host steps are refused there, naming that setting).
    Tensors and variables are taken as they are, their values unread (no
    device sync).
    """
    if isinstance(step, (float, np.floating)):
        step = float(step)
        if not 0.0 <= step <= MAX_STEP:
            raise ValueError(
                f"Argument `step` must be in [0, 2**53]. Received: step={step}"
            )
        return ops.convert_to_tensor(step, "float32")
    if not isinstance(step, (int, np.integer, np.ndarray, list, tuple)):
        dtype = str(getattr(step, "dtype", ""))
        if "float" in dtype:  # float steps, as Keras's schedules take
            return ops.convert_to_tensor(step)
        return ops.convert_to_tensor(check_step(step))
    array = np.asarray(check_step(step))
    if array.size and array.max() > MAX_STEP:
        raise ValueError(
            "Argument `step` must be <= 2**53 (float64 counts every step "
            f"up to there). Received: step={step!r}"
        )
    dtype = _widest_int()
    if dtype == "int32" and array.size and array.max() > _INT32_MAX:
        raise ValueError(
            "Argument `step` must be < 2**31 on the jax backend without "
            "64-bit types (its optimizer counts in int32); set "
            "JAX_ENABLE_X64=1 for larger steps. "
            f"Received: step={step!r}"
        )
    return ops.convert_to_tensor(array.astype(dtype), dtype)


_INT32_MAX = 2**31 - 1


def _widest_int():
    """The backend's widest integer: int64, or int32 (jax without x64)."""
    probe = ops.convert_to_tensor(np.zeros((), "int64"))
    return keras.backend.standardize_dtype(probe.dtype)


def _constant(step, value):
    """`value` as a tensor of the step's dtype.

    (torch and jax would make a Python int an int32, wrapping past 2**31.)
    """
    dtype = keras.backend.standardize_dtype(step.dtype)
    return ops.convert_to_tensor(np.asarray(value, dtype), dtype)


def _is_int(step):
    return "int" in keras.backend.standardize_dtype(step.dtype)


def _dtype_max(step):
    return _INT32_MAX if _is_int32(step) else MAX_STEP


def _is_int32(step):
    return keras.backend.standardize_dtype(step.dtype) in ("int32", "uint32")


def as_float_step(step):
    """The optimizer's step counter as a float32 tensor."""
    return ops.cast(step, "float32")


def periods_and_position(step, period):
    """Returns (floor(step / period), step mod period) as float32 tensors.

    Exact for integer steps of any size the step dtype holds (float32 alone
    loses the phase of a periodic schedule past 2 ** 24 steps). `step`
    comes from `as_step`.
    """
    if _is_int(step):
        if period > _dtype_max(step):
            return ops.zeros_like(as_float_step(step)), as_float_step(step)
        period = _constant(step, period)
        # The backend's own operators: on torch, keras.ops.floor_divide and
        # ops.maximum return int32 for int64 tensors (keras 3.15), wrapping
        # past 2 ** 31.
        completed = step // period
        position = step - completed * period
    else:
        position = ops.mod(step, float(period))
        completed = ops.round((step - position) / float(period))
    return ops.cast(completed, "float32"), ops.cast(position, "float32")


def period_and_position(step, starts):
    """(index, step - start) of the period holding `step`.

    The index is an integer tensor (for `ops.take`), the position float32.
    `starts` lists each period's real start (floats from 0.0, increasing);
    period i holds the integer steps from ceil(starts[i]). The lookup is
    exact for integer steps (`step` from `as_step`).
    """
    firsts = [math.ceil(start) for start in starts]
    if _is_int(step):
        firsts = [first for first in firsts if first <= _dtype_max(step)]
    table = _constant(step, firsts)
    index = ops.searchsorted(table, ops.reshape(step, (-1,)), side="right")
    index = ops.reshape(index - 1, ops.shape(step))
    offsets = ops.convert_to_tensor(
        [first - start for first, start in zip(firsts, starts, strict=False)],
        "float32",
    )
    position = ops.cast(step - ops.take(table, index), "float32")
    position += ops.take(offsets, index)
    return index, position


def is_before(step, boundary):
    """Step < boundary, exact for integer steps (`step` from `as_step`)."""
    if _is_int(step) and boundary > _dtype_max(step):
        return ops.ones_like(step, dtype="bool")
    return step < _constant(step, boundary)


def is_past(step, boundary):
    """Step > boundary, exact for integer steps (`step` from `as_step`)."""
    if _is_int(step) and boundary >= _dtype_max(step):
        return ops.zeros_like(step, dtype="bool")
    return step > _constant(step, boundary)


def decay_periods(step, decay_steps, staircase):
    """Periods elapsed, t / decay_steps (floored if `staircase`), float32.

    The integer part is exact for integer steps (`step` from `as_step`).
    """
    completed, position = periods_and_position(step, decay_steps)
    if staircase:
        return completed
    return completed + position / float(decay_steps)


def progress(step, begin, length):
    """Fraction of a stage done: clip((step - begin) / length, 0, 1).

    `begin` and `length` (> 0) are Python constants, so the value is finite
    for every step. `step` is a float32 tensor.
    """
    return ops.clip((step - float(begin)) / float(length), 0.0, 1.0)


def shifted_step(step, offset):
    """max(step - offset, 0) in the step's dtype (`step` from `as_step`)."""
    if offset == 0:
        return step
    if _is_int(step) and offset > _dtype_max(step):
        return ops.zeros_like(step)
    offset = _constant(step, offset)
    return ops.where(step > offset, step - offset, ops.zeros_like(step))


def check_schedule(name, value):
    """Returns a LearningRateSchedule, or a constant learning rate as float."""
    if isinstance(value, LearningRateSchedule):
        return value
    if callable(value):
        raise TypeError(
            f"Argument `{name}` must be a "
            "`keras.optimizers.schedules.LearningRateSchedule` or a float; "
            "plain callables cannot be serialized. Subclass "
            "LearningRateSchedule instead. "
            f"Received: {name}={value!r}"
        )
    try:
        return check_learning_rate(name, value)
    except TypeError:
        raise TypeError(
            f"Argument `{name}` must be a "
            "`keras.optimizers.schedules.LearningRateSchedule` or a float. "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        ) from None


def evaluate(schedule, step):
    """schedule(step) as float32, for a schedule or a constant float."""
    if isinstance(schedule, LearningRateSchedule):
        return ops.cast(schedule(step), "float32")
    return ops.cast(schedule, "float32")


def values_at_steps(function, steps):
    """function(steps) for an integer array of steps, as float64 values.

    One vectorized call; step by step for a schedule that takes only
    scalar steps (one built on `ops.cond`, like Keras's own CosineDecay
    with warmup).
    """
    values = vectorized_values(function, steps)
    if values is None:
        values = scalar_values(function, steps)
    return values


def vectorized_values(function, steps):
    """function(steps) in one call as float64 values.

    Returns None if the function takes only scalar steps.
    """
    steps = np.asarray(steps, dtype="int64")
    try:
        values = ops.convert_to_numpy(function(steps))
    except Exception:
        return None
    if np.shape(values) != steps.shape:
        return None
    return np.asarray(values, dtype=np.float64)


def scalar_values(function, steps):
    """function(k) for each step k, one call each, as float64 values."""
    return np.array(
        [float(ops.convert_to_numpy(function(int(k)))) for k in steps],
        dtype=np.float64,
    )


def serialize(schedule):
    """A JSON-clean config entry for a schedule or a constant float."""
    if isinstance(schedule, LearningRateSchedule):
        return keras.saving.serialize_keras_object(schedule)
    return schedule


def deserialize(config):
    """Inverse of `serialize`."""
    if isinstance(config, dict):
        return keras.saving.deserialize_keras_object(config)
    return config


def from_config_with_schedules(cls, config, *keys):
    """Returns `cls(**config)` with the nested schedules rebuilt.

    Each of `keys` holds one serialized schedule or a list of them.
    """
    config = dict(config)
    for key in keys:
        value = config[key]
        config[key] = (
            [deserialize(v) for v in value]
            if isinstance(value, list)
            else deserialize(value)
        )
    return cls(**config)


def check_step(step):
    """An optimizer step: an int >= 0, NumPy integers, or an int tensor.

    A tensor's values are not read (no device sync).
    """
    if isinstance(step, bool) or step is None or isinstance(step, str):
        raise TypeError(
            "Argument `step` must be an integer (or integer tensor). "
            f"Received: step={step!r}"
        )
    if isinstance(step, (int, np.integer, np.ndarray, list, tuple)):
        array = np.asarray(step)
        if array.dtype.kind not in "iu":
            raise TypeError(
                "Argument `step` must be an integer (or integer tensor). "
                f"Received: step={step!r}"
            )
        if array.size and array.min() < 0:
            raise ValueError(
                f"Argument `step` must be >= 0. Received: step={step!r}"
            )
        return step if not isinstance(step, (list, tuple)) else array
    dtype = str(getattr(step, "dtype", ""))
    if "int" not in dtype:
        raise TypeError(
            "Argument `step` must be an integer (or integer tensor). "
            f"Received: step of type {type(step).__name__}, dtype {dtype!r}"
        )
    return step
