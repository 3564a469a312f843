"""TensorBoard's HParams dashboard without TensorFlow.

A sweep writes `log_experiment` once into its root folder (which
hyperparameters and metrics to show) and `log_session` into each run's
folder (the run's hyperparameters and final metrics). `tensorboard
--logdir ROOT` then shows the HParams table and parallel-coordinates view
of every run next to its per-step curves. The protos come from the
`tensorboard` package's hparams plugin; the files are written like
`StepTensorBoard`'s, so the jax and torch backends need no TensorFlow.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> log_experiment(root, {"schedule": ["cosine", "one_cycle"]},
    ...                ["test_accuracy"])
    >>> log_session(root + "/cosine", {"schedule": "cosine"},
    ...             {"test_accuracy": 0.8})
"""

import math
import numbers

from keras_lrtools._validation import check_sequence
from keras_lrtools.callbacks._writers import ScalarWriter


def _check_names(argument, names):
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(
                f"Argument `{argument}` must have non-empty string names. "
                f"Received: {name!r} in {argument}"
            )


def log_experiment(log_dir, hparams, metrics):
    """Declares the hyperparameters and metrics of a sweep.

    Args:
        log_dir: The sweep's root folder (the runs are below it).
        hparams: Dict name -> the values the sweep tries (a list of
            strings, numbers or bools; shown as a discrete domain), or
            None (no domain).
        metrics: Names of the metrics each run logs with `log_session`.

    Raises:
        TypeError: if a name is not a non-empty string, or a domain is
            not a list of strings, numbers or bools of one kind.
    """
    from tensorboard.plugins.hparams import summary_v2 as hp

    if not isinstance(hparams, dict):
        raise TypeError(
            "Argument `hparams` must be a dict of name -> values. "
            f"Received: hparams={hparams!r}"
        )
    _check_names("hparams", hparams)
    metrics = check_sequence("metrics", metrics, min_length=1)
    _check_names("metrics", metrics)
    infos = []
    for name, values in hparams.items():
        domain = None
        if values is not None:
            try:
                if not isinstance(values, list | tuple) or not values:
                    raise TypeError
                domain = hp.Discrete(sorted(set(values)))
            except (TypeError, ValueError):
                raise TypeError(
                    "Argument `hparams` must map each name to a list of "
                    "strings, numbers or bools of one kind. Received: "
                    f"hparams[{name!r}]={values!r}"
                ) from None
        infos.append(hp.HParam(name, domain))
    summary = hp.hparams_config_pb(infos, [hp.Metric(m) for m in metrics])
    _write(log_dir, summary)


def log_session(log_dir, hparams, metrics):
    """Writes one run's hyperparameters and final metrics.

    Args:
        log_dir: The run's folder (its metrics are scalars there, at
            step 0, under their own names).
        hparams: Dict name -> a string, number or bool.
        metrics: Dict name -> a number; a NaN or None is not written (a
            metric the run never reached).

    Raises:
        TypeError: if a name is not a non-empty string, or a value is of
            another kind.
    """
    from tensorboard.plugins.hparams import summary_v2 as hp

    for argument, values in (("hparams", hparams), ("metrics", metrics)):
        if not isinstance(values, dict):
            raise TypeError(
                f"Argument `{argument}` must be a dict. "
                f"Received: {argument}={values!r}"
            )
        _check_names(argument, values)
    for name, value in hparams.items():
        if not isinstance(value, str | numbers.Real):
            raise TypeError(
                "Argument `hparams` must map each name to a string, number "
                f"or bool. Received: hparams[{name!r}]={value!r}"
            )
    kept = {}
    for name, value in metrics.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                "Argument `metrics` must map each name to a number or None. "
                f"Received: metrics[{name!r}]={value!r}"
            )
        if not math.isnan(value):
            kept[name] = float(value)
    writer = ScalarWriter(log_dir)
    writer.summary(hp.hparams_pb(hparams).SerializeToString())
    writer.scalars(0, kept)
    writer.close()


def _write(log_dir, summary):
    writer = ScalarWriter(log_dir)
    writer.summary(summary.SerializeToString())
    writer.close()
