"""
Title: What per-step TensorBoard logging costs
Description: Trains the SIGNS course MLP (Adam, batch 32) with no logging,
    with keras_lrtools' StepTensorBoard (learning rate, Adam's effective
    step, loss and accuracy of every update) and with Keras's
    TensorBoard(update_freq=1), alternating the variants in each round, and
    reports each one's time as a ratio to no logging, measured side by
    side in the same run (median and spread over the rounds). Also checks
    that StepTensorBoard's per-step data is intact at a large
    steps_per_execution.
Runtime: about 3 minutes at the defaults; --smoke a few seconds.

Usage:
    python benchmarks/logging_cost.py    # writes benchmarks/results/
    python benchmarks/logging_cost.py --smoke
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _data(smoke):
    from keras_lrtools.datasets import signs

    (x, y), _ = signs.load_data()
    if smoke:
        x, y = x[:256], y[:256]
    return x.astype("float32") / 255.0, y


def _model(steps_per_execution, recorder):
    import keras

    from keras_lrtools.callbacks import StepRecorder

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
    metrics = ["accuracy"] + ([StepRecorder()] if recorder else [])
    model.compile(
        keras.optimizers.Adam(1e-4),
        "sparse_categorical_crossentropy",
        metrics=metrics,
        steps_per_execution=steps_per_execution,
        jit_compile=False
        if keras.backend.backend() == "tensorflow"
        else "auto",
    )
    return model


def _callbacks(variant, log_dir):
    import keras

    from keras_lrtools.callbacks import StepTensorBoard

    if variant == "none":
        return []
    if variant == "step_tensorboard":
        return [StepTensorBoard(log_dir)]
    return [keras.callbacks.TensorBoard(log_dir, update_freq=1)]


def _time_fit(variant, x, y, epochs, steps_per_execution):
    import keras

    log_dir = tempfile.mkdtemp(prefix=f"bench-{variant}-")
    # The recorder is only needed (and only used) above one step per call.
    model = _model(
        steps_per_execution,
        variant == "step_tensorboard" and steps_per_execution > 1,
    )
    callbacks = _callbacks(variant, log_dir)
    # Warm up the compiled function outside the timed part.
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=callbacks)
    keras.utils.set_random_seed(1)
    start = time.perf_counter()
    model.fit(
        x, y, batch_size=32, epochs=epochs, verbose=0, callbacks=callbacks
    )
    return time.perf_counter() - start, log_dir


def _per_step_intact(log_dir, updates):
    """Every update 0 .. updates - 1 has exactly one point per tag."""
    from tensorboard.backend.event_processing import event_accumulator

    accumulator = event_accumulator.EventAccumulator(
        os.path.join(log_dir, "train"),
        size_guidance={event_accumulator.TENSORS: 0},
    )
    accumulator.Reload()
    return all(
        [e.step for e in accumulator.Tensors(tag)] == list(range(updates))
        for tag in ("learning_rate", "loss", "accuracy")
    )


def run(rounds, epochs, smoke):
    import keras

    x, y = _data(smoke)
    variants = ["none", "step_tensorboard"]
    if keras.backend.backend() == "tensorflow":
        variants.append("keras_tensorboard")  # it needs TensorFlow
    times = {v: [] for v in variants}
    for _ in range(rounds):
        for variant in variants:  # A B C, A B C, ...
            seconds, _ = _time_fit(variant, x, y, epochs, 1)
            times[variant].append(seconds)
    ratios = {
        v: [t / base for t, base in zip(times[v], times["none"], strict=True)]
        for v in variants
    }
    large = None
    if keras.backend.backend() != "torch":
        spe = int(np.ceil(len(x) / 32))
        _, log_dir = _time_fit("step_tensorboard", x, y, epochs, spe)
        updates = (1 + epochs) * spe  # the warm-up epoch, then the timed
        large = {
            "steps_per_execution": spe,
            "every_update_logged_once": _per_step_intact(log_dir, updates),
        }
    return {
        "benchmark": "logging_cost",
        "backend": keras.backend.backend(),
        "versions": _versions(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "rounds": rounds,
        "epochs_per_fit": epochs,
        "updates_per_fit": epochs * int(np.ceil(len(x) / 32)),
        "seconds": times,
        "ratio_to_no_logging": {
            v: {"median": statistics.median(r), "min": min(r), "max": max(r)}
            for v, r in ratios.items()
        },
        "large_steps_per_execution": large,
    }


def _versions():
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
    return versions


def write(result, folder=RESULTS):
    os.makedirs(folder, exist_ok=True)
    stem = os.path.join(folder, f"logging_cost_{result['backend']}")
    with open(stem + ".json", "w") as file:
        json.dump(result, file, indent=2)
    lines = [
        f"# Logging cost ({result['backend']} backend)",
        "",
        f"SIGNS course MLP, batch 32, {result['updates_per_fit']} updates "
        f"per timed fit, steps_per_execution=1, {result['rounds']} rounds "
        "alternating the variants. Ratio = time / time without logging "
        "in the same round.",
        "",
        "| variant | median ratio | min | max |",
        "| --- | --- | --- | --- |",
    ]
    for variant, stats in result["ratio_to_no_logging"].items():
        lines.append(
            f"| {variant} | {stats['median']:.3f} | "
            f"{stats['min']:.3f} | {stats['max']:.3f} |"
        )
    large = result["large_steps_per_execution"]
    if large:
        lines += [
            "",
            f"steps_per_execution={large['steps_per_execution']}: "
            f"every update logged once: "
            f"{large['every_update_logged_once']}",
        ]
    lines += [
        "",
        f"Machine: {result['machine']}",
        "",
        f"Versions: {result['versions']}",
        "",
    ]
    with open(stem + ".md", "w") as file:
        file.write("\n".join(lines))
    return stem + ".md"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny run that only checks the script works",
    )
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.epochs = 1, 1
    result = run(args.rounds, args.epochs, args.smoke)
    path = write(result, args.out)
    for variant, stats in result["ratio_to_no_logging"].items():
        print(f"RESULT variant={variant} median_ratio={stats['median']:.3f}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
