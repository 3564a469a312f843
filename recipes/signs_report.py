"""What train_signs.py reports: progress lines, a run's summary and
HParams metrics, and the sweep's Markdown table, CSV files and figure.

A sweep's row per schedule gives the median over its seeds and, where
the seeds differ, the spread (lowest-highest) in brackets. `runs.csv` has
every run.
"""

import csv
import math
import os
import statistics

import keras
import numpy as np

from keras_lrtools.callbacks import is_chief
from keras_lrtools.preview import schedule_values

COURSE_TEST_ACCURACY = 0.717  # the course's 1500 epochs at 1e-4
REACHED = f"epochs_to_{COURSE_TEST_ACCURACY}"
# Column, the summary's key, decimals (None: an epoch count).
MEASURES = [
    ("final_test_accuracy", "test_accuracy", 3),
    ("best_test_accuracy", "best_test_accuracy", 3),
    (REACHED, "epochs_to_course_accuracy", None),
    ("train_accuracy", "train_accuracy", 3),
    ("seconds", "seconds", 1),
]
# TensorBoard's HParams dashboard: each hyperparameter and the run.json
# setting it is, each metric and the summary's key it is.
HPARAMS = {
    "schedule": "schedule",
    "peak_learning_rate": "peak_learning_rate",
    "warmup_epochs": "warmup_epochs",
    "seed": "seed",
    "batch_size": "global_batch_size",
    "model": "model",
}
METRICS = {
    "final_test_accuracy": "test_accuracy",
    "best_test_accuracy": "best_test_accuracy",
    REACHED: "epochs_to_course_accuracy",
    "final_loss": "final_loss",
    "wall_seconds": "seconds",
}


class TestSetEvaluation(keras.callbacks.Callback):
    """Adds the test set's `val_loss` and `val_accuracy` to every epoch's
    logs, from one compiled forward pass.

    The same numbers as fit's `validation_data` (a sparse categorical
    cross-entropy and accuracy over the whole set) at a fraction of its
    cost: Keras's evaluation loop costs more per epoch than this small
    network's forward pass. List it first, so the callbacks after it see
    the values.
    """

    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, np.asarray(y)

    def on_train_begin(self, logs=None):
        self._pictures = keras.ops.convert_to_tensor(self.x)  # copied once

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        probabilities = keras.ops.convert_to_numpy(
            self.model.predict_on_batch(self._pictures)
        ).astype(np.float64)
        chosen = probabilities[np.arange(len(self.y)), self.y]
        epsilon = keras.config.epsilon()  # Keras's clip of probabilities
        chosen = np.clip(chosen, epsilon, 1 - epsilon)
        logs["val_loss"] = float(-np.mean(np.log(chosen)))
        logs["val_accuracy"] = float(
            np.mean(np.argmax(probabilities, axis=-1) == self.y)
        )


class Progress(keras.callbacks.Callback):
    """Prints a line every `every` epochs and keeps the epochs' record.

    Each epoch's LR is its first update's: `schedule` (the run's, sized
    for `total_steps` updates, or a float) evaluated over the whole run in
    one call, times the scale of `plateau` (the run's ReduceLROnPlateau,
    if any). Evaluating the optimizer's schedule every epoch, eagerly,
    cost 3 ms on tensorflow: 2% of an epoch.
    """

    def __init__(self, every, epochs, schedule, total_steps, plateau=None):
        super().__init__()
        self.every, self.epochs = every, epochs
        self.schedule, self.total_steps = schedule, total_steps
        self.plateau = plateau
        self.learning_rates, self.test_accuracy, self.losses = [], [], []
        self._rates = None

    def on_train_begin(self, logs=None):
        if self._rates is None:
            self._rates = (
                schedule_values(self.schedule, self.total_steps)
                if callable(self.schedule)
                else np.full(self.total_steps, self.schedule)
            )

    def on_epoch_begin(self, epoch, logs=None):
        update = int(
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        )
        rate = np.float32(self._rates[update])
        if self.plateau is not None:  # in float32, as its ScaledSchedule
            rate *= np.float32(self.plateau.scale)
        self.learning_rates.append(float(rate))

    def on_epoch_end(self, epoch, logs=None):
        self.losses.append(float(logs["loss"]))
        self.test_accuracy.append(float(logs.get("val_accuracy", 0.0)))
        last = epoch + 1 == self.epochs
        if ((epoch + 1) % self.every == 0 or last) and is_chief():
            print(
                f"  epoch {epoch + 1:>5}/{self.epochs}  mean_loss "
                f"{logs['loss']:.4f}  mean_train_acc {logs['accuracy']:.3f}  "
                f"test_acc {self.test_accuracy[-1]:.3f}  lr "
                f"{self.learning_rates[-1]:.3g}",
                flush=True,
            )


