"""SIGKILL at any moment, restart, finish: the same run as never killed,
and TensorBoard shows each update exactly once, with the values of the
run that finished (tensorboard's reader and a real server's scalars API).
"""

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from keras_lrtools.callbacks.step_tensorboard import EVERY_POINT_FLAGS
from tests.callbacks.helpers import read_scalars
from tests.reliability import resumable
from tests.tensorboard_server import tensorboard_server
from tests.tensorboard_server import wait_for

ROOT = Path(__file__).parents[2]


def _run_until_done(root, seed, runs, *extra):
    exits = []
    for _ in range(runs + 2):
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.reliability.resumable",
                str(root),
                str(seed),
                *extra,
            ],
            cwd=ROOT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            capture_output=True,
            text=True,
            timeout=900,
        )
        exits.append(completed.returncode)
        if completed.returncode == 0:
            break
        assert completed.returncode == -signal.SIGKILL, completed.stderr[-3000:]
    # Killed once per family (each first attempt), then one clean finish.
    assert exits == [-signal.SIGKILL] * runs + [0], f"seed {seed}"


def _raw_points(run_dir, tag):
    """Every point of `tag` in the files, hidden or not."""
    from tensorboard.backend.event_processing.event_file_loader import (
        EventFileLoader,
    )

    steps = []
    for path in sorted(Path(run_dir).glob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            steps += [event.step for v in event.summary.value if v.tag == tag]
    return steps


def _server_points(get, run, tag):
    try:
        points = get("/data/plugin/scalars/scalars", run=run, tag=tag)
    except OSError:  # not loaded yet
        return []
    return [(step, value) for _, step, value in points]


def _check_family(root, name, updates, get):
    result = json.loads((root / "results" / f"{name}.json").read_text())
    resumed, reference = result["resumed"], result["reference"]
    run_dir = root / name / "run" / "logs" / "train"
    logs = read_scalars(run_dir)
    expected = read_scalars(root / name / "reference" / "logs" / "train")
    mode, _ = result["kill"]
    context = (name, mode)
    if mode in ("ring_drained", "after_log_before_backup"):
        # The killed run had written points the resumed one replays.
        assert len(_raw_points(run_dir, "learning_rate")) > updates, context
    for tag in ("learning_rate", "learning_rate_scale"):
        assert [s for s, _ in logs[tag]] == list(range(updates)), context
    assert logs["learning_rate_scale"] == expected["learning_rate_scale"]
    # The same float32 values, to the last bit but one: the logger
    # evaluates the schedule over blocks of updates, and tensorflow's
    # vectorized cos can round a step differently by its place in a block
    # (a resumed run's blocks start elsewhere).
    np.testing.assert_allclose(
        [v for _, v in logs["learning_rate"]],
        [v for _, v in expected["learning_rate"]],
        rtol=2.4e-7,
        atol=0,
        err_msg=str(context),
    )
    np.testing.assert_allclose(
        [v for _, v in logs["loss"]],
        [v for _, v in expected["loss"]],
        rtol=1e-5,
        err_msg=str(context),
    )
    # What a user sees: the server's scalars API, every update once.
    run = f"{name}/run/logs/train"
    shown = wait_for(
        lambda: _server_points(get, run, "learning_rate"),
        lambda points: len(points) >= updates,
        seconds=300,  # the first run waits for the server's first load
    )
    assert [s for s, _ in shown] == list(range(updates)), context
    np.testing.assert_allclose(
        [v for _, v in shown],
        [v for _, v in expected["learning_rate"]],
        rtol=1e-7,
    )
    epoch_loss = read_scalars(run_dir)["epoch_loss"]
    assert len(epoch_loss) == len({s for s, _ in epoch_loss}), context
    assert resumed["plateau_state"] == reference["plateau_state"], context
    # Reduced at least once (not when the LR in force is already 0).
    assert resumed["scale"] == reference["scale"] < 1.0, context
    assert resumed["iterations"] == reference["iterations"] == updates
    for ours, theirs in zip(
        resumed["weights"], reference["weights"], strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)


def test_every_family_resumes_after_sigkill_as_if_never_killed(tmp_path):
    seed = random.randrange(10**6)
    names = list(resumable.families())
    plan = resumable.kill_plan(seed, names)
    # Every kind of kill point meets several families.
    assert {mode for mode, _ in plan.values()} == set(resumable.KILL_MODES)
    _run_until_done(tmp_path, seed, len(names))
    updates = resumable.EPOCHS * resumable.BATCHES
    # The server's Python data loader (the other test: its default one).
    with tensorboard_server(
        tmp_path, *EVERY_POINT_FLAGS, "--load_fast", "false"
    ) as get:
        for name in names:
            _check_family(tmp_path, name, updates, get)


def test_a_kill_late_in_an_epoch_longer_than_the_ring(tmp_path):
    """2300 updates into a 2600-update epoch: the recorder's ring (1024)
    was drained and written twice before the kill."""
    _run_until_done(tmp_path, 0, 1, "long")
    updates = resumable.LONG_EPOCHS * resumable.LONG_BATCHES
    run_dir = tmp_path / "cosine" / "run" / "logs" / "train"
    assert len(_raw_points(run_dir, "learning_rate")) == updates + 2048
    # The default server (its fast data loader where installed); the
    # other test uses the Python one.
    with tensorboard_server(tmp_path, *EVERY_POINT_FLAGS) as get:
        _check_family(tmp_path, "cosine", updates, get)
