"""The optimizer set-ups users bring, and tiny real models to train them.

Every built-in Keras optimizer (plain, with gradient accumulation, with
EMA), five kinds of learning rate (a float, this package's schedule,
Keras's, a user's registered and a user's unregistered schedule) and
three precisions.
"""

import contextlib

import keras
import numpy as np
from keras import ops

from keras_lrtools import schedules as S

FEATURES, CLASSES, BATCH, BATCHES = 4, 3, 8, 4


@keras.saving.register_keras_serializable(package="keras_lrtools_tests")
class RegisteredDecay(keras.optimizers.schedules.LearningRateSchedule):
    """A user's registered schedule: lr0 / (1 + step / 4)."""

    def __init__(self, lr0):
        self.lr0 = lr0

    def __call__(self, step):
        return self.lr0 / (1.0 + ops.cast(step, "float32") / 4.0)

    def get_config(self):
        return {"lr0": self.lr0}


class UnregisteredStep(keras.optimizers.schedules.LearningRateSchedule):
    """A user's schedule copied from a tutorial: not registered.

    lr0 halved every 3 steps.
    """

    def __init__(self, lr0):
        self.lr0 = lr0

    def __call__(self, step):
        halvings = ops.floor(ops.cast(step, "float32") / 3.0)
        return self.lr0 * ops.power(0.5, halvings)

    def get_config(self):
        return {"lr0": self.lr0}


