import math

import keras
import numpy as np
import pytest

from keras_lrtools.callbacks import LearningRateGuard
from keras_lrtools.schedules import CosineDecay
from tests.callbacks.helpers import ScriptedMetric
from tests.conftest import course_mlp


def _fit_signs(signs, learning_rate, guard, epochs):
    (x, y), _ = signs
    model = course_mlp(learning_rate)
    history = model.fit(
        x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=[guard]
    )
    return model, history


def test_collapse_at_learning_rate_one_is_caught_within_a_few_epochs(signs):
    guard = LearningRateGuard(num_classes=6, verbose=0)
    _, history = _fit_signs(signs, 1.0, guard, epochs=12)
    assert [d.symptom for d in guard.diagnoses] == ["collapse"]
    epochs_run = len(history.history["loss"])
    assert epochs_run <= 6  # stopped, not 12 epochs
    final_accuracy = history.history["accuracy"][-1]
    assert abs(final_accuracy - 1 / 6) < 0.01
    message = guard.diagnoses[0].message
    assert "training collapsed" in message
    assert "predicts one class for every input" in message
    assert "learning rate in force: 1 " in message
    assert "lower the learning rate" in message
    assert "find_learning_rate" in message


def test_with_a_sample_the_collapse_is_caught_sooner(signs):
    (x, _), _ = signs
    guard = LearningRateGuard(sample=x[:256], verbose=0)
    _, history = _fit_signs(signs, 1.0, guard, epochs=12)
    # Dead ReLUs (a whole layer) or a single predicted class, within four
    # epochs (which one comes first depends on the backend's initial
    # weights: tensorflow's network loses a layer, jax's saturates).
    assert guard.diagnoses[0].symptom in ("dead_relu", "collapse")
    assert len(history.history["loss"]) <= 4


def _with_dead_relu_12(model):
    """Kills every unit of the 12-unit layer: its bias far below any input."""
    kernel, bias = model.get_layer("relu_12").get_weights()
    model.get_layer("relu_12").set_weights([kernel, bias - 1e4])
    return model


def test_a_dead_relu_layer_is_named(signs):
    (x, y), _ = signs
    model = _with_dead_relu_12(course_mlp(1e-4))
    guard = LearningRateGuard(sample=x[:256], verbose=0)
    model.fit(x, y, batch_size=32, epochs=3, verbose=0, callbacks=[guard])
    assert [(d.symptom, d.epoch) for d in guard.diagnoses] == [("dead_relu", 0)]
    message = guard.diagnoses[0].message
    assert "every unit of relu_12 is dead" in message
    assert "output no longer depends on the input" in message


def test_a_sparser_probe_finds_the_dead_layer_at_its_epoch(signs):
    (x, y), _ = signs
    model = _with_dead_relu_12(course_mlp(1e-4))
    guard = LearningRateGuard(sample=x[:64], probe_every_epochs=2, verbose=0)
    history = model.fit(
        x, y, batch_size=32, epochs=6, verbose=0, callbacks=[guard]
    )
    # Dead from the start (every probe finds it at epoch 0), found by the
    # first probe: after the second epoch.
    assert [(d.symptom, d.epoch) for d in guard.diagnoses] == [("dead_relu", 1)]
    assert len(history.history["loss"]) == 2


def test_one_guard_probes_the_model_of_each_fit(signs):
    """The probe is built once per model (a new one would compile again
    at every fit) and follows the model a later fit trains."""
    (x, y), _ = signs
    guard = LearningRateGuard(sample=x[:64], verbose=0)
    healthy = course_mlp(1e-4)
    probes = []
    for _ in range(2):
        healthy.fit(x[:256], y[:256], epochs=1, verbose=0, callbacks=[guard])
        assert guard.diagnoses == []
        probes.append(guard._probe)
    assert probes[0] is probes[1]
    dead = _with_dead_relu_12(course_mlp(1e-4))
    dead.fit(x[:256], y[:256], epochs=1, verbose=0, callbacks=[guard])
    assert [(d.symptom, d.epoch) for d in guard.diagnoses] == [("dead_relu", 0)]


class FiniteOnly(keras.layers.Layer):
    """x + w where w is finite, x where it is not: a NaN in w never
    reaches the loss (and its gradient is 0, so the NaN stays)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(), initializer="zeros", name="w")

    def call(self, inputs):
        w = keras.ops.convert_to_tensor(self.w)
        return inputs + keras.ops.where(keras.ops.isfinite(w), w, 0.0)


class PoisonAt(keras.callbacks.Callback):
    """Sets FiniteOnly's w to NaN at the end of one epoch (listed before
    the guard)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.layers[0].w.assign(float("nan"))


@pytest.mark.parametrize(
    "action, poisoned, found",
    [
        ("stop", 0, 2),  # the first check: the third epoch's end
        ("stop", 3, 5),
        ("stop", 6, 7),  # the last epoch is always checked
        ("restore", 0, 0),  # every state kept as healthy is checked
    ],
)
def test_weights_are_checked_with_the_probe_and_at_the_last_epoch(
    action, poisoned, found
):
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.integers(0, 3, size=64)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            FiniteOnly(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy"
    )
    guard = LearningRateGuard(
        action=action, probe_every_epochs=3, max_restores=0, verbose=0
    )
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=8,
        verbose=0,
        callbacks=[PoisonAt(poisoned), guard],
    )
    assert all(math.isfinite(loss) for loss in history.history["loss"])
    assert [(d.symptom, d.epoch) for d in guard.diagnoses] == [
        ("non_finite_weights", found)
    ]
    assert "w hold NaN" in guard.diagnoses[0].message
    assert len(history.history["loss"]) == found + 1  # stopped there


