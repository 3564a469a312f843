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
    at most 1.05). Beside them (not on torch, whose trainer runs one step
    a call), the recommended set-up against no logging at one compiled
    call per epoch (the recipe's), and a check that the per-step data is
    intact there.
Runtime: about 3 minutes a backend at the defaults; --smoke a few seconds.

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
from _common import load_recipe
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
ONE_CALL = "_one_call"  # the variants at one compiled call per epoch


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
    arguments = dict(verbose=0, callbacks=callbacks, **_inputs(x, y))
    return model, arguments, log_dir


def _inputs(x, y):
    """fit's data as the recipe feeds it (recipes/signs_data.py): on
    tensorflow a repeated tf.data pipeline and each epoch's length (a new
    iterator every epoch stalls some, see _common.STALL); NumPy arrays,
    shuffled by Keras, on jax and torch."""
    import keras

    return load_recipe().signs_data.fit_inputs(
        keras.backend.backend(), (x, y), (None, None), BATCH_SIZE, seed=1
    )


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
    if keras.backend.backend() != "torch":  # torch allows only 1
        for variant in ("none", "step_tensorboard"):
            prepared = _prepared_fit(variant, x, y, updates_per_epoch)
            runners[variant + ONE_CALL] = fit_runner(*prepared[:2], warmup=1)
    times = alternate_epochs(runners, rounds, epochs)
    one_step = {k: v for k, v in times.items() if not k.endswith(ONE_CALL)}
    one_call = {k: v for k, v in times.items() if k.endswith(ONE_CALL)}
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
        "ratio_to_no_logging": ratio_stats(one_step, "none"),
        "one_call_ratio_to_no_logging": (
            ratio_stats(one_call, "none" + ONE_CALL) if one_call else None
        ),
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
        "without logging in the same round. Stalled epochs: over 1.5 "
        "times their variant's median (counted, kept; see "
        "benchmarks/_common.py). Target for StepTensorBoard: "
        f"<= {result['target']}.",
        "",
        "| variant | median ratio | min | max | stalled epochs |",
        "| --- | --- | --- | --- | --- |",
    ]
    total = result["rounds"] * result["epochs_per_round"]
    for variant, stats in result["ratio_to_no_logging"].items():
        stalls = result["seconds_per_epoch"][variant]["stalls"]
        lines.append(
            f"| {DESCRIPTIONS[variant]} | {stats['median']:.3f} | "
            f"{stats['min']:.3f} | {stats['max']:.3f} | {stalls} of "
            f"{total} |"
        )
    one_call = result["one_call_ratio_to_no_logging"]
    if one_call:
        stats = one_call["step_tensorboard" + ONE_CALL]
        stalls = [
            result["seconds_per_epoch"][v + ONE_CALL]["stalls"]
            for v in ("none", "step_tensorboard")
        ]
        lines += [
            "",
            "At one compiled call per epoch (steps_per_execution="
            f"{result['updates_per_epoch']}, the recipe's), StepTensorBoard "
            "+ StepRecorder / no logging, same rounds: median "
            f"{stats['median']:.3f} ({stats['min']:.3f}-{stats['max']:.3f});"
            f" stalled epochs {stalls[1]} and {stalls[0]} of {total}.",
        ]
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
    for variant, stats in (
        result["one_call_ratio_to_no_logging"] or {}
    ).items():
        print(f"RESULT variant={variant} median_ratio={stats['median']:.3f}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
