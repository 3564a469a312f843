"""
Title: Every keras_lrtools schedule, side by side
Description: Builds each schedule of `keras_lrtools.schedules.get` for one
    training horizon, prints its LR (and Adam's effective step size) at a
    few steps, and checks it inside a real compiled `model.fit`.
Backends: tensorflow, jax, torch (set KERAS_BACKEND before running)
Runtime: a few seconds on CPU
Expected result: a table of LRs, then one RESULT line per schedule with the
    LR the optimizer applied at the last update of a short fit.
"""

import argparse

import keras
import numpy as np

from keras_lrtools import adam_effective_learning_rate
from keras_lrtools import schedules


# Example arguments for a horizon of `total` optimizer updates.
def schedule_arguments(total, peak=0.01):
    tenth = max(total // 10, 1)
    return {
        "exponential": dict(
            initial_learning_rate=peak, decay_steps=tenth, decay_rate=0.7
        ),
        "natural": dict(
            initial_learning_rate=peak,
            decay_steps=tenth,
            decay_rate=0.3,
            staircase=True,
        ),
        "inverse_time": dict(
            initial_learning_rate=peak, decay_steps=tenth, decay_rate=0.5
        ),
        "piecewise": dict(
            boundaries=[total // 2, 3 * total // 4],
            values=[peak, peak / 10, peak / 100],
        ),
        "polynomial": dict(
            initial_learning_rate=peak,
            decay_steps=total,
            end_learning_rate=peak / 100,
            power=2.0,
        ),
        "cosine": dict(
            initial_learning_rate=0.0,
            decay_steps=total - tenth,
            warmup_target=peak,
            warmup_steps=tenth,
        ),
        "cosine_restarts": dict(
            initial_learning_rate=peak, first_decay_steps=total // 7, t_mul=2.0
        ),
        "linear_cosine": dict(
            initial_learning_rate=peak, decay_steps=total, num_periods=2.0
        ),
        "noisy_linear_cosine": dict(
            initial_learning_rate=peak,
            decay_steps=total,
            initial_variance=0.1,
            seed=0,
        ),
        "cyclical": dict(
            initial_learning_rate=peak / 10,
            maximal_learning_rate=peak,
            step_size=tenth,
            mode="triangular2",
        ),
        "one_cycle": dict(maximal_learning_rate=peak, total_steps=total),
        "warmup_stable_decay": dict(
            peak_learning_rate=peak,
            warmup_steps=tenth,
            stable_steps=total - 3 * tenth,
            decay_steps=2 * tenth,
            decay_shape="1-sqrt",
        ),
        "inverse_sqrt": dict(peak_learning_rate=peak, warmup_steps=tenth),
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
    for name, arguments in schedule_arguments(total).items():
        schedule = schedules.get(name, **arguments)
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
    if args.steps < 10 or args.fit_updates < 1:
        parser.error("--steps must be >= 10 and --fit-updates >= 1")
    print(f"Backend: {keras.backend.backend()}; horizon {args.steps} steps")
    print_table(args.steps)
    print()
    for name, arguments in schedule_arguments(args.steps).items():
        schedule = schedules.get(name, **arguments)
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
