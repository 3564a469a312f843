"""
Title: Training throughput of the recipe against bare fit and a raw loop
Description: Updates per second on SIGNS (course MLP, Adam, batch 32, the
    recipe's cosine schedule sized for its 150-epoch run) of
    (a) the recipe's own training (`recipes/train_signs.py`: per-step
    logging, guard, progress, the test set evaluated every epoch),
    (b) bare `model.fit` with the recipe's input pipeline, compiled calls
    and threads, and nothing else (no callbacks, no evaluation, no
    StepRecorder): what `fit` itself costs, the target's baseline;
    (c) plain `model.fit` with Keras's defaults on NumPy arrays; and
    (d) the backend's own raw loop of the same network, optimizer and
    schedule: a `tf.function` over an epoch (tensorflow), `jax.jit` of a
    `lax.scan` over an epoch of `stateless_call`/`stateless_apply` (jax),
    an eager loop of the Keras layers (torch). Each is prepared and warmed
    up once; then short rounds (--epochs each) alternate them, and each
    epoch is timed from its begin to the next one's (every callback's
    work in it; fit's own start and end, paid once in a run, left out).
    Ratios to (b) from the same round (stalled epochs, see
    _common.STALL, counted and kept). Target: the recipe at 0.90 of bare
    fit or better, on every backend. Run it in a process started with the
    recipe's thread settings (benchmarks/run_all.py does).
Runtime: 3-5 minutes a backend at the defaults; --smoke a few seconds.

Usage:
    KERAS_BACKEND=jax python benchmarks/throughput.py
    python benchmarks/throughput.py --smoke
"""

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import BATCH_SIZE
from _common import alternate_epochs
from _common import environment
from _common import fit_runner
from _common import load_recipe
from _common import ratio_stats
from _common import timing_arguments
from _common import write_result

TARGET = 0.90
SCHEDULE = "cosine"  # the recipe's default
WARMUP_EPOCHS = 5


def _recipe_args(recipe, smoke):
    """The recipe's defaults: a 150-epoch run (the window timed is its
    start, after the warm-up epochs)."""
    return recipe.signs_arguments.parse_arguments(
        ["--schedule", SCHEDULE] + (["--smoke"] if smoke else [])
    )


def _prepared_run(recipe, data, smoke, name):
    """(model, fit arguments) of the recipe's run on one device."""
    args = _recipe_args(recipe, smoke)
    model, fit_arguments, *_ = recipe.prepare_run(
        SCHEDULE,
        args.seed,
        args,
        data,
        tempfile.mkdtemp(prefix=f"bench-{name}-"),
        recipe.signs_strategy.make_distribution(args),  # one device
    )
    return model, fit_arguments


def _warmup(smoke):
    """Epochs that trace and compile what the run uses (the guard's probe
    first runs at epoch 5)."""
    return 1 if smoke else WARMUP_EPOCHS


def recipe_runner(recipe, data, smoke):
    """The recipe's fit: its callbacks and evaluation."""
    model, fit_arguments = _prepared_run(recipe, data, smoke, "recipe")
    return fit_runner(model, fit_arguments, _warmup(smoke))


def bare_fit_runner(recipe, data, smoke):
    """The recipe's model, compile and input pipeline; nothing else."""
    model, fit_arguments = _prepared_run(recipe, data, smoke, "bare")
    model.compile(
        optimizer=model.optimizer,
        loss=model.loss,
        metrics=["accuracy"],
        steps_per_execution=model.steps_per_execution,
        jit_compile=model.jit_compile,
    )
    bare = {
        key: value
        for key, value in fit_arguments.items()
        if key not in ("callbacks", "validation_data", "validation_batch_size")
    }
    return fit_runner(model, bare, _warmup(smoke))


def _schedule_and_model(recipe, data, smoke):
    """The recipe's network and LR schedule, seeded like the recipe."""
    import keras

    from keras_lrtools import steps_per_epoch
    from keras_lrtools.schedules import for_run

    args = _recipe_args(recipe, smoke)
    updates = steps_per_epoch(len(data[0][0]), BATCH_SIZE)
    plan = recipe.signs_schedules.plan(SCHEDULE, args, updates, BATCH_SIZE)
    keras.utils.set_random_seed(args.seed)
    schedule = for_run(*plan.sizes(), **plan.overrides)
    return schedule, recipe.build_model("mlp")


