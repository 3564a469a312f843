"""keras_lrtools: learning-rate control for Keras 3.

Schedules (`keras_lrtools.schedules`) with exact TF1, Keras, PyTorch and
optax semantics, validated arguments and save/load support; callbacks
(`keras_lrtools.callbacks`) for plateau reduction that works with
schedules, per-step TensorBoard logging and a guard against a learning
rate that breaks training; the SIGNS data (`keras_lrtools.datasets`). On
the tensorflow, jax and torch backends.
"""

import importlib
import importlib.util
import sys

from keras_lrtools._quiet_start import quiet_tensorflow_start

__version__ = "0.1.0"

# Public name -> (module, attribute; None for the module itself).
_PUBLIC = {
    "LRFinderResult": ("keras_lrtools.lr_finder", "LRFinderResult"),
    "adam_effective_learning_rate": (
        "keras_lrtools.schedules",
        "adam_effective_learning_rate",
    ),
    "callbacks": ("keras_lrtools.callbacks", None),
    "datasets": ("keras_lrtools.datasets", None),
    "find_learning_rate": ("keras_lrtools.lr_finder", "find_learning_rate"),
    "hparams": ("keras_lrtools.hparams", None),
    "plot_schedule": ("keras_lrtools.preview", "plot_schedule"),
    "schedules": ("keras_lrtools.schedules", None),
    "steps_from_epochs": ("keras_lrtools.training", "steps_from_epochs"),
    "steps_per_epoch": ("keras_lrtools.training", "steps_per_epoch"),
}

__all__ = ["__version__", *_PUBLIC]


def _start_keras():
    """Imports Keras (and TensorFlow, where installed), quietly.

    TensorFlow's start-up noise is left out (TF_CPP_MIN_LOG_LEVEL=0
    shows it).
    """
    if "keras" in sys.modules:
        return
    # Keras imports TensorFlow on every backend where it is installed
    # (keras.utils.set_random_seed seeds it too): it starts here as well.
    with quiet_tensorflow_start():
        import keras  # noqa: F401

        if importlib.util.find_spec("tensorflow") is not None:
            import tensorflow

            tensorflow.config.list_physical_devices()  # its cuInit line


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(
            f"module 'keras_lrtools' has no attribute {name!r}"
        )
    _start_keras()
    module, attribute = _PUBLIC[name]
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value
    return value


def __dir__():
    return sorted({*globals(), *_PUBLIC})


def _command_line_starting():
    """Whether `python -m keras_lrtools` is importing the package now.

    Its command line checks the arguments before Keras starts, and starts
    it itself.
    """
    if getattr(sys, "argv", [])[:1] != ["-m"]:  # "-m" while it is located
        return False
    for index, argument in enumerate(getattr(sys, "orig_argv", [])):
        if argument.startswith("-m"):
            module = argument[2:] or sys.orig_argv[index + 1]
            return module in ("keras_lrtools", "keras_lrtools.__main__")
    return False


# Any other import starts Keras here, quietly, and loads the public names.
if not _command_line_starting():
    _start_keras()
    for _name in _PUBLIC:
        __getattr__(_name)
    del _name
