"""Argument checks shared by every public constructor.

Each check returns the normalised value (a plain Python ``int``, ``float`` or
``bool``, so configs stay JSON-clean) or raises:

- ``TypeError`` when the value is of the wrong kind;
- ``ValueError`` when it is of the right kind but out of range.

Messages follow Keras's format and always name the argument, the rule and the
value received, e.g. ``Argument `decay_steps` must be > 0. Received:
decay_steps=0``.
"""

import itertools
import math
import numbers
import operator

# Largest finite float32: schedules and optimizers compute in float32.
FLOAT32_MAX = 3.4028234663852886e38

# Steps a schedule counts exactly: every integer float64 holds.
MAX_STEP = 2**53


def _received(name, value):
    return f"Received: {name}={value!r}"


def check_int(name, value, *, minimum=None, maximum=None):
    """Returns `value` as an int, refusing bools, floats and strings."""
    if isinstance(value, bool):
        raise TypeError(
            f"Argument `{name}` must be an integer, not a bool. "
            f"{_received(name, value)}"
        )
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(
            f"Argument `{name}` must be an integer. "
            f"{_received(name, value)} of type {type(value).__name__}"
        ) from None
    if minimum is not None and value < minimum:
        raise ValueError(
            f"Argument `{name}` must be >= {minimum}. {_received(name, value)}"
        )
    if maximum is not None and value > maximum:
        raise ValueError(
            f"Argument `{name}` must be <= {maximum}. {_received(name, value)}"
        )
    return value


def check_step_count(name, value, *, minimum=1):
    """Returns a number of optimizer steps, an int in [minimum, 2**53]."""
    value = check_int(name, value, minimum=minimum)
    if value > MAX_STEP:
        raise ValueError(
            f"Argument `{name}` must be <= 2**53 (the steps a schedule "
            f"counts exactly). {_received(name, value)}"
        )
    return value


def check_positive_int(name, value):
    """Returns `value` as an int > 0."""
    return check_int(name, value, minimum=1)


def check_non_negative_int(name, value):
    """Returns `value` as an int >= 0."""
    return check_int(name, value, minimum=0)


def check_float(
    name,
    value,
    *,
    low=None,
    high=None,
    low_inclusive=True,
    high_inclusive=True,
):
    """Returns `value` as a float, finite in float32, inside the bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"Argument `{name}` must be a real number. "
            f"{_received(name, value)} of type {type(value).__name__}"
        )
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(
            f"Argument `{name}` must be a finite number. "
            f"{_received(name, value)}"
        )
    if abs(value) > FLOAT32_MAX:
        raise ValueError(
            f"Argument `{name}` must be within float32's range "
            f"(|value| <= {FLOAT32_MAX:.4g}), as the schedules and "
            f"optimizers compute in float32. {_received(name, value)}"
        )
    too_low = low is not None and (
        value < low if low_inclusive else value <= low
    )
    too_high = high is not None and (
        value > high if high_inclusive else value >= high
    )
    if too_low or too_high:
        raise ValueError(
            f"Argument `{name}` must be "
            f"{_interval(low, high, low_inclusive, high_inclusive)}. "
            f"{_received(name, value)}"
        )
    return value


def check_open_fraction(name, value):
    """Returns `value` as a float strictly between 0 and 1."""
    return check_float(
        name,
        value,
        low=0.0,
        high=1.0,
        low_inclusive=False,
        high_inclusive=False,
    )


def _interval(low, high, low_inclusive, high_inclusive):
    if high is None:
        return f"{'>=' if low_inclusive else '>'} {low}"
    if low is None:
        return f"{'<=' if high_inclusive else '<'} {high}"
    left = "[" if low_inclusive else "("
    right = "]" if high_inclusive else ")"
    return f"in {left}{low}, {high}{right}"


def check_learning_rate(name, value, *, positive=False):
    """Returns a learning rate as a finite float, >= 0 (> 0 if `positive`)."""
    return check_float(name, value, low=0.0, low_inclusive=not positive)


def check_bool(name, value):
    """Returns `value` if it is a bool (NumPy bools included)."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise TypeError(
            f"Argument `{name}` must be a bool. "
            f"{_received(name, value)} of type {type(value).__name__}"
        )
    return bool(value)


def check_choice(name, value, choices):
    """Returns `value` if it is one of `choices` (a tuple of strings)."""
    if not isinstance(value, str):
        raise TypeError(
            f"Argument `{name}` must be a string, one of {list(choices)}. "
            f"{_received(name, value)} of type {type(value).__name__}"
        )
    if value not in choices:
        raise ValueError(
            f"Argument `{name}` must be one of {list(choices)}. "
            f"{_received(name, value)}"
        )
    return value


def check_sequence(name, value, *, min_length=0):
    """Returns `value` as a list; strings and mappings are refused."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise TypeError(
            f"Argument `{name}` must be a list or tuple. "
            f"{_received(name, value)} of type {type(value).__name__}"
        )
    value = list(value)
    if len(value) < min_length:
        raise ValueError(
            f"Argument `{name}` must have at least {min_length} "
            f"element{'s' if min_length != 1 else ''}. "
            f"{_received(name, value)}"
        )
    return value


def check_strictly_increasing(name, values):
    """Raises ValueError unless `values` is strictly increasing."""
    for previous, current in itertools.pairwise(values):
        if current <= previous:
            raise ValueError(
                f"Argument `{name}` must be strictly increasing "
                f"({previous} is followed by {current}). "
                f"{_received(name, values)}"
            )
    return values
