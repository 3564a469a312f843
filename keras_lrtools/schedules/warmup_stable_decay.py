"""Warmup-stable-decay (WSD), the trapezoidal schedule of LLM training."""

from keras import ops

from keras_lrtools._validation import check_choice
from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_step_count
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import anneal
from keras_lrtools.schedules._common import as_float_step
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import is_before
from keras_lrtools.schedules._common import progress

WSD_DECAY_SHAPES = ("linear", "cosine", "1-sqrt")


@REGISTER
class WarmupStableDecay(LearningRateSchedule):
    """Warmup, a long constant stage, then a short decay (WSD).

    The schedule of MiniCPM and many LLM runs (HF `warmup_stable_decay`):
    training can be extended or checkpointed during the stable stage and
    cooled down at any time.

    Formula (t = optimizer step, W = warmup_steps, S = stable_steps,
    D = decay_steps, I = initial_learning_rate, P = peak_learning_rate,
    F = final_learning_rate):

    ```
    lr(t) = I + (P - I) * t / W              if t < W
    lr(t) = P                                if W <= t < W + S
    lr(t) = F + (P - F) * g(p)               otherwise,
            p = min((t - W - S) / D, 1)
    linear: g(p) = 1 - p
    cosine: g(p) = (1 + cos(pi * p)) / 2
    1-sqrt: g(p) = 1 - sqrt(p)
    ```

    Args:
        peak_learning_rate: Float > 0. LR of the stable stage.
        warmup_steps: Int >= 0. Updates of linear warmup from I to P.
        stable_steps: Int >= 0. Updates at the peak.
        decay_steps: Int > 0. Updates of decay from P to F.
        initial_learning_rate: Float in [0, P]. LR at step 0. Default 0.
        final_learning_rate: Float in [0, P]. LR after the decay, held
            from then on. Default 0.
        decay_shape: "linear", "cosine" or "1-sqrt". Default "linear".
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is outside the range given above.

    Example:
    >>> schedule = WarmupStableDecay(0.1, warmup_steps=10, stable_steps=80,
    ...                              decay_steps=10)
    >>> [round(float(schedule(s)), 4) for s in (0, 5, 10, 89, 95, 100)]
    [0.0, 0.05, 0.1, 0.1, 0.05, 0.0]

    References:
        Hu et al., MiniCPM, 2024, https://arxiv.org/abs/2404.06395
    """

    def __init__(
        self,
        peak_learning_rate,
        warmup_steps,
        stable_steps,
        decay_steps,
        initial_learning_rate=0.0,
        final_learning_rate=0.0,
        decay_shape="linear",
        name="WarmupStableDecay",
    ):
        self.peak_learning_rate = check_learning_rate(
            "peak_learning_rate", peak_learning_rate, positive=True
        )
        self.warmup_steps = check_step_count(
            "warmup_steps", warmup_steps, minimum=0
        )
        self.stable_steps = check_step_count(
            "stable_steps", stable_steps, minimum=0
        )
        self.decay_steps = check_step_count("decay_steps", decay_steps)
        self.initial_learning_rate = _check_below_peak(
            "initial_learning_rate",
            initial_learning_rate,
            self.peak_learning_rate,
        )
        self.final_learning_rate = _check_below_peak(
            "final_learning_rate", final_learning_rate, self.peak_learning_rate
        )
        self.decay_shape = check_choice(
            "decay_shape", decay_shape, WSD_DECAY_SHAPES
        )
        self.name = name

    def __call__(self, step):
        step = as_step(step)
        float_step = as_float_step(step)
        peak = self.peak_learning_rate
        warmup = anneal(
            "linear",
            self.initial_learning_rate,
            peak,
            progress(float_step, 0, max(self.warmup_steps, 1)),
        )
        decay_begin = self.warmup_steps + self.stable_steps
        decay = anneal(
            self.decay_shape,
            peak,
            self.final_learning_rate,
            progress(float_step, decay_begin, self.decay_steps),
        )
        value = ops.where(is_before(step, decay_begin), peak, decay)
        return ops.where(is_before(step, self.warmup_steps), warmup, value)

    def get_config(self):
        return {
            "peak_learning_rate": self.peak_learning_rate,
            "warmup_steps": self.warmup_steps,
            "stable_steps": self.stable_steps,
            "decay_steps": self.decay_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "final_learning_rate": self.final_learning_rate,
            "decay_shape": self.decay_shape,
            "name": self.name,
        }


def _check_below_peak(name, value, peak):
    value = check_learning_rate(name, value)
    if value > peak:
        raise ValueError(
            f"Argument `{name}` must be <= `peak_learning_rate`. "
            f"Received: {name}={value}, peak_learning_rate={peak}"
        )
    return value
