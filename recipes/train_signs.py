"""
Title: SIGNS hand signs: the course's softmax classifier with every schedule
Description: Trains the three-layer ReLU network of deeplearning.ai's
    Course 2 week 3 (or the Course 4 ConvNet) on the real SIGNS data (64x64
    photos of hands showing 0-5 fingers; 1080 train, 120 test) with a
    learning-rate schedule from keras_lrtools, logs every update to
    TensorBoard (learning rate, Adam's effective step, loss, accuracy),
    guards against a rate that kills training, and compares schedules.
Backends: tensorflow, jax, torch (set KERAS_BACKEND before running); a GPU
    is used whenever the backend sees one. Several devices:
    `--strategy mirrored` (tf.distribute) or, on jax, `--strategy
    data_parallel` (keras.distribution); `--scale-lr linear` scales the
    rates with the global batch (Goyal et al., 2017).
Runtime: one schedule at the defaults (150 epochs) takes 20-30 s on a
    2-core CPU; `--schedule all` about 6.5 minutes; `--smoke` seconds.
Expected result: see the sweep table in README.md; the course's own run,
    `--schedule constant --lr 0.0001 --epochs 1500`, ended at 1.000
    train and 0.850 test accuracy here (the course printed 0.999, 0.717).

Usage:
    python recipes/train_signs.py --schedule cosine
    python recipes/train_signs.py --schedule all
    python recipes/train_signs.py --list
    python recipes/train_signs.py --strategy mirrored --scale-lr linear
    tensorboard --logdir logs --samples_per_plugin scalars=100000

Output: a progress line every few epochs, whose mean_loss and
mean_train_acc are Keras's running means over the epoch's batches (the
weights change meanwhile), then `RESULT ... train_accuracy=...
test_accuracy=...`, both evaluated after training on the whole sets.

Every schedule's defaults are written for this task (batch 32, 34 updates
an epoch) in `_defaults` below, tabled in recipes/README.md and printed by
`--list`; `--lr` sets the schedule's main rate and `--set NAME=VALUE` any
of its other arguments.
"""

import argparse
import contextlib
import csv
import datetime
import json
import math
import os
import sys
import time

import numpy as np

# Quiet TensorFlow's start-up logging unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Constants of the task. The course reached 0.717 test accuracy after 1500
# epochs at a constant 1e-4.
COURSE_TEST_ACCURACY = 0.717
DEFAULT_EPOCHS = 150
DEFAULT_BATCH_SIZE = 32
SMOKE_TRAIN_PER_CLASS = 30
SMOKE_TEST_PER_CLASS = 10
SMOKE_EPOCHS = 3
NUM_CLASSES = 6
FINDER_STEPS = 1000  # about 30 epochs: this network learns slowly
SMOKE_FINDER_STEPS = 100


def check_backend_installed():
    """Exit 2 with one line if KERAS_BACKEND names a missing package (the
    main install brings tensorflow; jax and torch are installed apart)."""
    import importlib.util

    backend = os.environ.get("KERAS_BACKEND")
    if backend in ("jax", "torch") and not importlib.util.find_spec(backend):
        print(
            f"train_signs.py: error: KERAS_BACKEND={backend}, but {backend} "
            f"is not installed (pip install {backend}).",
            file=sys.stderr,
        )
        sys.exit(2)


if __name__ == "__main__":
    check_backend_installed()  # before anything imports Keras


