"""Every constructor argument is checked at construction, with a message
that names the argument, the rule and the value received."""

import math

import keras
import numpy as np
import pytest

from keras_lrtools import adam_effective_learning_rate
from keras_lrtools import schedules as S

NAN = float("nan")
INF = float("inf")

VALID = {
    S.ExponentialDecay: dict(
        initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5
    ),
    S.NaturalExpDecay: dict(
        initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5
    ),
    S.InverseTimeDecay: dict(
        initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5
    ),
    S.PiecewiseConstantDecay: dict(
        boundaries=[5, 10], values=[0.1, 0.05, 0.01]
    ),
    S.PolynomialDecay: dict(initial_learning_rate=0.1, decay_steps=10),
    S.CosineDecay: dict(initial_learning_rate=0.1, decay_steps=10),
    S.CosineDecayRestarts: dict(
        initial_learning_rate=0.1, first_decay_steps=10
    ),
    S.LinearCosineDecay: dict(initial_learning_rate=0.1, decay_steps=10),
    S.NoisyLinearCosineDecay: dict(
        initial_learning_rate=0.1, decay_steps=10, seed=1
    ),
    S.CyclicalLearningRate: dict(
        initial_learning_rate=0.01, maximal_learning_rate=0.1, step_size=5
    ),
    S.OneCycle: dict(maximal_learning_rate=0.1, total_steps=100),
    S.Warmup: dict(schedule=0.1, warmup_steps=10),
    S.SequentialSchedule: dict(schedules=[0.1, 0.01], boundaries=[10]),
    S.WarmupStableDecay: dict(
        peak_learning_rate=0.1, warmup_steps=5, stable_steps=10, decay_steps=5
    ),
    S.InverseSqrtDecay: dict(peak_learning_rate=0.1, warmup_steps=10),
    S.ScaledSchedule: dict(schedule=0.1, scale=0.5),
}

V, T = ValueError, TypeError

