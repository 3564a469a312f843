"""`--schedule all`: every schedule on every seed, one report.

Each run writes its logs (and its HParams session) into its own folder of
the sweep; the sweep's folder gets the HParams experiment (which
hyperparameters and metrics the dashboard shows) and the report.
"""

import logging
import os

import signs_report

from keras_lrtools.callbacks import is_chief
from keras_lrtools.hparams import log_experiment


def run_folder(sweep, name, seeds, seed):
    """`<sweep>/<name>`, or `<sweep>/<name>-seed<k>` with several seeds."""
    return os.path.join(
        sweep, name if len(seeds) == 1 else f"{name}-seed{seed}"
    )


def run_sweep(sweep, names, seeds, train):
    """Trains `train(name, seed, folder)` for every name and seed; writes
    the HParams experiment and the report; returns the summaries."""
    # A new model per run: TensorFlow's retracing warning is expected.
    logging.getLogger("tensorflow").addFilter(
        lambda record: "tf.function retracing" not in record.getMessage()
    )
    summaries = []
    for name in names:
        for seed in seeds:
            if is_chief():
                print(f"-- {name}, seed {seed}", flush=True)
            folder = run_folder(sweep, name, seeds, seed)
            summaries.append(train(name, seed, folder))
    if not is_chief():  # process 0 of several writes the report
        return summaries
    log_experiment(
        sweep,
        {
            name: [s["hparams"][name] for s in summaries]
            for name in signs_report.HPARAMS
        },
        list(signs_report.METRICS),
    )
    table = signs_report.write_report(sweep, summaries)
    print(table)
    print(
        f"Report: {os.path.join(sweep, 'summary.md')}, summary.csv, "
        "runs.csv, summary.png; HParams: "
        f"tensorboard --logdir {sweep}"
    )
    return summaries