def plain_fit_runner(recipe, data, smoke):
    """Keras's defaults: compile(optimizer, loss, metrics), fit(x, y)."""
    import keras

    (x, y), _ = data
    schedule, model = _schedule_and_model(recipe, data, smoke)
    model.compile(
        keras.optimizers.Adam(schedule),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    arguments = dict(x=x, y=y, batch_size=BATCH_SIZE, verbose=0)
    return fit_runner(model, arguments, _warmup(smoke))


def raw_loop_runner(recipe, data, smoke):
    """The backend's own loop over shuffled epochs of full batches (the
    last, partial batch of each epoch is left out)."""
    import keras

    loop = {
        "tensorflow": _tensorflow_epoch,
        "jax": _jax_epoch,
        "torch": _torch_epoch,
    }[keras.backend.backend()]
    (x, y), _ = data
    schedule, model = _schedule_and_model(recipe, data, smoke)
    optimizer = keras.optimizers.Adam(schedule)
    optimizer.build(model.trainable_variables)
    loss = keras.losses.SparseCategoricalCrossentropy()
    batches = len(x) // BATCH_SIZE
    epoch = loop(model, optimizer, loss, x, y, batches)
    epoch()  # traces it
    # Scaled to the updates of fit's epochs, whose last batch is partial.
    scale = steps_per_epoch_of(x) / batches

    def run(epochs):
        seconds = []
        for _ in range(epochs):
            start = time.perf_counter()
            float(keras.ops.convert_to_numpy(epoch()))  # waits for it
            seconds.append((time.perf_counter() - start) * scale)
        return seconds

    return run


def steps_per_epoch_of(x):
    return -(-len(x) // BATCH_SIZE)


def _tensorflow_epoch(model, optimizer, loss_function, x, y, batches):
    import tensorflow as tf

    images, labels = tf.constant(x), tf.constant(y)

    @tf.function(jit_compile=False)
    def epoch():
        order = tf.random.shuffle(tf.range(len(x)))
        total = tf.constant(0.0)
        for step in tf.range(batches):
            batch = order[step * BATCH_SIZE : (step + 1) * BATCH_SIZE]
            with tf.GradientTape() as tape:
                predictions = model(tf.gather(images, batch), training=True)
                loss = loss_function(tf.gather(labels, batch), predictions)
            variables = model.trainable_variables
            optimizer.apply(tape.gradient(loss, variables), variables)
            total += loss
        return total / tf.cast(batches, tf.float32)

    return epoch


def _jax_epoch(model, optimizer, loss_function, x, y, batches):
    import jax

    images, labels = jax.numpy.asarray(x), jax.numpy.asarray(y)
    state = (
        [v.value for v in model.trainable_variables],
        [v.value for v in model.non_trainable_variables],
        [v.value for v in optimizer.variables],
    )

    def step(carry, batch):
        trainable, non_trainable, optimizer_variables = carry

        def loss_of(trainable):
            predictions, updated = model.stateless_call(
                trainable, non_trainable, images[batch], training=True
            )
            return loss_function(labels[batch], predictions), updated

        (loss, non_trainable), gradients = jax.value_and_grad(
            loss_of, has_aux=True
        )(trainable)
        trainable, optimizer_variables = optimizer.stateless_apply(
            optimizer_variables, gradients, trainable
        )
        state = (trainable, non_trainable, optimizer_variables)
        return tuple(list(part) for part in state), loss

    @jax.jit
    def run_epoch(state, key):
        order = jax.random.permutation(key, len(x))[: batches * BATCH_SIZE]
        state, losses = jax.lax.scan(
            step, state, order.reshape(batches, BATCH_SIZE)
        )
        return state, losses.mean()

    keys = iter(jax.random.split(jax.random.key(1), 100_000))

    def epoch():
        nonlocal state
        state, loss = run_epoch(state, next(keys))
        return loss

    return epoch


def _torch_epoch(model, optimizer, loss_function, x, y, batches):
    import torch

    images, labels = torch.as_tensor(x), torch.as_tensor(y)
    variables = model.trainable_variables

    def epoch():
        order = torch.randperm(len(x))
        total = 0.0
        for step in range(batches):
            batch = order[step * BATCH_SIZE : (step + 1) * BATCH_SIZE]
            loss = loss_function(
                labels[batch], model(images[batch], training=True)
            )
            for variable in variables:
                variable.value.grad = None
            loss.backward()
            optimizer.apply([v.value.grad for v in variables], variables)
            total += loss.detach()
        return total / batches

    return epoch


def run(rounds, epochs, smoke):
    recipe = load_recipe()
    args = _recipe_args(recipe, smoke)
    trained = _warmup(smoke) + rounds * epochs
    if trained > args.epochs:
        sys.exit(
            f"throughput.py: error: {trained} epochs (warm-up, then --rounds "
            f"x --epochs) run past the recipe's {args.epochs}-epoch schedule."
        )
    data = recipe.signs_data.load(args.data_dir, args.smoke)
    prepare = {
        "recipe": recipe_runner,
        "bare_fit": bare_fit_runner,
        "plain_fit": plain_fit_runner,
        "raw_loop": raw_loop_runner,
    }
    runners = {name: f(recipe, data, smoke) for name, f in prepare.items()}
    times = alternate_epochs(runners, rounds, epochs)
    updates = steps_per_epoch_of(data[0][0])  # per epoch
    baseline = "bare_fit"
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
        "epochs_per_round": epochs,
        "updates_per_epoch": updates,
        "seconds_per_epoch": times,
        "updates_per_second": {
            name: statistics.median(updates / t for t in seconds["all"])
            for name, seconds in times.items()
        },
        "baseline": baseline,
        "throughput_ratio_to_baseline": throughput_ratio,
        "target": TARGET,
    }


DESCRIPTIONS = {
    "recipe": "the recipe (per-step logging, guard, progress, test set "
    "every epoch)",
    "bare_fit": "bare model.fit with the recipe's pipeline, compiled calls "
    "and threads, nothing else",
    "plain_fit": "plain model.fit, Keras's defaults",
    "raw_loop": "the backend's raw compiled (or eager) epoch loop",
}


def markdown(result):
    lines = [
        f"# Training throughput ({result['backend']} backend)",
        "",
        f"SIGNS course MLP, Adam with the recipe's {result['schedule']} "
        f"schedule, batch 32, {result['updates_per_epoch']} updates an "
        f"epoch. {result['rounds']} rounds, each training every variant "
        f"{result['epochs_per_round']} epochs in turn (each prepared and "
        "warmed up once); an epoch is timed from its begin to the next "
        "one's, every callback's work included, fit's own start and end "
        "left out. Ratio = "
        f"{result['baseline']} time / variant time in the same round "
        f"(target for the recipe: >= {result['target']} of bare fit). "
        "Stalled epochs: over 1.5 times their variant's median "
        "(tensorflow's fit on a new tf.data iterator every epoch, see "
        "benchmarks/_common.py); counted, and kept in every figure.",
        "",
        "| variant | updates/s (median) | throughput ratio | min | max "
        "| stalled epochs |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    total = result["rounds"] * result["epochs_per_round"]
    for name, stats in result["throughput_ratio_to_baseline"].items():
        stalls = result["seconds_per_epoch"][name]["stalls"]
        lines.append(
            f"| {DESCRIPTIONS[name]} | "
            f"{result['updates_per_second'][name]:.0f} | "
            f"{stats['median']:.3f} | {stats['min']:.3f} | "
            f"{stats['max']:.3f} | {stalls} of {total} |"
        )
    return lines


def main(argv=None):
    # 5 warm-up epochs and 29 rounds of 5: the recipe's whole 150-epoch
    # schedule, the guard's probe (every 5 epochs) once in every round.
    args = timing_arguments(argv, __doc__, rounds=29, epochs=5)
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
