"""benchmarks/gpu_check.sh, all of it that runs without a GPU: the wheel
bundle made here, and the check on the CPU jax backend in --smoke mode
with keras installed from that bundle."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "gpu_check.sh"

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="the check sets KERAS_BACKEND=jax itself: run in the jax pass",
)


def test_the_bundle_and_the_smoke_check_run_on_cpu_jax(tmp_path):
    env = {
        **os.environ,
        "PYTHON": sys.executable,
        "GPU_BUNDLE": str(tmp_path / "bundle"),
    }
    bundled = subprocess.run(
        ["bash", str(SCRIPT), "--bundle"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert bundled.returncode == 0, bundled.stderr[-3000:]
    wheels = {p.name for p in (tmp_path / "bundle" / "wheels").iterdir()}
    assert f"keras-{keras.__version__}-py3-none-any.whl" in wheels
    assert any(w.startswith("optree-") for w in wheels)
    data = tmp_path / "bundle" / "signs"
    assert (data / "test_signs.h5").exists()

    # On the GPU machine the data comes from the bundle.
    env.pop("KERAS_LRTOOLS_DATA")
    checked = subprocess.run(
        ["bash", str(SCRIPT), "--smoke", "--out", str(tmp_path / "results")],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert checked.returncode == 0, checked.stderr[-3000:]
    (path,) = (tmp_path / "results").glob("gpu_check_*.json")
    result = json.loads(path.read_text())
    assert result["device"].startswith("CPU (") and result["backend"] == "jax"
    # keras came from the bundle, not from this environment.
    assert not result["keras_location"].startswith(
        os.path.dirname(os.path.dirname(keras.__file__))
    )
    assert len(result["runs"]) == 15
    for run in result["runs"]:
        assert run["epochs"] == 3 and run["updates_per_second"] > 0
    assert result["sweep_seconds"] > 0 and result["smoke_run_seconds"] > 0
    table = path.with_suffix(".md").read_text()
    assert table.count("| 3 |") == 15
