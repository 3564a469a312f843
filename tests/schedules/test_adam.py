import keras
import numpy as np
import pytest

from keras_lrtools import adam_effective_learning_rate
from keras_lrtools.schedules import Warmup
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import as_step


@pytest.mark.parametrize("kind", STEP_KINDS)
def test_effective_rate_matches_the_bias_corrected_formula(kind):
    for step in (0, 1, 9, 99, 999, 10**4, 10**9):
        got = float(adam_effective_learning_rate(0.001, as_step(kind, step)))
        want = references.adam_effective(0.001, step)
        # float32, as in Keras: 1 - beta_2 ** t loses digits to cancellation.
        assert got == pytest.approx(want, rel=1e-4), step


def test_effective_rate_is_the_step_size_keras_adam_applies():
    # Oracle: Keras's own Adam. After each update, recover the step size it
    # used from the weight change and its moment estimates:
    #   w_new = w_old - alpha * m / (sqrt(v) + epsilon).
    schedule = Warmup(
        keras.optimizers.schedules.ExponentialDecay(0.01, 20, 0.5), 10
    )
    optimizer = keras.optimizers.Adam(
        schedule, beta_1=0.8, beta_2=0.99, epsilon=1e-7
    )
    weight = keras.Variable(np.full((4,), 0.5, "float32"), name="w")
    rng = np.random.default_rng(0)
    for step in range(40):
        gradient = rng.normal(size=(4,)).astype("float32")
        before = keras.ops.convert_to_numpy(weight)
        optimizer.apply([keras.ops.convert_to_tensor(gradient)], [weight])
        after = keras.ops.convert_to_numpy(weight)
        moments = {
            v.name: keras.ops.convert_to_numpy(v) for v in optimizer.variables
        }
        m, v = moments["w_momentum"], moments["w_velocity"]
        applied = (before - after) * (np.sqrt(v) + 1e-7) / m
        want = float(
            adam_effective_learning_rate(
                schedule, step, beta_1=0.8, beta_2=0.99
            )
        )
        np.testing.assert_allclose(applied, want, rtol=2e-3, err_msg=step)


def test_first_update_is_about_a_third_of_the_rate_with_default_betas():
    assert float(adam_effective_learning_rate(1.0, 0)) == pytest.approx(
        np.sqrt(0.001) / 0.1, rel=1e-5
    )
