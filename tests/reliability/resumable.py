"""Training runs that get killed with SIGKILL, then resume.

    python -m tests.reliability.resumable ROOT SEED [long]

One run per schedule family (one schedule of each module, and a constant
float LR), each with Adam, ReduceLROnPlateau (scripted to reduce, so it
scales the schedule), StepRecorder, StepTensorBoard and
keras.callbacks.BackupAndRestore. The first attempt at a family kills its
own process with SIGKILL (no callback, no flush, no cleanup runs) at a
point drawn from SEED, in one of the KILL_MODES, which rotate over the
families: mid-epoch before anything of the epoch is written; mid-epoch
after the recorder's ring was drained and written; at the end of an
epoch after StepTensorBoard wrote it but before the backup was saved;
in the middle of writing the event file. With `long`, one family trains
epochs longer than the recorder's ring (2600 updates) and is killed late
in its second epoch. The next start resumes
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
KILL_MODES = ("mid_epoch", "ring_drained", "after_log_before_backup", "flush")
# Long epochs: more updates than the recorder's ring (1024 by default).
LONG_BATCHES, LONG_EPOCHS, LONG_KILL = 2600, 3, 2600 + 2300
LONG_SCORES = [5.0, 4.0, 4.0]  # reduces after epoch 3


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


def _data(batches):
    rng = np.random.RandomState(0)
    x = rng.normal(size=(batches * BATCH_SIZE, 8)).astype("float32")
    y = rng.randint(0, 3, size=batches * BATCH_SIZE)
    return x, y


class KillAt(keras.callbacks.Callback):
    """SIGKILLs this process after global update `update` (1-based); in
    mode "flush", arms the event writers instead: the next write stops
    halfway through its bytes and the process is killed."""

    def __init__(self, update, batches, mode):
        super().__init__()
        self.update, self.batches, self.mode = update, batches, mode

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch * self.batches + batch + 1 == self.update:
            if self.mode == "flush":
                _kill_in_next_write()
            else:
                os.kill(os.getpid(), signal.SIGKILL)


class KillAtEpochEnd(keras.callbacks.Callback):
    """Listed after StepTensorBoard, before BackupAndRestore: SIGKILLs
    once the epoch's logs are written and before its backup is saved."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


def _kill_in_next_write():
    """The next event-file write puts half its bytes on disk, then dies."""
    from keras_lrtools.callbacks import _writers

    class HalfFile:
        def __init__(self, file):
            self.file = file

        def write(self, data):
            self.file.write(data[: len(data) // 2])
            self.file.flush()
            os.fsync(self.file.fileno())
            os.kill(os.getpid(), signal.SIGKILL)

        def __getattr__(self, name):
            return getattr(self.file, name)

    original = _writers.ScalarWriter.flush

    def flush(self):
        self._file = HalfFile(self._file)
        original(self)

    _writers.ScalarWriter.flush = flush


def train(make_rate, folder, backup=True, kill=None, long=False):
    """Trains one family; `kill` = (mode, point) kills the process."""
    batches = LONG_BATCHES if long else BATCHES
    epochs = LONG_EPOCHS if long else EPOCHS
    mode, point = kill or (None, None)
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    # A ring of 2 updates is drained every 2 updates, and written to the
    # file at once (as a long epoch's 1024-update blocks are).
    capacity = 2 if mode == "ring_drained" else 1024
    if mode == "ring_drained":
        from keras_lrtools.callbacks import _writers

        _writers.ScalarWriter.PENDING_LIMIT = 2
    model.compile(
        keras.optimizers.Adam(make_rate()),
        "sparse_categorical_crossentropy",
        metrics=["accuracy", StepRecorder(capacity=capacity)],
    )
    plateau = ReduceLROnPlateau("score", 0.5, 1, mode="min", cooldown=1)
    # Listed before BackupAndRestore: each backup holds the plateau state
    # and the logs of the epoch it closes.
    callbacks = [
        ScriptedMetric("score", LONG_SCORES if long else SCORES),
        plateau,
        StepTensorBoard(folder + "/logs"),
    ]
    if mode == "after_log_before_backup":
        callbacks.append(KillAtEpochEnd(point))
    if backup:
        callbacks.append(keras.callbacks.BackupAndRestore(folder + "/backup"))
    if mode in ("mid_epoch", "ring_drained", "flush"):
        callbacks.append(KillAt(point, batches, mode))
    x, y = _data(batches)
    model.fit(
        x,
        y,
        batch_size=BATCH_SIZE,
        epochs=epochs,
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


def kill_plan(seed, names):
    """{family: (mode, point)}: the modes rotate over the families from a
    random start; points are drawn in epochs 2..EPOCHS-1."""
    rng = random.Random(seed)
    first = rng.randrange(len(KILL_MODES))
    plan = {}
    for index, name in enumerate(names):
        mode = KILL_MODES[(first + index) % len(KILL_MODES)]
        epoch = rng.randrange(1, EPOCHS - 1)
        if mode == "after_log_before_backup":
            point = epoch  # the epoch (0-based) whose end is killed
        elif mode == "ring_drained":  # after 3 of 4: 2 drained and written
            point = epoch * BATCHES + 3
        else:
            point = epoch * BATCHES + rng.randrange(1, BATCHES)
        plan[name] = (mode, point)
    return plan


def _write_json(path, content):
    with open(path + ".tmp", "w") as file:
        json.dump(content, file)
    os.replace(path + ".tmp", path)


def main(root, seed, long=False):
    names = list(families())
    if long:
        names = ["cosine"]
        plan = {"cosine": ("mid_epoch", LONG_KILL)}
    else:
        plan = kill_plan(seed, names)
    progress_path = os.path.join(root, "progress.json")
    progress = {"attempted": [], "done": [], "kill_plan": plan}
    if os.path.exists(progress_path):
        with open(progress_path) as file:
            progress = json.load(file)
    os.makedirs(os.path.join(root, "results"), exist_ok=True)
    for name in names:
        make_rate = families()[name]
        if name in progress["done"]:
            continue
        first_attempt = name not in progress["attempted"]
        if first_attempt:
            progress["attempted"].append(name)
            _write_json(progress_path, progress)
        folder = os.path.join(root, name)
        kill = progress["kill_plan"][name] if first_attempt else None
        resumed = train(make_rate, folder + "/run", kill=kill, long=long)
        reference = train(make_rate, folder + "/reference", False, long=long)
        _write_json(
            os.path.join(root, "results", name + ".json"),
            {
                "resumed": resumed,
                "reference": reference,
                "kill": progress["kill_plan"][name],
            },
        )
        progress["done"].append(name)
        _write_json(progress_path, progress)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), long=sys.argv[3:] == ["long"])
