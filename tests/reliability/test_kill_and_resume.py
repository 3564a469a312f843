"""SIGKILL mid-epoch, restart, finish: the same run as never killed."""

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.callbacks.helpers import read_scalars
from tests.reliability import resumable

ROOT = Path(__file__).parents[2]


def test_every_family_resumes_after_sigkill_as_if_never_killed(tmp_path):
    seed = random.randrange(10**6)
    names = list(resumable.families())
    exits = []
    for _ in range(len(names) + 2):
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.reliability.resumable",
                str(tmp_path),
                str(seed),
            ],
            cwd=ROOT,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
            capture_output=True,
            text=True,
            timeout=600,
        )
        exits.append(completed.returncode)
        if completed.returncode == 0:
            break
        assert completed.returncode == -signal.SIGKILL, completed.stderr[-3000:]
    # Killed once per family (each first attempt), then one clean finish.
    assert exits == [-signal.SIGKILL] * len(names) + [0], f"seed {seed}"
    updates = resumable.EPOCHS * resumable.BATCHES
    for name in names:
        result = json.loads((tmp_path / "results" / f"{name}.json").read_text())
        resumed, reference = result["resumed"], result["reference"]
        assert 0 < result["killed_after_update"] % resumable.BATCHES
        logs = read_scalars(tmp_path / name / "run" / "logs" / "train")
        expected = read_scalars(
            tmp_path / name / "reference" / "logs" / "train"
        )
        # The killed run's event file and the resumed one's: every update
        # exactly once on the step axis, with the reference's LR exactly.
        for tag in ("learning_rate", "learning_rate_scale"):
            assert [s for s, _ in logs[tag]] == list(range(updates)), (
                name,
                tag,
            )
            assert logs[tag] == expected[tag], (name, tag, seed)
        np.testing.assert_allclose(
            [v for _, v in logs["loss"]],
            [v for _, v in expected["loss"]],
            rtol=1e-5,
            err_msg=f"{name}, seed {seed}",
        )
        assert resumed["plateau_state"] == reference["plateau_state"], name
        # Reduced at least once (not when the LR in force is already 0).
        assert resumed["scale"] == reference["scale"] < 1.0, name
        assert resumed["iterations"] == reference["iterations"] == updates
        for ours, theirs in zip(
            resumed["weights"], reference["weights"], strict=True
        ):
            np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-7)
