import numpy as np
import pytest

from keras_lrtools.schedules import LinearCosineDecay
from keras_lrtools.schedules import NoisyLinearCosineDecay
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import assert_matches_reference
from tests.schedules.helpers import evaluate
from tests.schedules.helpers import step_grid
from tests.schedules.helpers import tf1_oracle

CASES = [
    dict(num_periods=0.5, alpha=0.0, beta=0.001),
    dict(num_periods=2.0, alpha=0.1, beta=0.01),
]


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize("case", CASES, ids=["default", "two-periods"])
def test_linear_cosine_matches_tf1_formula(kind, case):
    assert_matches_reference(
        LinearCosineDecay(0.2, 40, **case),
        lambda t: references.linear_cosine(t, 0.2, 40, **case),
        step_grid(10, 20, 40, horizon=40),
        kind,
        atol=1e-8,
    )


@pytest.mark.parametrize("case", CASES, ids=["default", "two-periods"])
def test_linear_cosine_matches_tf1_function(case):
    import tensorflow as tf

    schedule = LinearCosineDecay(0.2, 40, **case)
    for step in step_grid(10, 20, 40, horizon=40)[:-1]:
        want = tf1_oracle(
            tf.compat.v1.train.linear_cosine_decay,
            step,
            learning_rate=0.2,
            decay_steps=40,
            **case,
        )
        assert float(schedule(step)) == pytest.approx(want, rel=1e-5, abs=1e-8)


def test_noisy_without_variance_is_the_linear_cosine_of_tf1():
    import tensorflow as tf

    schedule = NoisyLinearCosineDecay(0.2, 40, initial_variance=0.0, seed=3)
    for step in step_grid(10, 20, 40, horizon=40)[:-1]:
        want = tf1_oracle(
            tf.compat.v1.train.noisy_linear_cosine_decay,
            step,
            learning_rate=0.2,
            decay_steps=40,
            initial_variance=0.0,
        )
        assert float(schedule(step)) == pytest.approx(want, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("kind", STEP_KINDS)
def test_noise_is_a_pure_function_of_seed_and_step(kind):
    steps = [0, 1, 5, 39, 40, 41, 1040, 10**9]
    first = NoisyLinearCosineDecay(0.2, 40, num_periods=2.0, seed=11)
    again = NoisyLinearCosineDecay.from_config(first.get_config())
    values = evaluate(first, steps, kind)
    np.testing.assert_array_equal(values, evaluate(first, steps, kind))
    np.testing.assert_array_equal(values, evaluate(again, steps, kind))
    assert np.all(np.isfinite(values))
    other = evaluate(
        NoisyLinearCosineDecay(0.2, 40, num_periods=2.0, seed=12), steps
    )
    assert np.sum(values != other) >= len(steps) - 1


def test_noise_has_the_tf1_distribution():
    # Recover eps_t from the LR and check that eps_t / std_t is N(0, 1).
    decay_steps, variance, decay = 4000, 0.5, 0.55
    schedule = NoisyLinearCosineDecay(
        1.0,
        decay_steps,
        initial_variance=variance,
        variance_decay=decay,
        num_periods=0.0,  # cosine factor 1, so eps_t is directly visible
        beta=0.0,
        seed=2024,
    )
    steps = np.arange(decay_steps)
    lr = evaluate(schedule, steps)
    linear = (decay_steps - steps) / decay_steps
    z = (lr - linear) / np.sqrt(variance / (1.0 + steps) ** decay)
    assert abs(z.mean()) < 0.06
    assert z.std() == pytest.approx(1.0, abs=0.05)
    assert abs(np.corrcoef(z[:-1], z[1:])[0, 1]) < 0.06
    # Tails of a normal: about 4.6% beyond 2 sigma.
    assert 0.03 < np.mean(np.abs(z) > 2.0) < 0.065


def test_seed_none_draws_one_and_keeps_it_in_the_config():
    schedule = NoisyLinearCosineDecay(0.1, 10)
    assert isinstance(schedule.get_config()["seed"], int)
    restored = NoisyLinearCosineDecay.from_config(schedule.get_config())
    assert float(restored(3)) == float(schedule(3))
