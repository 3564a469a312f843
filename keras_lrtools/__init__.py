"""keras_lrtools: learning-rate control for Keras 3.

Schedules (`keras_lrtools.schedules`) with exact TF1, Keras, PyTorch and
optax semantics, validated arguments and save/load support on the
tensorflow, jax and torch backends.
"""

from keras_lrtools import schedules
from keras_lrtools.schedules import adam_effective_learning_rate

__version__ = "0.1.0"

__all__ = ["__version__", "adam_effective_learning_rate", "schedules"]
