"""Cyclical learning rates (Smith, 2017), as PyTorch's `CyclicLR`.

Modes triangular, triangular2 and exp_range.
"""

from keras import ops

from keras_lrtools._validation import check_choice
from keras_lrtools._validation import check_float
from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_step_count
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import as_float_step
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import periods_and_position

CYCLICAL_MODES = ("triangular", "triangular2", "exp_range")


@REGISTER
class CyclicalLearningRate(LearningRateSchedule):
    """Cyclical LR between two bounds (CLR), PyTorch `CyclicLR` semantics.

    Replaces tensorflow-addons' `CyclicalLearningRate` and its subclasses,
    which could not be reloaded from a saved model. The scaling policy is a
    named `mode` (not a Python function), so the config is JSON-clean. Up
    and down phases may differ in length, as in PyTorch.

    Formula (t = optimizer step, B = initial_learning_rate, M =
    maximal_learning_rate, U = step_size, W = step_size_down):

    ```
    cycle = floor(1 + t / (U + W))
    x     = 1 + t / (U + W) - cycle
    s     = x / r            if x <= r,  r = U / (U + W)
    s     = (x - 1) / (r - 1) otherwise
    lr(t) = B + (M - B) * s * f
    f = 1                    if mode == "triangular"
    f = 1 / 2 ** (cycle - 1) if mode == "triangular2"
    f = gamma ** t           if mode == "exp_range"
    ```

    Args:
        initial_learning_rate: Float >= 0. Lower bound B, the LR at step 0.
        maximal_learning_rate: Float > `initial_learning_rate`. Upper
            bound M, reached after `step_size` updates.
        step_size: Int > 0. Updates of the rising half-cycle.
        mode: One of "triangular" (constant amplitude), "triangular2"
            (amplitude halved every cycle), "exp_range" (amplitude times
            `gamma ** t`). Default "triangular".
        gamma: Float in (0, 1]. Per-step amplitude factor; only used, and
            only allowed to differ from 1.0, with mode "exp_range".
        step_size_down: Optional int > 0. Updates of the falling
            half-cycle; defaults to `step_size`.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is out of range, `maximal_learning_rate`
            is not above `initial_learning_rate`, or `gamma` is given with
            a mode that ignores it.

    Example:
    >>> schedule = CyclicalLearningRate(0.001, 0.006, step_size=4)
    >>> [round(float(schedule(s)), 5) for s in (0, 2, 4, 6, 8)]
    [0.001, 0.0035, 0.006, 0.0035, 0.001]

    References:
        Smith, Cyclical Learning Rates for Training Neural Networks, 2017,
        https://arxiv.org/abs/1506.01186
    """

    def __init__(
        self,
        initial_learning_rate,
        maximal_learning_rate,
        step_size,
        mode="triangular",
        gamma=1.0,
        step_size_down=None,
        name="CyclicalLearningRate",
    ):
        self.initial_learning_rate = check_learning_rate(
            "initial_learning_rate", initial_learning_rate
        )
        self.maximal_learning_rate = check_learning_rate(
            "maximal_learning_rate", maximal_learning_rate
        )
        if self.maximal_learning_rate <= self.initial_learning_rate:
            raise ValueError(
                "Argument `maximal_learning_rate` must be greater than "
                "`initial_learning_rate`. Received: "
                f"initial_learning_rate={self.initial_learning_rate}, "
                f"maximal_learning_rate={self.maximal_learning_rate}"
            )
        self.step_size = check_step_count("step_size", step_size)
        self.mode = check_choice("mode", mode, CYCLICAL_MODES)
        self.gamma = check_float(
            "gamma", gamma, low=0.0, high=1.0, low_inclusive=False
        )
        if self.gamma != 1.0 and self.mode != "exp_range":
            raise ValueError(
                "Argument `gamma` is only used with mode='exp_range'; leave "
                f"it at 1.0 for mode={self.mode!r}. Received: "
                f"gamma={self.gamma}, mode={self.mode!r}"
            )
        self.step_size_down = (
            self.step_size
            if step_size_down is None
            else check_step_count("step_size_down", step_size_down)
        )
        self.name = name

    def __call__(self, step):
        step = as_step(step)
        total = self.step_size + self.step_size_down
        up_ratio = self.step_size / total
        completed, position = periods_and_position(step, total)
        cycle = completed + 1.0
        x = position / float(total)
        rising = x / up_ratio
        falling = (x - 1.0) / (up_ratio - 1.0)
        scale = ops.where(x <= up_ratio, rising, falling)
        if self.mode == "triangular":
            amplitude = 1.0
        elif self.mode == "triangular2":
            amplitude = ops.power(0.5, cycle - 1.0)
        else:
            amplitude = ops.power(self.gamma, as_float_step(step))
        height = self.maximal_learning_rate - self.initial_learning_rate
        return self.initial_learning_rate + height * scale * amplitude

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "maximal_learning_rate": self.maximal_learning_rate,
            "step_size": self.step_size,
            "mode": self.mode,
            "gamma": self.gamma,
            "step_size_down": self.step_size_down,
            "name": self.name,
        }
