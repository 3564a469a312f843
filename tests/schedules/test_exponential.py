import pytest

from keras_lrtools.schedules import ExponentialDecay
from keras_lrtools.schedules import NaturalExpDecay
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import assert_matches_reference
from tests.schedules.helpers import multiples
from tests.schedules.helpers import step_grid
from tests.schedules.helpers import tf1_oracle

DECAY_STEPS = 7
GRID = step_grid(*multiples(DECAY_STEPS, 4), horizon=4 * DECAY_STEPS)


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize("staircase", [False, True], ids=["smooth", "stair"])
def test_exponential_decay_matches_tf1_formula(kind, staircase):
    schedule = ExponentialDecay(0.3, DECAY_STEPS, 0.6, staircase=staircase)
    assert_matches_reference(
        schedule,
        lambda t: references.exponential(t, 0.3, DECAY_STEPS, 0.6, staircase),
        GRID,
        kind,
    )


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize("staircase", [False, True], ids=["smooth", "stair"])
def test_natural_exp_decay_matches_tf1_formula(kind, staircase):
    schedule = NaturalExpDecay(0.3, DECAY_STEPS, 0.4, staircase=staircase)
    assert_matches_reference(
        schedule,
        lambda t: references.natural_exp(t, 0.3, DECAY_STEPS, 0.4, staircase),
        GRID,
        kind,
    )


@pytest.mark.parametrize("staircase", [False, True], ids=["smooth", "stair"])
def test_natural_exp_decay_matches_tf1_function(staircase):
    import tensorflow as tf

    schedule = NaturalExpDecay(0.3, DECAY_STEPS, 0.4, staircase=staircase)
    for step in GRID[:-1]:
        want = tf1_oracle(
            tf.compat.v1.train.natural_exp_decay,
            step,
            learning_rate=0.3,
            decay_steps=DECAY_STEPS,
            decay_rate=0.4,
            staircase=staircase,
        )
        assert float(schedule(step)) == pytest.approx(want, rel=1e-6)


def test_exponential_decay_matches_tf1_function():
    import tensorflow as tf

    schedule = ExponentialDecay(0.3, DECAY_STEPS, 0.6, staircase=True)
    for step in GRID[:-1]:
        want = tf1_oracle(
            tf.compat.v1.train.exponential_decay,
            step,
            learning_rate=0.3,
            decay_steps=DECAY_STEPS,
            decay_rate=0.6,
            staircase=True,
        )
        assert float(schedule(step)) == pytest.approx(want, rel=1e-6)


def test_staircase_holds_within_a_period_and_drops_at_the_multiple():
    schedule = NaturalExpDecay(1.0, 10, 1.0, staircase=True)
    assert float(schedule(9)) == 1.0
    assert float(schedule(10)) == pytest.approx(0.36787944, rel=1e-6)
