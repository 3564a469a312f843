import pytest

from keras_lrtools.schedules import InverseTimeDecay
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import assert_matches_reference
from tests.schedules.helpers import multiples
from tests.schedules.helpers import step_grid
from tests.schedules.helpers import tf1_oracle

GRID = step_grid(*multiples(5, 4), horizon=20)


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize("staircase", [False, True], ids=["smooth", "stair"])
def test_inverse_time_decay_matches_tf1_formula(kind, staircase):
    schedule = InverseTimeDecay(0.2, 5, 0.7, staircase=staircase)
    assert_matches_reference(
        schedule,
        lambda t: references.inverse_time(t, 0.2, 5, 0.7, staircase),
        GRID,
        kind,
    )


def test_inverse_time_decay_matches_tf1_function():
    import tensorflow as tf

    schedule = InverseTimeDecay(0.2, 5, 0.7, staircase=True)
    for step in GRID[:-1]:
        want = tf1_oracle(
            tf.compat.v1.train.inverse_time_decay,
            step,
            learning_rate=0.2,
            decay_steps=5,
            decay_rate=0.7,
            staircase=True,
        )
        assert float(schedule(step)) == pytest.approx(want, rel=1e-6)
