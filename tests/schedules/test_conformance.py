"""What every public schedule promises: a JSON-clean config that round
trips, registration under `keras_lrtools`, float32 scalar outputs, survival
through `model.save`/`load_model` without `custom_objects`, and use inside
the backend's compiled train step."""

import json

import keras
import numpy as np
import pytest
from keras import ops

import keras_lrtools
from keras_lrtools import schedules as S

# One entry per public class, sized so that a 16-update fit crosses the
# interesting points (warmups, boundaries, cycles).
PUBLIC_SCHEDULES = [
    (
        S.ExponentialDecay,
        dict(
            initial_learning_rate=0.1,
            decay_steps=4,
            decay_rate=0.5,
            staircase=True,
        ),
    ),
    (
        S.NaturalExpDecay,
        dict(initial_learning_rate=0.1, decay_steps=4, decay_rate=0.5),
    ),
    (
        S.InverseTimeDecay,
        dict(initial_learning_rate=0.1, decay_steps=4, decay_rate=0.5),
    ),
    (
        S.PiecewiseConstantDecay,
        dict(boundaries=[3, 9], values=[0.1, 0.05, 0.01]),
    ),
    (
        S.PolynomialDecay,
        dict(
            initial_learning_rate=0.1,
            decay_steps=6,
            end_learning_rate=0.01,
            cycle=True,
        ),
    ),
    (
        S.CosineDecay,
        dict(
            initial_learning_rate=0.01,
            decay_steps=10,
            alpha=0.1,
            warmup_target=0.1,
            warmup_steps=4,
        ),
    ),
    (
        S.CosineDecayRestarts,
        dict(initial_learning_rate=0.1, first_decay_steps=4, m_mul=0.8),
    ),
    (
        S.LinearCosineDecay,
        dict(initial_learning_rate=0.1, decay_steps=12, num_periods=2.0),
    ),
    (
        S.NoisyLinearCosineDecay,
        dict(initial_learning_rate=0.1, decay_steps=12, seed=5),
    ),
    (
        S.CyclicalLearningRate,
        dict(
            initial_learning_rate=0.01,
            maximal_learning_rate=0.1,
            step_size=3,
            step_size_down=5,
            mode="triangular2",
        ),
    ),
    (
        S.OneCycle,
        dict(maximal_learning_rate=0.1, total_steps=14, three_phase=True),
    ),
    (
        S.Warmup,
        dict(
            schedule=S.PolynomialDecay(0.1, 8, 0.0),
            warmup_steps=5,
            initial_learning_rate=0.01,
            shape="exponential",
        ),
    ),
    (
        S.SequentialSchedule,
        dict(
            schedules=[
                S.InverseSqrtDecay(0.1, 2),
                0.02,
                keras.optimizers.schedules.ExponentialDecay(0.05, 2, 0.5),
            ],
            boundaries=[5, 9],
        ),
    ),
    (
        S.WarmupStableDecay,
        dict(
            peak_learning_rate=0.1,
            warmup_steps=3,
            stable_steps=5,
            decay_steps=6,
            initial_learning_rate=0.01,
            final_learning_rate=0.001,
            decay_shape="1-sqrt",
        ),
    ),
    (S.InverseSqrtDecay, dict(peak_learning_rate=0.1, warmup_steps=4)),
    (S.ScaledSchedule, dict(schedule=S.CosineDecay(0.1, 12), scale=0.25)),
]
IDS = [cls.__name__ for cls, _ in PUBLIC_SCHEDULES]
GRID = [0, 1, 2, 3, 4, 5, 8, 9, 10, 13, 14, 15, 100, 10**9]
UPDATES = 16


def _values(schedule, steps=GRID):
    return np.array([float(schedule(s)) for s in steps])


def test_registry_covers_every_public_class():
    public_classes = {
        getattr(S, name)
        for name in S.__all__
        if isinstance(getattr(S, name), type)
    }
    assert public_classes == {cls for cls, _ in PUBLIC_SCHEDULES}
    assert set(S.__all__) == {c.__name__ for c in public_classes} | {
        "RUN_SIZES",
        "SCHEDULES_BY_NAME",
        "adam_effective_learning_rate",
        "for_run",
        "get",
        "run_arguments",
    }


