"""Training runs that get killed with SIGKILL mid-epoch, then resume.

    python -m tests.reliability.resumable ROOT SEED

One run per schedule family (one schedule of each module, and a constant
float LR), each with Adam, ReduceLROnPlateau (scripted to reduce, so it
scales the schedule), StepRecorder, StepTensorBoard and
keras.callbacks.BackupAndRestore. The first attempt at a family kills its
own process with SIGKILL after a random mid-epoch update (drawn from
SEED): no callback, no flush, no cleanup runs. The next start resumes
that family from its backup, finishes it, trains an uninterrupted
reference of the same seed, writes both outcomes to ROOT/results/, and
moves on to the next family's first attempt. Progress is kept in
ROOT/progress.json (written to a temporary file, then renamed).
"""

import json
import os
import random
import signal
import sys

import keras
import numpy as np

from keras_lrtools import schedules as S
from keras_lrtools._optimizer_rates import attached_plateau_state
from keras_lrtools.callbacks import ReduceLROnPlateau
from keras_lrtools.callbacks import StepRecorder
from keras_lrtools.callbacks import StepTensorBoard
from tests.callbacks.helpers import ScriptedMetric

BATCHES = 4  # updates per epoch
BATCH_SIZE = 4
EPOCHS = 6
SCORES = [5.0, 4.0, 4.0, 4.0, 3.0, 3.0]  # reduces after epochs 3 and 5


def families():
    return {
        "constant": lambda: 0.01,
        "exponential": lambda: S.ExponentialDecay(0.01, 5, 0.5),
        "inverse_time": lambda: S.InverseTimeDecay(0.01, 3, 0.5, True),
        "piecewise": lambda: S.PiecewiseConstantDecay(
            [6, 15], [0.01, 3e-3, 1e-3]
        ),
        "polynomial": lambda: S.PolynomialDecay(0.01, 10, 1e-4, 2.0, True),
        "cosine": lambda: S.CosineDecayRestarts(0.01, 5, 1.5, 0.8),
        "linear_cosine": lambda: S.NoisyLinearCosineDecay(0.01, 20, seed=3),
        "cyclical": lambda: S.CyclicalLearningRate(1e-3, 0.01, 3),
        "one_cycle": lambda: S.OneCycle(0.01, 24),
        "warmup": lambda: S.Warmup(S.CosineDecay(0.01, 16), 6),
        "sequential": lambda: S.SequentialSchedule(
            [
                S.InverseSqrtDecay(0.01, 3),
                2e-3,
                keras.optimizers.schedules.ExponentialDecay(4e-3, 3, 0.5),
            ],
            [9, 14],
        ),
        "warmup_stable_decay": lambda: S.WarmupStableDecay(0.01, 4, 10, 8),
        "inverse_sqrt": lambda: S.InverseSqrtDecay(0.01, 5),
    }


def _data():
    rng = np.random.RandomState(0)
    x = rng.normal(size=(BATCHES * BATCH_SIZE, 8)).astype("float32")
    y = rng.randint(0, 3, size=BATCHES * BATCH_SIZE)
    return x, y


class KillAt(keras.callbacks.Callback):
    """SIGKILLs this process after global update `update` (1-based)."""

    def __init__(self, update):
        super().__init__()
        self.update = update

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch * BATCHES + batch + 1 == self.update:
            os.kill(os.getpid(), signal.SIGKILL)


def train(make_rate, folder, backup=True, kill_at=None):
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(make_rate()),
        "sparse_categorical_crossentropy",
        metrics=["accuracy", StepRecorder()],
    )
    plateau = ReduceLROnPlateau("score", 0.5, 1, mode="min", cooldown=1)
    # Listed before BackupAndRestore: each backup holds the plateau state
    # and the logs of the epoch it closes.
    callbacks = [
        ScriptedMetric("score", SCORES),
        plateau,
        StepTensorBoard(folder + "/logs"),
    ]
    if backup:
        callbacks.append(keras.callbacks.BackupAndRestore(folder + "/backup"))
    if kill_at is not None:
        callbacks.append(KillAt(kill_at))
    x, y = _data()
    model.fit(
        x,
        y,
        batch_size=BATCH_SIZE,
        epochs=EPOCHS,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    state = attached_plateau_state(model)
    return {
        "weights": [w.tolist() for w in model.get_weights()],
        "iterations": int(
            keras.ops.convert_to_numpy(model.optimizer.iterations)
        ),
        "plateau_state": state.read(),
        "scale": plateau.scale,
    }


def _write_json(path, content):
    with open(path + ".tmp", "w") as file:
        json.dump(content, file)
    os.replace(path + ".tmp", path)


def main(root, seed):
    rng = random.Random(seed)
    names = list(families())
    # A mid-epoch update of an epoch after the first: 1..3 of 4 done.
    kill_points = {
        name: rng.randrange(1, EPOCHS - 1) * BATCHES + rng.randrange(1, BATCHES)
        for name in names
    }
    progress_path = os.path.join(root, "progress.json")
    progress = {"attempted": [], "done": [], "kill_points": kill_points}
    if os.path.exists(progress_path):
        with open(progress_path) as file:
            progress = json.load(file)
    os.makedirs(os.path.join(root, "results"), exist_ok=True)
    for name, make_rate in families().items():
        if name in progress["done"]:
            continue
        first_attempt = name not in progress["attempted"]
        if first_attempt:
            progress["attempted"].append(name)
            _write_json(progress_path, progress)
        folder = os.path.join(root, name)
        kill_at = progress["kill_points"][name] if first_attempt else None
        resumed = train(make_rate, folder + "/run", kill_at=kill_at)
        reference = train(make_rate, folder + "/reference", backup=False)
        _write_json(
            os.path.join(root, "results", name + ".json"),
            {
                "resumed": resumed,
                "reference": reference,
                "killed_after_update": progress["kill_points"][name],
            },
        )
        progress["done"].append(name)
        _write_json(progress_path, progress)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
