"""Every schedule by its short name, sized for a run: the one table.

`for_run("cosine", total_steps=5100, peak_learning_rate=3e-4,
warmup_steps=680)` turns a run (its length, its peak rate, its warmup)
into a schedule, the way timm's scheduler factory turns epochs into
scheduler arguments once. `RUN_SIZES` below says, for each short name,
which class it builds, how the class's arguments follow from the run and
whether a `Warmup` goes in front (the decays that start at their peak).
Adding a schedule means: its module, its line here, its tests, its README
row.
"""

import dataclasses
import math
from collections.abc import Callable

from keras_lrtools._validation import check_choice
from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_step_count
from keras_lrtools.schedules.cosine import CosineDecay
from keras_lrtools.schedules.cosine import CosineDecayRestarts
from keras_lrtools.schedules.cyclical import CyclicalLearningRate
from keras_lrtools.schedules.exponential import ExponentialDecay
from keras_lrtools.schedules.exponential import NaturalExpDecay
from keras_lrtools.schedules.inverse_sqrt import InverseSqrtDecay
from keras_lrtools.schedules.inverse_time import InverseTimeDecay
from keras_lrtools.schedules.linear_cosine import LinearCosineDecay
from keras_lrtools.schedules.linear_cosine import NoisyLinearCosineDecay
from keras_lrtools.schedules.one_cycle import OneCycle
from keras_lrtools.schedules.piecewise import PiecewiseConstantDecay
from keras_lrtools.schedules.polynomial import PolynomialDecay
from keras_lrtools.schedules.warmup import Warmup
from keras_lrtools.schedules.warmup_stable_decay import WarmupStableDecay