# (class, overrides, error, pattern). The pattern must name the argument.
CASES = [
    # Learning rates: negative, NaN, inf, strings, bools, None.
    *[
        (cls, {arg: bad}, err, rf"`{arg}`.*{pat}")
        for cls, arg in [
            (S.ExponentialDecay, "initial_learning_rate"),
            (S.NaturalExpDecay, "initial_learning_rate"),
            (S.InverseTimeDecay, "initial_learning_rate"),
            (S.PolynomialDecay, "initial_learning_rate"),
            (S.PolynomialDecay, "end_learning_rate"),
            (S.CosineDecay, "initial_learning_rate"),
            (S.CosineDecayRestarts, "initial_learning_rate"),
            (S.LinearCosineDecay, "initial_learning_rate"),
            (S.CyclicalLearningRate, "initial_learning_rate"),
            (S.OneCycle, "maximal_learning_rate"),
            (S.WarmupStableDecay, "peak_learning_rate"),
            (S.InverseSqrtDecay, "peak_learning_rate"),
            (S.Warmup, "initial_learning_rate"),
        ]
        for bad, err, pat in [
            (-0.1, V, r"must be >=? 0.*Received: .*=-0.1"),
            (NAN, V, r"finite.*Received: .*=nan"),
            (INF, V, r"finite.*Received: .*=inf"),
            (1e39, V, r"float32's range.*Received: .*=1e\+39"),
            ("0.1", T, r"real number.*Received: .*='0.1'"),
            (True, T, r"real number.*Received: .*=True"),
            (None, T, r"real number.*Received: .*=None"),
        ]
    ],
    # Step counts: zero, negative, floats, strings, bools.
    *[
        (cls, {arg: bad}, err, rf"`{arg}`.*{pat}")
        for cls, arg, minimum in [
            (S.ExponentialDecay, "decay_steps", 1),
            (S.NaturalExpDecay, "decay_steps", 1),
            (S.InverseTimeDecay, "decay_steps", 1),
            (S.PolynomialDecay, "decay_steps", 1),
            (S.CosineDecay, "decay_steps", 1),
            (S.CosineDecay, "warmup_steps", 0),
            (S.CosineDecayRestarts, "first_decay_steps", 1),
            (S.LinearCosineDecay, "decay_steps", 1),
            (S.CyclicalLearningRate, "step_size", 1),
            (S.CyclicalLearningRate, "step_size_down", 1),
            (S.OneCycle, "total_steps", 1),
            (S.Warmup, "warmup_steps", 1),
            (S.WarmupStableDecay, "warmup_steps", 0),
            (S.WarmupStableDecay, "stable_steps", 0),
            (S.WarmupStableDecay, "decay_steps", 1),
            (S.InverseSqrtDecay, "warmup_steps", 1),
        ]
        for bad, err, pat in [
            (minimum - 1, V, rf">= {minimum}.*Received: .*={minimum - 1}"),
            (-5, V, r"Received: .*=-5"),
            (10.0, T, r"integer.*Received: .*=10.0"),
            (10.5, T, r"integer.*Received: .*=10.5"),
            ("10", T, r"integer.*Received: .*='10'"),
            (True, T, r"integer, not a bool.*Received: .*=True"),
            (2**53 + 1, V, r"<= 2\*\*53.*Received: .*=9007199254740993"),
            (2**63, V, r"<= 2\*\*53.*Received: .*=9223372036854775808"),
        ]
    ],
    # Counts and products past what float32 or float64 hold.
    *[
        (S.PiecewiseConstantDecay, dict(boundaries=[5, big]), V, pat)
        for big, pat in [
            (2**63, r"`boundaries\[1\]` must be <= 2\*\*53"),
            (2**53 + 1, r"`boundaries\[1\]` must be <= 2\*\*53"),
        ]
    ],
    (
        S.SequentialSchedule,
        dict(boundaries=[2**63]),
        V,
        r"`boundaries\[0\]` must be <= 2\*\*53",
    ),
    (
        S.ScaledSchedule,
        dict(schedule=1e38, scale=10.0),
        V,
        r"`schedule \* scale` must be within float32's range.*=1e\+39",
    ),
    (S.ScaledSchedule, dict(scale=1e39), V, r"`scale`.*float32's range"),
    (
        S.OneCycle,
        dict(maximal_learning_rate=1e38, div_factor=1e-3),
        V,
        r"`maximal_learning_rate / div_factor` must be within float32",
    ),
    (
        S.CosineDecayRestarts,
        dict(first_decay_steps=1, t_mul=1.0001),
        V,
        r"`t_mul` must be 1.0, or large enough that 4096 periods reach "
        r"2\*\*53.*t_mul=1.0001, first_decay_steps=1",
    ),
    # Rates and factors out of range.
    (S.ExponentialDecay, dict(decay_rate=0.0), V, r"`decay_rate`.*> 0"),
    (S.ExponentialDecay, dict(decay_rate=-1.0), V, r"`decay_rate`.*=-1.0"),
    (S.NaturalExpDecay, dict(decay_rate=-0.5), V, r"`decay_rate`.*>= 0"),
    (S.InverseTimeDecay, dict(decay_rate=-0.5), V, r"`decay_rate`.*>= 0"),
    (S.InverseTimeDecay, dict(decay_rate=NAN), V, r"`decay_rate`.*finite"),
    (S.PolynomialDecay, dict(power=0.0), V, r"`power`.*> 0"),
    (S.PolynomialDecay, dict(power=-1.0), V, r"`power`.*=-1.0"),
    (S.CosineDecay, dict(alpha=1.5), V, r"`alpha`.*\[0.0, 1.0\].*=1.5"),
    (S.CosineDecay, dict(alpha=-0.1), V, r"`alpha`.*=-0.1"),
    (
        S.CosineDecay,
        dict(warmup_steps=100),
        V,
        r"`warmup_target` is required.*warmup_steps=100",
    ),
    (
        S.CosineDecay,
        dict(warmup_target=0.2),
        V,
        r"`warmup_steps` must be > 0.*warmup_target=0.2",
    ),
    (
        S.CosineDecay,
        dict(warmup_target=-0.2, warmup_steps=5),
        V,
        r"`warmup_target`.*=-0.2",
    ),
    (S.CosineDecayRestarts, dict(t_mul=0.5), V, r"`t_mul`.*>= 1.0.*=0.5"),
    (S.CosineDecayRestarts, dict(m_mul=-1.5), V, r"`m_mul` must be > 0"),
    (S.CosineDecayRestarts, dict(m_mul=0.0), V, r"`m_mul`.*=0.0"),
    (S.CosineDecayRestarts, dict(alpha=2.0), V, r"`alpha`.*=2.0"),
    (S.LinearCosineDecay, dict(num_periods=-1.0), V, r"`num_periods`"),
    (S.LinearCosineDecay, dict(beta=-0.001), V, r"`beta`.*=-0.001"),
    (S.LinearCosineDecay, dict(alpha=NAN), V, r"`alpha`.*finite"),
    (
        S.NoisyLinearCosineDecay,
        dict(initial_variance=-1.0),
        V,
        r"`initial_variance`.*=-1.0",
    ),
    (
        S.NoisyLinearCosineDecay,
        dict(variance_decay=NAN),
        V,
        r"`variance_decay`.*finite",
    ),
    (S.NoisyLinearCosineDecay, dict(seed=-1), V, r"`seed`.*>= 0.*=-1"),
    (S.NoisyLinearCosineDecay, dict(seed=2**32), V, r"`seed`.*<= 4294967295"),
    (S.NoisyLinearCosineDecay, dict(seed=1.5), T, r"`seed`.*integer"),
    (
        S.CyclicalLearningRate,
        dict(maximal_learning_rate=0.01),
        V,
        r"`maximal_learning_rate` must be greater.*initial_learning_rate=0.01",
    ),
    (
        S.CyclicalLearningRate,
        dict(mode="triangle"),
        V,
        r"`mode` must be one of \['triangular', 'triangular2', 'exp_range'\]"
        r".*Received: mode='triangle'",
    ),
    (S.CyclicalLearningRate, dict(mode=None), T, r"`mode` must be a string"),
    (
        S.CyclicalLearningRate,
        dict(mode="exp_range", gamma=0.0),
        V,
        r"`gamma`.*\(0.0, 1.0\].*=0.0",
    ),
    (
        S.CyclicalLearningRate,
        dict(mode="exp_range", gamma=1.1),
        V,
        r"`gamma`.*=1.1",
    ),
    (
        S.CyclicalLearningRate,
        dict(gamma=0.9),
        V,
        r"`gamma` is only used with mode='exp_range'.*gamma=0.9",
    ),
    (
        S.OneCycle,
        dict(maximal_learning_rate=0.0),
        V,
        r"`maximal_learning_rate`.*> 0.*=0.0",
    ),
    (S.OneCycle, dict(pct_start=0.0), V, r"`pct_start`.*\(0.0, 1.0\).*=0.0"),
    (S.OneCycle, dict(pct_start=1.0), V, r"`pct_start`.*=1.0"),
    (S.OneCycle, dict(pct_start=1.3), V, r"`pct_start`.*=1.3"),
    (S.OneCycle, dict(div_factor=0.0), V, r"`div_factor`.*> 0"),
    (S.OneCycle, dict(final_div_factor=-1.0), V, r"`final_div_factor`"),
    (
        S.OneCycle,
        dict(anneal="cosine"),
        V,
        r"`anneal` must be one of \['cos', 'linear'\].*='cosine'",
    ),
    (S.OneCycle, dict(three_phase="yes"), T, r"`three_phase` must be a bool"),
    (
        S.OneCycle,
        dict(total_steps=3, pct_start=0.3),
        V,
        r"`pct_start` and `total_steps` leave phase 1 of 2 with no steps.*"
        r"pct_start=0.3, total_steps=3",
    ),
    (
        S.OneCycle,
        dict(total_steps=10, pct_start=0.55, three_phase=True),
        V,
        r"leave phase 3 of 3 with no steps",
    ),
    (
        S.Warmup,
        dict(schedule="0.1"),
        T,
        r"`schedule` must be a .*LearningRateSchedule.* or a float.*='0.1'",
    ),
    (
        S.Warmup,
        dict(schedule=lambda step: 0.1),
        T,
        r"`schedule` must be a .*plain callables cannot be serialized",
    ),
    (S.Warmup, dict(schedule=-0.1), V, r"`schedule`.*=-0.1"),
    (
        S.Warmup,
        dict(shape="quadratic"),
        V,
        r"`shape` must be one of \['linear', 'exponential', 'cosine'\]",
    ),
    (
        S.Warmup,
        dict(shape="exponential", initial_learning_rate=0.0),
        V,
        r"`initial_learning_rate` must be > 0.*=0.0",
    ),
    (
        S.SequentialSchedule,
        dict(boundaries=[10, 20]),
        V,
        r"`boundaries` must have one element fewer than `schedules` \(1\)",
    ),
    (
        S.SequentialSchedule,
        dict(schedules=[], boundaries=[]),
        V,
        r"`schedules` must have at least 1 element",
    ),
    (
        S.SequentialSchedule,
        dict(schedules=[0.1, 0.05, 0.01], boundaries=[20, 10]),
        V,
        r"`boundaries` must be strictly increasing \(20 is followed by 10\)",
    ),
    (
        S.SequentialSchedule,
        dict(boundaries=[0]),
        V,
        r"`boundaries\[0\]` must be >= 1.*=0",
    ),
    (
        S.SequentialSchedule,
        dict(schedules=[0.1, "x"]),
        T,
        r"`schedules\[1\]` must be a",
    ),
    (
        S.SequentialSchedule,
        dict(schedules=0.1),
        T,
        r"`schedules` must be a list or tuple.*=0.1",
    ),
    (
        S.PiecewiseConstantDecay,
        dict(boundaries=[10, 5]),
        V,
        r"`boundaries` must be strictly increasing.*\[10, 5\]",
    ),
    (
        S.PiecewiseConstantDecay,
        dict(boundaries=[5, 5]),
        V,
        r"`boundaries` must be strictly increasing",
    ),
    (
        S.PiecewiseConstantDecay,
        dict(boundaries=[5]),
        V,
        r"`values` must have exactly one more element than `boundaries`.*"
        r"boundaries=\[5\] \(1 elements\), values=\[0.1, 0.05, 0.01\]",
    ),
    (
        S.PiecewiseConstantDecay,
        dict(boundaries=[]),
        V,
        r"`boundaries` must have at least 1 element",
    ),
    (
        S.PiecewiseConstantDecay,
        dict(boundaries=[5.5, 10]),
        T,
        r"`boundaries\[0\]` must be an integer.*=5.5",
    ),
    (
        S.PiecewiseConstantDecay,
        dict(boundaries=[-1, 10]),
        V,
        r"`boundaries\[0\]` must be >= 0.*=-1",
    ),
    (
        S.PiecewiseConstantDecay,
        dict(values=[0.1, NAN, 0.01]),
        V,
        r"`values\[1\]` must be a finite number.*=nan",
    ),
    (
        S.PiecewiseConstantDecay,
        dict(values=[0.1, -0.05, 0.01]),
        V,
        r"`values\[1\]`.*=-0.05",
    ),
    (
        S.PiecewiseConstantDecay,
        dict(values="abc"),
        T,
        r"`values` must be a list or tuple",
    ),
    (
        S.WarmupStableDecay,
        dict(initial_learning_rate=0.2),
        V,
        r"`initial_learning_rate` must be <= `peak_learning_rate`.*"
        r"initial_learning_rate=0.2, peak_learning_rate=0.1",
    ),
    (
        S.WarmupStableDecay,
        dict(final_learning_rate=0.5),
        V,
        r"`final_learning_rate` must be <= `peak_learning_rate`",
    ),
    (
        S.WarmupStableDecay,
        dict(decay_shape="exp"),
        V,
        r"`decay_shape` must be one of \['linear', 'cosine', '1-sqrt'\]",
    ),
    (
        S.ExponentialDecay,
        dict(staircase="no"),
        T,
        r"`staircase` must be a bool.*='no'",
    ),
    (S.PolynomialDecay, dict(cycle=1), T, r"`cycle` must be a bool.*=1"),
]


