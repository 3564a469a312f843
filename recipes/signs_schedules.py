"""Each train_signs.py run's schedule, sized by keras_lrtools' table.

Every schedule peaks at 3e-4 after a 20-epoch linear warmup (at most a
fifth of the run); "constant" is the course's run, 1e-4 without warmup;
"plateau" is cosine with keras_lrtools' ReduceLROnPlateau scaling it.
`--lr` sets the peak, `--set NAME=VALUE` any other argument.
"""

import dataclasses

import signs_arguments
import signs_data

from keras_lrtools import steps_from_epochs
from keras_lrtools import steps_per_epoch
from keras_lrtools.schedules import RUN_SIZES
from keras_lrtools.schedules import for_run
from keras_lrtools.schedules import run_arguments

PEAK = 3e-4
COURSE_RATE = 1e-4
PLATEAU = dict(monitor="loss", factor=0.5, patience=10, min_lr=1e-6)
NAMES = (*RUN_SIZES, *signs_arguments.RECIPE_SCHEDULES)


@dataclasses.dataclass
class Plan:
    """What `for_run` and ReduceLROnPlateau get for one run."""

    schedule: str  # the recipe's name: a short name of for_run, or plateau
    sized_as: str  # the short name for_run builds
    total_steps: int
    peak_learning_rate: float
    warmup_steps: int
    warmup_epochs: int
    overrides: dict
    plateau: dict  # empty: no plateau callback

    def sizes(self):
        return (
            self.sized_as,
            self.total_steps,
            self.peak_learning_rate,
            self.warmup_steps,
        )

    def settings(self):
        """The plan as written to run.json."""
        arguments = run_arguments(*self.sizes(), **self.overrides)
        warmed_up = RUN_SIZES[self.sized_as].warmup_in_front
        return dict(
            dataclasses.asdict(self),
            arguments=arguments,
            warmed_up=bool(self.warmup_steps) and warmed_up,
        )


def plan(name, args, updates_per_epoch, batch_size, lr=None):
    """The run's schedule plan for these arguments."""
    warmup_epochs = args.warmup_epochs
    if warmup_epochs is None:
        warmup_epochs = min(
            signs_arguments.DEFAULT_WARMUP_EPOCHS, args.epochs // 5
        )
    peak = lr or (COURSE_RATE if name == "constant" else PEAK)
    if args.scale_lr == "linear":  # Goyal et al.: a scaled rate, warmed up
        peak *= batch_size / signs_arguments.DEFAULT_BATCH_SIZE
    elif name == "constant":
        warmup_epochs = 0
    overrides, plateau, sized_as = dict(args.overrides), {}, name
    if name == "plateau":
        sized_as = "cosine"
        plateau = {k: overrides.pop(k, v) for k, v in PLATEAU.items()}
    return Plan(
        schedule=name,
        sized_as=sized_as,
        total_steps=steps_from_epochs(args.epochs, updates_per_epoch),
        peak_learning_rate=peak,
        warmup_steps=steps_from_epochs(warmup_epochs, updates_per_epoch),
        warmup_epochs=warmup_epochs,
        overrides=overrides,
        plateau=plateau,
    )


def check(args):
    """A --set or --lr the schedule refuses: exit 2 with one line, before
    any data loads or folder is made."""
    if args.schedule == "all":
        return
    pictures = signs_data.train_size(args.smoke)
    updates = steps_per_epoch(pictures, args.batch_size)
    lr = None if args.lr == "auto" else args.lr
    chosen = plan(args.schedule, args, updates, args.batch_size, lr)
    try:
        for_run(*chosen.sizes(), **chosen.overrides)
    except (TypeError, ValueError) as error:
        signs_arguments.error(f"--set: {error}")


def print_list():
    """--list: every schedule's arguments for the default run."""
    args = signs_arguments.parse_arguments([])
    updates = steps_per_epoch(1080, args.batch_size)
    print(
        f"Schedules and their defaults ({args.epochs} epochs, {updates} "
        "updates an epoch; --lr sets the peak, every other rate follows "
        "it; + = after a linear warmup, its own clock starting after it):"
    )
    for name in NAMES:
        settings = plan(name, args, updates, args.batch_size).settings()
        arguments = {**settings["arguments"], **settings["plateau"]}
        text = ", ".join(f"{k}={_show(v)}" for k, v in arguments.items())
        print(f"  {name:<20}{'+' if settings['warmed_up'] else ' '} {text}")


def _show(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(str(_show(v)) for v in value) + "]"
    return value
