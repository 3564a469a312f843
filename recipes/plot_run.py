"""
Title: Plot a run's per-step TensorBoard scalars
Description: Reads the event files StepTensorBoard wrote (with
    tensorboard's own reader, no TensorFlow) and draws what TensorBoard's
    Scalars dashboard shows: learning rate, Adam's effective step, loss and
    accuracy at every update.
Runtime: a second.

Usage:
    python recipes/plot_run.py logs/cosine-20261121-131000 --out run.png
"""

import argparse
import os
import sys

TAGS = (
    ("learning_rate", "learning rate (used by update k)"),
    ("adam_effective_learning_rate", "Adam's effective step lr_t"),
    ("loss", "loss of batch k"),
    ("accuracy", "accuracy of batch k"),
)


def read_scalars(run_dir):
    """{tag: (steps, values)} from a run folder's event files."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util import tensor_util

    accumulator = event_accumulator.EventAccumulator(
        run_dir, size_guidance={event_accumulator.TENSORS: 0}
    )
    accumulator.Reload()
    scalars = {}
    for tag in accumulator.Tags()[event_accumulator.TENSORS]:
        events = accumulator.Tensors(tag)
        scalars[tag] = (
            [e.step for e in events],
            [float(tensor_util.make_ndarray(e.tensor_proto)) for e in events],
        )
    return scalars


def plot(run, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scalars = read_scalars(os.path.join(run, "train"))
    figure, axes = plt.subplots(2, 2, figsize=(11, 7))
    for axis, (tag, title) in zip(axes.ravel(), TAGS, strict=True):
        if tag in scalars:
            steps, values = scalars[tag]
            axis.plot(steps, values, linewidth=0.8)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("optimizer update")
        axis.grid(alpha=0.3)
    figure.suptitle(
        f"{os.path.basename(os.path.normpath(run))}: per-step "
        "scalars (StepTensorBoard)"
    )
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Plot a run's scalars.")
    parser.add_argument("run", help="a run folder (with train/ inside)")
    parser.add_argument("--out", default="run.png")
    args = parser.parse_args(argv)
    if not os.path.isdir(os.path.join(args.run, "train")):
        parser.error(
            f"{args.run!r} has no train/ folder of event files. "
            "Hint: pass logs/<schedule>-<timestamp>."
        )
    plot(args.run, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
