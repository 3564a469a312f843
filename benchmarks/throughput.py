"""
Title: Training throughput of the recipe against plain fit and a raw loop
Description: Updates per second on SIGNS (course MLP, Adam, batch 32) of
    (a) the recipe's own training set-up (`recipes/train_signs.py`: cached
    input pipeline, one compiled call per epoch, StepRecorder and
    StepTensorBoard logging every update, the guard, validation every
    epoch), (b) plain `model.fit` with Keras's defaults on the same NumPy
    arrays, and (c) a raw in-graph TensorFlow loop of the same network,
    optimizer and schedule: one `tf.function` runs a whole epoch (the
    physical limit here); and, to show where the gap lies, (d) model.fit
    with the recipe's pipeline and compiled calls but nothing else.
    Alternated per round; ratios to the raw loop from the same round.
    Target: the recipe at 0.90 of the raw loop or better. (c) and (d) need
    TensorFlow: on other backends only (a) and (b) run.
Runtime: about 3 minutes at the defaults; --smoke a few seconds.

Usage:
    python benchmarks/throughput.py    # writes benchmarks/results/
    python benchmarks/throughput.py --smoke
"""

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import BATCH_SIZE
from _common import alternate
from _common import environment
from _common import load_recipe
from _common import ratio_stats
from _common import timing_arguments
from _common import write_result

TARGET = 0.90
SCHEDULE = "cosine"  # the recipe's default


def _recipe_args(recipe, epochs, smoke):
    argv = ["--schedule", SCHEDULE, "--epochs", str(epochs)]
    args = recipe.signs_arguments.parse_arguments(
        argv + (["--smoke"] if smoke else [])
    )
    args.epochs = epochs  # --smoke would shorten the run
    return args


def time_recipe(recipe, data, epochs, smoke):
    """Seconds of `epochs` epochs of the recipe's fit, after a warm-up."""
    args = _recipe_args(recipe, epochs + 1, smoke)
    model, fit_arguments, *_ = recipe.prepare_run(
        SCHEDULE,
        args.seed,
        args,
        data,
        tempfile.mkdtemp(prefix="bench-recipe-"),
        recipe.signs_strategy.make_distribution(args),  # one device
    )
    model.fit(**{**fit_arguments, "epochs": 1})  # traces the functions
    start = time.perf_counter()
    model.fit(**{**fit_arguments, "epochs": epochs + 1, "initial_epoch": 1})
    return time.perf_counter() - start


def _schedule_and_model(recipe, data, epochs, smoke):
    """The recipe's network and LR schedule, seeded like the recipe."""
    import keras

    from keras_lrtools import steps_per_epoch
    from keras_lrtools.schedules import for_run

    args = _recipe_args(recipe, epochs + 1, smoke)
    updates = steps_per_epoch(len(data[0][0]), BATCH_SIZE)
    plan = recipe.signs_schedules.plan(SCHEDULE, args, updates, BATCH_SIZE)
    keras.utils.set_random_seed(args.seed)
    schedule = for_run(*plan.sizes(), **plan.overrides)
    return schedule, recipe.build_model("mlp")


