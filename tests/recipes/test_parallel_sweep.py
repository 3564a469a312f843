"""`--schedule all --jobs N`: runs in worker processes, pinned threads,
the sequential sweep's results, and no worker left behind."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

from tests.callbacks.helpers import read_scalars
from tests.recipes.test_train_signs import RECIPE
from tests.recipes.test_train_signs import RECIPES
from tests.recipes.test_train_signs import RESULT
from tests.recipes.test_train_signs import _only_run
from tests.recipes.test_train_signs import _recipe

NAMES = ("constant", "cosine", "plateau")  # a float, a schedule, a callback
TIMING = ("seconds", "updates_per_second")


def _sweep(tmp_path, jobs, monkeypatch, capsys):
    """A two-seed smoke sweep of NAMES; (output, {run: summary}, folder)."""
    recipe = _recipe()
    monkeypatch.setattr(recipe.signs_schedules, "NAMES", NAMES)
    log_dir = tmp_path / f"jobs-{jobs}"
    argv = ["--smoke", "--schedule", "all", "--epochs", "2", "--seeds", "1,2"]
    argv += ["--jobs", str(jobs), "--log-dir", str(log_dir)]
    args = recipe.signs_arguments.parse_arguments(argv)
    code = recipe.main(args)
    out = capsys.readouterr().out
    assert code == 0, out[-3000:]
    sweep = _only_run(log_dir)
    summaries = {}
    for run in sorted(p for p in sweep.iterdir() if p.is_dir()):
        summary = json.loads((run / "summary.json").read_text())
        summaries[run.name] = {
            k: v for k, v in summary.items() if k not in TIMING
        }
    return out, summaries, sweep


def test_a_parallel_sweep_reports_and_logs_what_a_sequential_one_does(
    tmp_path, monkeypatch, capsys
):
    out_1, sequential, sweep_1 = _sweep(tmp_path, 1, monkeypatch, capsys)
    out_2, parallel, sweep_2 = _sweep(tmp_path, 2, monkeypatch, capsys)
    assert "Training 2 runs at once" in out_2
    runs = [f"{name}-seed{seed}" for name in NAMES for seed in (1, 2)]
    assert sorted(sequential) == sorted(runs)
    assert parallel == sequential  # every number but the timing
    for run in runs:
        for folder in ("train", "validation"):
            assert read_scalars(sweep_2 / run / folder) == read_scalars(
                sweep_1 / run / folder
            ), (run, folder)
    # Each run's output whole, in the sequential sweep's order.
    for out in (out_1, out_2):
        order = re.findall(r"^-- (\w+), seed (\d)$", out, re.MULTILINE)
        assert [f"{n}-seed{s}" for n, s in order] == runs
        blocks = re.split(r"^-- ", out, flags=re.MULTILINE)[1:]
        for block, (name, _) in zip(blocks, order, strict=True):
            (result,) = RESULT.findall(block)
            assert result[0] == name
    assert _without_seconds(sweep_1 / "summary.md") == _without_seconds(
        sweep_2 / "summary.md"
    )
    # Each worker ran with its share of the cores (what the parent set, or
    # what this test process was given).
    expected = (
        int(os.environ["OMP_NUM_THREADS"])
        if keras.backend.backend() != "jax"
        else 1
    )
    for run in runs:
        settings = json.loads((sweep_2 / run / "run.json").read_text())
        assert settings["cpu_threads"] == expected, run


def _without_seconds(table):
    """The Markdown report's rows less the wall-time column."""
    rows = [line.split(" | ") for line in table.read_text().splitlines()]
    column = rows[0].index("seconds")
    return [row[:column] + row[column + 1 :] for row in rows if len(row) > 1]


@pytest.mark.parametrize("threads", [1, 2])
def test_the_thread_settings_reach_the_backend(threads):
    # A process started without any thread variable, as a user's is.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
        and not k.startswith("TF_NUM_")
    }
    script = (
        f"import sys; sys.path.insert(0, {str(RECIPES)!r}); "
        "import signs_threads; "
        f"signs_threads.pin({threads}); "
        "import keras, numpy; "
        "keras.ops.matmul(numpy.ones((64, 64)), numpy.ones((64, 64))); "
        "print(signs_threads.in_force())"
    )
    finished = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    in_force = int(finished.stdout.split()[-1])
    if keras.backend.backend() == "jax" and threads > 1:
        cores = _recipe().signs_threads.cores()
        assert in_force == cores  # XLA: one thread, or its own pool
    else:
        assert in_force == threads


def _children(pid):
    """The processes `pid` started (Linux's /proc)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid):
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status  # a zombie has ended


@pytest.mark.parametrize("moment", ["workers starting", "runs training"])
def test_a_killed_sweep_leaves_no_worker_and_readable_logs(tmp_path, moment):
    argv = ["--smoke", "--schedule", "all", "--epochs", "400", "--jobs", "2"]
    argv += ["--log-dir", str(tmp_path)]
    script = (
        f"import runpy, sys; sys.path.insert(0, {str(RECIPES)!r}); "
        f"sys.argv = ['train_signs.py', *{argv!r}]; "
        f"runpy.run_path({str(RECIPE)!r}, run_name='__main__')"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers = []
    try:
        deadline = time.monotonic() + 240
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            workers = _workers(parent.pid)
        assert len(workers) == 2, "the sweep started no two workers"
        if moment == "runs training":
            # Until an epoch is written (its first can take seconds on a
            # busy machine: jax compiles the step).
            while not _points_written(tmp_path) and time.monotonic() < deadline:
                time.sleep(1)
            assert _points_written(tmp_path) > 0, "no run trained an epoch"
        # else: killed while they import Keras, before their first run.
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 60
        while any(map(_alive, workers)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not any(map(_alive, workers)), "a worker outlived the sweep"
    finally:
        parent.kill()
        for pid in filter(_alive, workers):  # not left behind if it failed
            os.kill(pid, signal.SIGKILL)
    # What each interrupted run wrote is whole: its updates in order.
    _points_written(tmp_path)


def _workers(pid):
    """The sweep's worker processes (spawned by multiprocessing)."""
    return [
        child
        for child in _children(pid)
        if "spawn_main" in Path(f"/proc/{child}/cmdline").read_text()
    ]


def _points_written(log_dir):
    """The loss points of every run under `log_dir`, each run's in order."""
    written = 0
    for event_file in log_dir.glob("*/*/train/events.out.tfevents.*"):
        points = read_scalars(event_file.parent).get("loss", [])
        steps = [step for step, _ in points]
        assert steps == list(range(len(steps))), event_file
        written += len(steps)
    return written