def _defaults(epochs, updates_per_epoch, warmup_epochs=None):
    """Each schedule's arguments for this task, and the name of the one
    `--lr` sets. Lengths are optimizer updates, derived from epochs in one
    place (keras_lrtools.steps_from_epochs).

    The peaks are 3e-4, reached after a slow start. Measured on this
    network with Adam (seeds 1-3): a constant rate collapses some seeds
    even at the course's 1e-4 (every ReLU dies in the first epochs); a
    5-epoch warmup to 3e-4 still kills them, a 15- or 30-epoch one does
    not, and then trains several times faster than 1e-4. So every
    schedule ramps up over `warmup_epochs` (default: 20 epochs, at most a
    fifth of the run); decays without a warmup of their own get one from
    keras_lrtools.schedules.Warmup (see WARMED_UP).
    """
    from keras_lrtools import steps_from_epochs

    def steps(n_epochs):
        return max(steps_from_epochs(n_epochs, updates_per_epoch), 1)

    total = steps(epochs)
    tenth = max(total // 10, 1)
    warm = warmup_steps(epochs, updates_per_epoch, warmup_epochs)
    peak = 3e-4
    # Also the base of "plateau", which adds ReduceLROnPlateau on top.
    cosine = dict(
        initial_learning_rate=0.0,
        decay_steps=total - warm,
        alpha=0.01,
        warmup_target=peak,
        warmup_steps=warm,
    )
    return {
        "constant": ("learning_rate", dict(learning_rate=1e-4)),
        "exponential": (
            "initial_learning_rate",
            dict(initial_learning_rate=peak, decay_steps=tenth, decay_rate=0.7),
        ),
        "natural": (
            "initial_learning_rate",
            dict(
                initial_learning_rate=peak,
                decay_steps=tenth,
                decay_rate=0.3,
                staircase=True,
            ),
        ),
        "inverse_time": (
            "initial_learning_rate",
            dict(initial_learning_rate=peak, decay_steps=tenth, decay_rate=0.5),
        ),
        "piecewise": (
            "values",
            dict(
                boundaries=[total // 2, 3 * total // 4],
                values=[3e-4, 7.5e-5, 2e-5],
            ),
        ),
        "polynomial": (
            "initial_learning_rate",
            dict(
                initial_learning_rate=peak,
                decay_steps=total,
                end_learning_rate=3e-6,
                power=1.0,
            ),
        ),
        "cosine": ("warmup_target", cosine),
        "cosine_restarts": (
            "initial_learning_rate",
            dict(
                initial_learning_rate=peak,
                first_decay_steps=max(warm, 1),
                t_mul=2.0,
                m_mul=0.8,
                alpha=0.05,
            ),
        ),
        "linear_cosine": (
            "initial_learning_rate",
            dict(
                initial_learning_rate=peak,
                decay_steps=total,
                num_periods=0.5,
                alpha=0.0,
                beta=0.01,
            ),
        ),
        "noisy_linear_cosine": (
            "initial_learning_rate",
            dict(
                initial_learning_rate=peak,
                decay_steps=total,
                initial_variance=0.1,
                variance_decay=0.55,
                num_periods=0.5,
                beta=0.01,
                seed=0,
            ),
        ),
        "cyclical": (
            "maximal_learning_rate",
            dict(
                initial_learning_rate=3e-5,
                maximal_learning_rate=peak,
                step_size=max(warm, 1),
                mode="triangular2",
            ),
        ),
        "one_cycle": (
            "maximal_learning_rate",
            dict(
                maximal_learning_rate=peak,
                total_steps=total,
                pct_start=0.25,
                div_factor=25.0,
                final_div_factor=1e3,
            ),
        ),
        "warmup_stable_decay": (
            "peak_learning_rate",
            dict(
                peak_learning_rate=peak,
                warmup_steps=warm,
                stable_steps=total - warm - 2 * tenth,
                decay_steps=2 * tenth,
                final_learning_rate=3e-6,
                decay_shape="1-sqrt",
            ),
        ),
        "inverse_sqrt": (
            "peak_learning_rate",
            dict(peak_learning_rate=peak, warmup_steps=warm),
        ),
        "plateau": (
            "warmup_target",
            dict(cosine, monitor="loss", factor=0.5, patience=10, min_lr=1e-6),
        ),
    }


# Decays that start at their peak: a linear warmup from 0 over
# --warmup-epochs (keras_lrtools.schedules.Warmup) is put in front.
WARMED_UP = (
    "exponential",
    "natural",
    "inverse_time",
    "piecewise",
    "polynomial",
    "cosine_restarts",
    "linear_cosine",
    "noisy_linear_cosine",
)
DEFAULT_WARMUP_EPOCHS = 20


def warmup_steps(epochs, updates_per_epoch, warmup_epochs=None):
    """Updates of warmup: `warmup_epochs`, by default 20 epochs but at
    most a fifth of the run (and at least one update)."""
    from keras_lrtools import steps_from_epochs

    total = steps_from_epochs(epochs, updates_per_epoch)
    if warmup_epochs is None:
        return max(
            min(
                steps_from_epochs(DEFAULT_WARMUP_EPOCHS, updates_per_epoch),
                total // 5,
            ),
            1,
        )
    return steps_from_epochs(warmup_epochs, updates_per_epoch)


SCHEDULE_NAMES = tuple(_defaults(DEFAULT_EPOCHS, 34))
STRATEGIES = ("none", "mirrored", "multiworker", "data_parallel")
# Measured with keras 3.15.1 and tensorflow 2.21.0 (two workers on
# 127.0.0.1, tests/distribution): fit() first fails to reduce the
# distributed batch it builds the model from, and past that, to reduce the
# scalar logs. Keras's own question: keras-team/keras#20585.
MULTIWORKER_BLOCKED = (
    "--strategy multiworker: Keras 3's model.fit does not run under "
    "tf.distribute.MultiWorkerMirroredStrategy (keras-team/keras#20585, "
    "tensorflow/tensorflow#72388; TensorFlow's own multi-worker Keras "
    "tutorial fails the same way). Train on the GPUs of one machine with "
    "--strategy mirrored, or with KERAS_BACKEND=jax and --strategy "
    "data_parallel."
)
# Arguments that are learning rates (scaled by --scale-lr linear).
RATE_ARGUMENTS = ("warmup_target", "values", "min_lr")
PLATEAU_ARGUMENTS = ("monitor", "factor", "patience", "min_lr")


# ---------------------------------------------------------------------------
# Arguments


def parse_arguments(argv):
    parser = argparse.ArgumentParser(
        prog="train_signs.py",
        description="Train the SIGNS classifier with a keras_lrtools "
        "schedule and compare schedules.",
        epilog="Example: python recipes/train_signs.py --schedule cosine "
        "--epochs 150; then: tensorboard --logdir logs "
        "--samples_per_plugin scalars=100000 (every update)",
    )
    parser.add_argument(
        "--schedule",
        default="cosine",
        help="one of: " + ", ".join(SCHEDULE_NAMES) + ", or 'all' for a "
        "sweep of every one (default: cosine)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the schedules and their defaults",
    )
    parser.add_argument(
        "--lr",
        default=None,
        help="the schedule's main rate (peak or initial), or 'auto' for "
        "the LR range test's suggestion",
    )
    parser.add_argument(
        "--find-lr",
        action="store_true",
        help="run the LR range test, save its plot under the log dir and "
        "print its suggestions",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="any other schedule argument, repeatable",
    )
    parser.add_argument(
        "--warmup-epochs",
        type=int,
        default=None,
        help="epochs of warmup of every schedule that ramps "
        "up; a linear one is put in front of "
        f"{', '.join(WARMED_UP)} (default "
        f"{DEFAULT_WARMUP_EPOCHS}, at most a fifth of the "
        "run; 0 for none)",
    )
    parser.add_argument(
        "--model",
        choices=("mlp", "convnet"),
        default="mlp",
        help="mlp: the course's Flatten-25-12-6 ReLU network (default); "
        "convnet: the Course 4 ConvNet",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help=f"default {DEFAULT_EPOCHS} ({SMOKE_EPOCHS} with --smoke)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help=f"pictures per update and replica (default {DEFAULT_BATCH_SIZE})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of the initial weights and the shuffling (default 1)",
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="SIGNS folder (default: $KERAS_LRTOOLS_DATA, "
        "./data/signs, the Keras cache, else download)",
    )
    parser.add_argument(
        "--log-dir", default="logs", help="TensorBoard root (default: logs)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a small real subset and a few epochs",
    )
    parser.add_argument(
        "--no-guard",
        action="store_true",
        help="do not stop on a collapse or NaN",
    )
    parser.add_argument(
        "--strategy",
        choices=STRATEGIES,
        default="none",
        help="data-parallel training on several devices: 'mirrored' "
        "(tf.distribute.MirroredStrategy, all local GPUs), 'data_parallel' "
        "(jax: keras.distribution.DataParallel over all devices); "
        "'multiworker' is refused with the reason (Keras 3 cannot fit "
        "under MultiWorkerMirroredStrategy); --batch-size is per replica "
        "(default: none, one device)",
    )
    parser.add_argument(
        "--scale-lr",
        choices=("none", "linear"),
        default="none",
        help="'linear': multiply every rate by global batch / "
        f"{DEFAULT_BATCH_SIZE}, the linear scaling rule with warmup of "
        "Goyal et al. (2017) (default: none)",
    )
    parser.add_argument(
        "--print-every",
        type=int,
        default=None,
        help="epochs between progress lines (default: about ten lines a run)",
    )
    args = parser.parse_args(argv)
    if args.list:
        return args, parser
    names = (*SCHEDULE_NAMES, "all")
    if args.schedule not in names:
        parser.error(
            f"unknown schedule {args.schedule!r}. Choose one of: "
            f"{', '.join(names)} (--list shows their defaults)."
        )
    if args.epochs is None:
        args.epochs = SMOKE_EPOCHS if args.smoke else DEFAULT_EPOCHS
    if args.epochs <= 0:
        parser.error(
            f"--epochs must be a positive integer, got "
            f"{args.epochs}. Hint: try --epochs {DEFAULT_EPOCHS}."
        )
    if args.warmup_epochs is not None and (
        args.warmup_epochs < 0 or args.warmup_epochs >= args.epochs
    ):
        parser.error(
            f"--warmup-epochs must be >= 0 and below --epochs "
            f"({args.epochs}), got {args.warmup_epochs}."
        )
    if args.batch_size <= 0:
        parser.error(
            f"--batch-size must be a positive integer, got "
            f"{args.batch_size}. Hint: the course used 32."
        )
    if args.lr is not None and args.lr != "auto":
        try:
            args.lr = float(args.lr)
        except ValueError:
            parser.error(
                f"--lr must be a positive number or 'auto', got {args.lr!r}."
            )
        if not (math.isfinite(args.lr) and args.lr > 0):
            parser.error(
                f"--lr must be a positive number or 'auto', got {args.lr}."
            )
    if args.print_every is not None and args.print_every <= 0:
        parser.error("--print-every must be a positive integer.")
    if args.data_dir is not None and not os.path.isdir(args.data_dir):
        parser.error(
            f"--data-dir {args.data_dir!r} does not exist. Hint: point it "
            "at a folder with the course's train_signs.h5 and "
            "test_signs.h5, or CS230's 64x64_SIGNS folders."
        )
    # One device unless main() creates a --strategy.
    args.replicas = 1
    try:
        args.overrides = _parse_overrides(args.set)
    except ValueError as error:
        parser.error(str(error))
    if args.strategy == "multiworker":
        parser.error(MULTIWORKER_BLOCKED)
    strategy_backend = {
        "mirrored": "tensorflow",
        "data_parallel": "jax",
    }.get(args.strategy)
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if strategy_backend is not None and backend != strategy_backend:
        parser.error(
            f"--strategy {args.strategy} needs KERAS_BACKEND="
            f"{strategy_backend}, got {backend!r}."
        )
    if args.strategy != "none" and (args.find_lr or args.lr == "auto"):
        parser.error("--find-lr and --lr auto run on one device only.")
    if args.schedule == "all" and args.find_lr:
        parser.error("--find-lr runs before one schedule, not with 'all'.")
    if args.schedule == "all" and (args.lr is not None or args.overrides):
        parser.error("--lr and --set apply to one schedule, not to 'all'.")
    return args, parser


def _parse_overrides(items):
    overrides = {}
    for item in items:
        name, sep, text = item.partition("=")
        if not sep or not name:
            raise ValueError(
                f"--set expects NAME=VALUE, got {item!r}. Hint: --set "
                "decay_rate=0.5"
            )
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text  # a string such as mode=triangular
        overrides[name] = value
    return overrides


def schedule_arguments(
    name, epochs, updates_per_epoch, lr=None, overrides=None, warmup_epochs=None
):
    """The arguments of schedule `name` for this run, defaults overridden."""
    main, arguments = _defaults(epochs, updates_per_epoch, warmup_epochs)[name]
    arguments = dict(arguments)
    if lr is not None:
        if main == "values":  # piecewise: scale the whole staircase
            first = arguments["values"][0]
            arguments["values"] = [v * lr / first for v in arguments["values"]]
        else:
            arguments[main] = lr
    for key, value in (overrides or {}).items():
        if key not in arguments:
            raise ValueError(
                f"--set {key}=...: schedule {name!r} has no argument "
                f"{key!r}; it has {sorted(arguments)}."
            )
        arguments[key] = value
    return arguments


def scale_rates(arguments, factor):
    """The arguments with every learning rate multiplied by `factor`."""
    scaled = dict(arguments)
    for key, value in arguments.items():
        if key.endswith("learning_rate") or key in RATE_ARGUMENTS:
            if isinstance(value, list):
                scaled[key] = [v * factor for v in value]
            else:
                scaled[key] = value * factor
    return scaled


def print_schedule_list(updates_per_epoch):
    print(
        f"Schedules and their defaults ({DEFAULT_EPOCHS} epochs, "
        f"{updates_per_epoch} updates an epoch; --lr sets the one marked "
        f"*; + = after a {DEFAULT_WARMUP_EPOCHS}-epoch linear warmup):"
    )
    for name, (main, arguments) in _defaults(
        DEFAULT_EPOCHS, updates_per_epoch
    ).items():
        text = ", ".join(
            f"{key}{'*' if key == main else ''}={value}"
            for key, value in arguments.items()
        )
        mark = "+" if name in WARMED_UP else " "
        print(f"  {name:<20}{mark} {text}")


# ---------------------------------------------------------------------------
# Data, model, schedule


def make_datasets(args):
    """SIGNS scaled to [0, 1] (a small class-balanced subset with --smoke)."""
    from keras_lrtools.datasets import signs

    (x_train, y_train), (x_test, y_test) = signs.load_data(args.data_dir)
    if args.smoke:
        x_train, y_train = _per_class(x_train, y_train, SMOKE_TRAIN_PER_CLASS)
        x_test, y_test = _per_class(x_test, y_test, SMOKE_TEST_PER_CLASS)
    scale = np.float32(1.0 / 255.0)
    return (
        (x_train.astype("float32") * scale, y_train),
        (x_test.astype("float32") * scale, y_test),
    )


def _per_class(x, y, count):
    keep = np.concatenate(
        [np.flatnonzero(y == c)[:count] for c in range(NUM_CLASSES)]
    )
    return x[keep], y[keep]


def build_model(name):
    import keras

    if name == "mlp":
        # LINEAR(25)-RELU-LINEAR(12)-RELU-LINEAR(6)-SOFTMAX (Course 2 week 3)
        layers = [
            keras.layers.Flatten(),
            keras.layers.Dense(25, activation="relu", name="relu_25"),
            keras.layers.Dense(12, activation="relu", name="relu_12"),
            keras.layers.Dense(
                NUM_CLASSES, activation="softmax", name="softmax"
            ),
        ]
    else:
        # CONV2D 8 4x4 -> RELU -> MAXPOOL 8x8 -> CONV2D 16 2x2 -> RELU ->
        # MAXPOOL 4x4 -> FLATTEN -> DENSE 6 SOFTMAX (Course 4 week 1)
        layers = [
            keras.layers.Conv2D(8, 4, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(8, 8, padding="same"),
            keras.layers.Conv2D(16, 2, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(4, 4, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(
                NUM_CLASSES, activation="softmax", name="softmax"
            ),
        ]
    return keras.Sequential([keras.Input((64, 64, 3)), *layers], name=name)


def make_schedule(name, arguments, warmup_steps=0, warm_up_constant=False):
    """Returns (learning rate for Adam, extra callbacks).

    `plateau` is the cosine schedule with keras_lrtools' ReduceLROnPlateau
    on top (it scales the schedule, where Keras's callback would raise).
    With `warm_up_constant`, the constant rate is reached by a linear
    warmup too.
    """
    from keras_lrtools import schedules
    from keras_lrtools.callbacks import ReduceLROnPlateau

    if name == "constant":
        rate = arguments["learning_rate"]
        if warm_up_constant and warmup_steps > 0:
            return schedules.Warmup(rate, warmup_steps), []
        return rate, []
    if name == "plateau":
        plateau = {k: arguments[k] for k in PLATEAU_ARGUMENTS}
        cosine = {
            k: v for k, v in arguments.items() if k not in PLATEAU_ARGUMENTS
        }
        return schedules.get("cosine", **cosine), [
            ReduceLROnPlateau(verbose=0, **plateau)
        ]
    schedule = schedules.get(name, **arguments)
    if name in WARMED_UP and warmup_steps > 0:
        schedule = schedules.Warmup(schedule, warmup_steps)
    return schedule, []


# ---------------------------------------------------------------------------
# Training


def global_batch_size(args):
    """Pictures per update: --batch-size on each replica."""
    return args.batch_size * args.replicas


class Distribution:
    """The --strategy in force: its scope and number of replicas.

    One process trains (MirroredStrategy, DataParallel over local
    devices), so it is the chief: the callbacks write and print there.
    """

    def __init__(self, scope, replicas, description):
        self.scope = scope
        self.replicas = replicas
        self.description = description


def make_distribution(name):
    """Creates the --strategy (before any other TensorFlow op)."""

    import keras

    if name == "none":
        return Distribution(contextlib.nullcontext, 1, None)
    if name == "mirrored":
        import tensorflow as tf

        # Every local GPU; without one, every logical CPU (one, unless
        # split with tf.config.set_logical_device_configuration).
        devices = tf.config.list_logical_devices(
            "GPU"
        ) or tf.config.list_logical_devices("CPU")
        strategy = tf.distribute.MirroredStrategy(
            devices=[d.name for d in devices]
        )
        replicas = strategy.num_replicas_in_sync
        return Distribution(
            strategy.scope,
            replicas,
            f"{type(strategy).__name__}, {replicas} replicas",
        )
    devices = keras.distribution.list_devices()
    distribution = keras.distribution.DataParallel(devices=devices)
    return Distribution(
        distribution.scope,
        len(devices),
        f"keras.distribution.DataParallel, {len(devices)} devices",
    )


def device_description():
    import keras

    backend = keras.backend.backend()
    gpus = []
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    elif backend == "jax":
        import jax

        gpus = [str(d) for d in jax.devices() if d.platform == "gpu"]
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            gpus = [torch.cuda.get_device_name(0)]
    if gpus:
        return backend, True, f"GPU ({', '.join(gpus)})"
    return backend, False, f"CPU ({os.cpu_count()} cores)"


def _input_pipeline(backend, train, test, batch_size, args):
    """fit()'s data arguments.

    On tensorflow, cached tf.data pipelines: the training one shuffled
    every epoch, the test set as one batch (validation every epoch costs
    one small call). On jax and torch, which need no TensorFlow, NumPy
    arrays shuffled and batched by Keras.
    """
    (x, y), (x_test, y_test) = train, test
    if backend != "tensorflow":
        return dict(
            x=x,
            y=y,
            batch_size=batch_size,
            shuffle=True,
            validation_data=(x_test, y_test),
            validation_batch_size=len(x_test),
        )
    import tensorflow as tf

    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .cache()
        .shuffle(len(x), seed=args.seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    validation = (
        tf.data.Dataset.from_tensor_slices((x_test, y_test))
        .batch(len(x_test))
        .cache()
    )
    # The pipeline shuffles; Keras's own shuffle would warn.
    return dict(x=dataset, shuffle=False, validation_data=validation)


def make_progress(every, epochs):
    """A callback that prints a line every `every` epochs.

    It also keeps the per-epoch record of the run. keras is imported here,
    not at start-up, so that argument errors come back fast.
    """
    import keras

    class Progress(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.learning_rates, self.test_accuracy = [], []
            self.train_accuracy, self.losses = [], []

        def on_epoch_begin(self, epoch, logs=None):
            # LR of the epoch's first update (plateau scale included).
            self.learning_rates.append(
                float(
                    keras.ops.convert_to_numpy(
                        self.model.optimizer.learning_rate
                    )
                )
            )

        def on_epoch_end(self, epoch, logs=None):
            self.losses.append(float(logs["loss"]))
            self.train_accuracy.append(float(logs["accuracy"]))
            self.test_accuracy.append(float(logs.get("val_accuracy", 0)))
            if (epoch + 1) % every == 0 or epoch + 1 == epochs:
                print(
                    f"  epoch {epoch + 1:>5}/{epochs}  mean_loss "
                    f"{logs['loss']:.4f}  mean_train_acc "
                    f"{logs['accuracy']:.3f}  test_acc "
                    f"{logs.get('val_accuracy', float('nan')):.3f}  lr "
                    f"{self.learning_rates[-1]:.3g}",
                    flush=True,
                )

    return Progress()


def prepare_run(name, args, data, log_dir, lr=None, overrides=None):
    """Builds the run of schedule `name` without training.

    Returns (model, fit keyword arguments, progress callback, guard or
    None); `model.fit(**fit_arguments)` trains it. Also writes run.json.
    """
    import keras

    from keras_lrtools import steps_per_epoch
    from keras_lrtools.callbacks import LearningRateGuard
    from keras_lrtools.callbacks import StepRecorder
    from keras_lrtools.callbacks import StepTensorBoard

    (x_train, y_train), (x_test, y_test) = data
    backend, on_gpu, _ = device_description()
    batch_size = global_batch_size(args)
    updates_per_epoch = steps_per_epoch(len(x_train), batch_size)
    arguments = schedule_arguments(
        name,
        args.epochs,
        updates_per_epoch,
        lr,
        overrides,
        args.warmup_epochs,
    )
    if args.scale_lr == "linear":
        arguments = scale_rates(arguments, batch_size / DEFAULT_BATCH_SIZE)
    keras.utils.set_random_seed(args.seed)
    learning_rate, extra_callbacks = make_schedule(
        name,
        arguments,
        warmup_steps(args.epochs, updates_per_epoch, args.warmup_epochs),
        # Goyal et al.: a scaled rate needs a gradual warmup; the decays
        # have theirs, a constant gets one here.
        warm_up_constant=args.scale_lr == "linear",
    )
    model = build_model(args.model)
    # One compiled call per epoch; torch's trainer allows only 1, and so
    # does Keras under tf.distribute (keras-team/keras#19246: its
    # multi-step loop fails there). No XLA for tensorflow on CPU (many
    # times slower for this network).
    one_step = backend == "torch" or args.strategy == "mirrored"
    steps_per_execution = 1 if one_step else updates_per_epoch
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy", StepRecorder()],
        steps_per_execution=steps_per_execution,
        jit_compile="auto" if (on_gpu or backend == "jax") else False,
    )
    progress = make_progress(
        args.print_every or max(1, args.epochs // 10), args.epochs
    )
    callbacks = [*extra_callbacks, progress, StepTensorBoard(log_dir)]
    guard = None
    if not args.no_guard:
        # 64 pictures and every 5 epochs: the dead-ReLU test is a forward
        # pass that costs more than an epoch's training otherwise.
        guard = LearningRateGuard(
            num_classes=NUM_CLASSES, sample=x_train[:64], probe_every_epochs=5
        )
        callbacks.append(guard)
    _write_json(
        os.path.join(log_dir, "run.json"),
        {
            "schedule": name,
            "arguments": arguments,
            "model": args.model,
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "global_batch_size": batch_size,
            "replicas": args.replicas,
            "strategy": args.strategy,
            "scale_lr": args.scale_lr,
            "seed": args.seed,
            "backend": backend,
            "warmup_steps": warmup_steps(
                args.epochs, updates_per_epoch, args.warmup_epochs
            ),
            "warmed_up": name in WARMED_UP,
        },
    )
    fit_arguments = dict(
        epochs=args.epochs,
        verbose=0,
        callbacks=callbacks,
        **_input_pipeline(
            backend, (x_train, y_train), (x_test, y_test), batch_size, args
        ),
    )
    return model, fit_arguments, progress, guard


def train_one(name, args, data, log_dir, lr=None, overrides=None):
    """Trains with schedule `name`; returns the run's summary dict."""
    from keras_lrtools import steps_per_epoch

    (x_train, y_train), (x_test, y_test) = data
    updates_per_epoch = steps_per_epoch(len(x_train), global_batch_size(args))
    model, fit_arguments, progress, guard = prepare_run(
        name, args, data, log_dir, lr, overrides
    )
    start = time.perf_counter()
    model.fit(**fit_arguments)
    seconds = time.perf_counter() - start
    _, train_accuracy = model.evaluate(x_train, y_train, verbose=0)[:2]
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)[:2]
    reached = next(
        (
            i + 1
            for i, a in enumerate(progress.test_accuracy)
            if a >= COURSE_TEST_ACCURACY
        ),
        None,
    )
    summary = {
        "schedule": name,
        "model": args.model,
        "epochs": len(progress.losses),
        "train_accuracy": float(train_accuracy),
        "test_accuracy": float(test_accuracy),
        "best_test_accuracy": max(progress.test_accuracy, default=0.0),
        "epochs_to_course_accuracy": reached,
        "seconds": seconds,
        "updates_per_second": len(progress.losses)
        * updates_per_epoch
        / seconds,
        "guard": [d.symptom for d in guard.diagnoses] if guard else [],
        "learning_rates": progress.learning_rates,
        "test_accuracies": progress.test_accuracy,
    }
    _write_json(os.path.join(log_dir, "summary.json"), summary)
    print(
        f"RESULT schedule={name} model={args.model} "
        f"epochs={summary['epochs']} "
        f"train_accuracy={summary['train_accuracy']:.4f} "
        f"test_accuracy={summary['test_accuracy']:.4f} "
        f"seconds={seconds:.1f}",
        flush=True,
    )
    return summary


def _write_json(path, content):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temporary = path + ".tmp"
    with open(temporary, "w") as file:
        json.dump(content, file, indent=2)
    os.replace(temporary, path)  # never a half-written file


def _new_folder(root, stem):
    """`root/stem-<timestamp>`, never an existing folder."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = os.path.join(root, f"{stem}-{stamp}")
    suffix = 1
    while os.path.exists(folder):
        suffix += 1
        folder = os.path.join(root, f"{stem}-{stamp}-{suffix}")
    os.makedirs(folder)
    return folder


def find_rate(args, data, folder):
    """The LR range test on the training data (a fresh model, this seed).

    FINDER_STEPS (with --smoke SMOKE_FINDER_STEPS) updates from 1e-6 to
    0.1; saves lr_find.png and
    lr_find.json in `folder`; returns the default rule's suggestion.
    """
    import keras

    from keras_lrtools import find_learning_rate

    (x_train, y_train), _ = data
    keras.utils.set_random_seed(args.seed)
    model = build_model(args.model)
    model.compile(
        keras.optimizers.Adam(1e-4), "sparse_categorical_crossentropy"
    )
    result = find_learning_rate(
        model,
        x_train,
        y_train,
        min_lr=1e-6,
        max_lr=0.1,
        num_steps=SMOKE_FINDER_STEPS if args.smoke else FINDER_STEPS,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    path = result.plot(
        os.path.join(folder, "lr_find.png"),
        title=f"LR range test: SIGNS {args.model}, Adam",
    )
    suggestions = result.suggestions()
    _write_json(
        os.path.join(folder, "lr_find.json"),
        {
            "suggestions": suggestions,
            "suggestion": result.suggestion(),
            "stop_reason": result.stop_reason,
            "learning_rates": result.learning_rates.tolist(),
            "losses": result.losses.tolist(),
        },
    )
    print(
        "LR range test: "
        + ", ".join(f"{name} {rate:.3g}" for name, rate in suggestions.items())
        + f"; suggestion: {result.suggestion():.3g}; plot: {path}",
        flush=True,
    )
    return result.suggestion()


# ---------------------------------------------------------------------------
# Sweep report


def write_sweep_report(folder, summaries):
    """Markdown table, CSV and a PNG figure comparing the schedules."""
    columns = [
        "schedule",
        "final_test_accuracy",
        "best_test_accuracy",
        f"epochs_to_{COURSE_TEST_ACCURACY}",
        "train_accuracy",
        "seconds",
        "guard",
    ]
    rows = [
        [
            s["schedule"],
            f"{s['test_accuracy']:.3f}",
            f"{s['best_test_accuracy']:.3f}",
            str(s["epochs_to_course_accuracy"] or "never"),
            f"{s['train_accuracy']:.3f}",
            f"{s['seconds']:.1f}",
            ",".join(s["guard"]) or "-",
        ]
        for s in summaries
    ]
    with open(os.path.join(folder, "summary.csv"), "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        writer.writerows(rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    table = "\n".join(lines) + "\n"
    with open(os.path.join(folder, "summary.md"), "w") as file:
        file.write(table)
    _plot_sweep(os.path.join(folder, "summary.png"), summaries)
    return table


def _plot_sweep(path, summaries):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 9), sharex=True)
    colors = plt.get_cmap("tab20").colors
    for index, summary in enumerate(summaries):
        epochs = np.arange(1, len(summary["learning_rates"]) + 1)
        color = colors[index % len(colors)]
        top.plot(
            epochs,
            summary["learning_rates"],
            color=color,
            label=summary["schedule"],
        )
        bottom.plot(epochs, summary["test_accuracies"], color=color)
    top.set_yscale("log")
    top.set_ylabel("learning rate (first update of the epoch)")
    top.legend(ncol=3, fontsize=8)
    bottom.axhline(
        COURSE_TEST_ACCURACY,
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"course: {COURSE_TEST_ACCURACY}",
    )
    bottom.set_ylabel("test accuracy")
    bottom.set_xlabel("epoch")
    bottom.legend(fontsize=8)
    figure.suptitle("SIGNS, course MLP with Adam: schedules compared")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# ---------------------------------------------------------------------------


def main(argv=None):
    args, _ = parse_arguments(argv)
    if args.list:
        from keras_lrtools import steps_per_epoch

        print_schedule_list(steps_per_epoch(1080, DEFAULT_BATCH_SIZE))
        return 0
    distribution = make_distribution(args.strategy)
    args.replicas = distribution.replicas
    with distribution.scope():
        return run(args, distribution)


def run(args, distribution):
    """Trains what the arguments ask for; returns the exit status."""
    from keras_lrtools.datasets.signs import SignsDataError

    try:
        data = make_datasets(args)
    except SignsDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    backend, _, device = device_description()
    batch_size = global_batch_size(args)
    if args.strategy == "data_parallel":
        # jax splits every batch evenly over the devices.
        sizes = (len(data[0][0]) % batch_size or batch_size, len(data[1][0]))
        if any(size % args.replicas for size in sizes):
            print(
                f"error: --strategy data_parallel splits each batch over "
                f"{args.replicas} devices; the batch sizes {sizes} do not "
                "divide evenly. Change --batch-size.",
                file=sys.stderr,
            )
            return 2
    where = device
    if distribution.description:
        where += f" ({distribution.description}, global batch {batch_size})"
    print(
        f"Training on {where} with the {backend} backend; "
        f"{len(data[0][0])} train / {len(data[1][0])} test pictures.",
        flush=True,
    )
    if args.schedule != "all":
        # --find-lr alone trains nothing: its folder is named for the test.
        only_find = args.find_lr and args.lr != "auto"
        folder = _new_folder(
            args.log_dir, "lr_find" if only_find else args.schedule
        )
        from keras_lrtools.callbacks import tensorboard_command

        print(f"Logs: {folder}  ({tensorboard_command(args.log_dir)})")
        lr = args.lr
        if args.find_lr or lr == "auto":
            suggestion = find_rate(args, data, folder)
            if lr != "auto":
                return 0
            lr = suggestion
        try:
            train_one(args.schedule, args, data, folder, lr, args.overrides)
        except (TypeError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        return 0
    sweep = _new_folder(args.log_dir, "sweep")
    print(f"Sweep of {len(SCHEDULE_NAMES)} schedules into {sweep}")
    summaries = []
    for name in SCHEDULE_NAMES:
        print(f"-- {name}", flush=True)
        summaries.append(train_one(name, args, data, os.path.join(sweep, name)))
    table = write_sweep_report(sweep, summaries)
    print(table)
    print(
        f"Report: {os.path.join(sweep, 'summary.md')}, summary.csv, summary.png"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
