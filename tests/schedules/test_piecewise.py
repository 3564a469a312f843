import keras
import pytest

from keras_lrtools.schedules import PiecewiseConstantDecay
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import assert_matches_reference
from tests.schedules.helpers import step_grid
from tests.schedules.helpers import tf1_oracle

BOUNDARIES = [10, 25, 40]
VALUES = [0.1, 0.05, 0.02, 0.005]
GRID = step_grid(*BOUNDARIES, horizon=BOUNDARIES[-1])


@pytest.mark.parametrize("kind", STEP_KINDS)
def test_piecewise_matches_tf1_formula(kind):
    assert_matches_reference(
        PiecewiseConstantDecay(BOUNDARIES, VALUES),
        lambda t: references.piecewise(t, BOUNDARIES, VALUES),
        GRID,
        kind,
    )


def test_piecewise_matches_tf1_function():
    import tensorflow as tf

    schedule = PiecewiseConstantDecay(BOUNDARIES, VALUES)
    for step in GRID:
        want = tf1_oracle(
            lambda global_step: tf.compat.v1.train.piecewise_constant(
                global_step,
                [tf.constant(b, tf.int64) for b in BOUNDARIES],
                VALUES,
            ),
            step,
        )
        assert float(schedule(step)) == pytest.approx(want, rel=1e-6)


def test_boundary_step_keeps_the_earlier_value():
    schedule = PiecewiseConstantDecay([10], [1.0, 0.5])
    assert float(schedule(10)) == 1.0
    assert float(schedule(11)) == 0.5


def test_unsorted_boundaries_are_refused_where_keras_sums_values():
    # Keras 3.15 returns 1.1 (= 1.0 + 0.1) at step 7 for these arguments.
    keras_value = keras.optimizers.schedules.PiecewiseConstantDecay(
        [10, 5], [1.0, 0.5, 0.1]
    )(7)
    assert float(keras_value) == pytest.approx(1.1)
    with pytest.raises(ValueError, match=r"`boundaries` must be strictly"):
        PiecewiseConstantDecay([10, 5], [1.0, 0.5, 0.1])


def test_integer_values_are_stored_as_floats():
    schedule = PiecewiseConstantDecay([3], [1, 0])
    assert schedule.values == [1.0, 0.0]
    assert float(schedule(4)) == 0.0
