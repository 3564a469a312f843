"""Effective step sizes: the learning rate after an optimizer's bias correction.

Adam-type optimizers divide their moving averages by a bias correction,
so an update moves a weight by `lr * correction(t) * m_t / sqrt(v_t)`
(m_t, v_t: the raw, uncorrected averages the optimizer stores; t = its
update count + 1). `lr * correction(t)` is the step size it really takes.
Keras's formulas, t counted from 1:

```
Adam, AdamW:  sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
Adamax:       1 / (1 - beta_1 ** t)                       (m_t / u_t)
Nadam:        sqrt(1 - beta_2 ** t) * (mu_{t+1} / (1 - P_{t+1})
                  + (1 - mu_t) / ((1 - P_t) * (1 - beta_1 ** t)))
              mu_i = beta_1 * (1 - 0.5 * 0.96 ** i), P_t = mu_1 * ... * mu_t
```

Nadam also feeds the current gradient into its update: its correction is
exact for a steady gradient (m_t = (1 - beta_1 ** t) g), an estimate
otherwise. Other optimizers (Lamb's trust ratio, Adafactor's relative
step, ...) have no such closed form.
"""

import math

import numpy as np
from keras import ops

from keras_lrtools._validation import check_float
from keras_lrtools.schedules._common import check_schedule
from keras_lrtools.schedules._common import check_step
from keras_lrtools.schedules._common import evaluate

# Past this many updates 0.96 ** t is below 1e-18: Nadam's mu_t = beta_1.
_NADAM_TERMS = 1100


def adam_bias_correction(t, beta_1, beta_2):
    """sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t), t counted from 1."""
    t = ops.cast(t, "float32")
    return ops.sqrt(1.0 - ops.power(beta_2, t)) / (1.0 - ops.power(beta_1, t))


def adamax_bias_correction(t, beta_1):
    """1 / (1 - beta_1 ** t), t counted from 1."""
    return 1.0 / (1.0 - ops.power(beta_1, ops.cast(t, "float32")))


def nadam_bias_correction(t, beta_1, beta_2):
    """Keras Nadam's correction of m_t / sqrt(v_t), t counted from 1."""
    t = ops.cast(t, "float32")
    log_beta_1 = math.log(beta_1) if beta_1 > 0 else -math.inf

    def log_product(n):
        # log P_n = n log beta_1 + sum_{i <= n} log(1 - 0.5 * 0.96 ** i),
        # the sum tabulated (float64) and constant past _NADAM_TERMS.
        index = ops.cast(ops.minimum(n, float(_NADAM_TERMS)), "int32")
        return n * log_beta_1 + ops.take(_NADAM_LOG_TERMS, index)

    def mu(i):
        return beta_1 * (1.0 - 0.5 * ops.power(0.96, i))

    product_t = ops.exp(log_product(t))
    product_next = ops.exp(log_product(t + 1.0))
    momentum = mu(t + 1.0) / (1.0 - product_next)
    gradient = (1.0 - mu(t)) / (
        (1.0 - product_t) * (1.0 - ops.power(beta_1, t))
    )
    return ops.sqrt(1.0 - ops.power(beta_2, t)) * (momentum + gradient)


_NADAM_LOG_TERMS = np.concatenate(
    [[0.0], np.cumsum(np.log1p(-0.5 * 0.96 ** np.arange(1, _NADAM_TERMS + 1)))]
).astype("float32")


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
    updates, 0.99 * lr after about 3900. (AdamW has the same; Adamax and
    Nadam have their own, logged by `StepTensorBoard` as
    `bias_corrected_learning_rate`.)

    Args:
        learning_rate: A float >= 0 or a
            `keras.optimizers.schedules.LearningRateSchedule`.
        step: The optimizer step k >= 0 (int, NumPy int or integer
            tensor or array, `optimizer.iterations` before the update).
        beta_1: Float in [0, 1). Adam's first-moment decay. Default 0.9.
        beta_2: Float in [0, 1). Adam's second-moment decay. Default 0.999.

    Returns:
        A float32 scalar tensor; `float(...)` gives a Python float.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if a beta is outside [0, 1), the rate or a (NumPy)
            step is negative.

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
    step = check_step(step)
    t = ops.cast(step, "float32") + 1.0
    return evaluate(learning_rate, step) * adam_bias_correction(
        t, beta_1, beta_2
    )
