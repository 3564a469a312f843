"""Benchmarks are not tests: this only checks that they run (smoke mode)."""

import importlib.util
import json
from pathlib import Path

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_logging_cost_runs_in_smoke_mode(tmp_path, capsys):
    assert (
        _load("logging_cost.py").main(["--smoke", "--out", str(tmp_path)]) == 0
    )
    (result,) = tmp_path.glob("logging_cost_*.json")
    data = json.loads(result.read_text())
    assert data["ratio_to_no_logging"]["none"]["median"] == 1.0
    assert "step_tensorboard" in data["ratio_to_no_logging"]
    large = data["large_steps_per_execution"]
    if large is not None:
        assert large["every_update_logged_once"]
    assert "RESULT variant=step_tensorboard" in capsys.readouterr().out
