import pytest

from keras_lrtools.schedules import InverseSqrtDecay
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import assert_matches_reference
from tests.schedules.helpers import step_grid


@pytest.mark.parametrize("kind", STEP_KINDS)
def test_inverse_sqrt_matches_reference(kind):
    assert_matches_reference(
        InverseSqrtDecay(0.02, 16),
        lambda t: references.inverse_sqrt(t, 0.02, 16),
        step_grid(16, 64, 400, horizon=400),
        kind,
    )


def test_inverse_sqrt_halves_at_four_times_the_warmup():
    schedule = InverseSqrtDecay(0.02, 16)
    assert float(schedule(64)) == pytest.approx(0.01)
