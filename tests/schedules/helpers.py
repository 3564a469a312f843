"""Step grids, step kinds and comparison against references."""

import math

import keras
import numpy as np

STEP_KINDS = ("python_int", "numpy_int", "int64_variable")
FAR = 10**9


def step_grid(*marks, horizon):
    """0, 1, every mark and its neighbours, far past the horizon, 10**9."""
    steps = {0, 1, horizon + 1000, FAR}
    for mark in marks:
        steps.update({mark - 1, mark, mark + 1})
    return sorted(s for s in steps if s >= 0)


def multiples(period, count):
    return [period * i for i in range(1, count + 1)]


def as_step(kind, step):
    if kind == "python_int":
        return int(step)
    if kind == "numpy_int":
        return np.int64(step)
    return keras.Variable(step, dtype="int64", trainable=False)


def evaluate(schedule, steps, kind="python_int"):
    return np.array(
        [float(schedule(as_step(kind, s))) for s in steps], dtype=np.float64
    )


def assert_matches_reference(
    schedule, reference, steps, kind="python_int", rtol=2e-6, atol=1e-9
):
    """schedule(step) == reference(step) on every step of the grid."""
    got = evaluate(schedule, steps, kind)
    want = np.array([reference(s) for s in steps], dtype=np.float64)
    assert np.all(np.isfinite(got)), dict(zip(steps, got, strict=True))
    mismatch = ~np.isclose(got, want, rtol=rtol, atol=atol)
    assert not mismatch.any(), {
        s: (g, w)
        for s, g, w, m in zip(steps, got, want, mismatch, strict=True)
        if m
    }


def tf1_oracle(function, step, **kwargs):
    """Evaluates a TF1 `tf.compat.v1.train.*` decay function at `step`."""
    import tensorflow as tf

    value = function(global_step=tf.constant(step, tf.int64), **kwargs)
    value = value() if callable(value) else value
    result = float(value.numpy())
    assert math.isfinite(result)
    return result
