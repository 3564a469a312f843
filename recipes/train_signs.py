"""
Title: SIGNS hand signs with every learning-rate schedule
Description: Trains the three-layer ReLU network of deeplearning.ai's
    Course 2 week 3 (or the Course 4 ConvNet) on the real SIGNS data (64x64
    photos of hands showing 0-5 fingers; 1080 train, 120 test) with a
    keras_lrtools schedule, logs every update to TensorBoard (learning
    rate, Adam's effective step, loss, accuracy), guards against a rate
    that kills training, and compares schedules.
Backends: tensorflow, jax, torch (set KERAS_BACKEND); a GPU is used
    whenever the backend sees one.
Run:
    python recipes/train_signs.py --schedule cosine
    python recipes/train_signs.py --list
    python recipes/train_signs.py --schedule all --seeds 1,2,3
    python recipes/train_signs.py --find-lr
    python recipes/train_signs.py --strategy mirrored --scale-lr linear
    tensorboard --logdir logs --samples_per_plugin scalars=100000
Expected result: one schedule at the defaults (150 epochs) takes 20-30 s
    on a 2-core CPU and ends near 0.70-0.80 test accuracy (README.md's
    sweep table); the course's own run, `--schedule constant --lr 0.0001
    --epochs 1500`, ends at 1.000 train and 0.850 test accuracy (the
    course printed 0.999 and 0.717).

Output: a progress line every few epochs (mean_loss and mean_train_acc
are Keras's running means over the epoch, while the weights change), then
`RESULT ... train_accuracy=... test_accuracy=...`, both evaluated after
training on the whole sets. Every schedule is sized for the run by
`keras_lrtools.schedules.for_run` (`--list` prints its arguments): peak
3e-4 reached by a 20-epoch warmup (measured: a constant rate, even the
course's 1e-4, kills every ReLU on some seeds; a 15- or 30-epoch warmup to
3e-4 does not, and trains several times faster). `--lr` sets the peak,
`--set NAME=VALUE` any other argument. Beside this file, one job each:
signs_arguments.py (the command line), signs_schedules.py (each run's
plan for `for_run`), signs_data.py, signs_strategy.py (`--strategy`),
signs_finder.py (`--find-lr`), signs_sweep.py and signs_report.py
(`--schedule all`), signs_files.py.
"""

import os
import sys
import time

import signs_arguments
import signs_threads

if __name__ == "__main__":
    ARGS = signs_arguments.parse_arguments(sys.argv[1:])  # before Keras
    signs_threads.pin(ARGS.threads)  # each process its share of the cores

import keras_lrtools  # noqa: F401 (starts Keras without TensorFlow's noise)

# isort: split
import keras
import signs_data
import signs_finder
import signs_report
import signs_schedules
import signs_strategy
import signs_sweep
from signs_files import new_folder
from signs_files import write_json

from keras_lrtools import steps_per_epoch
from keras_lrtools.callbacks import LearningRateGuard
from keras_lrtools.callbacks import ReduceLROnPlateau
from keras_lrtools.callbacks import StepRecorder
from keras_lrtools.callbacks import StepTensorBoard
from keras_lrtools.callbacks import tensorboard_command
from keras_lrtools.hparams import log_session
from keras_lrtools.schedules import for_run


