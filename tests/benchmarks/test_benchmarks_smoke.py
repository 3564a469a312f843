"""Benchmarks are not tests: this only checks that they run (smoke mode)."""

import importlib.util
import json
import sys
from pathlib import Path

import keras

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def _load(name):
    """benchmarks/<name>.py as a module (its imports found beside it)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(
            name, BENCHMARKS / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_every_benchmark_runs_in_smoke_mode(tmp_path, capsys):
    readme = (BENCHMARKS.parent / "README.md").read_text()
    run_all = _load("run_all")
    arguments = ["--this-backend", "--smoke", "--out", str(tmp_path)]
    assert run_all.main(arguments) == 0
    backend = keras.backend.backend()
    names = ["logging_cost", "throughput", "sweep_speed"]
    if backend == "tensorflow":
        names += ["schedule_cost", "schedule_quality"]
    for name in names:
        data = json.loads((tmp_path / f"{name}_{backend}.json").read_text())
        assert data["backend"] == backend and data["versions"]["keras"]
        assert (tmp_path / f"{name}_{backend}.md").exists()
    speed = json.loads((tmp_path / f"throughput_{backend}.json").read_text())
    assert set(speed["updates_per_second"]) == {
        "recipe",
        "bare_fit",
        "plain_fit",
        "raw_loop",
    }
    assert all(v > 0 for v in speed["updates_per_second"].values())
    sweep = json.loads((tmp_path / f"sweep_speed_{backend}.json").read_text())
    assert sweep["runs"] == 15 and sweep["same_results"]
    logging = json.loads(
        (tmp_path / f"logging_cost_{backend}.json").read_text()
    )
    assert logging["ratio_to_no_logging"]["none"]["median"] == 1.0
    large = logging["large_steps_per_execution"]
    if large is not None:  # torch's trainer allows only 1
        assert large["every_update_logged_once"]
    if backend == "tensorflow":
        quality = json.loads(
            (tmp_path / f"schedule_quality_{backend}.json").read_text()
        )
        assert set(quality["schedules"]) >= {"cosine", "one_cycle", "constant"}
    summary = (tmp_path / "summary.md").read_text()
    assert "Per-step logging" in summary and "| met |" in summary
    assert f"| {backend} | Sweep of 15 runs" in summary
    # A smoke run never touches the README's table.
    assert (BENCHMARKS.parent / "README.md").read_text() == readme


def test_stalled_epochs_are_counted_and_kept_apart():
    common = _load("_common")
    # Scripted epochs: B is 10% slower than A; one epoch of each stalls
    # (twice its time), in different rounds.
    scripted = {
        "A": iter([[1.0, 1.0], [1.0, 2.0], [1.0, 1.0]]),
        "B": iter([[2.2, 1.1], [1.1, 1.1], [1.1, 1.1]]),
    }
    runners = {
        name: (lambda epochs, rounds=rounds: next(rounds))
        for name, rounds in scripted.items()
    }
    times = common.alternate_epochs(runners, rounds=3, epochs=2)
    assert times["A"]["all"] == [1.0, 1.5, 1.0]
    assert times["A"]["steady"] == [1.0, 1.0, 1.0]
    assert times["B"]["steady"] == [1.1, 1.1, 1.1]
    assert (times["A"]["stalls"], times["B"]["stalls"]) == (1, 1)
    # The ratios keep every epoch, unless asked otherwise.
    kept = common.ratio_stats(times, "A")["B"]
    assert kept["min"] < 1.0 and kept["max"] > 1.5
    steady = common.ratio_stats(times, "A", key="steady")["B"]
    assert steady["median"] == steady["min"] == steady["max"]
    assert abs(steady["median"] - 1.1) < 1e-12
