"""Messages of the callbacks, through Keras's logging channel.

Like Keras's own callbacks: printed while Keras's interactive logging is
on (the default), and through Python's `logging` (logger "keras_lrtools",
level INFO) after `keras.config.disable_interactive_logging()`.
"""

import logging
import sys

import keras

LOGGER = logging.getLogger("keras_lrtools")


def say(message):
    """Shows `message` where Keras shows its callbacks' messages."""
    if keras.config.is_interactive_logging_enabled():
        sys.stdout.write(message + "\n")
        sys.stdout.flush()
    else:
        LOGGER.info(message.strip())