def build_model(name):
    if name == "mlp":
        # LINEAR(25)-RELU-LINEAR(12)-RELU-LINEAR(6)-SOFTMAX (Course 2 week 3)
        layers = [
            keras.layers.Flatten(),
            keras.layers.Dense(25, activation="relu", name="relu_25"),
            keras.layers.Dense(12, activation="relu", name="relu_12"),
        ]
    else:
        # CONV2D 8 4x4 -> RELU -> MAXPOOL 8x8 -> CONV2D 16 2x2 -> RELU ->
        # MAXPOOL 4x4 -> FLATTEN -> SOFTMAX (Course 4 week 1)
        layers = [
            keras.layers.Conv2D(8, 4, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(8, 8, padding="same"),
            keras.layers.Conv2D(16, 2, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(4, 4, padding="same"),
            keras.layers.Flatten(),
        ]
    softmax = keras.layers.Dense(6, activation="softmax", name="softmax")
    return keras.Sequential(
        [keras.Input((64, 64, 3)), *layers, softmax], name=name
    )


def prepare_run(name, seed, args, data, log_dir, distribution, lr=None):
    """(model, fit arguments, progress, guard, settings) of one run;
    writes the settings to run.json."""
    (x_train, y_train), test = data
    backend, on_gpu, _ = signs_strategy.device_description()
    batch_size = args.batch_size * distribution.replicas  # global
    updates_per_epoch = steps_per_epoch(len(x_train), batch_size)
    keras.utils.set_random_seed(seed)

    # The schedule, sized for this run by keras_lrtools' table.
    plan = signs_schedules.plan(name, args, updates_per_epoch, batch_size, lr)
    schedule = for_run(*plan.sizes(), **plan.overrides)
    plateau = ReduceLROnPlateau(**plan.plateau) if plan.plateau else None
    callbacks = [plateau] if plateau else []

    model = build_model(args.model)
    # One compiled call per epoch; torch's trainer allows only 1, and so
    # does Keras under tf.distribute (keras-team/keras#19246). No XLA for
    # tensorflow on CPU (many times slower for this network).
    one_step = backend == "torch" or args.strategy == "mirrored"
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        # With several steps per call, StepRecorder keeps each update's
        # loss and accuracy for StepTensorBoard (per-step logs at almost
        # no cost); with one, StepTensorBoard reads them step by step.
        metrics=["accuracy"] + ([] if one_step else [StepRecorder()]),
        steps_per_execution=1 if one_step else updates_per_epoch,
        jit_compile="auto" if (on_gpu or backend == "jax") else False,
    )
    if distribution.replicas == 1:  # else fit's validation_data
        callbacks.insert(0, signs_report.TestSetEvaluation(*test))
    every = args.print_every or max(1, args.epochs // 10)
    progress = signs_report.Progress(
        every, args.epochs, schedule, plan.total_steps, plateau
    )
    callbacks += [progress, StepTensorBoard(log_dir)]
    guard = None
    if not args.no_guard:
        # 64 pictures every 5 epochs: the dead-ReLU probe is a forward pass.
        # With one call per epoch the epoch's end sees the batches' loss;
        # no per-batch check keeps Keras's batch ends asynchronous (jax).
        guard = LearningRateGuard(
            num_classes=6,
            sample=x_train[:64],
            probe_every_epochs=5,
            check_every_batches=1 if one_step else 0,
        )
        callbacks.append(guard)

    settings = dict(plan.settings(), model=args.model, epochs=args.epochs)
    settings.update(seed=seed, backend=backend, strategy=args.strategy)
    settings.update(batch_size=args.batch_size, global_batch_size=batch_size)
    settings.update(cpu_threads=signs_threads.in_force())
    if distribution.is_chief:
        write_json(os.path.join(log_dir, "run.json"), settings)
    inputs = signs_data.fit_inputs(
        backend, (x_train, y_train), test, batch_size, seed, distribution
    )
    fit_arguments = dict(
        epochs=args.epochs, verbose=0, callbacks=callbacks, **inputs
    )
    return model, fit_arguments, progress, guard, settings


def train(name, seed, args, data, log_dir, distribution, lr=None):
    """Trains one run; prints its RESULT line; returns its summary."""
    model, fit_arguments, progress, guard, settings = prepare_run(
        name, seed, args, data, log_dir, distribution, lr
    )
    start = time.perf_counter()
    try:
        model.fit(**fit_arguments)
    except KeyboardInterrupt:
        for callback in fit_arguments["callbacks"]:
            if isinstance(callback, StepTensorBoard):
                callback.on_train_end()  # writes what it holds
        update = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        message = f"at update {update}; logs kept in {log_dir}"
        raise Interrupted(message) from None
    seconds = time.perf_counter() - start

    # Every process evaluates the whole sets (with several processes, the
    # global batch holds each picture once per process: the same means).
    (x_train, y_train), (x_test, y_test) = data
    train_accuracy = model.evaluate(x_train, y_train, verbose=0)[1]
    test_accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    summary = signs_report.summarize(
        settings, progress, guard, train_accuracy, test_accuracy, seconds
    )
    if not distribution.is_chief:  # process 0 of several writes
        return summary
    # The run's row in TensorBoard's HParams dashboard, and its summary.
    log_session(log_dir, summary["hparams"], signs_report.metrics(summary))
    write_json(os.path.join(log_dir, "summary.json"), summary)
    print(
        f"RESULT schedule={name} model={args.model} "
        f"epochs={summary['epochs']} train_accuracy={train_accuracy:.4f} "
        f"test_accuracy={test_accuracy:.4f} seconds={seconds:.1f}",
        flush=True,
    )
    return summary


def find_rate(args, data, folder):
    """The LR range test with a fresh model of this seed."""
    keras.utils.set_random_seed(args.seed)
    model = build_model(args.model)
    model.compile(keras.optimizers.Adam(), "sparse_categorical_crossentropy")
    return signs_finder.find_rate(model, args, data, folder)


class Interrupted(Exception):
    """Ctrl-C during training: where, and where the logs are."""


def main(args):
    if args.list:
        signs_schedules.print_list()
        return 0
    signs_schedules.check(args)  # the schedule's own checks, before data
    distribution = signs_strategy.make_distribution(args)
    try:
        with distribution.scope():
            return run(args, distribution)
    except (Interrupted, KeyboardInterrupt) as interrupt:
        where = f" {interrupt}" if str(interrupt) else ""
        print(f"train_signs.py: interrupted{where}", file=sys.stderr)
        return 130  # 128 + SIGINT, as shells report it


def run(args, distribution):
    """Loads SIGNS and trains what the arguments ask for."""
    from keras_lrtools.datasets.signs import SignsDataError

    try:
        data = signs_data.load(args.data_dir, args.smoke)
    except SignsDataError as error:
        print(f"train_signs.py: error: {error}", file=sys.stderr)
        return 2
    uneven = signs_strategy.announce(args, distribution, data)
    if uneven:
        print(f"train_signs.py: error: {uneven}", file=sys.stderr)
        return 2
    chief = distribution.is_chief  # prints and writes; the others train
    if args.schedule == "all":
        sweep = new_folder(args.log_dir, "sweep") if chief else args.log_dir
        signs_sweep.run_sweep(
            sweep,
            signs_schedules.NAMES,
            args.seeds,
            lambda name, seed, folder: train(
                name, seed, args, data, folder, distribution
            ),
            jobs=args.jobs,
            args=args,
        )
        return 0
    only_find = args.find_lr and args.lr != "auto"  # trains nothing
    stem = "lr_find" if only_find else args.schedule
    folder = new_folder(args.log_dir, stem) if chief else args.log_dir
    if chief:
        print(f"Logs: {folder}  ({tensorboard_command(args.log_dir)})")
    lr = args.lr
    if args.find_lr or lr == "auto":
        lr = find_rate(args, data, folder)
        if only_find:
            return 0
    train(args.schedule, args.seed, args, data, folder, distribution, lr)
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
