"""What a user sees: a real `tensorboard` server's scalars API.

TensorBoard keeps 1,000 sampled points per tag by default; the command
the package documents (`tensorboard_command`) shows every update of a
run longer than that.
"""

import shlex

import keras
import numpy as np

from keras_lrtools.callbacks import StepRecorder
from keras_lrtools.callbacks import StepTensorBoard
from keras_lrtools.callbacks import tensorboard_command
from keras_lrtools.schedules import CosineDecay
from tests.tensorboard_server import tensorboard_server
from tests.tensorboard_server import wait_for

UPDATES = 1500


def _long_run(log_dir):
    schedule = CosineDecay(0.01, UPDATES)
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, activation="softmax")]
    )
    steps_per_execution = 1 if keras.backend.backend() == "torch" else 100
    model.compile(
        keras.optimizers.SGD(schedule),
        "sparse_categorical_crossentropy",
        metrics=["accuracy", StepRecorder()],
        steps_per_execution=steps_per_execution,
    )
    x = np.random.default_rng(0).normal(size=(UPDATES, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    model.fit(
        x,
        y,
        batch_size=1,
        epochs=1,
        verbose=0,
        callbacks=[StepTensorBoard(log_dir)],
    )
    return schedule


def _points(get, tag):
    try:
        return get("/data/plugin/scalars/scalars", run="train", tag=tag)
    except OSError:  # not loaded yet
        return []


def test_the_documented_command_shows_every_update(tmp_path):
    schedule = _long_run(tmp_path)
    flags = shlex.split(tensorboard_command(tmp_path))[3:]
    with tensorboard_server(tmp_path, *flags) as get:
        points = wait_for(
            lambda: _points(get, "learning_rate"),
            lambda p: len(p) >= UPDATES,
        )
    assert [step for _, step, _ in points] == list(range(UPDATES))
    np.testing.assert_allclose(
        [value for _, _, value in points],
        keras.ops.convert_to_numpy(schedule(np.arange(UPDATES))),
        rtol=1e-5,
        atol=1e-9,
    )
    with tensorboard_server(tmp_path) as get:  # TensorBoard's defaults
        sampled = wait_for(
            lambda: _points(get, "learning_rate"),
            lambda p: len(p) >= 1000,
        )
    assert len(sampled) == 1000  # why the flags are needed