def time_plain_fit(recipe, data, epochs, smoke):
    """Keras's defaults: compile(optimizer, loss, metrics), fit(x, y)."""
    import keras

    (x, y), _ = data
    schedule, model = _schedule_and_model(recipe, data, epochs, smoke)
    model.compile(
        keras.optimizers.Adam(schedule),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH_SIZE, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def time_tuned_fit(recipe, data, epochs, smoke):
    """The recipe's input pipeline and compiled calls, nothing else: no
    callbacks, no validation, no StepRecorder (what fit itself costs)."""
    import keras

    (x, y), _ = data
    schedule, model = _schedule_and_model(recipe, data, epochs, smoke)
    args = _recipe_args(recipe, epochs + 1, smoke)
    pipeline = recipe.signs_data.fit_inputs(
        "tensorflow", (x, y), data[1], BATCH_SIZE, args.seed
    )
    pipeline.pop("validation_data")
    model.compile(
        keras.optimizers.Adam(schedule),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=-(-len(x) // BATCH_SIZE),
        jit_compile=False,
    )
    model.fit(**pipeline, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(**pipeline, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def time_raw_loop(recipe, data, epochs, smoke):
    """A tf.function that runs a whole shuffled epoch of Adam updates."""
    import keras
    import tensorflow as tf

    (x, y), _ = data
    schedule, model = _schedule_and_model(recipe, data, epochs, smoke)
    optimizer = keras.optimizers.Adam(schedule)
    optimizer.build(model.trainable_variables)
    loss_function = keras.losses.SparseCategoricalCrossentropy()
    images, labels = tf.constant(x), tf.constant(y)
    count = len(x)
    updates = -(-count // BATCH_SIZE)

    @tf.function(jit_compile=False)
    def epoch():
        order = tf.random.shuffle(tf.range(count))
        total = tf.constant(0.0)
        for step in tf.range(updates):
            batch = order[step * BATCH_SIZE : (step + 1) * BATCH_SIZE]
            with tf.GradientTape() as tape:
                predictions = model(tf.gather(images, batch), training=True)
                loss = loss_function(tf.gather(labels, batch), predictions)
            variables = model.trainable_variables
            optimizer.apply(tape.gradient(loss, variables), variables)
            total += loss
        return total / tf.cast(updates, tf.float32)

    epoch()  # traces it
    start = time.perf_counter()
    for _ in range(epochs):
        loss = epoch()
    float(loss)  # waits for the last epoch
    return time.perf_counter() - start


def run(rounds, epochs, smoke):
    import keras

    recipe = load_recipe()
    args = _recipe_args(recipe, 1, smoke)
    data = recipe.signs_data.load(args.data_dir, args.smoke)
    updates = epochs * -(-len(data[0][0]) // BATCH_SIZE)
    variants = {
        "recipe": lambda: time_recipe(recipe, data, epochs, smoke),
        "plain_fit": lambda: time_plain_fit(recipe, data, epochs, smoke),
    }
    if keras.backend.backend() == "tensorflow":
        variants["tuned_fit"] = lambda: time_tuned_fit(
            recipe, data, epochs, smoke
        )
        variants["raw_loop"] = lambda: time_raw_loop(
            recipe, data, epochs, smoke
        )
    times = alternate(variants, rounds)
    baseline = "raw_loop" if "raw_loop" in times else "plain_fit"
    # Throughput ratio = baseline time / variant time (higher is faster).
    inverse = ratio_stats(times, baseline)
    throughput_ratio = {
        name: {
            "median": 1 / stats["median"],
            "min": 1 / stats["max"],
            "max": 1 / stats["min"],
        }
        for name, stats in inverse.items()
    }
    return {
        "benchmark": "throughput",
        **environment(),
        "schedule": SCHEDULE,
        "rounds": rounds,
        "epochs_per_run": epochs,
        "updates_per_run": updates,
        "seconds": times,
        "updates_per_second": {
            name: statistics.median(updates / t for t in seconds)
            for name, seconds in times.items()
        },
        "baseline": baseline,
        "throughput_ratio_to_baseline": throughput_ratio,
        "target": TARGET,
    }


DESCRIPTIONS = {
    "recipe": "recipe (cached tf.data, one compiled call per epoch, "
    "per-step logging, guard, validation every epoch)",
    "plain_fit": "plain model.fit, Keras's defaults",
    "tuned_fit": "model.fit with the recipe's pipeline and one compiled "
    "call per epoch, no callbacks, no validation",
    "raw_loop": "raw tf.function running a whole epoch",
}


def markdown(result):
    lines = [
        f"# Training throughput ({result['backend']} backend)",
        "",
        f"SIGNS course MLP, Adam with the recipe's {result['schedule']} "
        f"schedule, batch 32, {result['updates_per_run']} updates per timed "
        f"run, {result['rounds']} rounds alternating the variants. Ratio = "
        f"{result['baseline']} time / variant time in the same round "
        f"(target for the recipe: >= {result['target']} of the raw loop).",
        "",
        "| variant | updates/s (median) | throughput ratio | min | max |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, stats in result["throughput_ratio_to_baseline"].items():
        lines.append(
            f"| {DESCRIPTIONS[name]} | "
            f"{result['updates_per_second'][name]:.0f} | "
            f"{stats['median']:.3f} | {stats['min']:.3f} | "
            f"{stats['max']:.3f} |"
        )
    return lines


def main(argv=None):
    args = timing_arguments(argv, __doc__, rounds=5, epochs=20)
    result = run(args.rounds, args.epochs, args.smoke)
    path = write_result(result, markdown(result), args.out)
    for name, stats in result["throughput_ratio_to_baseline"].items():
        print(
            f"RESULT variant={name} "
            f"updates_per_second={result['updates_per_second'][name]:.0f} "
            f"ratio={stats['median']:.3f}"
        )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
