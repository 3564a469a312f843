"""NaN and Inf injected into the loss or the gradients at a chosen step.

The guard (action="restore") catches each one at its batch, puts back the
last healthy state with a lower LR, and the run ends healthy. Every
checkpoint written before the fault still loads, byte for byte as it was
written, and the TensorBoard log keeps every point written before it.
"""

import hashlib
import math
import re

import keras
import numpy as np
import pytest
from keras import ops

from keras_lrtools.callbacks import LearningRateGuard
from keras_lrtools.callbacks import StepRecorder
from keras_lrtools.callbacks import StepTensorBoard
from keras_lrtools.schedules import CosineDecay
from tests.callbacks.helpers import read_scalars

BATCHES, BATCH_SIZE, EPOCHS = 6, 8, 3
FAULT_BATCH = 4  # of the first epoch; checkpoints every 2 batches


class SqrtTerm(keras.layers.Layer):
    """x[:, :8] + 0.01 * sqrt(|w * x[:, 8]|): finite for every input, but
    d/dw is 0 * inf = NaN where the last feature is 0."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(), initializer="ones", name="w")

    def call(self, inputs):
        features, switch = inputs[:, :8], inputs[:, 8:]
        return features + 0.01 * ops.sqrt(ops.abs(self.w * switch))


class FaultyData(keras.utils.PyDataset):
    """Batches of a fixed data set; batch FAULT_BATCH carries the fault the
    first time it is fetched (in the first epoch: Keras fetches ahead, so
    a later epoch's batch would come too early): a NaN or Inf sample weight
    (the loss) or a 0 switch feature (NaN gradients, finite loss)."""

    def __init__(self, fault):
        super().__init__()
        rng = np.random.RandomState(0)
        self.x = rng.normal(size=(BATCHES * BATCH_SIZE, 9)).astype("float32")
        self.x[:, 8] = 1.0
        self.y = rng.randint(0, 3, size=BATCHES * BATCH_SIZE)
        self.fault = fault
        self.fired = False

    def __len__(self):
        return BATCHES

    def __getitem__(self, index):
        rows = slice(index * BATCH_SIZE, (index + 1) * BATCH_SIZE)
        x, y = self.x[rows].copy(), self.y[rows]
        weights = np.ones(len(y), "float32")
        if index == FAULT_BATCH and not self.fired:
            self.fired = True
            if self.fault == "gradient_nan":
                x[:, 8] = 0.0
            else:
                weights[0] = {"loss_nan": np.nan, "loss_inf": np.inf}[
                    self.fault
                ]
        return x, y, weights


class HashCheckpoints(keras.callbacks.Callback):
    """Records each checkpoint's digest as soon as it is written (listed
    after the ModelCheckpoint that writes it)."""

    def __init__(self, folder):
        super().__init__()
        self.folder = folder
        self.digests = {}

    def on_train_batch_end(self, batch, logs=None):
        for path in sorted(self.folder.glob("*.weights.h5")):
            if path not in self.digests:
                self.digests[path] = hashlib.sha256(
                    path.read_bytes()
                ).hexdigest()


def _model(recorder=True):
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((9,)),
            SqrtTerm(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(CosineDecay(0.01, BATCHES * EPOCHS)),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"] + ([StepRecorder()] if recorder else []),
    )
    return model


@pytest.mark.parametrize("recorder", [True, False])
@pytest.mark.parametrize("fault", ["loss_nan", "loss_inf", "gradient_nan"])
def test_guard_catches_the_fault_and_nothing_written_is_lost(
    fault, recorder, tmp_path
):
    # StepTensorBoard reads the metrics from its recorder once an epoch,
    # or without one after every update: the guard's restore in between.
    model = _model(recorder)
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    pattern = str(folder / "{epoch:02d}-{batch:02d}.weights.h5")
    guard = LearningRateGuard(action="restore", factor=0.5, verbose=0)
    hashes = HashCheckpoints(folder)
    history = model.fit(
        FaultyData(fault),
        epochs=EPOCHS,
        shuffle=False,
        verbose=0,
        callbacks=[
            StepTensorBoard(tmp_path / "logs"),
            keras.callbacks.ModelCheckpoint(
                pattern, save_weights_only=True, save_freq=2
            ),
            hashes,
            guard,
        ],
    )
    # A bad loss is caught at its batch. A NaN gradient poisons the weight
    # w: jax's and torch's ReLU pass the NaN on to the next batch's loss;
    # tensorflow's turns it into 0, the loss stays finite, and the weight
    # check at the epoch end catches it.
    (diagnosis,) = guard.diagnoses
    assert diagnosis.epoch == 0
    caught = (diagnosis.symptom, diagnosis.batch)
    if fault != "gradient_nan":
        assert caught == ("non_finite_loss", FAULT_BATCH)
    elif caught[0] == "non_finite_loss":
        assert caught == ("non_finite_loss", FAULT_BATCH + 1)
    else:
        assert caught == ("non_finite_weights", None)
        assert re.search(r"sqrt_term\w*/w\b", diagnosis.message)
    # Restored and went on: every epoch ran, healthy at the end.
    assert len(history.history["loss"]) == EPOCHS
    assert math.isfinite(history.history["loss"][-1])
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert guard.diagnoses[0].learning_rate > 0
    # The checkpoints written before the fault: still there, byte for byte
    # as written, loadable, finite.
    # ({batch} counts from 1: "01-04" is saved after the fault's batch.)
    before_fault = [p for p in hashes.digests if p.name < "01-05"]
    assert [p.name for p in before_fault] == [
        "01-02.weights.h5",
        "01-04.weights.h5",
    ]
    for path in before_fault:
        assert (
            hashlib.sha256(path.read_bytes()).hexdigest()
            == (hashes.digests[path])
        )
        fresh = _model()
        fresh.optimizer.build(fresh.trainable_variables)
        fresh.load_weights(path)
        assert all(np.isfinite(w).all() for w in fresh.get_weights())
    # The log keeps the points written before the fault, in order and
    # finite; after a restore the update count (the x-axis) goes back and
    # the replayed updates are logged again.
    scalars = read_scalars(tmp_path / "logs" / "train")
    first = scalars["loss"][:FAULT_BATCH]
    assert [step for step, _ in first] == list(range(FAULT_BATCH))
    assert all(math.isfinite(value) for _, value in first)
    assert all(
        math.isfinite(value)
        for tag in ("learning_rate", "adam_effective_learning_rate")
        for _, value in scalars[tag]
    )
