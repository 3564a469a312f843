"""What every benchmark shares: data, model, side-by-side timing, output."""

import argparse
import importlib.util
import json
import os
import platform
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
RECIPE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "recipes",
    "train_signs.py",
)


def _recipe_module(name):
    """A module beside the recipe, by file (no sys.path change)."""
    path = os.path.join(os.path.dirname(RECIPE), f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The recipe's threads for one process, before any backend starts: the
# benchmarks compare the recipe with fit under the same settings.
THREADS = _recipe_module("signs_threads")
ORIGINAL_ENVIRONMENT = dict(os.environ)  # for the recipe's own processes
THREADS.pin(THREADS.default_threads(jobs=1))
BATCH_SIZE = 32


def load_recipe():
    """recipes/train_signs.py as a module (its settings and functions)."""
    import sys

    if os.path.dirname(RECIPE) not in sys.path:
        sys.path.insert(0, os.path.dirname(RECIPE))
    spec = importlib.util.spec_from_file_location("train_signs", RECIPE)
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    return recipe


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def timing_arguments(argv, doc, rounds, epochs):
    """The timing benchmarks' command line: --rounds, --epochs, --out and
    --smoke (one round of one epoch, that only checks the script runs)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[1])
    parser.add_argument("--rounds", type=_positive, default=rounds)
    parser.add_argument("--epochs", type=_positive, default=epochs)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny run that only checks the script works",
    )
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.epochs = 1, 1
    return args


def signs_data(smoke=False):
    """SIGNS train pictures scaled to [0, 1] (256 of them with `smoke`)."""
    from keras_lrtools.datasets import signs

    (x, y), _ = signs.load_data()
    if smoke:
        x, y = x[:256], y[:256]
    return x.astype("float32") / 255.0, y


def course_mlp(learning_rate, metrics=("accuracy",), steps_per_execution=1):
    """The course's 25-12-6 softmax classifier under Adam, seed 1."""
    import keras

    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((64, 64, 3)),
            keras.layers.Flatten(),
            keras.layers.Dense(25, activation="relu"),
            keras.layers.Dense(12, activation="relu"),
            keras.layers.Dense(6, activation="softmax"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(learning_rate),
        "sparse_categorical_crossentropy",
        metrics=list(metrics),
        steps_per_execution=steps_per_execution,
        # XLA makes this small network many times slower on a CPU.
        jit_compile=False
        if keras.backend.backend() == "tensorflow"
        else "auto",
    )
    return model


def alternate(variants, rounds):
    """Times each variant once per round, in turn: A B C, A B C, ...

    `variants` maps a name to a function returning seconds. Returns
    {name: [seconds per round]}.
    """
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, measure in variants.items():
            times[name].append(measure())
    return times


# An epoch over this many times its variant's median epoch is counted as
# stalled. On tensorflow, Keras's fit stalls when it makes a new tf.data
# iterator every epoch: about one epoch in six ended 100-150 ms late on a
# 2-core CPU (never the raw loop's, nor on jax or torch). The recipe's
# pipeline repeats, with fit told each epoch's length, and does not.
STALL = 1.5


def alternate_epochs(runners, rounds, epochs):
    """Per round, each runner trains `epochs` epochs in turn: A B C, A B C.

    `runners` maps a name to a function of `epochs` returning each
    epoch's seconds. Short rounds side by side: the machine's load drifts
    less within one. Returns {name: {"all": [mean seconds per epoch, per
    round], "steady": the same without stalled epochs (see STALL),
    "stalls": their count}}.
    """
    rounds_of = {name: [] for name in runners}
    for _ in range(rounds):
        for name, run in runners.items():
            rounds_of[name].append(run(epochs))
    times = {}
    for name, per_round in rounds_of.items():
        limit = STALL * statistics.median(t for r in per_round for t in r)
        steady = [[t for t in r if t <= limit] or r for r in per_round]
        times[name] = {
            "all": [statistics.mean(r) for r in per_round],
            "steady": [statistics.mean(r) for r in steady],
            "stalls": sum(
                len(r) - len(k) for r, k in zip(per_round, steady, strict=True)
            ),
        }
    return times


def fit_runner(model, fit_arguments, warmup):
    """A runner (see alternate_epochs) of `model.fit(**fit_arguments)`.

    After `warmup` epochs (tracing, compiling, the first probes), each
    call trains `epochs` more and returns each one's seconds, from its
    begin to the next epoch's begin (the last one: to its end): every
    callback's work at an epoch's end and begin, without fit's own start
    and end (a 150-epoch run pays those once). Fails if an epoch did not
    run in full.
    """
    import time

    import keras

    class EpochClock(keras.callbacks.Callback):
        # Listed last: its hooks run after every other callback's.
        def on_train_begin(self, logs=None):
            self.begins, self.last_end = [], None

        def on_epoch_begin(self, epoch, logs=None):
            self.begins.append(time.perf_counter())

        def on_epoch_end(self, epoch, logs=None):
            self.last_end = time.perf_counter()

    clock = EpochClock()
    arguments = {
        key: value
        for key, value in fit_arguments.items()
        if key not in ("epochs", "initial_epoch")
    }
    arguments["callbacks"] = [*fit_arguments.get("callbacks", []), clock]

    def updates():
        return int(keras.ops.convert_to_numpy(model.optimizer.iterations))

    model.fit(**arguments, epochs=warmup)
    per_epoch = updates() // warmup
    done = warmup

    def run(epochs):
        nonlocal done
        model.fit(**arguments, initial_epoch=done, epochs=done + epochs)
        done += epochs
        if updates() != done * per_epoch:
            raise RuntimeError(f"{updates()} updates: training stopped early.")
        begins = clock.begins
        ends = [*begins[1:], clock.last_end]
        return [end - begin for begin, end in zip(begins, ends, strict=True)]

    return run


def ratio_stats(times, baseline, key="all"):
    """Each variant's time over the baseline's of the same round.

    `times`: alternate_epochs' result (its `key` entry), or {name:
    [seconds per round]}.
    """
    series = {
        name: value[key] if isinstance(value, dict) else value
        for name, value in times.items()
    }
    stats = {}
    for name, seconds in series.items():
        ratios = [
            t / base for t, base in zip(seconds, series[baseline], strict=True)
        ]
        stats[name] = {
            "median": statistics.median(ratios),
            "min": min(ratios),
            "max": max(ratios),
        }
    return stats


def environment():
    """Backend, machine and versions, recorded with every result."""
    import keras

    import keras_lrtools

    versions = {
        "python": platform.python_version(),
        "keras": keras.__version__,
        "keras_lrtools": keras_lrtools.__version__,
    }
    for name in ("tensorflow", "jax", "torch", "tensorboard"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            pass
    return {
        "backend": keras.backend.backend(),
        "cpu_threads": THREADS.in_force(),
        "versions": versions,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
    }


def write_result(result, lines, folder=RESULTS):
    """Writes `<benchmark>_<backend>.json` and `.md`; returns the .md path.

    Written to a temporary name and renamed, so an interrupted run never
    leaves a half-written result.
    """
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(folder, f"{result['benchmark']}_{result['backend']}")
    lines = [
        *lines,
        "",
        f"Machine: {result['machine']}",
        "",
        f"Versions: {result['versions']}",
        "",
    ]
    for suffix, text in (
        (".json", json.dumps(result, indent=2)),
        (".md", "\n".join(lines)),
    ):
        with open(stem + suffix + ".tmp", "w") as file:
            file.write(text)
        os.replace(stem + suffix + ".tmp", stem + suffix)
    return stem + ".md"
