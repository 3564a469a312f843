"""train_signs.py's command line, checked before Keras starts.

Everything here is the standard library: a bad number, path, flag or
schedule name comes back at once, with exit status 2 and one line. `--set`
values are checked by the schedule itself right after Keras has started
(signs_schedules.check), before any data loads.
"""

import argparse
import importlib.util
import json
import math
import os
import runpy

import signs_threads

DEFAULT_EPOCHS = 150
SMOKE_EPOCHS = 3
DEFAULT_BATCH_SIZE = 32
DEFAULT_WARMUP_EPOCHS = 20
STRATEGIES = ("none", "mirrored", "multiworker", "data_parallel")
# Measured with keras 3.15.1 and tensorflow 2.21.0 (two workers on
# 127.0.0.1, tests/distribution): fit() first fails to reduce the
# distributed batch it builds the model from, and past that, to reduce the
# scalar logs. Keras's own question: keras-team/keras#20585.
MULTIWORKER_NEEDS_JAX = (
    "--strategy multiworker runs on JAX's distributed runtime: Keras 3's "
    "model.fit does not run under tf.distribute.MultiWorkerMirroredStrategy "
    "(keras-team/keras#20585), and torch has no Keras multi-process fit. "
    "Run: KERAS_BACKEND=jax python recipes/train_signs.py --strategy "
    "multiworker --coordinator HOST:PORT --num-processes N --process-id I"
)
STRATEGY_BACKENDS = {
    "mirrored": "tensorflow",
    "data_parallel": "jax",
    "multiworker": "jax",
}
# Keras's own variables for keras.distribution.initialize(), read when
# the flags are not given (a cluster launcher can set them).
CLUSTER_VARIABLES = {
    "coordinator": "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "num_processes": "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "process_id": "KERAS_DISTRIBUTION_PROCESS_ID",
}
RATE_NAMES = ("warmup_target", "min_lr")  # besides *learning_rate
# The recipe's own schedules beside RUN_SIZES': cosine under
# ReduceLROnPlateau.
RECIPE_SCHEDULES = ("plateau",)


def schedule_names():
    """The recipe's schedules: the short names of keras_lrtools' run table
    (`RUN_SIZES`), read without starting Keras, and RECIPE_SCHEDULES."""
    package = importlib.util.find_spec("keras_lrtools")  # not imported
    if package is None:
        error("keras_lrtools is not installed (pip install -e .).")
    (folder,) = package.submodule_search_locations
    reader = runpy.run_path(os.path.join(folder, "_cli_checks.py"))
    return (*reader["run_size_names"](folder), *RECIPE_SCHEDULES)