@pytest.mark.parametrize("cls, kwargs", PUBLIC_SCHEDULES, ids=IDS)
def test_config_round_trips_through_json(cls, kwargs):
    schedule = cls(**kwargs)
    text = json.dumps(schedule.get_config())
    restored = cls.from_config(json.loads(text))
    assert restored.get_config() == schedule.get_config()
    np.testing.assert_array_equal(_values(restored), _values(schedule))


@pytest.mark.parametrize("cls, kwargs", PUBLIC_SCHEDULES, ids=IDS)
def test_config_has_exactly_the_constructor_arguments(cls, kwargs):
    import inspect

    config = cls(**kwargs).get_config()
    parameters = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert set(config) == parameters


@pytest.mark.parametrize("cls, kwargs", PUBLIC_SCHEDULES, ids=IDS)
def test_registered_under_keras_lrtools(cls, kwargs):
    schedule = cls(**kwargs)
    serialized = keras.saving.serialize_keras_object(schedule)
    assert serialized["registered_name"] == f"keras_lrtools>{cls.__name__}"
    restored = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(serialized))
    )
    assert type(restored) is cls
    np.testing.assert_array_equal(_values(restored), _values(schedule))


@pytest.mark.parametrize("cls, kwargs", PUBLIC_SCHEDULES, ids=IDS)
def test_output_is_a_float32_scalar(cls, kwargs):
    schedule = cls(**kwargs)
    for step in (0, 7, 10**9):
        value = schedule(step)
        assert keras.backend.standardize_dtype(value.dtype) == "float32"
        assert tuple(ops.shape(value)) == ()
        assert np.isfinite(float(value))
        assert float(value) >= 0.0


def _unit_gradient_model():
    # w starts at 0 and the loss is mean(w * x) with x = 1, so dL/dw = 1
    # and plain SGD moves w by exactly -lr(k) at update k.
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    return model


class _RecordWeight(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = [float(self.model.get_weights()[0][0, 0])]
        self.iterations = []

    def on_train_batch_end(self, batch, logs=None):
        self.weights.append(float(self.model.get_weights()[0][0, 0]))
        self.iterations.append(int(self.model.optimizer.iterations))


@pytest.mark.parametrize("cls, kwargs", PUBLIC_SCHEDULES, ids=IDS)
def test_compiled_fit_applies_the_schedule_at_every_update(cls, kwargs):
    schedule = cls(**kwargs)
    model = _unit_gradient_model()
    model.compile(
        optimizer=keras.optimizers.SGD(schedule),
        loss=lambda y_true, y_pred: ops.mean(y_pred),
        jit_compile="auto",  # jax: XLA-compiled train step
    )
    recorder = _RecordWeight()
    x = np.ones((UPDATES // 2 * 4, 1), "float32")
    model.fit(
        x,
        x,
        batch_size=4,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[recorder],
    )
    assert recorder.iterations == list(range(1, UPDATES + 1))
    applied = -np.diff(recorder.weights)
    expected = _values(schedule, range(UPDATES))
    np.testing.assert_allclose(applied, expected, rtol=1e-4, atol=1e-7)
    # The optimizer reports the LR of the next update.
    assert float(model.optimizer.learning_rate) == pytest.approx(
        float(schedule(UPDATES)), rel=1e-6
    )


@pytest.mark.parametrize("cls, kwargs", PUBLIC_SCHEDULES, ids=IDS)
def test_model_with_the_schedule_saves_and_loads_without_custom_objects(
    cls, kwargs, tmp_path
):
    schedule = cls(**kwargs)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, activation="softmax")]
    )
    model.compile(
        keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy"
    )
    x = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
    y = np.arange(12) % 2
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    saved = loaded.optimizer.get_config()["learning_rate"]
    assert saved["registered_name"] == f"keras_lrtools>{cls.__name__}"
    assert saved["config"] == json.loads(json.dumps(schedule.get_config()))
    assert int(loaded.optimizer.iterations) == 3
    assert float(loaded.optimizer.learning_rate) == pytest.approx(
        float(schedule(3)), rel=1e-6
    )
    # Training goes on along the same trajectory.
    loaded.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(
        float(schedule(6)), rel=1e-6
    )


def test_package_version_matches_the_distribution():
    from importlib.metadata import version

    assert keras_lrtools.__version__ == version("keras_lrtools")
