"""Two real processes on JAX's distributed runtime (127.0.0.1, gloo).

Each test starts its processes on a free local port, bounded in time;
tests/distribution/multiworker.py is one process of a run. Runs in the
jax pass of the suite.
"""

import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

from tests.callbacks.helpers import read_scalars
from tests.distribution import multiworker
from tests.distribution.test_distribution import _free_ports
from tests.recipes.test_train_signs import RESULT

ROOT = Path(__file__).parents[2]
pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="JAX's distributed runtime (runs in the jax pass)",
)
LIMIT = 240  # seconds any process may take


def _start(argv, env=None):
    return subprocess.Popen(
        [sys.executable, *argv],
        cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": "jax", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(processes):
    """(returncode, stdout, stderr) of each, all ended within LIMIT."""
    deadline = time.monotonic() + LIMIT
    results = []
    for process in processes:
        try:
            out, err = process.communicate(
                timeout=max(1, deadline - time.monotonic())
            )
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            pytest.fail(f"a process ran past {LIMIT} s")
        results.append((process.returncode, out, err))
    return results


def _scenario(mode, root, processes=2):
    if mode.startswith("one"):
        argv = ["-m", "tests.distribution.multiworker", mode, str(root)]
        return _finish([_start(argv)])
    (port,) = _free_ports(1)
    return _finish(
        [
            _start(
                [
                    "-m",
                    "tests.distribution.multiworker",
                    *(mode, str(root), str(port), str(index)),
                ]
            )
            for index in range(processes)
        ]
    )


def _result(outcome):
    code, out, err = outcome
    assert code == 0, err[-3000:]
    (line,) = [t for t in out.splitlines() if t.startswith("RESULT ")]
    return json.loads(line[len("RESULT ") :])


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One process on the same global batch."""
    (outcome,) = _scenario("one", tmp_path_factory.mktemp("one"))
    return _result(outcome)


def test_two_processes_train_as_one_process_does(tmp_path, reference):
    chief, worker = (_result(o) for o in _scenario("two", tmp_path))
    # Identical replicas, equal to one process on the global batch: every
    # update applied the same LR on both.
    assert chief["weight"] == worker["weight"] == reference["weight"]
    assert chief["iterations"] == worker["iterations"] == 24
    # The plateau decided from the global loss (the loss logged is the
    # one-process loss), and both applied every reduction.
    assert chief["loss"] == reference["loss"]
    assert chief["scale"] == worker["scale"] == reference["scale"] < 1
    assert chief["learning_rate_scale"] == reference["learning_rate_scale"]
    # One event file, written by process 0: each global update once.
    assert chief["learning_rate"] == reference["learning_rate"]
    assert [s for s, _ in chief["learning_rate"]] == list(range(24))
    assert len(chief["event_files"]) == 1 == len(reference["event_files"])
    assert not (tmp_path / "backup").exists()  # deleted once, by process 0


def test_killed_together_and_restarted_they_resume_as_one(tmp_path, reference):
    cut = _scenario("cut", tmp_path)
    assert [code for code, _, _ in cut] == [-9, -9]
    assert (tmp_path / "backup").is_dir()  # process 0's backup of epoch 3
    chief, worker = (_result(o) for o in _scenario("resume", tmp_path))
    assert chief["weight"] == worker["weight"] == reference["weight"]
    assert chief["scale"] == worker["scale"] == reference["scale"]
    # What TensorBoard shows: every update once, the uninterrupted values.
    scalars = read_scalars(tmp_path / "logs" / "train")
    assert scalars["learning_rate"] == [
        tuple(p) for p in reference["learning_rate"]
    ]
    assert not (tmp_path / "backup").exists()


def test_the_guard_restores_and_stops_every_process_together(tmp_path):
    (one,) = _scenario("one_nan", tmp_path / "one")
    chief, worker = _scenario("two_nan", tmp_path / "two")
    reference = _result(one)
    results = [_result(chief), _result(worker)]
    # The NaN is in process 1's part of the global batch; every process
    # restores the healthy state twice, then stops: as one process does.
    for result in results:
        for key in ("iterations", "weight", "scale"):
            assert _same(result[key], reference[key]), key
    # Process 0 alone reports it.
    assert chief[1].count("LearningRateGuard") >= 3
    assert "LearningRateGuard" not in worker[1]


def _same(a, b):
    return a == b or (math.isnan(a) and math.isnan(b))


def test_a_dead_peer_ends_the_other_process(tmp_path):
    start = time.monotonic()
    (chief_code, _, chief_err), (worker_code, _, _) = _scenario("die", tmp_path)
    assert worker_code == 9
    assert chief_code != 0  # JAX ends it: its peer stopped answering
    assert "unhealthy" in chief_err or "heartbeat" in chief_err
    assert time.monotonic() - start < multiworker.PEER_TIMEOUT + 120


def test_a_peer_that_never_comes_ends_the_wait(tmp_path):
    start = time.monotonic()
    ((code, _, err),) = _scenario("alone", tmp_path, processes=1)
    assert code != 0
    assert "DEADLINE_EXCEEDED" in err or "Deadline" in err
    assert time.monotonic() - start < multiworker.PEER_TIMEOUT + 120


def _recipe_run(log_dir, *extra):
    return [
        str(ROOT / "recipes" / "train_signs.py"),
        "--smoke",
        "--schedule",
        "cosine",
        "--log-dir",
        str(log_dir),
        *extra,
    ]


def test_recipe_on_two_processes_logs_once_as_one_process(tmp_path):
    (port,) = _free_ports(1)
    cluster = ["--strategy", "multiworker", "--peer-timeout", "60"]
    two = tmp_path / "two"
    processes = [
        # Process 0 from flags, process 1 from Keras's variables, as a
        # cluster launcher would start it.
        _start(
            _recipe_run(
                two,
                *cluster,
                *("--coordinator", f"127.0.0.1:{port}"),
                *("--num-processes", "2", "--process-id", "0"),
            )
        ),
        _start(
            _recipe_run(two, *cluster),
            env={
                "KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{port}",
                "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                "KERAS_DISTRIBUTION_PROCESS_ID": "1",
            },
        ),
    ]
    one = tmp_path / "one"
    single = _start(_recipe_run(one, "--batch-size", "64"))
    (code0, out0, err0), (code1, out1, err1) = _finish(processes)
    ((code, _, err),) = _finish([single])
    assert code0 == code1 == code == 0, (
        err0[-2000:] + err1[-2000:] + err[-2000:]
    )
    assert "2 devices in 2 processes, global batch 64" in out0
    assert len(RESULT.findall(out0)) == 1 and not RESULT.findall(out1)
    assert "Logs:" not in out1  # process 1 writes and prints nothing
    (run,) = list(two.iterdir())
    assert {p.name for p in run.iterdir()} >= {"run.json", "summary.json"}
    steps = read_scalars(run / "train")["learning_rate"]
    (single_run,) = list(one.iterdir())
    assert steps == read_scalars(single_run / "train")["learning_rate"]
    assert [s for s, _ in steps] == list(range(3 * 3))  # 180 / 64: 3 a epoch


def _free_slurm_job_id():
    """A job id whose JAX coordinator port (61440 + id % 4096) is free."""
    for port in range(61440 + os.getpid() % 4096, 65536):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port - 61440
    pytest.fail("no free port in 61440-65535")


def test_recipe_under_slurm_needs_no_cluster_flags(tmp_path):
    job = str(_free_slurm_job_id())
    slurm = dict(SLURM_JOB_ID=job, SLURM_NTASKS="2")
    slurm.update(SLURM_STEP_NODELIST="localhost", SLURM_NODELIST="localhost")
    outcomes = _finish(
        [
            _start(
                _recipe_run(tmp_path, "--strategy", "multiworker"),
                env={**slurm, "SLURM_PROCID": str(i), "SLURM_LOCALID": str(i)},
            )
            for i in range(2)
        ]
    )
    (code0, out0, err0), (code1, out1, err1) = outcomes
    assert code0 == code1 == 0, err0[-2000:] + err1[-2000:]
    assert "Joining the cluster JAX detects" in out0
    assert "2 devices in 2 processes" in out0
    assert len(RESULT.findall(out0)) == 1 and not RESULT.findall(out1)
