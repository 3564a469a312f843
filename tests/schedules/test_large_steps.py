"""Every schedule at steps near 2**31, 2**32 and 2**53, and with step counts
that large, against the float64 references; negative and too-large steps
refused by name.

Python ints reach a schedule as int64 tensors: torch and jax would make
them int32 (torch wraps past 2**31, jax refuses), and Keras's own
PiecewiseConstantDecay casts its boundaries to the step's dtype. On jax
without 64-bit types the optimizer counts in int32: there, a step past
2**31 is refused naming JAX_ENABLE_X64, and the same checks run again in
a process with JAX_ENABLE_X64=1.
"""

import math
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_lrtools import schedules as S
from keras_lrtools.schedules._common import MAX_STEP
from tests import references as R

NEAR = (2**31, 2**32, 2**53)
FAR_STEPS = sorted(
    {0, 1, 2, 3}
    | {
        mark + d
        for mark in NEAR
        for d in (-2, -1, 0, 1)
        if mark + d <= MAX_STEP
    }
)
INT32_STEPS = [s for s in FAR_STEPS if s < 2**31]
JAX_INT32 = (
    keras.backend.backend() == "jax"
    and keras.ops.convert_to_tensor(np.int64(0)).dtype == "int32"
)


def _polynomial(*args):
    schedule = S.PolynomialDecay(*args[:3], cycle=True)
    return schedule, partial(
        R.polynomial,
        initial=args[0],
        decay_steps=args[1],
        end=args[2],
        cycle=True,
    )


