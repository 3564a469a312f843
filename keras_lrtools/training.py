"""Converting epochs to optimizer steps: the one place it is done."""

import math

from keras_lrtools._validation import check_non_negative_int
from keras_lrtools._validation import check_positive_int


def steps_per_epoch(num_examples, batch_size):
    """Optimizer updates in one epoch: ceil(num_examples / batch_size).

    Args:
        num_examples: Int > 0. Training examples per epoch.
        batch_size: Int > 0.

    Returns:
        Int, the number of batches (the last one may be short).

    Example:
    >>> steps_per_epoch(1080, 32)
    34
    """
    num_examples = check_positive_int("num_examples", num_examples)
    batch_size = check_positive_int("batch_size", batch_size)
    return math.ceil(num_examples / batch_size)


def steps_from_epochs(epochs, steps_in_an_epoch):
    """Optimizer updates in `epochs` epochs.

    All schedule `*_steps` arguments are updates, never epochs.

    Args:
        epochs: Int >= 0.
        steps_in_an_epoch: Int > 0, e.g. from `steps_per_epoch`.

    Returns:
        Int, `epochs * steps_in_an_epoch`.

    Example:
    >>> steps_from_epochs(150, steps_per_epoch(1080, 32))
    5100
    """
    epochs = check_non_negative_int("epochs", epochs)
    return epochs * check_positive_int("steps_in_an_epoch", steps_in_an_epoch)
