"""Tiny real models and scripted metrics for callback tests."""

import keras
import numpy as np
from keras import ops


class ScriptedMetric(keras.callbacks.Callback):
    """Writes `values[epoch]` into the epoch logs under `name`.

    Listed before the callback under test, it scripts the monitored value.
    """

    def __init__(self, name, values):
        super().__init__()
        self.name = name
        self.values = list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.name] = float(self.values[epoch])


class Interrupt(keras.callbacks.Callback):
    """Raises RuntimeError("interrupted") at the end of epoch `epoch`: a run
    that stops there, after the callbacks listed before it have run."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


class RecordLearningRate(keras.callbacks.Callback):
    """Records (update index, LR applied at that update) via SGD on a unit
    gradient: the weight moves by exactly -lr at every update."""

    def on_train_begin(self, logs=None):
        self.updates = []
        self.rates = []
        self.epoch_logs = []
        self._weight = self._read()

    def _read(self):
        return float(self.model.get_weights()[0].ravel()[0])

    def on_train_batch_end(self, batch, logs=None):
        weight = self._read()
        self.updates.append(int(self.model.optimizer.iterations) - 1)
        self.rates.append(self._weight - weight)
        self._weight = weight

    def on_epoch_end(self, epoch, logs=None):
        self.epoch_logs.append(dict(logs))


def unit_gradient_model(learning_rate, optimizer="sgd"):
    """w starts at 0; loss = mean(w * x) with x = 1, so dL/dw = 1."""
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    optimizers = {"sgd": keras.optimizers.SGD, "adam": keras.optimizers.Adam}
    model.compile(
        optimizer=optimizers[optimizer](learning_rate),
        loss=unit_loss,
    )
    return model


@keras.saving.register_keras_serializable(package="keras_lrtools_tests")
def unit_loss(y_true, y_pred):
    return ops.mean(y_pred)


def unit_data(batches_per_epoch, batch_size=2):
    x = np.ones((batches_per_epoch * batch_size, 1), "float32")
    return x, x


def read_scalars(run_dir):
    """{tag: [(step, value), ...]} read back with tensorboard's reader:
    the accumulator its server uses (`--load_fast false`), every point
    kept, the points a restart (SessionLog.START) hides left out."""
    from tensorboard.backend.event_processing import plugin_event_accumulator
    from tensorboard.util import tensor_util

    accumulator = plugin_event_accumulator.EventAccumulator(
        str(run_dir), tensor_size_guidance={"scalars": 0}
    )
    accumulator.Reload()
    return {
        tag: [
            (event.step, float(tensor_util.make_ndarray(event.tensor_proto)))
            for event in accumulator.Tensors(tag)
        ]
        for tag in accumulator.Tags()["tensors"]
    }
