"""Adam's effective step size: the learning rate after bias correction."""

from keras import ops

from keras_lrtools._validation import check_float
from keras_lrtools.schedules._common import check_schedule
from keras_lrtools.schedules._common import evaluate


def adam_effective_learning_rate(learning_rate, step, beta_1=0.9, beta_2=0.999):
    """The step size Adam really applies at an update, after bias correction.

    Adam (Kingma & Ba, 2015, and Keras's `keras.optimizers.Adam`) scales the
    learning rate by its bias correction, so early updates are larger or
    smaller than `learning_rate` alone suggests.

    Formula (k = optimizer step as the schedule sees it, counted from 0;
    Keras's Adam uses t = k + 1 in the bias correction):

    ```
    lr_t = lr(k) * sqrt(1 - beta_2 ** (k + 1)) / (1 - beta_1 ** (k + 1))
    ```

    With the default betas lr_t is 0.316 * lr at the first update, falls to
    0.152 * lr at update 12, then climbs back: 0.80 * lr after 1000
    updates, 0.99 * lr after about 3900.

    Args:
        learning_rate: A float >= 0 or a
            `keras.optimizers.schedules.LearningRateSchedule`.
        step: The optimizer step k (int, NumPy int or integer tensor,
            `optimizer.iterations` before the update).
        beta_1: Float in [0, 1). Adam's first-moment decay. Default 0.9.
        beta_2: Float in [0, 1). Adam's second-moment decay. Default 0.999.

    Returns:
        A float32 scalar tensor; `float(...)` gives a Python float.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if a beta is outside [0, 1) or the rate is negative.

    Example:
    >>> round(float(adam_effective_learning_rate(0.001, step=0)), 6)
    0.000316
    """
    learning_rate = check_schedule("learning_rate", learning_rate)
    beta_1 = check_float(
        "beta_1", beta_1, low=0.0, high=1.0, high_inclusive=False
    )
    beta_2 = check_float(
        "beta_2", beta_2, low=0.0, high=1.0, high_inclusive=False
    )
    t = ops.cast(step, "float32") + 1.0
    correction = ops.sqrt(1.0 - ops.power(beta_2, t)) / (
        1.0 - ops.power(beta_1, t)
    )
    return evaluate(learning_rate, step) * correction
