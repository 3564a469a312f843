"""`--schedule all`: every schedule on every seed, one report.

Each run writes its logs (and its HParams session) into its own folder of
the sweep; the sweep's folder gets the HParams experiment (which
hyperparameters and metrics the dashboard shows) and the report. With
`--jobs N`, N runs train at once, each in a worker process of its own
(started with the thread variables of signs_threads already set); every
run is seeded on its own, so the report and logs are those of the
sequential sweep, and each run's output is printed whole, in order.
"""

import _thread
import concurrent.futures
import contextlib
import io
import logging
import multiprocessing
import os
import threading
import time

import signs_report
import signs_threads

from keras_lrtools.callbacks import is_chief
from keras_lrtools.callbacks import tensorboard_command
from keras_lrtools.hparams import log_experiment


def run_folder(sweep, name, seeds, seed):
    """`<sweep>/<name>`, or `<sweep>/<name>-seed<k>` with several seeds."""
    return os.path.join(
        sweep, name if len(seeds) == 1 else f"{name}-seed{seed}"
    )


def run_sweep(sweep, names, seeds, train, jobs=1, args=None):
    """Trains `train(name, seed, folder)` for every name and seed (with
    `jobs` > 1, the recipe's own training with `args` in worker
    processes); writes the HParams experiment and the report; returns the
    summaries."""
    _quiet_retracing()
    if is_chief():
        print(f"Sweep of {len(names)} schedules, seeds {seeds}: {sweep}")
    runs = [
        (name, seed, run_folder(sweep, name, seeds, seed))
        for name in names
        for seed in seeds
    ]
    if jobs > 1:
        summaries = _in_workers(runs, jobs, args)
    else:
        summaries = []
        for name, seed, folder in runs:
            if is_chief():
                print(f"-- {name}, seed {seed}", flush=True)
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
        "runs.csv, summary.png; per-step curves and HParams: "
        f"{tensorboard_command(sweep)}"
    )
    return summaries


def _quiet_retracing():
    # A new model per run: TensorFlow's retracing warning is expected.
    logging.getLogger("tensorflow").addFilter(
        lambda record: "tf.function retracing" not in record.getMessage()
    )


def _in_workers(runs, jobs, args):
    """The runs in `jobs` worker processes; their summaries in order."""
    signs_threads.pin(args.threads)  # inherited by the workers
    workers = min(jobs, len(runs))
    executor = concurrent.futures.ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),  # a fresh Keras
        initializer=_start_worker,
        initargs=(args, os.getpid()),
    )
    print(f"Training {workers} runs at once, {args.threads} thread(s) each.")
    summaries = []
    try:
        futures = [executor.submit(_train_in_worker, *run) for run in runs]
        for (name, seed, _), future in zip(runs, futures, strict=True):
            output, summary = future.result()
            print(f"-- {name}, seed {seed}\n{output}", end="", flush=True)
            summaries.append(summary)
    except BaseException:
        # Ctrl-C reaches the workers too: each writes what its run holds.
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown()
    return summaries


# In each worker process: the recipe's module, its data and arguments.
_WORKER = {}
_RUN_IN_PROGRESS = threading.Lock()


def _start_worker(args, sweep_pid):
    # First, and with the sweep's own pid: a sweep killed while this worker
    # still imports Keras must end it too.
    threading.Thread(
        target=_end_with_parent, args=(sweep_pid,), daemon=True
    ).start()
    import train_signs

    _quiet_retracing()
    _WORKER.update(
        recipe=train_signs,
        args=args,
        data=train_signs.signs_data.load(args.data_dir, args.smoke),
        distribution=train_signs.signs_strategy.make_distribution(args),
        interrupted=False,
    )


def _end_with_parent(parent):
    """Ends this worker when the sweep's process is gone (killed): at once
    between runs; a run in progress first stops as on Ctrl-C, writing what
    it holds."""
    while os.getppid() == parent:
        time.sleep(1)
    if not _RUN_IN_PROGRESS.acquire(blocking=False):
        _thread.interrupt_main()
        _RUN_IN_PROGRESS.acquire(timeout=30)
    os._exit(1)


def _train_in_worker(name, seed, folder):
    """One run; returns (its printed output, its summary)."""
    if _WORKER["interrupted"]:
        raise KeyboardInterrupt  # started after Ctrl-C: not trained
    recipe, output = _WORKER["recipe"], io.StringIO()
    try:
        with _RUN_IN_PROGRESS, contextlib.redirect_stdout(output):
            summary = recipe.train(
                name,
                seed,
                _WORKER["args"],
                _WORKER["data"],
                folder,
                _WORKER["distribution"],
            )
    except (recipe.Interrupted, KeyboardInterrupt) as interrupt:
        _WORKER["interrupted"] = True
        raise recipe.Interrupted(str(interrupt)) from None
    return output.getvalue(), summary
