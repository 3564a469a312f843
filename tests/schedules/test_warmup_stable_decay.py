import pytest

from keras_lrtools.schedules import WarmupStableDecay
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import assert_matches_reference
from tests.schedules.helpers import step_grid

CASES = [
    dict(
        warmup=10, stable=30, decay=20, initial=0.0, final=0.0, shape="linear"
    ),
    dict(
        warmup=10,
        stable=30,
        decay=20,
        initial=0.01,
        final=0.005,
        shape="cosine",
    ),
    dict(
        warmup=0, stable=15, decay=16, initial=0.0, final=0.001, shape="1-sqrt"
    ),
]


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize("case", CASES, ids=["linear", "cosine", "1-sqrt"])
def test_wsd_matches_reference(kind, case):
    schedule = WarmupStableDecay(
        0.1,
        case["warmup"],
        case["stable"],
        case["decay"],
        initial_learning_rate=case["initial"],
        final_learning_rate=case["final"],
        decay_shape=case["shape"],
    )
    begin = case["warmup"] + case["stable"]
    end = begin + case["decay"]
    assert_matches_reference(
        schedule,
        lambda t: references.warmup_stable_decay(t, 0.1, **case),
        step_grid(case["warmup"], begin, (begin + end) // 2, end, horizon=end),
        kind,
        rtol=1e-5,
    )