# (id, schedule, reference, marks): small step counts at far steps, and step
# counts near 2**31, 2**32 and 2**53 with steps around them (`marks`).
CASES = [
    (
        "exponential",
        S.ExponentialDecay(0.1, 3, 0.5),
        lambda t: R.exponential(t, 0.1, 3, 0.5),
        (),
    ),
    (
        "exponential_staircase_far",
        S.ExponentialDecay(0.1, 2**31, 0.5, staircase=True),
        lambda t: R.exponential(t, 0.1, 2**31, 0.5, True),
        (2**31, 2**32, 3 * 2**31),
    ),
    (
        "natural_exp_staircase",
        S.NaturalExpDecay(0.1, 2**32 + 3, 0.7, staircase=True),
        lambda t: R.natural_exp(t, 0.1, 2**32 + 3, 0.7, True),
        (2**32 + 3, 2 * (2**32 + 3)),
    ),
    (
        "inverse_time_staircase",
        S.InverseTimeDecay(0.1, 2**31 - 1, 1.0, staircase=True),
        lambda t: R.inverse_time(t, 0.1, 2**31 - 1, 1.0, True),
        (2**31 - 1, 2**32 - 2),
    ),
    (
        "piecewise_far",
        S.PiecewiseConstantDecay(
            [5, 2**31, 2**32 + 5, 2**53 - 1], [0.5, 0.1, 0.05, 0.01, 0.001]
        ),
        lambda t: R.piecewise(
            t, [5, 2**31, 2**32 + 5, 2**53 - 1], [0.5, 0.1, 0.05, 0.01, 0.001]
        ),
        (5, 2**31, 2**32 + 5),
    ),
    (
        "polynomial",
        S.PolynomialDecay(0.1, 6, 0.01),
        lambda t: R.polynomial(t, 0.1, 6, 0.01),
        (),
    ),
    (
        "polynomial_cycle",
        S.PolynomialDecay(0.1, 3, 0.01, power=2.0, cycle=True),
        lambda t: R.polynomial(t, 0.1, 3, 0.01, power=2.0, cycle=True),
        (),
    ),
    (
        "polynomial_cycle_far",
        S.PolynomialDecay(0.1, 2**31, 0.01, cycle=True),
        lambda t: R.polynomial(t, 0.1, 2**31, 0.01, cycle=True),
        (2**31, 2**32, 3 * 2**31),
    ),
    (
        "cosine_warmup",
        S.CosineDecay(0.01, 10, alpha=0.1, warmup_target=0.1, warmup_steps=4),
        lambda t: R.cosine(t, 0.01, 10, 0.1, 0.1, 4),
        (),
    ),
    (
        "cosine_far",
        S.CosineDecay(0.1, 2**32, warmup_target=None),
        lambda t: R.cosine(t, 0.1, 2**32),
        (2**31,),
    ),
    (
        "restarts",
        S.CosineDecayRestarts(0.1, 4, m_mul=0.8, alpha=0.01),
        lambda t: R.cosine_restarts(t, 0.1, 4, 2.0, 0.8, 0.01),
        (2**31 - 4, 2**32 - 4),
    ),
    (
        "restarts_equal_periods",
        S.CosineDecayRestarts(0.1, 3, t_mul=1.0, m_mul=0.999, alpha=0.01),
        lambda t: R.cosine_restarts(t, 0.1, 3, 1.0, 0.999, 0.01),
        (),
    ),
    (
        "restarts_slow_growth",
        S.CosineDecayRestarts(0.1, 10, t_mul=1.01, alpha=0.01),
        lambda t: R.cosine_restarts(t, 0.1, 10, 1.01, 1.0, 0.01),
        (),
    ),
    (
        "restarts_far",
        S.CosineDecayRestarts(0.1, 2**31),
        lambda t: R.cosine_restarts(t, 0.1, 2**31),
        (2**31, 3 * 2**31),
    ),
    (
        "linear_cosine",
        S.LinearCosineDecay(0.1, 2**32, num_periods=2.0),
        lambda t: R.linear_cosine(t, 0.1, 2**32, num_periods=2.0),
        (2**31,),
    ),
    (
        "cyclical",
        S.CyclicalLearningRate(
            0.01, 0.1, 3, step_size_down=5, mode="triangular2"
        ),
        lambda t: R.cyclical(t, 0.01, 0.1, 3, 5, "triangular2"),
        (),
    ),
    (
        "cyclical_far",
        S.CyclicalLearningRate(0.01, 0.1, 2**30),
        lambda t: R.cyclical(t, 0.01, 0.1, 2**30),
        (2**30, 2**31, 3 * 2**30),
    ),
    (
        "cyclical_farther",
        S.CyclicalLearningRate(0.01, 0.1, 2**31),
        lambda t: R.cyclical(t, 0.01, 0.1, 2**31),
        (2**31, 2**32),
    ),
    (
        "one_cycle_far",
        S.OneCycle(0.1, 2**40),
        lambda t: R.one_cycle(t, 0.1, 2**40),
        (),
    ),
    (
        "warmup",
        S.Warmup(S.PolynomialDecay(0.1, 8, 0.0), 5, initial_learning_rate=0.01),
        lambda t: R.warmup(t, lambda k: R.polynomial(k, 0.1, 8, 0.0), 5, 0.01),
        (),
    ),
    (
        "warmup_far",
        S.Warmup(S.PiecewiseConstantDecay([2**31], [0.1, 0.01]), 2**32),
        lambda t: R.warmup(
            t, lambda k: R.piecewise(k, [2**31], [0.1, 0.01]), 2**32
        ),
        (2**32, 2**32 + 2**31),
    ),
    (
        "sequential_far",
        S.SequentialSchedule(
            [0.1, S.ExponentialDecay(0.05, 2**31, 0.5, staircase=True), 0.001],
            [2**31, 2**32 + 7],
        ),
        lambda t: R.sequential(
            t,
            [
                lambda k: 0.1,
                lambda k: R.exponential(k, 0.05, 2**31, 0.5, True),
                lambda k: 0.001,
            ],
            [2**31, 2**32 + 7],
        ),
        (2**31, 2**32 + 7),
    ),
    (
        "warmup_stable_decay_far",
        S.WarmupStableDecay(
            0.1, 2**31, 2**32, 2**33, initial_learning_rate=0.01
        ),
        lambda t: R.warmup_stable_decay(t, 0.1, 2**31, 2**32, 2**33, 0.01),
        (2**31, 2**31 + 2**32, 2**31 + 2**32 + 2**33),
    ),
    (
        "inverse_sqrt_far",
        S.InverseSqrtDecay(0.1, 2**31 + 1),
        lambda t: R.inverse_sqrt(t, 0.1, 2**31 + 1),
        (2**31 + 1,),
    ),
    (
        "scaled",
        S.ScaledSchedule(S.CosineDecay(0.1, 2**33), scale=0.25),
        lambda t: 0.25 * R.cosine(t, 0.1, 2**33),
        (),
    ),
]
IDS = [case[0] for case in CASES]