class _Parser(argparse.ArgumentParser):
    """Errors in one line (argparse adds a usage line)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser():
    parser = _Parser(
        prog="train_signs.py",
        description="Train the SIGNS classifier with a keras_lrtools "
        "schedule and compare schedules.",
        epilog="Example: python recipes/train_signs.py --schedule cosine "
        "--epochs 150; then: tensorboard --logdir logs "
        "--samples_per_plugin scalars=100000 (every update)",
    )
    add = parser.add_argument
    add(
        "--schedule",
        default="cosine",
        help="a schedule's short name (--list shows them and their "
        "defaults), or 'all' for a sweep of every one (default: cosine)",
    )
    add("--list", action="store_true", help="print the schedules' defaults")
    add(
        "--lr",
        default=None,
        help="the schedule's peak rate (every other rate follows it), or "
        "'auto' for the LR range test's suggestion",
    )
    add(
        "--find-lr",
        action="store_true",
        help="run the LR range test, save its plot under the log dir and "
        "print its suggestions",
    )
    add(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any argument of the schedule (or of plateau's callback), "
        "repeatable",
    )
    add(
        "--warmup-epochs",
        type=int,
        default=None,
        help=f"epochs of linear warmup to the peak (default "
        f"{DEFAULT_WARMUP_EPOCHS}, at most a fifth of the run; 0 for none)",
    )
    add(
        "--model",
        choices=("mlp", "convnet"),
        default="mlp",
        help="mlp: the course's Flatten-25-12-6 ReLU network (default); "
        "convnet: the Course 4 ConvNet",
    )
    add(
        "--epochs",
        type=int,
        default=None,
        help=f"default {DEFAULT_EPOCHS} ({SMOKE_EPOCHS} with --smoke)",
    )
    add(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"pictures per update and replica (default {DEFAULT_BATCH_SIZE})",
    )
    add(
        "--seed",
        type=int,
        default=1,
        help="seed of the initial weights and the shuffling (default 1)",
    )
    add(
        "--seeds",
        default=None,
        metavar="S1,S2,...",
        help="with --schedule all: train every schedule with each seed and "
        "report the median and spread (default: --seed only)",
    )
    add(
        "--data-dir",
        default=None,
        help="SIGNS folder (default: $KERAS_LRTOOLS_DATA, ./data/signs, "
        "the Keras cache, else download)",
    )
    add("--log-dir", default="logs", help="TensorBoard root (default: logs)")
    add("--smoke", action="store_true", help="a small real subset, 3 epochs")
    add("--no-guard", action="store_true", help="no stop on collapse or NaN")
    add(
        "--strategy",
        choices=STRATEGIES,
        default="none",
        help="data-parallel training on several devices: 'mirrored' "
        "(tf.distribute.MirroredStrategy, all local GPUs), 'data_parallel' "
        "(jax: keras.distribution.DataParallel over all devices), "
        "'multiworker' (jax: the same over every device of several "
        "processes or machines); --batch-size is per replica (default: "
        "none, one device)",
    )
    add(
        "--coordinator",
        default=None,
        metavar="HOST:PORT",
        help="multiworker: process 0's address, the same on every process "
        "(default: $KERAS_DISTRIBUTION_JOB_ADDRESSES, else found by JAX "
        "on SLURM, Open MPI or Cloud TPU)",
    )
    add(
        "--num-processes",
        type=int,
        default=None,
        help="multiworker: how many processes train together "
        "(default: $KERAS_DISTRIBUTION_NUM_PROCESSES)",
    )
    add(
        "--process-id",
        type=int,
        default=None,
        help="multiworker: this process's number, 0 .. N-1; process 0 "
        "writes the logs (default: $KERAS_DISTRIBUTION_PROCESS_ID)",
    )
    add(
        "--peer-timeout",
        type=int,
        default=120,
        help="multiworker: seconds to wait for every process to join, and "
        "after which a silent peer ends the run (default: 120)",
    )
    add(
        "--scale-lr",
        choices=("none", "linear"),
        default="none",
        help="'linear': multiply the peak by global batch / "
        f"{DEFAULT_BATCH_SIZE}, the linear scaling rule with warmup of "
        "Goyal et al. (2017) (default: none)",
    )
    add(
        "--jobs",
        type=int,
        default=None,
        help="with --schedule all: runs trained at once, each in its own "
        "process (default: one per core)",
    )
    add(
        "--threads",
        type=int,
        default=None,
        help="CPU threads of each training process (default: the cores "
        "divided by --jobs; jax on a CPU: 1)",
    )
    add(
        "--print-every",
        type=int,
        default=None,
        help="epochs between progress lines (default: about ten a run)",
    )
    return parser


def parse_arguments(argv):
    """The checked arguments; exits 2 with one line on a bad one."""
    parser = _parser()
    args = parser.parse_args(argv)
    check_backend_installed(parser)
    if args.list:
        return args
    names = schedule_names()
    if args.schedule not in (*names, "all"):
        parser.error(
            f"unknown schedule {args.schedule!r}. Choose one of: "
            f"{', '.join(names)}, all (--list shows their defaults)."
        )
    if args.epochs is None:
        args.epochs = SMOKE_EPOCHS if args.smoke else DEFAULT_EPOCHS
    _check_positive(parser, "--epochs", args.epochs, f"try {DEFAULT_EPOCHS}")
    _check_positive(parser, "--batch-size", args.batch_size, "try 32")
    if args.print_every is not None:
        _check_positive(parser, "--print-every", args.print_every, "try 10")
    for flag, value in (("--jobs", args.jobs), ("--threads", args.threads)):
        if value is not None:
            _check_positive(parser, flag, value, "try 2")
    if args.warmup_epochs is not None and not (
        0 <= args.warmup_epochs < args.epochs
    ):
        parser.error(
            f"--warmup-epochs must be >= 0 and below --epochs "
            f"({args.epochs}), got {args.warmup_epochs}."
        )
    if args.lr is not None and args.lr != "auto":
        args.lr = _rate(parser, "--lr", args.lr, "a positive number or 'auto'")
    args.seeds = _seeds(parser, args)
    args.overrides = _overrides(parser, args.set)
    _check_folders(parser, args)
    _check_combinations(parser, args)
    if args.jobs is None:
        sweep = args.schedule == "all" and args.strategy == "none"
        args.jobs = signs_threads.cores() if sweep else 1
    if args.threads is None:
        args.threads = signs_threads.default_threads(args.jobs)
    return args


def check_backend_installed(parser):
    """KERAS_BACKEND names a package that is there (the main install
    brings tensorflow; jax and torch are installed apart)."""
    backend = os.environ.get("KERAS_BACKEND")
    if backend in ("jax", "torch") and not importlib.util.find_spec(backend):
        parser.error(
            f"KERAS_BACKEND={backend}, but {backend} is not installed "
            f"(pip install {backend})."
        )


def _check_positive(parser, flag, value, hint):
    if value <= 0:
        parser.error(
            f"{flag} must be a positive integer, got {value}. Hint: {hint}."
        )


def _rate(parser, flag, text, rule, zero=False):
    """A learning rate: a finite number > 0 (>= 0 with `zero`); an int
    such as 1 is a number too."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        parser.error(f"{flag} must be {rule}, got {text!r}.")
    in_range = value >= 0 if zero else value > 0
    if isinstance(text, bool) or not (math.isfinite(value) and in_range):
        parser.error(f"{flag} must be {rule}, got {text!r}.")
    return value


