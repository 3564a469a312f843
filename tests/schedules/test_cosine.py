import keras
import pytest

from keras_lrtools.schedules import CosineDecay
from keras_lrtools.schedules import CosineDecayRestarts
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import assert_matches_reference
from tests.schedules.helpers import multiples
from tests.schedules.helpers import step_grid
from tests.schedules.helpers import tf1_oracle

COSINE_CASES = [
    dict(initial=0.1, decay_steps=20, alpha=0.0),
    dict(initial=0.1, decay_steps=20, alpha=0.2),
    dict(
        initial=0.01,
        decay_steps=20,
        alpha=0.1,
        warmup_target=0.1,
        warmup_steps=6,
    ),
]


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize("case", COSINE_CASES, ids=["plain", "alpha", "warm"])
def test_cosine_decay_matches_reference(kind, case):
    warmup = case.get("warmup_steps", 0)
    schedule = CosineDecay(
        case["initial"],
        case["decay_steps"],
        case["alpha"],
        warmup_target=case.get("warmup_target"),
        warmup_steps=warmup,
    )
    grid = step_grid(warmup, warmup + 10, warmup + 20, horizon=warmup + 20)
    assert_matches_reference(
        schedule,
        lambda t: references.cosine(
            t,
            case["initial"],
            case["decay_steps"],
            case["alpha"],
            case.get("warmup_target"),
            warmup,
        ),
        grid,
        kind,
    )


def test_cosine_decay_matches_tf1_function():
    import tensorflow as tf

    schedule = CosineDecay(0.1, 20, 0.2)
    for step in step_grid(10, 20, horizon=20)[:-1]:
        want = tf1_oracle(
            tf.compat.v1.train.cosine_decay,
            step,
            learning_rate=0.1,
            decay_steps=20,
            alpha=0.2,
        )
        assert float(schedule(step)) == pytest.approx(want, rel=1e-5, abs=1e-9)


def test_cosine_with_warmup_refuses_what_keras_ignores():
    # Keras 3.15 silently ignores warmup_steps without warmup_target.
    keras_schedule = keras.optimizers.schedules.CosineDecay(
        0.1, 100, warmup_steps=100
    )
    assert float(keras_schedule(0)) == pytest.approx(0.1)
    with pytest.raises(ValueError, match=r"`warmup_target` is required"):
        CosineDecay(0.1, 100, warmup_steps=100)


RESTART_CASES = [
    dict(t_mul=2.0, m_mul=1.0, alpha=0.0),
    dict(t_mul=1.0, m_mul=0.5, alpha=0.1),
    dict(t_mul=1.5, m_mul=0.8, alpha=0.05),
    # Growing restarts: legal in Keras and TF1, and computed by both.
    dict(t_mul=2.0, m_mul=4.0, alpha=0.0),
]


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize(
    "case", RESTART_CASES, ids=["t2", "t1", "t1.5", "growing"]
)
def test_cosine_restarts_matches_period_by_period_reference(kind, case):
    first = 8
    # The restart steps: 8, 8 + 8 * t_mul, ...
    starts, start, length = [], 0.0, float(first)
    for _ in range(4):
        start += length
        length *= case["t_mul"]
        starts.append(int(start))
    schedule = CosineDecayRestarts(0.4, first, **case)
    assert_matches_reference(
        schedule,
        lambda t: references.cosine_restarts(t, 0.4, first, **case),
        step_grid(*starts, horizon=starts[-1])[:-1],
        kind,
        rtol=1e-5,
    )
    far = float(schedule(10**9))
    assert 0.4 * case["alpha"] - 1e-9 <= far
    if case["m_mul"] <= 1.0:
        assert far <= 0.4 + 1e-9
    else:  # the 25th period peaks at 0.4 * 4 ** 25 (float32 holds it)
        assert far == pytest.approx(
            references.cosine_restarts(10**9, 0.4, first, **case), rel=1e-4
        )


def test_cosine_restarts_matches_tf1_function():
    import tensorflow as tf

    schedule = CosineDecayRestarts(0.4, 8, t_mul=2.0, m_mul=0.7, alpha=0.1)
    for step in step_grid(*multiples(8, 7), horizon=56)[:-1]:
        want = tf1_oracle(
            tf.compat.v1.train.cosine_decay_restarts,
            step,
            learning_rate=0.4,
            first_decay_steps=8,
            t_mul=2.0,
            m_mul=0.7,
            alpha=0.1,
        )
        assert float(schedule(step)) == pytest.approx(want, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("t_mul", [1.0, 1.5, 2.0, 3.0])
def test_every_restart_step_lands_on_its_peak(t_mul):
    # Keras's float32 logarithm puts step 20 (T=8, t_mul=1.5) in the
    # previous period on the torch backend and returns the floor there.
    schedule = CosineDecayRestarts(0.4, 8, t_mul=t_mul, m_mul=0.5, alpha=0.1)
    start, length, peak = 0.0, 8.0, 1.0
    for _ in range(8):
        if start == int(start):
            want = 0.4 * ((1 - 0.1) * peak + 0.1)
            assert float(schedule(int(start))) == pytest.approx(want), start
        start += length
        length *= t_mul
        peak *= 0.5