def _steps(marks):
    steps = set(FAR_STEPS)
    for mark in marks:
        steps.update(mark + d for d in (-2, -1, 0, 1, 2))
    steps = sorted(s for s in steps if 0 <= s <= MAX_STEP)
    return [s for s in steps if s < 2**31] if JAX_INT32 else steps


def _assert_close(schedule, reference, steps, got):
    want = np.array([reference(s) for s in steps])
    # float32 arithmetic: 2e-6 of the value, and float32's resolution of
    # the schedule's scale where a cosine nears its floor.
    scale = max(abs(w) for w in want)
    bad = {
        s: (g, w)
        for s, g, w in zip(steps, got, want, strict=True)
        if not math.isclose(g, w, rel_tol=2e-6, abs_tol=2e-7 * scale)
    }
    assert not bad, bad


@pytest.mark.parametrize("name, schedule, reference, marks", CASES, ids=IDS)
def test_far_steps_give_the_references_values(name, schedule, reference, marks):
    steps = _steps(marks)
    one_by_one = [float(schedule(s)) for s in steps]
    _assert_close(schedule, reference, steps, one_by_one)
    # One call on an int64 array (StepTensorBoard's blocks, previews).
    at_once = keras.ops.convert_to_numpy(schedule(np.array(steps, "int64")))
    np.testing.assert_allclose(at_once, one_by_one, rtol=1e-6, err_msg=name)


@pytest.mark.parametrize("name, schedule, reference, marks", CASES, ids=IDS)
def test_negative_and_too_large_steps_are_refused_by_name(
    name, schedule, reference, marks
):
    for step in (-1, np.int64(-5), np.array([3, -1])):
        with pytest.raises(ValueError, match=r"`step` must be >= 0"):
            schedule(step)
    with pytest.raises(ValueError, match=r"`step` must be <= 2\*\*53"):
        schedule(2**53 + 1)


def test_noisy_linear_cosine_is_finite_and_in_its_band_far_out():
    schedule = S.NoisyLinearCosineDecay(0.1, 2**32, seed=7)
    steps = _steps((2**31,))
    values = np.array([float(schedule(s)) for s in steps])
    assert np.all(np.isfinite(values))
    # The noise's standard deviation at step t is sqrt(1 / (1 + t) ** 0.55).
    for step, value in zip(steps, values, strict=True):
        clean = R.linear_cosine(step, 0.1, 2**32)
        sigma = math.sqrt(1.0 / (1 + min(step, 2**32)) ** 0.55)
        assert abs(value - clean) <= 0.1 * 6 * sigma + 1e-9, step


@pytest.mark.skipif(not JAX_INT32, reason="jax without 64-bit types only")
def test_jax_int32_refuses_steps_past_2_31_and_x64_computes_them():
    schedule = S.PiecewiseConstantDecay([2**31], [0.1, 0.01])
    assert float(schedule(2**31 - 1)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="JAX_ENABLE_X64"):
        schedule(2**31)
    # The whole file again, with 64-bit types: every step up to 2**53.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            __file__,
            "-k",
            "not jax_int32",
        ],
        env={**os.environ, "JAX_ENABLE_X64": "1", "KERAS_BACKEND": "jax"},
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
