import keras
import pytest

from keras_lrtools.schedules import CosineDecay
from keras_lrtools.schedules import OneCycle
from keras_lrtools.schedules import SequentialSchedule
from keras_lrtools.schedules import Warmup
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import assert_matches_reference
from tests.schedules.helpers import step_grid

BOUNDARIES = [8, 30]


@pytest.mark.parametrize("kind", STEP_KINDS)
def test_each_piece_sees_the_step_counted_from_its_boundary(kind):
    pieces = [
        keras.optimizers.schedules.ExponentialDecay(0.1, 4, 0.5),
        0.03,
        CosineDecay(0.02, 10, 0.1),
    ]
    refs = [
        lambda t: references.exponential(t, 0.1, 4, 0.5),
        lambda t: 0.03,
        lambda t: references.cosine(t, 0.02, 10, 0.1),
    ]
    assert_matches_reference(
        SequentialSchedule(pieces, BOUNDARIES),
        lambda t: references.sequential(t, refs, BOUNDARIES),
        step_grid(*BOUNDARIES, 35, 40, horizon=40),
        kind,
    )


def test_new_piece_starts_at_its_own_step_zero_at_the_boundary():
    # optax join_schedules: at step == boundary the next piece gets 0.
    schedule = SequentialSchedule(
        [0.5, keras.optimizers.schedules.PolynomialDecay(0.2, 10, 0.0)],
        [5],
    )
    assert float(schedule(4)) == 0.5
    assert float(schedule(5)) == pytest.approx(0.2)
    assert float(schedule(10)) == pytest.approx(0.1)


def test_nested_composites():
    inner = SequentialSchedule([Warmup(0.1, 5), OneCycle(0.1, 20)], [10])
    assert float(inner(2)) == pytest.approx(0.04)
    assert float(inner(10)) == pytest.approx(0.004)
    assert float(inner(10**9)) == pytest.approx(0.1 / 25 / 1e4, rel=1e-5)
