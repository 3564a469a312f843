"""keras_lrtools: learning-rate control for Keras 3.

Schedules (`keras_lrtools.schedules`) with exact TF1, Keras, PyTorch and
optax semantics, validated arguments and save/load support; callbacks
(`keras_lrtools.callbacks`) for plateau reduction that works with
schedules, per-step TensorBoard logging and a guard against a learning
rate that breaks training; the SIGNS data (`keras_lrtools.datasets`). On
the tensorflow, jax and torch backends.
"""

import importlib.util
import sys

from keras_lrtools._quiet_start import quiet_tensorflow_start

if "keras" not in sys.modules:
    # The package's command lines start Keras here: keep TensorFlow's
    # start-up noise off their output (TF_CPP_MIN_LOG_LEVEL=0 shows it).
    # Keras imports TensorFlow on every backend where it is installed
    # (keras.utils.set_random_seed seeds it too): it starts here as well.
    with quiet_tensorflow_start():
        import keras  # noqa: F401

        if importlib.util.find_spec("tensorflow") is not None:
            import tensorflow

            tensorflow.config.list_physical_devices()  # its cuInit line

from keras_lrtools import callbacks
from keras_lrtools import datasets
from keras_lrtools import hparams
from keras_lrtools import schedules
from keras_lrtools.lr_finder import LRFinderResult
from keras_lrtools.lr_finder import find_learning_rate
from keras_lrtools.preview import plot_schedule
from keras_lrtools.schedules import adam_effective_learning_rate
from keras_lrtools.training import steps_from_epochs
from keras_lrtools.training import steps_per_epoch

__version__ = "0.1.0"

__all__ = [
    "LRFinderResult",
    "__version__",
    "adam_effective_learning_rate",
    "callbacks",
    "datasets",
    "find_learning_rate",
    "hparams",
    "plot_schedule",
    "schedules",
    "steps_from_epochs",
    "steps_per_epoch",
]
