"""--find-lr and --lr auto: the LR range test before training."""

import os

from signs_files import write_json

from keras_lrtools import find_learning_rate

FINDER_STEPS = 1000  # about 30 epochs: this network learns slowly
SMOKE_FINDER_STEPS = 100


def find_rate(model, args, data, folder):
    """The range test from 1e-6 to 0.1 on the training data with `model`
    (fresh, compiled); saves lr_find.png and lr_find.json in `folder`;
    returns the suggested rate."""
    (x_train, y_train), _ = data
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
    suggestions, pick = result.suggestions(), result.suggestion()
    write_json(
        os.path.join(folder, "lr_find.json"),
        dict(
            suggestions=suggestions,
            suggestion=pick,
            stop_reason=result.stop_reason,
            learning_rates=result.learning_rates.tolist(),
            losses=result.losses.tolist(),
        ),
    )
    listed = ", ".join(f"{k} {v:.3g}" for k, v in suggestions.items())
    print(f"LR range test: {listed}; suggestion: {pick:.3g}; plot: {path}")
    return pick