def test_a_healthy_run_is_never_flagged(signs):
    (x, _), _ = signs
    guard = LearningRateGuard(sample=x[:256], verbose=0)
    _, history = _fit_signs(signs, 1e-4, guard, epochs=15)
    assert guard.diagnoses == []
    assert len(history.history["loss"]) == 15


class _OneBadBatch(keras.utils.PyDataset):
    """Unit-gradient data whose batch `bad_index` has NaN inputs the first
    time it is fetched (a transient fault, in epoch 0). Not batch 0 or 1:
    the tensorflow adapter fetches those once ahead to learn the spec."""

    def __init__(self, bad_index, batches=4):
        super().__init__()
        self.bad_index = bad_index
        self.batches = batches
        self.fired = False

    def __len__(self):
        return self.batches

    def __getitem__(self, index):
        x = np.ones((2, 1), "float32")
        if index == self.bad_index and not self.fired:
            self.fired = True
            x[:] = np.nan
        return x, x


def _unit_model(learning_rate):
    from tests.callbacks.helpers import unit_gradient_model

    return unit_gradient_model(learning_rate)


def test_nan_is_caught_at_its_batch_and_restore_ends_healthy():
    model = _unit_model(0.1)
    guard = LearningRateGuard(action="restore", factor=0.5, verbose=0)
    history = model.fit(
        _OneBadBatch(bad_index=2),
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[guard],
    )
    assert [(d.symptom, d.epoch, d.batch) for d in guard.diagnoses] == [
        ("non_finite_loss", 0, 2)
    ]
    assert len(history.history["loss"]) == 4  # went on
    weight = float(model.get_weights()[0][0, 0])
    assert math.isfinite(weight)
    # Restored to the start (the last healthy state), LR halved, then the
    # last batch of epoch 0 and epochs 1-3: 13 updates at 0.05.
    assert int(model.optimizer.iterations) == 13
    assert weight == pytest.approx(-13 * 0.05, rel=1e-5)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.05)
    assert all(math.isfinite(v) for v in history.history["loss"][1:])


def test_stop_action_stops_at_the_bad_batch():
    model = _unit_model(0.1)
    guard = LearningRateGuard(verbose=0)
    history = model.fit(
        _OneBadBatch(bad_index=2),
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[guard],
    )
    assert guard.diagnoses[0].symptom == "non_finite_loss"
    assert len(history.history["loss"]) == 1
    assert model.stop_training


def test_exploding_loss_is_caught_and_a_schedule_is_scaled_on_restore():
    schedule = CosineDecay(0.1, 100)
    model = _unit_model(schedule)
    guard = LearningRateGuard(action="restore", factor=0.1, verbose=0)
    model.fit(
        np.ones((8, 1), "float32"),
        np.ones((8, 1), "float32"),
        batch_size=2,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[ScriptedMetric("loss", [1.0, 0.2, 2.5, 0.4]), guard],
    )
    assert [(d.symptom, d.epoch) for d in guard.diagnoses] == [
        ("exploding_loss", 2)
    ]
    assert "above 4 times its best" in guard.diagnoses[0].message
    config = model.optimizer.get_config()["learning_rate"]
    assert config["class_name"] == "ScaledSchedule"
    assert config["config"]["scale"] == pytest.approx(0.1)
    # Epoch 2 was rolled back: the optimizer is back at 8 updates, and
    # epoch 3 ran 4 more at a tenth of the schedule.
    assert int(model.optimizer.iterations) == 12
    expected = -sum(float(schedule(k)) for k in range(8)) - 0.1 * sum(
        float(schedule(k)) for k in range(8, 12)
    )
    assert float(model.get_weights()[0][0, 0]) == pytest.approx(
        expected, rel=1e-5
    )


def test_a_late_spike_below_the_starting_loss_is_not_divergence():
    # Seen in the course's 1500-epoch run: 0.019 at best, then 0.174.
    model = _unit_model(0.01)
    guard = LearningRateGuard(verbose=0)
    model.fit(
        np.ones((8, 1), "float32"),
        np.ones((8, 1), "float32"),
        batch_size=2,
        epochs=5,
        shuffle=False,
        verbose=0,
        callbacks=[
            ScriptedMetric("loss", [1.8, 0.5, 0.019, 0.174, 0.1]),
            guard,
        ],
    )
    assert guard.diagnoses == []


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(num_classes=1), ValueError, r"`num_classes` must be >= 2"),
        (
            dict(action="warn"),
            ValueError,
            r"`action` must be one of \['stop', 'restore'\]",
        ),
        (dict(collapse_patience=0), ValueError, r"`collapse_patience`"),
        (dict(collapse_tolerance=0.0), ValueError, r"`collapse_tolerance`"),
        (dict(divergence_factor=1.0), ValueError, r"`divergence_factor`"),
        (dict(factor=1.0), ValueError, r"`factor` must be in \(0.0, 1.0\)"),
        (dict(max_restores=-1), ValueError, r"`max_restores` must be >= 0"),
        (
            dict(class_shares=[0.5, 0.4]),
            ValueError,
            r"`class_shares` must be non-empty and sum to 1",
        ),
        (
            dict(num_classes=3, class_shares=[0.5, 0.5]),
            ValueError,
            r"`class_shares` must have `num_classes` elements",
        ),
        (dict(max_dead_fraction=0.0), ValueError, r"`max_dead_fraction`"),
        (
            dict(check_every_batches=-1),
            ValueError,
            r"`check_every_batches` must be >= 0",
        ),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        LearningRateGuard(**kwargs)