def summarize(
    settings, progress, guard, train_accuracy, test_accuracy, seconds
):
    """One run's summary (summary.json), with its HParams."""
    accuracies = progress.test_accuracy
    reached = [
        epoch
        for epoch, accuracy in enumerate(accuracies, 1)
        if accuracy >= COURSE_TEST_ACCURACY
    ]
    return dict(
        schedule=settings["schedule"],
        seed=settings["seed"],
        model=settings["model"],
        epochs=len(progress.losses),
        train_accuracy=float(train_accuracy),
        test_accuracy=float(test_accuracy),
        best_test_accuracy=max(accuracies, default=0.0),
        epochs_to_course_accuracy=reached[0] if reached else None,
        final_loss=progress.losses[-1] if progress.losses else None,
        seconds=seconds,
        updates_per_second=len(progress.losses)
        * settings["total_steps"]
        / settings["epochs"]
        / seconds,
        guard=[d.symptom for d in guard.diagnoses] if guard else [],
        learning_rates=progress.learning_rates,
        test_accuracies=accuracies,
        hparams={name: settings[key] for name, key in HPARAMS.items()},
    )


def metrics(summary):
    """The run's metrics in TensorBoard's HParams dashboard."""
    return {name: summary[key] for name, key in METRICS.items()}


def _number(summary, key):
    value = summary[key]
    return math.inf if value is None else value  # never reached


def _text(value, decimals):
    if math.isinf(value):
        return "never"
    return f"{value:.{decimals}f}" if decimals else f"{value:g}"


def aggregate(summaries):
    """One row per schedule, in sweep order: median, lowest, highest."""
    by_schedule = {}
    for summary in summaries:
        by_schedule.setdefault(summary["schedule"], []).append(summary)
    rows = []
    for name, runs in by_schedule.items():
        row = {"schedule": name, "seeds": [r["seed"] for r in runs]}
        for column, key, _ in MEASURES:
            values = sorted(_number(r, key) for r in runs)
            row[column] = (statistics.median(values), values[0], values[-1])
        row["guard"] = sorted({s for r in runs for s in r["guard"]})
        rows.append(row)
    return rows


def write_report(folder, summaries):
    """summary.md, summary.csv, runs.csv and summary.png in `folder`;
    returns the Markdown table."""
    rows = aggregate(summaries)
    several = any(len(row["seeds"]) > 1 for row in rows)
    header = ["schedule", *(c for c, _, _ in MEASURES), "guard"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        cells = [row["schedule"]]
        for column, _, decimals in MEASURES:
            middle, low, high = row[column]
            cell = _text(middle, decimals)
            if several and low != high:
                cell += f" ({_text(low, decimals)}-{_text(high, decimals)})"
            cells.append(cell)
        cells.append(",".join(row["guard"]) or "-")
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(folder, "summary.md"), "w") as file:
        file.write(table)
    _write_csv(
        os.path.join(folder, "summary.csv"),
        ["schedule", "seeds"]
        + [f"{c}{s}" for c, _, _ in MEASURES for s in ("", "_min", "_max")]
        + ["guard"],
        [
            [row["schedule"], len(row["seeds"])]
            + [_text(v, d or 0) for c, _, d in MEASURES for v in row[c]]
            + [",".join(row["guard"]) or "-"]
            for row in rows
        ],
    )
    _write_csv(
        os.path.join(folder, "runs.csv"),
        ["schedule", "seed", *(c for c, _, _ in MEASURES), "guard"],
        [
            [s["schedule"], s["seed"]]
            + [_text(_number(s, key), d or 0) for _, key, d in MEASURES]
            + [",".join(s["guard"]) or "-"]
            for s in summaries
        ],
    )
    _plot(os.path.join(folder, "summary.png"), summaries)
    return table


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)


def _plot(path, summaries):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(11, 9), sharex=True)
    colors = plt.get_cmap("tab20").colors
    names = list(dict.fromkeys(s["schedule"] for s in summaries))
    for summary in summaries:
        index = names.index(summary["schedule"])
        color = colors[index % len(colors)]
        first = summary is next(
            s for s in summaries if s["schedule"] == summary["schedule"]
        )
        epochs = np.arange(1, len(summary["learning_rates"]) + 1)
        if first:  # the schedule is the same on every seed
            top.plot(
                epochs,
                summary["learning_rates"],
                color=color,
                label=summary["schedule"],
            )
        bottom.plot(
            epochs, summary["test_accuracies"], color=color, linewidth=0.8
        )
    top.set_yscale("log")
    top.set_ylabel("learning rate (first update of the epoch)")
    top.legend(ncol=3, fontsize=8)
    bottom.axhline(
        COURSE_TEST_ACCURACY,
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"course: {COURSE_TEST_ACCURACY}",
    )
    bottom.set_ylabel("test accuracy (every seed)")
    bottom.set_xlabel("epoch")
    bottom.legend(fontsize=8)
    figure.suptitle("SIGNS, course MLP with Adam: schedules compared")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