@dataclasses.dataclass(frozen=True)
class Run:
    """A run's lengths in optimizer updates, and its peak rate."""

    total_steps: int
    warmup_steps: int
    peak: float

    @property
    def decay_steps(self):
        """Updates after the warmup: the decay's whole length."""
        return self.total_steps - self.warmup_steps

    def fraction(self, divisor):
        """`decay_steps // divisor`, at least one update."""
        return max(self.decay_steps // divisor, 1)


@dataclasses.dataclass(frozen=True)
class RunSize:
    """How one short name is sized for a run.

    `schedule_class` None is the constant rate itself. `warmup_in_front`:
    a linear `Warmup` over the run's warmup leads into the schedule (which
    then starts its own clock after it). `arguments(run)` gives the
    constructor's arguments.
    """

    schedule_class: type | None
    warmup_in_front: bool
    arguments: Callable[[Run], dict]


# The shapes (decay rates, floors, cycle counts) are those that trained
# the SIGNS network best (recipes/README.md); every length follows from
# the run, every rate from its peak.
RUN_SIZES = {
    "constant": RunSize(None, True, lambda r: dict(learning_rate=r.peak)),
    "exponential": RunSize(
        ExponentialDecay,
        True,
        lambda r: dict(
            initial_learning_rate=r.peak,
            decay_steps=r.fraction(10),
            decay_rate=0.7,
        ),
    ),
    "natural": RunSize(
        NaturalExpDecay,
        True,
        lambda r: dict(
            initial_learning_rate=r.peak,
            decay_steps=r.fraction(10),
            decay_rate=0.3,
            staircase=True,
        ),
    ),
    "inverse_time": RunSize(
        InverseTimeDecay,
        True,
        lambda r: dict(
            initial_learning_rate=r.peak,
            decay_steps=r.fraction(10),
            decay_rate=0.5,
        ),
    ),
    "piecewise": RunSize(
        PiecewiseConstantDecay,
        True,
        lambda r: dict(
            boundaries=[r.fraction(2), r.fraction(2) + r.fraction(4)],
            values=[r.peak, r.peak / 4, r.peak / 15],
        ),
    ),
    "polynomial": RunSize(
        PolynomialDecay,
        True,
        lambda r: dict(
            initial_learning_rate=r.peak,
            decay_steps=r.decay_steps,
            end_learning_rate=r.peak / 100,
            power=1.0,
        ),
    ),
    # Keras's CosineDecay has a warmup of its own.
    "cosine": RunSize(
        CosineDecay,
        False,
        lambda r: dict(
            initial_learning_rate=0.0 if r.warmup_steps else r.peak,
            decay_steps=r.decay_steps,
            alpha=0.01,
            warmup_target=r.peak if r.warmup_steps else None,
            warmup_steps=r.warmup_steps,
        ),
    ),
    # Periods of 1, 2 and 4 sevenths of the decay: three restarts end it.
    "cosine_restarts": RunSize(
        CosineDecayRestarts,
        True,
        lambda r: dict(
            initial_learning_rate=r.peak,
            first_decay_steps=math.ceil(r.decay_steps / 7),
            t_mul=2.0,
            m_mul=0.8,
            alpha=0.05,
        ),
    ),
    "linear_cosine": RunSize(
        LinearCosineDecay,
        True,
        lambda r: dict(
            initial_learning_rate=r.peak,
            decay_steps=r.decay_steps,
            num_periods=0.5,
            alpha=0.0,
            beta=0.01,
        ),
    ),
    "noisy_linear_cosine": RunSize(
        NoisyLinearCosineDecay,
        True,
        lambda r: dict(
            initial_learning_rate=r.peak,
            decay_steps=r.decay_steps,
            initial_variance=0.1,
            variance_decay=0.55,
            num_periods=0.5,
            beta=0.01,
            seed=0,
        ),
    ),
    # Ramps up by itself: four triangles of halving height over the run.
    "cyclical": RunSize(
        CyclicalLearningRate,
        False,
        lambda r: dict(
            initial_learning_rate=r.peak / 10,
            maximal_learning_rate=r.peak,
            step_size=max(r.total_steps // 8, 1),
            mode="triangular2",
        ),
    ),
    # Its ramp is the warmup (a quarter of the run without one).
    "one_cycle": RunSize(
        OneCycle,
        False,
        lambda r: dict(
            maximal_learning_rate=r.peak,
            total_steps=r.total_steps,
            pct_start=(r.warmup_steps / r.total_steps) or 0.25,
            div_factor=25.0,
            final_div_factor=1e3,
        ),
    ),
    # Decays over the last fifth of what follows the warmup.
    "warmup_stable_decay": RunSize(
        WarmupStableDecay,
        False,
        lambda r: dict(
            peak_learning_rate=r.peak,
            warmup_steps=r.warmup_steps,
            stable_steps=r.decay_steps - r.fraction(5),
            decay_steps=r.fraction(5),
            final_learning_rate=r.peak / 100,
            decay_shape="1-sqrt",
        ),
    ),
    # Needs a warmup of at least one update.
    "inverse_sqrt": RunSize(
        InverseSqrtDecay,
        False,
        lambda r: dict(
            peak_learning_rate=r.peak, warmup_steps=max(r.warmup_steps, 1)
        ),
    ),
}

# Short names of the schedule classes, for `get`.
SCHEDULES_BY_NAME = {
    name: size.schedule_class
    for name, size in RUN_SIZES.items()
    if size.schedule_class is not None
}


def run_arguments(
    name, total_steps, peak_learning_rate, warmup_steps=0, **overrides
):
    """The constructor arguments `for_run` uses (see there), as a dict."""
    name = check_choice("name", name, tuple(RUN_SIZES))
    total_steps = check_step_count("total_steps", total_steps)
    warmup_steps = check_step_count("warmup_steps", warmup_steps, minimum=0)
    if warmup_steps >= total_steps:
        raise ValueError(
            "Argument `warmup_steps` must be < total_steps "
            f"({total_steps}). Received: warmup_steps={warmup_steps}"
        )
    peak = check_learning_rate(
        "peak_learning_rate", peak_learning_rate, positive=True
    )
    arguments = RUN_SIZES[name].arguments(Run(total_steps, warmup_steps, peak))
    unknown = sorted(set(overrides) - set(arguments))
    if unknown:
        raise ValueError(
            f"Schedule {name!r} has no argument {unknown[0]!r} to override; "
            f"its arguments are {sorted(arguments)}. Received: "
            f"{unknown[0]}={overrides[unknown[0]]!r}"
        )
    return {**arguments, **overrides}


def for_run(name, total_steps, peak_learning_rate, warmup_steps=0, **overrides):
    """Builds schedule `name` for a run of `total_steps` updates.

    Every length follows from `total_steps` and `warmup_steps`, every
    rate from `peak_learning_rate` (the table `RUN_SIZES`). The decays
    that start at their peak get a linear `Warmup` in front (their own
    clock starts after it); cosine, one_cycle, warmup_stable_decay and
    inverse_sqrt warm up by their own arguments; cyclical ramps by
    itself.

    Args:
        name: A short name: "constant", or a key of `SCHEDULES_BY_NAME`.
        total_steps: Int > 0. Optimizer updates of the whole run, e.g.
            `steps_from_epochs(150, steps_per_epoch(1080, 32))`.
        peak_learning_rate: Float > 0. The highest rate of the run.
        warmup_steps: Int, 0 <= warmup_steps < total_steps. Updates
            spent ramping up from 0 to the peak. Default 0.
        **overrides: Any constructor argument of the schedule by name
            (`run_arguments` lists them), replacing the sized value.

    Returns:
        A `LearningRateSchedule`; for "constant" without warmup, the
        float `peak_learning_rate` itself (optimizers take it as is).

    Raises:
        ValueError: if `name` is unknown, an override names no argument
            of the schedule, or a value is out of range.
        TypeError: if a value has the wrong type.

    Example:
    >>> schedule = for_run("polynomial", total_steps=1000,
    ...                    peak_learning_rate=0.01, warmup_steps=100)
    >>> [round(float(schedule(s)), 4) for s in (0, 50, 100, 1000)]
    [0.0, 0.005, 0.01, 0.0001]
    """
    arguments = run_arguments(
        name, total_steps, peak_learning_rate, warmup_steps, **overrides
    )
    size = RUN_SIZES[name]
    if size.schedule_class is None:
        schedule = check_learning_rate(
            "learning_rate", arguments["learning_rate"], positive=True
        )
    else:
        schedule = size.schedule_class(**arguments)
    if size.warmup_in_front and warmup_steps:
        return Warmup(schedule, warmup_steps)
    return schedule
