"""
Title: Every keras_lrtools schedule, side by side
Description: Sizes each schedule of `keras_lrtools.schedules.for_run` for
    one run (its length, a peak of 0.01, a tenth of it as warmup), prints
    its LR (and Adam's effective step size) at a few steps, and checks it
    inside a real compiled `model.fit`.
Backends: tensorflow, jax, torch (set KERAS_BACKEND before running)
Runtime: a few seconds on CPU
Expected result: a table of LRs, then one RESULT line per schedule with the
    LR the optimizer applied at the last update of a short fit.
"""

import argparse
import logging

import keras_lrtools  # noqa: F401 (starts Keras without TensorFlow's noise)

# isort: split
import keras
import numpy as np

from keras_lrtools import adam_effective_learning_rate
from keras_lrtools.schedules import RUN_SIZES
from keras_lrtools.schedules import for_run

PEAK = 0.01


def sized(total):
    """Every schedule by its short name for a run of `total` updates."""
    return {
        name: for_run(name, total, PEAK, warmup_steps=total // 10)
        for name in RUN_SIZES
    }


def print_table(total):
    steps = [
        0,
        total // 10,
        total // 4,
        total // 2,
        3 * total // 4,
        total - 1,
        10 * total,
    ]
    header = "schedule".ljust(22) + "".join(f"{s:>11}" for s in steps)
    print(header)
    print("-" * len(header))
    for name, schedule in sized(total).items():
        row = "".join(f"{float(schedule(s)):>11.2e}" for s in steps)
        print(name.ljust(22) + row)
    print()
    print(
        "Adam's effective step size lr_t = lr * sqrt(1 - 0.999 ** t) / "
        "(1 - 0.9 ** t), t = step + 1, for a constant lr = 0.01:"
    )
    print(
        "".ljust(22)
        + "".join(
            f"{float(adam_effective_learning_rate(0.01, s)):>11.2e}"
            for s in steps
        )
    )


def fit_with(schedule, updates):
    """Trains a tiny model for `updates` steps; returns the LR of its last
    update, read back from the optimizer."""
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(
        keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy"
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(updates * 8, 4)).astype("float32")
    y = rng.integers(0, 3, size=updates * 8)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    return float(model.optimizer.learning_rate)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument(
        "--steps",
        type=int,
        default=1000,
        help="training horizon in optimizer updates",
    )
    parser.add_argument(
        "--fit-updates",
        type=int,
        default=50,
        help="updates of the short fit per schedule",
    )
    args = parser.parse_args(argv)
    # A new model per schedule: TensorFlow's retracing warning is expected.
    logging.getLogger("tensorflow").addFilter(
        lambda record: "tf.function retracing" not in record.getMessage()
    )
    if args.steps < 10 or args.fit_updates < 1:
        parser.error("--steps must be >= 10 and --fit-updates >= 1")
    print(f"Backend: {keras.backend.backend()}; horizon {args.steps} steps")
    print_table(args.steps)
    print()
    for name, schedule in sized(args.steps).items():
        next_lr = fit_with(schedule, args.fit_updates)
        expected = float(schedule(args.fit_updates))
        status = (
            "ok" if np.isclose(next_lr, expected, rtol=1e-6) else "MISMATCH"
        )
        print(
            f"RESULT schedule={name} updates={args.fit_updates} "
            f"optimizer_lr={next_lr:.6g} schedule_lr={expected:.6g} "
            f"{status}"
        )
        if status != "ok":
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
