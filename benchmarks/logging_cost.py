"""
Title: What per-step TensorBoard logging costs
Description: Trains the SIGNS course MLP (Adam, batch 32,
    steps_per_execution=1) with no logging, with keras_lrtools'
    StepTensorBoard (learning rate, Adam's effective step, loss and
    accuracy of every update; with the StepRecorder metric it recommends,
    and without it) and with Keras's TensorBoard(update_freq=1),
    each prepared and warmed up once, then alternated in short rounds
    (--epochs each, every epoch timed from its begin to the next one's),
    and reports each one's time as a ratio to no logging in the same
    round (median and spread over the rounds; target for StepTensorBoard:
    at most 1.05). Also checks that the per-step data is intact at a large
    steps_per_execution.
Runtime: about 2 minutes at the defaults; --smoke a few seconds.

Usage:
    python benchmarks/logging_cost.py    # writes benchmarks/results/
    python benchmarks/logging_cost.py --smoke
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import BATCH_SIZE
from _common import alternate_epochs
from _common import course_mlp
from _common import environment
from _common import fit_runner
from _common import ratio_stats
from _common import signs_data
from _common import timing_arguments
from _common import write_result

TARGET = 1.05
DESCRIPTIONS = {
    "none": "no logging",
    "step_tensorboard": "StepTensorBoard + StepRecorder metric (the "
    "recommended set-up)",
    "step_tensorboard_no_recorder": "StepTensorBoard alone (reads the "
    "device after every update)",
    "keras_tensorboard": "keras.callbacks.TensorBoard(update_freq=1)",
}


def _prepared_fit(variant, x, y, steps_per_execution=1):
    """(model, fit arguments, log folder) of one variant."""
    import keras

    from keras_lrtools.callbacks import StepRecorder
    from keras_lrtools.callbacks import StepTensorBoard

    log_dir = tempfile.mkdtemp(prefix=f"bench-{variant}-")
    metrics = ["accuracy"]
    if variant == "step_tensorboard":
        metrics.append(StepRecorder())
    model = course_mlp(1e-4, metrics, steps_per_execution)
    callbacks = {
        "none": [],
        "step_tensorboard": [StepTensorBoard(log_dir)],
        "step_tensorboard_no_recorder": [StepTensorBoard(log_dir)],
        "keras_tensorboard": [
            keras.callbacks.TensorBoard(log_dir, update_freq=1)
        ],
    }[variant]
    arguments = dict(
        x=x, y=y, batch_size=BATCH_SIZE, verbose=0, callbacks=callbacks
    )
    return model, arguments, log_dir


def _every_update_logged_once(log_dir, updates):
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        os.path.join(log_dir, "train"),
        size_guidance={event_accumulator.TENSORS: 0},
    )
    accumulator.Reload()
    return all(
        [e.step for e in accumulator.Tensors(tag)] == list(range(updates))
        for tag in ("learning_rate", "adam_effective_learning_rate", "loss")
    ) and ("accuracy" in accumulator.Tags()["tensors"])


def run(rounds, epochs, smoke):
    import keras

    x, y = signs_data(smoke)
    updates_per_epoch = -(-len(x) // BATCH_SIZE)
    variants = ["none", "step_tensorboard", "step_tensorboard_no_recorder"]
    if keras.backend.backend() == "tensorflow":
        variants.append("keras_tensorboard")  # it needs TensorFlow
    runners = {
        variant: fit_runner(*_prepared_fit(variant, x, y)[:2], warmup=1)
        for variant in variants
    }
    times = alternate_epochs(runners, rounds, epochs)
    large = None
    if keras.backend.backend() != "torch":  # torch allows only 1
        model, arguments, log_dir = _prepared_fit(
            "step_tensorboard", x, y, updates_per_epoch
        )
        model.fit(**arguments, epochs=1 + epochs)
        large = {
            "steps_per_execution": updates_per_epoch,
            "every_update_logged_once": _every_update_logged_once(
                log_dir, (1 + epochs) * updates_per_epoch
            ),
        }
    return {
        "benchmark": "logging_cost",
        **environment(),
        "rounds": rounds,
        "epochs_per_round": epochs,
        "updates_per_epoch": updates_per_epoch,
        "seconds_per_epoch": times,
        "ratio_to_no_logging": ratio_stats(times, "none"),
        "target": TARGET,
        "large_steps_per_execution": large,
    }


def markdown(result):
    lines = [
        f"# Logging cost ({result['backend']} backend)",
        "",
        f"SIGNS course MLP, Adam, batch 32, {result['updates_per_epoch']} "
        f"updates an epoch, steps_per_execution=1. {result['rounds']} "
        f"rounds, each training every variant {result['epochs_per_round']} "
        "epochs in turn (each prepared and warmed up once); an epoch is "
        "timed from its begin to the next one's. Ratio = time / time "
        "without logging in the same round. Target for StepTensorBoard: "
        f"<= {result['target']}.",
        "",
        "| variant | median ratio | min | max |",
        "| --- | --- | --- | --- |",
    ]
    for variant, stats in result["ratio_to_no_logging"].items():
        lines.append(
            f"| {DESCRIPTIONS[variant]} | {stats['median']:.3f} | "
            f"{stats['min']:.3f} | {stats['max']:.3f} |"
        )
    large = result["large_steps_per_execution"]
    if large:
        lines += [
            "",
            f"steps_per_execution={large['steps_per_execution']}: every "
            "update logged exactly once (learning rate, Adam's step, loss, "
            f"accuracy): {large['every_update_logged_once']}",
        ]
    return lines


def main(argv=None):
    args = timing_arguments(argv, __doc__, rounds=20, epochs=4)
    result = run(args.rounds, args.epochs, args.smoke)
    path = write_result(result, markdown(result), args.out)
    for variant, stats in result["ratio_to_no_logging"].items():
        print(f"RESULT variant={variant} median_ratio={stats['median']:.3f}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
