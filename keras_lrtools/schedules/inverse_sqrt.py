"""Inverse square-root decay with linear warmup (the Transformer's)."""

from keras import ops

from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_step_count
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import anneal
from keras_lrtools.schedules._common import as_float_step
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import progress


@REGISTER
class InverseSqrtDecay(LearningRateSchedule):
    """Linear warmup to a peak, then decay as 1 / sqrt(step).

    The "Noam" / rsqrt schedule of "Attention is all you need", written
    with an explicit peak (HF `inverse_sqrt` with timescale = warmup).

    Formula (t = optimizer step, W = warmup_steps, P = peak_learning_rate):

    ```
    lr(t) = P * t / W             if t < W
    lr(t) = P * sqrt(W / t)       otherwise
    ```

    Args:
        peak_learning_rate: Float > 0. LR at step W.
        warmup_steps: Int > 0. Updates of linear warmup from 0.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is outside the range given above.

    Example:
    >>> schedule = InverseSqrtDecay(0.01, warmup_steps=100)
    >>> [round(float(schedule(s)), 5) for s in (0, 50, 100, 400)]
    [0.0, 0.005, 0.01, 0.005]

    References:
        Vaswani et al., Attention Is All You Need, 2017,
        https://arxiv.org/abs/1706.03762
    """

    def __init__(
        self, peak_learning_rate, warmup_steps, name="InverseSqrtDecay"
    ):
        self.peak_learning_rate = check_learning_rate(
            "peak_learning_rate", peak_learning_rate, positive=True
        )
        self.warmup_steps = check_step_count("warmup_steps", warmup_steps)
        self.name = name

    def __call__(self, step):
        step = as_float_step(as_step(step))
        warmup = anneal(
            "linear",
            0.0,
            self.peak_learning_rate,
            progress(step, 0, self.warmup_steps),
        )
        after = self.peak_learning_rate * ops.sqrt(
            float(self.warmup_steps)
            / ops.maximum(step, float(self.warmup_steps))
        )
        return ops.where(step < float(self.warmup_steps), warmup, after)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "name": self.name,
        }
