import keras
import pytest

from keras_lrtools.schedules import CosineDecayRestarts
from keras_lrtools.schedules import NaturalExpDecay
from keras_lrtools.schedules import PiecewiseConstantDecay
from keras_lrtools.schedules import Warmup
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import assert_matches_reference
from tests.schedules.helpers import step_grid

WARMUP = 12
INNERS = {
    # name: (schedule, Python reference of the same schedule)
    "keras-exponential": (
        keras.optimizers.schedules.ExponentialDecay(0.2, 10, 0.5),
        lambda t: references.exponential(t, 0.2, 10, 0.5),
    ),
    "natural": (
        NaturalExpDecay(0.2, 10, 0.3, staircase=True),
        lambda t: references.natural_exp(t, 0.2, 10, 0.3, True),
    ),
    "piecewise": (
        PiecewiseConstantDecay([5, 20], [0.3, 0.1, 0.01]),
        lambda t: references.piecewise(t, [5, 20], [0.3, 0.1, 0.01]),
    ),
    "restarts": (
        CosineDecayRestarts(0.25, 6, t_mul=2.0),
        lambda t: references.cosine_restarts(t, 0.25, 6, t_mul=2.0),
    ),
    "constant": (0.05, lambda t: 0.05),
}


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize("shape", ["linear", "exponential", "cosine"])
@pytest.mark.parametrize("inner", list(INNERS))
def test_warmup_ramps_then_hands_over_with_the_inner_clock_at_zero(
    kind, shape, inner
):
    schedule, reference = INNERS[inner]
    initial = 0.001 if shape == "exponential" else 0.004
    warm = Warmup(schedule, WARMUP, initial_learning_rate=initial, shape=shape)
    grid = step_grid(
        WARMUP, WARMUP + 5, WARMUP + 6, WARMUP + 20, horizon=WARMUP + 20
    )
    assert_matches_reference(
        warm,
        lambda t: references.warmup(t, reference, WARMUP, initial, shape),
        grid,
        kind,
        rtol=1e-5,
    )


@pytest.mark.parametrize("shape", ["linear", "exponential", "cosine"])
def test_warmup_is_continuous_at_the_seam(shape):
    inner = keras.optimizers.schedules.CosineDecay(0.1, 1000)
    warm = Warmup(inner, 100, initial_learning_rate=1e-4, shape=shape)
    before, at, after = (float(warm(s)) for s in (99, 100, 101))
    step_size = abs(float(warm(99)) - float(warm(98)))
    assert at == pytest.approx(0.1)
    assert abs(at - before) <= 2 * step_size
    assert after <= at


def test_warmup_starts_at_initial_learning_rate():
    warm = Warmup(0.1, 10, initial_learning_rate=0.02)
    assert float(warm(0)) == pytest.approx(0.02)
    assert float(warm(5)) == pytest.approx(0.06)
