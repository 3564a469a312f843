"""Every schedule, 10**9 updates into a run, in a real mixed_float16 fit.

The optimizer starts at update 10**9 - 3 and takes three SGD steps on a
unit gradient (loss mean(w * x), x = 1), so w moves by exactly the LR of
each update: the LR the compiled step used, under the float16 policy
(and its loss scaling), is the schedule's float32 value there, finite.
"""

import math

import keras
import numpy as np
import pytest

from tests.callbacks.helpers import RecordLearningRate
from tests.callbacks.helpers import unit_data
from tests.callbacks.helpers import unit_loss
from tests.schedules.test_conformance import IDS
from tests.schedules.test_conformance import PUBLIC_SCHEDULES

FAR = 10**9 - 3
UPDATES = 3


@pytest.fixture
def mixed_float16():
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy(previous)


@pytest.mark.parametrize("cls, arguments", PUBLIC_SCHEDULES, ids=IDS)
def test_far_steps_under_mixed_float16_apply_the_schedules_value(
    cls, arguments, mixed_float16
):
    schedule = cls(**arguments)
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(keras.optimizers.SGD(schedule), unit_loss)
    assert model.layers[0].compute_dtype == "float16"
    # Keras wrapped the optimizer for loss scaling, as users get it.
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(FAR)
    recorder = RecordLearningRate()
    x, y = unit_data(UPDATES, batch_size=2)
    model.fit(
        x,
        y,
        batch_size=2,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[recorder],
    )
    assert recorder.updates == [FAR + k for k in range(UPDATES)]
    expected = [float(schedule(FAR + k)) for k in range(UPDATES)]
    assert all(math.isfinite(v) for v in expected)
    assert keras.backend.standardize_dtype(schedule(FAR).dtype) == "float32"
    np.testing.assert_allclose(recorder.rates, expected, rtol=1e-5, atol=1e-12)
