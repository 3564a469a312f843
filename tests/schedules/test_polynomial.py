import pytest

from keras_lrtools.schedules import PolynomialDecay
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import assert_matches_reference
from tests.schedules.helpers import multiples
from tests.schedules.helpers import step_grid
from tests.schedules.helpers import tf1_oracle

DECAY_STEPS = 10
GRID = step_grid(*multiples(DECAY_STEPS, 3), horizon=3 * DECAY_STEPS)
CASES = [
    dict(end=1e-4, power=1.0, cycle=False),
    dict(end=0.01, power=2.0, cycle=False),
    dict(end=0.0, power=1.0, cycle=True),
    dict(end=0.02, power=0.5, cycle=True),
]
IDS = ["linear", "quadratic", "cycle", "sqrt-cycle"]


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_polynomial_decay_matches_tf1_formula(kind, case):
    schedule = PolynomialDecay(
        0.5,
        DECAY_STEPS,
        end_learning_rate=case["end"],
        power=case["power"],
        cycle=case["cycle"],
    )
    assert_matches_reference(
        schedule,
        lambda t: references.polynomial(t, 0.5, DECAY_STEPS, **case),
        GRID,
        kind,
    )


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_polynomial_decay_matches_tf1_function(case):
    import tensorflow as tf

    schedule = PolynomialDecay(
        0.5,
        DECAY_STEPS,
        end_learning_rate=case["end"],
        power=case["power"],
        cycle=case["cycle"],
    )
    for step in GRID[:-1]:
        want = tf1_oracle(
            tf.compat.v1.train.polynomial_decay,
            step,
            learning_rate=0.5,
            decay_steps=DECAY_STEPS,
            end_learning_rate=case["end"],
            power=case["power"],
            cycle=case["cycle"],
        )
        assert float(schedule(step)) == pytest.approx(want, rel=1e-5, abs=1e-9)


def test_cycle_restarts_from_lower_peaks():
    schedule = PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True)
    values = [round(float(schedule(s)), 6) for s in (0, 10, 11, 20, 21)]
    assert values == [1.0, 0.0, 0.45, 0.0, 0.3]


def test_default_end_learning_rate_is_tf1s():
    assert PolynomialDecay(0.1, 10).end_learning_rate == 1e-4