def reference_rate(kind, lr0, k):
    """The LR of `kind` at step k, written without the schedule classes."""
    if kind == "float":
        return lr0
    if kind == "ours":  # Warmup(CosineDecay(lr0, 20), 3) from 0
        if k < 3:
            return lr0 * k / 3
        return lr0 * 0.5 * (1 + np.cos(np.pi * min(k - 3, 20) / 20))
    if kind == "keras":  # ExponentialDecay(lr0, 3, 0.7)
        return lr0 * 0.7 ** (k / 3)
    if kind == "registered":
        return lr0 / (1 + k / 4)
    if kind == "unregistered":
        return lr0 * 0.5 ** (k // 3)
    raise ValueError(kind)


LR_KINDS = ("float", "ours", "keras", "registered", "unregistered")


def make_rate(kind, lr0):
    return {
        "float": lambda: float(lr0),
        "ours": lambda: S.Warmup(S.CosineDecay(lr0, 20), 3),
        "keras": lambda: keras.optimizers.schedules.ExponentialDecay(
            lr0, 3, 0.7
        ),
        "registered": lambda: RegisteredDecay(lr0),
        "unregistered": lambda: UnregisteredStep(lr0),
    }[kind]()


# Every built-in optimizer, with a learning rate that trains the tiny model.
OPTIMIZERS = {
    "SGD": (keras.optimizers.SGD, 0.05, {}),
    "SGD_momentum": (keras.optimizers.SGD, 0.05, {"momentum": 0.9}),
    "Adam": (keras.optimizers.Adam, 0.01, {}),
    "AdamW": (keras.optimizers.AdamW, 0.01, {}),
    "Adamax": (keras.optimizers.Adamax, 0.01, {}),
    "Nadam": (keras.optimizers.Nadam, 0.01, {}),
    "RMSprop": (keras.optimizers.RMSprop, 0.01, {}),
    "Adagrad": (keras.optimizers.Adagrad, 0.05, {}),
    "Adadelta": (keras.optimizers.Adadelta, 0.5, {}),
    "Adafactor": (keras.optimizers.Adafactor, 0.01, {}),
    "Ftrl": (keras.optimizers.Ftrl, 0.05, {}),
    "Lion": (keras.optimizers.Lion, 0.001, {}),
    "Lamb": (keras.optimizers.Lamb, 0.01, {}),
    "Muon": (keras.optimizers.Muon, 0.01, {}),
    "ScheduleFreeAdamW": (keras.optimizers.ScheduleFreeAdamW, 0.01, {}),
}
VARIANTS = {
    "plain": {},
    "accumulate": {"gradient_accumulation_steps": 2},
    "ema": {"use_ema": True},
}
# Where the effective step has a closed form (keras_lrtools.schedules.adam).
EFFECTIVE_TAGS = {
    "Adam": "adam_effective_learning_rate",
    "AdamW": "adam_effective_learning_rate",
    "Adamax": "bias_corrected_learning_rate",
    "Nadam": "bias_corrected_learning_rate",
}
# float16 needs no hardware support on CPU in any of the three backends;
# bfloat16 neither (tested: each precision trains on each backend).
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@contextlib.contextmanager
def precision(policy):
    """Sets the global dtype policy for the block (Keras then wraps the
    optimizer in a LossScaleOptimizer for mixed_float16)."""
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def classifier(optimizer, steps_per_execution=1, recorder=None, seed=0):
    """A tiny softmax classifier, compiled (softmax kept in float32)."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(CLASSES),
            keras.layers.Activation("softmax", dtype="float32"),
        ]
    )
    metrics = ["accuracy"] + ([recorder] if recorder is not None else [])
    if keras.backend.backend() == "torch":
        steps_per_execution = 1  # PyTorch's trainer allows no other
    model.compile(
        optimizer,
        "sparse_categorical_crossentropy",
        metrics=metrics,
        steps_per_execution=steps_per_execution,
    )
    return model


def classification_data(seed=0):
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(BATCH * BATCHES, FEATURES)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 0.5)
    return x, y


class ScriptedScore(keras.callbacks.Callback):
    """Puts `score` = 5.0 into every epoch's logs: a plateau from the
    start, so ReduceLROnPlateau(patience=1) reduces after epochs 1, 2..."""

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = 5.0


def logged_plateau(log_dir, *extra):
    """ScriptedScore, a plateau that halves the LR from epoch 2 on (see
    plateau_scale), StepTensorBoard into `log_dir`, then `extra`."""
    from keras_lrtools.callbacks import ReduceLROnPlateau
    from keras_lrtools.callbacks import StepTensorBoard

    plateau = ReduceLROnPlateau("score", factor=0.5, patience=1, mode="min")
    return [ScriptedScore(), plateau, StepTensorBoard(log_dir), *extra]


def plateau_scale(epoch, factor=0.5):
    """The scale in force during `epoch` with ScriptedScore, patience 1."""
    return factor ** max(epoch - 1, 0)


class WeightSteps(keras.callbacks.Callback):
    """Records how far each named kernel moved at every batch."""

    def __init__(self, names):
        super().__init__()
        self.names = names
        self.steps = {name: [] for name in names}

    def _kernels(self):
        return {
            name: float(
                keras.ops.convert_to_numpy(
                    self.model.get_layer(name).kernel
                ).ravel()[0]
            )
            for name in self.names
        }

    def on_train_begin(self, logs=None):
        self._before = self._kernels()

    def on_train_batch_end(self, batch, logs=None):
        _ = self.model  # jax: sync the trainer's state into the variables
        now = self._kernels()
        for name in self.names:
            self.steps[name].append(self._before[name] - now[name])
        self._before = now


@keras.saving.register_keras_serializable(package="keras_lrtools_tests")
def mean_output(y_true, y_pred):
    """loss = mean(y_pred): with a linear model on inputs of 1, every
    kernel's gradient is exactly 1, so SGD moves it by exactly -lr."""
    return ops.mean(ops.cast(y_pred, "float32"))


def unit_gradient_model(optimizer, branches=("kernel",), metrics=()):
    """sum of Dense(1) branches, each on its own input column of ones."""
    inputs = keras.Input((len(branches),))
    outputs = [
        keras.layers.Dense(
            1, use_bias=False, kernel_initializer="zeros", name=name
        )(inputs[:, index : index + 1])
        for index, name in enumerate(branches)
    ]
    output = outputs[0] if len(outputs) == 1 else keras.layers.Add()(outputs)
    model = keras.Model(inputs, output)
    model.compile(optimizer, mean_output, metrics=list(metrics))
    return model


def ones(batches, width=1):
    x = np.ones((batches * 2, width), "float32")
    return x, x[:, :1]


def optimizer_state(model):
    """Everything the finder must leave as it was, as NumPy copies."""
    return (
        [np.array(w) for w in model.get_weights()],
        [
            np.array(keras.ops.convert_to_numpy(v))
            for v in model.optimizer.variables
        ],
    )


def assert_same_state(before, after):
    for old, new in zip(before[0], after[0], strict=True):
        np.testing.assert_array_equal(old, new)
    assert len(before[1]) == len(after[1])
    for old, new in zip(before[1], after[1], strict=True):
        np.testing.assert_array_equal(old, new)