def _seeds(parser, args):
    if args.seeds is None:
        return [args.seed]
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        parser.error(
            f"--seeds must be integers separated by commas, e.g. 1,2,3; "
            f"got {args.seeds!r}."
        )
    if len(set(seeds)) != len(seeds) or min(seeds) < 0:
        parser.error(f"--seeds must be distinct and >= 0, got {args.seeds!r}.")
    return seeds


def _overrides(parser, items):
    """--set NAME=VALUE pairs, values read as JSON (else as strings).
    Rates (a name ending in learning_rate, warmup_target, min_lr, the
    values of piecewise) must be finite numbers >= 0."""
    overrides = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            parser.error(
                f"--set expects NAME=VALUE, got {item!r}. Hint: --set "
                "decay_rate=0.5"
            )
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text  # a string such as mode=triangular
        rule = "a finite number >= 0"
        if name == "values":
            if not isinstance(value, list) or not value:
                parser.error(f"--set values must be a list, got {text!r}.")
            value = [
                _rate(parser, "--set values", v, rule, True) for v in value
            ]
        elif name.endswith("learning_rate") or name in RATE_NAMES:
            if not (name == "warmup_target" and value is None):
                value = _rate(parser, f"--set {name}", value, rule, True)
        overrides[name] = value
    return overrides


def _check_folders(parser, args):
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        parser.error(
            f"--data-dir {args.data_dir!r} does not exist. Hint: point it "
            "at a folder with the course's train_signs.h5 and "
            "test_signs.h5, or CS230's 64x64_SIGNS folders."
        )
    # The nearest existing folder of --log-dir must be a writable folder.
    path = os.path.abspath(args.log_dir)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    if not os.path.isdir(path) or not os.access(path, os.W_OK | os.X_OK):
        what = "is a file" if os.path.isfile(path) else "is not writable"
        parser.error(
            f"--log-dir {args.log_dir!r}: {path!r} {what}; logs need a "
            "folder that can be created or written."
        )


def _check_combinations(parser, args):
    needed = STRATEGY_BACKENDS.get(args.strategy)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if args.strategy == "multiworker" and backend != needed:
        parser.error(f"{MULTIWORKER_NEEDS_JAX} (got {backend!r}).")
    _check_cluster(parser, args)
    if needed is not None and backend != needed:
        parser.error(
            f"--strategy {args.strategy} needs KERAS_BACKEND={needed}, "
            f"got {backend!r}."
        )
    if args.strategy != "none" and (args.find_lr or args.lr == "auto"):
        parser.error("--find-lr and --lr auto run on one device only.")
    one = args.schedule != "all"
    if not one and args.find_lr:
        parser.error("--find-lr runs before one schedule, not with 'all'.")
    if not one and (args.lr is not None or args.overrides):
        parser.error("--lr and --set apply to one schedule, not to 'all'.")
    if one and len(args.seeds) > 1:
        parser.error("--seeds is for --schedule all; use --seed for one run.")
    if one and args.jobs is not None:
        parser.error("--jobs is for --schedule all (one run is one process).")
    if args.strategy != "none" and (args.jobs or 1) > 1:
        parser.error(
            f"--jobs trains runs side by side on one device each; with "
            f"--strategy {args.strategy}, use --jobs 1."
        )


def _check_cluster(parser, args):
    """--coordinator, --num-processes, --process-id (or Keras's variables):
    all three, or none (JAX finds the cluster), only with multiworker."""
    given = [
        flag
        for flag in ("coordinator", "num_processes", "process_id")
        if getattr(args, flag) is not None
    ]
    if args.strategy != "multiworker":
        if given:
            flag = "--" + given[0].replace("_", "-")
            parser.error(f"{flag} is for --strategy multiworker.")
        return
    for flag, variable in CLUSTER_VARIABLES.items():
        text = os.environ.get(variable)
        if getattr(args, flag) is None and text:
            value = text.split(",")[0] if flag == "coordinator" else text
            if flag != "coordinator":
                value = _integer(parser, f"${variable}", value)
            setattr(args, flag, value)
    values = (args.coordinator, args.num_processes, args.process_id)
    if any(v is None for v in values) and any(v is not None for v in values):
        parser.error(
            "--coordinator, --num-processes and --process-id go together "
            f"(or none, where JAX finds the cluster); got {values}."
        )
    if args.coordinator is not None:
        host, _, port = args.coordinator.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            parser.error(
                "--coordinator must be HOST:PORT (a port in 1-65535), got "
                f"{args.coordinator!r}."
            )
        if args.num_processes < 1:
            parser.error(
                f"--num-processes must be >= 1, got {args.num_processes}."
            )
        if not 0 <= args.process_id < args.num_processes:
            parser.error(
                f"--process-id must be in 0 .. {args.num_processes - 1} "
                f"(--num-processes {args.num_processes}), got "
                f"{args.process_id}."
            )
    _check_positive(parser, "--peer-timeout", args.peer_timeout, "try 120")


def _integer(parser, name, text):
    try:
        return int(text)
    except ValueError:
        parser.error(f"{name} must be an integer, got {text!r}.")


def error(message):
    """Exits 2 with one line, like a bad argument."""
    _parser().error(message)
