"""The main job, run as a user runs it: real SIGNS data, real fits."""

import csv
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.callbacks.helpers import read_scalars
from tests.cli import assert_usage_error

RECIPE = Path(__file__).parents[2] / "recipes" / "train_signs.py"
RESULT = re.compile(
    r"^RESULT schedule=(\S+) model=(\S+) epochs=(\d+) "
    r"train_accuracy=([\d.]+) test_accuracy=([\d.]+) seconds=([\d.]+)$",
    re.MULTILINE,
)


def _recipe():
    spec = importlib.util.spec_from_file_location("train_signs", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(argv, capsys):
    code = _recipe().main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _only_run(log_dir):
    (run,) = [p for p in Path(log_dir).iterdir() if p.is_dir()]
    return run


def test_smoke_run_trains_logs_and_prints_a_result_line(tmp_path, capsys):
    code, out = _run(
        ["--smoke", "--schedule", "one_cycle", "--log-dir", str(tmp_path)],
        capsys,
    )
    assert code == 0
    (result,) = RESULT.findall(out)
    assert result[:3] == ("one_cycle", "mlp", "3")
    assert "Training on CPU" in out
    run = _only_run(tmp_path)
    assert run.name.startswith("one_cycle-")
    scalars = read_scalars(run / "train")
    updates = 3 * 6  # 180 smoke pictures / 32 = 6 updates an epoch
    for tag in (
        "learning_rate",
        "loss",
        "accuracy",
        "adam_effective_learning_rate",
    ):
        assert [s for s, _ in scalars[tag]] == list(range(updates)), tag
    config = json.loads((run / "run.json").read_text())
    from keras_lrtools.schedules import OneCycle

    schedule = OneCycle(**config["arguments"])
    np.testing.assert_allclose(
        [v for _, v in scalars["learning_rate"]],
        [float(schedule(k)) for k in range(updates)],
        rtol=1e-6,
    )
    validation = read_scalars(run / "validation")
    assert [s for s, _ in validation["epoch_accuracy"]] == [0, 1, 2]


def test_the_course_convnet_trains_too(tmp_path, capsys):
    code, out = _run(
        [
            "--smoke",
            "--model",
            "convnet",
            "--schedule",
            "cyclical",
            "--epochs",
            "2",
            "--log-dir",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 0
    (result,) = RESULT.findall(out)
    assert result[:3] == ("cyclical", "convnet", "2")
    model = _recipe().build_model("convnet")
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dense",
    ]
    assert model.count_params() == 8 * 4 * 4 * 3 + 8 + 16 * 2 * 2 * 8 + 16 + (
        2 * 2 * 16 * 6 + 6
    )


def test_list_prints_every_schedule_with_its_defaults(capsys):
    code, out = _run(["--list"], capsys)
    assert code == 0
    from keras_lrtools.schedules import SCHEDULES_BY_NAME

    for name in [*SCHEDULES_BY_NAME, "constant", "plateau"]:
        assert re.search(rf"^  {name} +[+ ] \w+", out, re.MULTILINE), name


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--schedule", "cosine_annealing"],
            "unknown schedule 'cosine_annealing'",
        ),
        (["--epochs", "0"], "--epochs must be a positive integer"),
        (["--epochs", "-3"], "--epochs must be a positive integer"),
        (["--data-dir", "/no/such/folder"], "does not exist. Hint:"),
        (
            ["--schedule", "cosine", "--set", "nonsense"],
            "--set expects NAME=VALUE",
        ),
        (["--lr", "-0.1"], "--lr must be a positive number"),
    ],
)
def test_bad_arguments_exit_with_a_message_and_no_traceback(argv, message):
    assert_usage_error([str(RECIPE), *argv], message)


