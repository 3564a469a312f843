"""See what a schedule will do before training with it."""

import os

import numpy as np

from keras_lrtools._cli_checks import MAX_PREVIEW_STEPS
from keras_lrtools._validation import check_bool
from keras_lrtools._validation import check_positive_int
from keras_lrtools._validation import check_sequence
from keras_lrtools.schedules import adam_effective_learning_rate
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import values_at_steps

# A preview's points (80 MB of float64 per curve at the bound).


def _check_steps(steps):
    steps = check_positive_int("steps", steps)
    if steps > MAX_PREVIEW_STEPS:
        raise ValueError(
            f"Argument `steps` must be <= {MAX_PREVIEW_STEPS:,} (one point per "
            f"update; preview a shorter span). Received: steps={steps}"
        )
    return steps


def schedule_values(schedule, steps):
    """schedule(k) for k = 0 .. steps - 1, as a float64 NumPy array."""
    return values_at_steps(schedule, np.arange(_check_steps(steps)))


def plot_schedule(
    schedules,
    steps,
    *,
    labels=None,
    adam_effective=False,
    beta_1=0.9,
    beta_2=0.999,
    path=None,
    log_scale=False,
    title=None,
):
    """Plots one or several schedules over `steps` updates.

    Args:
        schedules: A `LearningRateSchedule`, or a list of them.
        steps: Int, 1 to 10**7. Updates to show (steps 0 .. steps - 1).
        labels: Optional names, one per schedule (default: class names).
        adam_effective: Bool. Also show Adam's effective step size
            lr_t = lr * sqrt(1 - beta_2 ** (k + 1)) / (1 - beta_1 ** (k + 1)).
        beta_1: Float. Adam's beta_1 for that curve. Default 0.9.
        beta_2: Float. Adam's beta_2 for that curve. Default 0.999.
        path: Optional PNG path; matplotlib is imported only then.
        log_scale: Bool. Log-scale rate axis.
        title: Optional figure title.

    Returns:
        A dict of NumPy arrays: "steps", one entry per label, and
        "<label> (Adam lr_t)" entries with `adam_effective`.

    Example:
    >>> from keras_lrtools.schedules import OneCycle
    >>> values = plot_schedule(OneCycle(0.1, 100), 100)
    >>> round(float(values["OneCycle"].max()), 4)
    0.1
    """
    if isinstance(schedules, LearningRateSchedule):
        schedules = [schedules]
    schedules = check_sequence("schedules", schedules, min_length=1)
    log_scale = check_bool("log_scale", log_scale)
    adam_effective = check_bool("adam_effective", adam_effective)
    for index, schedule in enumerate(schedules):
        if not isinstance(schedule, LearningRateSchedule):
            raise TypeError(
                f"Argument `schedules[{index}]` must be a "
                "LearningRateSchedule. Received: "
                f"{type(schedule).__name__}"
            )
    if labels is None:
        labels = [type(s).__name__ for s in schedules]
    labels = list(labels)
    if len(labels) != len(schedules) or len(set(labels)) != len(labels):
        raise ValueError(
            "Argument `labels` must give one distinct name per schedule. "
            f"Received: labels={labels}, {len(schedules)} schedules"
        )
    steps = _check_steps(steps)
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            "Argument `path` must be a file path (str or os.PathLike). "
            f"Received: path={path!r}"
        )
    grid = np.arange(steps)
    curves = {"steps": grid}
    correction = None
    if adam_effective:
        import keras

        correction = keras.ops.convert_to_numpy(
            adam_effective_learning_rate(1.0, grid, beta_1, beta_2)
        )
    for label, schedule in zip(labels, schedules, strict=True):
        curves[label] = schedule_values(schedule, steps)
        if correction is not None:
            curves[f"{label} (Adam lr_t)"] = curves[label] * correction
    if path is not None:
        _draw(curves, labels, path, log_scale, title)
    return curves


def _draw(curves, labels, path, log_scale, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(9, 5))
    for index, label in enumerate(labels):
        color = f"C{index % 10}"
        axis.plot(curves["steps"], curves[label], color=color, label=label)
        effective = curves.get(f"{label} (Adam lr_t)")
        if effective is not None:
            axis.plot(
                curves["steps"],
                effective,
                color=color,
                linestyle=":",
                label=f"{label}: Adam's lr_t",
            )
    if log_scale:
        axis.set_yscale("log")
    axis.set_xlabel("optimizer update (step)")
    axis.set_ylabel("learning rate")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(title or "Learning-rate schedule")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
