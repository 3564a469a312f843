"""The one-cycle policy (Smith & Topin, 2018), as PyTorch's `OneCycleLR`."""

from keras import ops

from keras_lrtools._validation import check_bool
from keras_lrtools._validation import check_choice
from keras_lrtools._validation import check_float
from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_open_fraction
from keras_lrtools._validation import check_step_count
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import anneal
from keras_lrtools.schedules._common import as_float_step
from keras_lrtools.schedules._common import as_step
from keras_lrtools.schedules._common import progress

ONE_CYCLE_ANNEALS = {"cos": "cosine", "linear": "linear"}


@REGISTER
class OneCycle(LearningRateSchedule):
    """One-cycle LR: up to a peak, then down far below the start.

    Gives the same LR as PyTorch's `OneCycleLR` at steps 0 to
    `total_steps - 1`; past the horizon it holds the final LR instead of
    raising.

    Formula (t = optimizer step, T = total_steps, M = maximal_learning_rate,
    p = pct_start, I = M / div_factor, F = I / final_div_factor,
    A(a, b, f) = the `anneal` curve from a to b at fraction f):

    ```
    two phases (three_phase False):
      t <= p*T - 1:       A(I, M, t / (p*T - 1))
      otherwise:          A(M, F, (t - (p*T - 1)) / (T - p*T))
    three phases (three_phase True):
      t <= p*T - 1:       A(I, M, t / (p*T - 1))
      t <= 2*p*T - 2:     A(M, I, (t - (p*T - 1)) / (p*T - 1))
      otherwise:          A(I, F, (t - (2*p*T - 2)) / (T + 1 - 2*p*T))
    t >= T - 1:           F
    cos:    A(a, b, f) = b + (a - b) * (1 + cos(pi * f)) / 2
    linear: A(a, b, f) = a + (b - a) * f
    ```

    Args:
        maximal_learning_rate: Float > 0. The peak LR M.
        total_steps: Int > 0. Updates in the whole cycle.
        pct_start: Float in (0, 1). Fraction of `total_steps` spent rising.
            Default 0.3.
        div_factor: Float > 0. Initial LR is M / div_factor. Default 25.
        final_div_factor: Float > 0. Final LR is the initial LR divided by
            this. Default 1e4.
        anneal: "cos" or "linear". Default "cos".
        three_phase: Bool. If True, come back down to the initial LR
            symmetrically, then anneal to the final LR (fastai's variant).
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is out of range, or a phase would be
            empty for this `pct_start` and `total_steps`.

    Example:
    >>> schedule = OneCycle(0.1, total_steps=100)
    >>> [round(float(schedule(s)), 5) for s in (0, 29, 99, 500)]
    [0.004, 0.1, 0.0, 0.0]

    References:
        Smith & Topin, Super-Convergence, 2018,
        https://arxiv.org/abs/1708.07120
    """

    def __init__(
        self,
        maximal_learning_rate,
        total_steps,
        pct_start=0.3,
        div_factor=25.0,
        final_div_factor=1e4,
        anneal="cos",
        three_phase=False,
        name="OneCycle",
    ):
        self.maximal_learning_rate = check_learning_rate(
            "maximal_learning_rate", maximal_learning_rate, positive=True
        )
        self.total_steps = check_step_count("total_steps", total_steps)
        self.pct_start = check_open_fraction("pct_start", pct_start)
        self.div_factor = check_float(
            "div_factor", div_factor, low=0.0, low_inclusive=False
        )
        self.final_div_factor = check_float(
            "final_div_factor", final_div_factor, low=0.0, low_inclusive=False
        )
        self.anneal = check_choice("anneal", anneal, tuple(ONE_CYCLE_ANNEALS))
        self.three_phase = check_bool("three_phase", three_phase)
        self.name = name
        self._phases = self._build_phases()

    def _build_phases(self):
        """Returns (end_step, start_lr, end_lr) per phase, as OneCycleLR.

        Raises ValueError if a phase would have no steps.
        """
        initial = self.maximal_learning_rate / self.div_factor
        final = initial / self.final_div_factor
        check_learning_rate(
            "maximal_learning_rate / div_factor", initial, positive=True
        )
        check_learning_rate(
            "maximal_learning_rate / (div_factor * final_div_factor)", final
        )
        rise_end = self.pct_start * self.total_steps - 1.0
        last = self.total_steps - 1.0
        if self.three_phase:
            phases = [
                (rise_end, initial, self.maximal_learning_rate),
                (2.0 * rise_end, self.maximal_learning_rate, initial),
                (last, initial, final),
            ]
        else:
            phases = [
                (rise_end, initial, self.maximal_learning_rate),
                (last, self.maximal_learning_rate, final),
            ]
        start = 0.0
        for index, (end, _, _) in enumerate(phases):
            if end <= start:
                raise ValueError(
                    f"Arguments `pct_start` and `total_steps` leave phase "
                    f"{index + 1} of {len(phases)} with no steps (it would "
                    f"run from step {start:g} to {end:g}); use more "
                    "`total_steps` or a `pct_start` further from 0 and 1. "
                    f"Received: pct_start={self.pct_start}, "
                    f"total_steps={self.total_steps}, "
                    f"three_phase={self.three_phase}"
                )
            start = end
        return phases

    def __call__(self, step):
        step = ops.minimum(as_float_step(as_step(step)), self.total_steps - 1.0)
        shape = ONE_CYCLE_ANNEALS[self.anneal]
        start = 0.0
        pieces = []
        for end, start_lr, end_lr in self._phases:
            fraction = progress(step, start, end - start)
            pieces.append((end, anneal(shape, start_lr, end_lr, fraction)))
            start = end
        value = pieces[-1][1]
        for end, piece in reversed(pieces[:-1]):
            value = ops.where(step <= end, piece, value)
        return value

    def get_config(self):
        return {
            "maximal_learning_rate": self.maximal_learning_rate,
            "total_steps": self.total_steps,
            "pct_start": self.pct_start,
            "div_factor": self.div_factor,
            "final_div_factor": self.final_div_factor,
            "anneal": self.anneal,
            "three_phase": self.three_phase,
            "name": self.name,
        }