def _stable_repr(value):
    # Test ids must not contain memory addresses (xdist compares them).
    return "<callable>" if callable(value) else repr(value)


def _id(case):
    cls, overrides, _, _ = case
    text = ",".join(f"{k}={_stable_repr(v)}" for k, v in overrides.items())
    return f"{cls.__name__}({text})"[:90]


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_bad_argument_is_refused_with_a_clear_message(case):
    cls, overrides, error, pattern = case
    arguments = {**VALID[cls], **overrides}
    with pytest.raises(error, match=pattern):
        cls(**arguments)


@pytest.mark.parametrize("cls", list(VALID), ids=lambda c: c.__name__)
def test_valid_arguments_construct(cls):
    schedule = cls(**VALID[cls])
    assert math.isfinite(float(schedule(3)))


def test_numpy_scalars_are_accepted_and_stored_as_python_scalars():
    schedule = S.ExponentialDecay(
        np.float32(0.5), np.int64(10), np.float64(0.9)
    )
    config = schedule.get_config()
    assert type(config["initial_learning_rate"]) is float
    assert type(config["decay_steps"]) is int


def test_keras_accepts_what_we_refuse():
    """The cases of the issue, shown to pass through Keras 3 unchecked."""
    keras_schedules = keras.optimizers.schedules
    assert float(keras_schedules.ExponentialDecay(-0.1, 10, 0.5)(0)) < 0
    assert math.isnan(float(keras_schedules.ExponentialDecay(NAN, 10, 0.5)(0)))
    with pytest.raises(ValueError, match=r"`initial_learning_rate` must be"):
        S.ExponentialDecay(-0.1, 10, 0.5)


@pytest.mark.parametrize(
    "overrides, error, pattern",
    [
        (dict(beta_1=1.0), V, r"`beta_1`.*\[0.0, 1.0\).*=1.0"),
        (dict(beta_2=-0.1), V, r"`beta_2`.*=-0.1"),
        (dict(learning_rate="fast"), T, r"`learning_rate` must be a"),
        (dict(learning_rate=-1.0), V, r"`learning_rate`.*=-1.0"),
    ],
)
def test_adam_effective_learning_rate_validates(overrides, error, pattern):
    arguments = {"learning_rate": 0.001, "step": 3, **overrides}
    with pytest.raises(error, match=pattern):
        adam_effective_learning_rate(**arguments)


def test_number_of_validation_cases(record_property):
    # Keeps the count visible in the test report.
    record_property("validation_cases", len(CASES))
    assert len(CASES) > 200