def test_unknown_schedule_argument_is_explained(tmp_path, capsys):
    code, output = _run(
        [
            "--smoke",
            "--schedule",
            "cosine",
            "--set",
            "gamma=0.5",
            "--log-dir",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 2
    assert "has no argument 'gamma'" in output


def test_a_collapsing_rate_is_reproduced_and_caught(tmp_path, capsys):
    code, out = _run(
        [
            "--schedule",
            "constant",
            "--lr",
            "0.01",
            "--epochs",
            "30",
            "--log-dir",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 0
    (result,) = RESULT.findall(out)
    assert float(result[4]) == pytest.approx(1 / 6, abs=1e-4)
    assert int(result[2]) <= 6  # the guard stopped it within a few epochs
    assert "LearningRateGuard" in out
    assert "lower the learning rate" in out


def test_sweep_writes_a_table_a_csv_and_a_figure(tmp_path, capsys):
    code, out = _run(
        [
            "--smoke",
            "--schedule",
            "all",
            "--epochs",
            "1",
            "--log-dir",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 0
    recipe = _recipe()
    assert len(RESULT.findall(out)) == len(recipe.SCHEDULE_NAMES)
    sweep = _only_run(tmp_path)
    with open(sweep / "summary.csv") as file:
        rows = list(csv.DictReader(file))
    assert [r["schedule"] for r in rows] == list(recipe.SCHEDULE_NAMES)
    table = (sweep / "summary.md").read_text()
    assert table.count("\n") == len(recipe.SCHEDULE_NAMES) + 2
    from PIL import Image

    with Image.open(sweep / "summary.png") as figure:
        assert figure.size[0] > 800 and figure.size[1] > 600


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def test_tensorboard_serves_the_runs_per_step_scalars(tmp_path, capsys):
    code, _ = _run(
        ["--smoke", "--schedule", "cosine", "--log-dir", str(tmp_path)],
        capsys,
    )
    assert code == 0
    run = _only_run(tmp_path)
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(tmp_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--load_fast",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/data/plugin/scalars"
    train_run = f"{run.name}/train"
    try:
        deadline = time.monotonic() + 90
        tags = {}
        while time.monotonic() < deadline:
            try:
                tags = _get_json(f"{base}/tags")
                if "learning_rate" in tags.get(train_run, {}):
                    break
            except OSError:
                pass
            time.sleep(1)
        assert {
            "learning_rate",
            "loss",
            "accuracy",
            "adam_effective_learning_rate",
        } <= set(tags[train_run])

        def series(tag):
            query = urllib.parse.urlencode({"run": train_run, "tag": tag})
            return _get_json(f"{base}/scalars?{query}")

        points = series("learning_rate")
        assert [step for _, step, _ in points] == list(range(18))
        config = json.loads((run / "run.json").read_text())
        from keras_lrtools.schedules import CosineDecay

        schedule = CosineDecay(
            config["arguments"].pop("initial_learning_rate"),
            config["arguments"].pop("decay_steps"),
            **config["arguments"],
        )
        np.testing.assert_allclose(
            [value for _, _, value in points],
            [float(schedule(k)) for k in range(18)],
            # Logged from one vectorized call: jax's array cos can differ
            # from its scalar one in the last bit, and near the floor
            # 1 + cos(pi * f) cancels, so a few ulps show as 1e-6.
            rtol=1e-5,
        )
        assert [s for _, s, _ in series("loss")] == list(range(18))
        assert [s for _, s, _ in series("accuracy")] == list(range(18))
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_device_is_named():
    backend, on_gpu, text = _recipe().device_description()
    assert backend == keras.backend.backend()
    assert text.startswith("GPU" if on_gpu else "CPU")


def test_a_backend_that_is_not_installed_is_one_line(tmp_path):
    """KERAS_BACKEND=jax with only the main install: exit 2, one line,
    before Keras is imported (sys.modules[name] = None hides jax)."""
    script = (
        "import runpy, sys; sys.modules['jax'] = None; "
        f"sys.argv = ['train_signs.py']; runpy.run_path({str(RECIPE)!r}, "
        "run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KERAS_BACKEND": "jax"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "train_signs.py: error: KERAS_BACKEND=jax, but jax is not installed "
        "(pip install jax)."
    ]


def test_find_lr_alone_writes_its_plot_into_an_lr_find_folder(tmp_path, capsys):
    code, out = _run(
        ["--smoke", "--find-lr", "--log-dir", str(tmp_path)], capsys
    )
    assert code == 0
    assert not RESULT.findall(out)  # nothing trains
    run = _only_run(tmp_path)
    assert run.name.startswith("lr_find-")
    assert (run / "lr_find.png").stat().st_size > 0
