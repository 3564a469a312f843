"""The main job, run as a user runs it: real SIGNS data, real fits."""

import csv
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.callbacks.helpers import read_scalars
from tests.cli import assert_usage_error
from tests.tensorboard_server import tensorboard_server
from tests.tensorboard_server import wait_for

RECIPES = Path(__file__).parents[2] / "recipes"
RECIPE = RECIPES / "train_signs.py"
RESULT = re.compile(
    r"^RESULT schedule=(\S+) model=(\S+) epochs=(\d+) "
    r"train_accuracy=([\d.]+) test_accuracy=([\d.]+) seconds=([\d.]+)$",
    re.MULTILINE,
)


def _recipe():
    """recipes/train_signs.py as a module (its modules beside it)."""
    if str(RECIPES) not in sys.path:
        sys.path.insert(0, str(RECIPES))
    spec = importlib.util.spec_from_file_location("train_signs", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(argv, capsys):
    """main() as the command line runs it; (exit status, output)."""
    recipe = _recipe()
    try:
        code = recipe.main(recipe.signs_arguments.parse_arguments(argv))
    except SystemExit as exit_:
        code = exit_.code
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
    # At the update count each epoch ends with.
    assert [s for s, _ in validation["epoch_accuracy"]] == [6, 12, 18]


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


def _command_line(argv, cwd, hidden=("keras", "tensorflow"), env=None):
    """The recipe run as `python recipes/train_signs.py ARGV` with the
    modules `hidden` not importable (sys.modules[name] = None): an error
    it reports before Keras starts does not need them."""
    script = (
        f"import runpy, sys; sys.modules.update(dict.fromkeys({hidden!r})); "
        f"sys.path.insert(0, {str(RECIPES)!r}); "
        f"sys.argv = ['train_signs.py', *{argv!r}]; "
        f"runpy.run_path({str(RECIPE)!r}, run_name='__main__')"
    )
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--schedule", "cosine_annealing"],
            "unknown schedule 'cosine_annealing'. Choose one of: constant,",
        ),
        (["--epochs", "0"], "--epochs must be a positive integer, got 0"),
        (["--epochs", "-3"], "--epochs must be a positive integer, got -3"),
        (["--batch-size", "0"], "--batch-size must be a positive integer"),
        (["--warmup-epochs", "150"], "--warmup-epochs must be >= 0 and bel"),
        (["--data-dir", "/no/such/folder"], "does not exist. Hint:"),
        (["--set", "nonsense"], "--set expects NAME=VALUE, got 'nonsense'"),
        (["--lr", "-0.1"], "--lr must be a positive number or 'auto', got"),
        (["--lr", "nan"], "--lr must be a positive number or 'auto', got"),
        (
            ["--schedule", "constant", "--set", "learning_rate=-0.001"],
            "--set learning_rate must be a finite number >= 0, got -0.001",
        ),
        (
            ["--set", "warmup_target=Infinity"],
            "--set warmup_target must be a finite number >= 0, got inf",
        ),
        (["--set", "values=[1, -2]"], "--set values must be a finite"),
        (["--seeds", "1,x"], "--seeds must be integers separated by commas"),
        (["--seeds", "1,1", "--schedule", "all"], "must be distinct"),
        (["--seeds", "1,2"], "--seeds is for --schedule all"),
        (["--log-dir", "a_file"], "--log-dir 'a_file': "),
        (["--log-dir", "a_file/logs"], "--log-dir 'a_file/logs': "),
        (["--strategy", "mirrored"], "needs KERAS_BACKEND=tensorflow"),
        (["--jobs", "0"], "--jobs must be a positive integer, got 0"),
        (["--threads", "-1"], "--threads must be a positive integer"),
        (["--jobs", "2"], "--jobs is for --schedule all"),
        (
            ["--schedule", "all", "--jobs", "2", "--strategy", "data_parallel"],
            "with --strategy data_parallel, use --jobs 1",
        ),
    ],
)
def test_bad_arguments_are_one_line_before_keras_starts(
    argv, message, tmp_path
):
    (tmp_path / "a_file").write_text("a user's file")
    jax_only = "mirrored" in argv or "data_parallel" in argv
    backend = {"KERAS_BACKEND": "jax"} if jax_only else {}
    result = _command_line(argv, tmp_path, env=backend)
    assert result.returncode == 2, result.stderr[-2000:]
    (line,) = result.stderr.splitlines()
    assert line.startswith("train_signs.py: error: ") and message in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]
    assert (tmp_path / "a_file").read_text() == "a user's file"


def test_schedule_names_read_before_keras_are_the_run_table():
    recipe = _recipe()
    from keras_lrtools.schedules import RUN_SIZES

    names = recipe.signs_arguments.schedule_names()
    assert names == (*RUN_SIZES, "plateau") == recipe.signs_schedules.NAMES


def test_an_int_rate_is_a_number():
    args = _recipe().signs_arguments.parse_arguments(
        ["--schedule", "constant", "--set", "learning_rate=1", "--lr", "2"]
    )
    assert args.overrides == {"learning_rate": 1.0} and args.lr == 2.0
    assert type(args.overrides["learning_rate"]) is float


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--set", "alpha=-1"], "`alpha` must be"),
        (["--schedule", "piecewise", "--set", "values=[1]"], "`values`"),
    ],
)
def test_bad_schedules_are_one_line_before_data_loads(argv, message):
    assert_usage_error([str(RECIPE), *argv, "--data-dir", "/"], message)


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
    assert output.count("\n") == 1 and "Traceback" not in output
    assert not list(tmp_path.iterdir())  # no folder left behind


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


def _hparams_sessions(get):
    try:
        groups = get(
            "/data/plugin/hparams/session_groups",
            body={
                "experimentName": "",
                "startIndex": 0,
                "sliceSize": 100,
                "allowedStatuses": [
                    "STATUS_UNKNOWN",
                    "STATUS_SUCCESS",
                    "STATUS_FAILURE",
                    "STATUS_RUNNING",
                ],
                "colParams": [],
            },
        )["sessionGroups"]
    except OSError:  # not loaded yet
        return {}
    return {
        session["name"]: (group["hparams"], session["metricValues"])
        for group in groups
        for session in group["sessions"]
    }


def test_sweep_on_two_seeds_reports_medians_and_fills_hparams(tmp_path, capsys):
    argv = ["--smoke", "--schedule", "all", "--epochs", "2", "--seeds", "1,2"]
    code, out = _run([*argv, "--log-dir", str(tmp_path)], capsys)
    assert code == 0
    names = _recipe().signs_schedules.NAMES
    assert len(RESULT.findall(out)) == 2 * len(names)
    sweep = _only_run(tmp_path)
    with open(sweep / "runs.csv") as file:
        runs = list(csv.DictReader(file))
    with open(sweep / "summary.csv") as file:
        rows = list(csv.DictReader(file))
    assert [r["schedule"] for r in rows] == list(names)
    for row in rows:
        mine = [r for r in runs if r["schedule"] == row["schedule"]]
        assert [r["seed"] for r in mine] == ["1", "2"]
        for column in ("final_test_accuracy", "best_test_accuracy"):
            values = [float(r[column]) for r in mine]
            assert float(row[column]) == pytest.approx(
                np.median(values), abs=1e-3
            )
            assert float(row[f"{column}_min"]) == min(values)
            assert float(row[f"{column}_max"]) == max(values)
    table = (sweep / "summary.md").read_text()
    assert table.count("\n") == len(names) + 2
    from PIL import Image

    with Image.open(sweep / "summary.png") as figure:
        assert figure.size[0] > 800 and figure.size[1] > 600

    # TensorBoard's HParams dashboard lists every run with its metrics.
    with tensorboard_server(sweep) as get:
        sessions = wait_for(
            lambda: _hparams_sessions(get),
            lambda found: len(found) == 2 * len(names),
        )
        experiment = get("/data/plugin/hparams/experiment", body={})
    assert {info["name"] for info in experiment["hparamInfos"]} == {
        "schedule",
        "peak_learning_rate",
        "warmup_epochs",
        "seed",
        "batch_size",
        "model",
    }
    assert len(experiment["metricInfos"]) == 5
    by_run = {r["schedule"] + "-seed" + r["seed"]: r for r in runs}
    assert set(sessions) == set(by_run)
    for run_name, (hparams, metrics) in sessions.items():
        run = by_run[run_name]
        assert hparams["schedule"] == run["schedule"]
        assert hparams["seed"] == float(run["seed"])
        assert hparams["model"] == "mlp" and hparams["batch_size"] == 32
        values = {m["name"]["tag"]: m["value"] for m in metrics}
        assert values["final_test_accuracy"] == pytest.approx(
            float(run["final_test_accuracy"]), abs=5e-4
        )
        assert {"best_test_accuracy", "final_loss", "wall_seconds"} <= set(
            values
        )


def test_tensorboard_serves_the_runs_per_step_scalars(tmp_path, capsys):
    code, _ = _run(
        ["--smoke", "--schedule", "cosine", "--log-dir", str(tmp_path)],
        capsys,
    )
    assert code == 0
    run = _only_run(tmp_path)
    train_run = f"{run.name}/train"

    def series(get, tag):
        try:
            return get("/data/plugin/scalars/scalars", run=train_run, tag=tag)
        except OSError:  # not loaded yet
            return []

    with tensorboard_server(tmp_path, "--load_fast", "false") as get:
        points = wait_for(
            lambda: series(get, "learning_rate"), lambda p: len(p) == 18
        )
        tags = get("/data/plugin/scalars/tags")[train_run]
        loss = series(get, "loss")
        accuracy = series(get, "accuracy")
    assert {
        "learning_rate",
        "loss",
        "accuracy",
        "adam_effective_learning_rate",
    } <= set(tags)
    assert [step for _, step, _ in points] == list(range(18))
    config = json.loads((run / "run.json").read_text())
    from keras_lrtools.schedules import CosineDecay

    schedule = CosineDecay(**config["arguments"])
    np.testing.assert_allclose(
        [value for _, _, value in points],
        [float(schedule(k)) for k in range(18)],
        # Logged from one vectorized call: jax's array cos can differ
        # from its scalar one in the last bit, and near the floor
        # 1 + cos(pi * f) cancels, so a few ulps show as 1e-6.
        rtol=1e-5,
    )
    assert [s for _, s, _ in loss] == list(range(18))
    assert [s for _, s, _ in accuracy] == list(range(18))


def test_the_device_is_named():
    backend, on_gpu, text = _recipe().signs_strategy.device_description()
    assert backend == keras.backend.backend()
    assert text.startswith("GPU" if on_gpu else "CPU")


def test_a_backend_that_is_not_installed_is_one_line(tmp_path):
    """KERAS_BACKEND=jax with only the main install: exit 2, one line,
    before Keras is imported (sys.modules[name] = None hides jax)."""
    result = _command_line([], tmp_path, ("jax",), {"KERAS_BACKEND": "jax"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "train_signs.py: error: KERAS_BACKEND=jax, but jax is not installed "
        "(pip install jax)."
    ]
    assert not list(tmp_path.iterdir())


def test_find_lr_alone_writes_its_plot_into_an_lr_find_folder(tmp_path, capsys):
    code, out = _run(
        ["--smoke", "--find-lr", "--log-dir", str(tmp_path)], capsys
    )
    assert code == 0
    assert not RESULT.findall(out)  # nothing trains
    run = _only_run(tmp_path)
    assert run.name.startswith("lr_find-")
    assert (run / "lr_find.png").stat().st_size > 0


def test_ctrl_c_ends_with_one_line_status_130_and_readable_logs(tmp_path):
    # As a user starts it: TensorFlow's start-up noise filtered.
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONUNBUFFERED"] = "1"
    argv = ["--smoke", "--epochs", "2000", "--print-every", "1"]
    argv += ["--log-dir", str(tmp_path)]
    # A shell's background job ignores SIGINT; in a terminal Ctrl-C
    # raises KeyboardInterrupt: the child restores that, then runs the
    # recipe as `python recipes/train_signs.py ...` does.
    script = (
        "import runpy, signal, sys; "
        "signal.signal(signal.SIGINT, signal.default_int_handler); "
        f"sys.path.insert(0, {str(RECIPES)!r}); "
        f"sys.argv = ['train_signs.py', *{argv!r}]; "
        f"runpy.run_path({str(RECIPE)!r}, run_name='__main__')"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        for line in process.stdout:
            if line.startswith("  epoch     3/"):
                break
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err[-2000:]
    run = _only_run(tmp_path)
    assert len(err.splitlines()) == 1, err[-3000:]
    (line,) = err.splitlines()
    found = re.fullmatch(
        rf"train_signs.py: interrupted at update (\d+); logs kept in "
        rf"{re.escape(str(run))}",
        line,
    )
    assert found, line
    update = int(found.group(1))
    steps = [s for s, _ in read_scalars(run / "train")["learning_rate"]]
    # Every update written up to the last drained one, in order: the two
    # epochs before the third's progress line at least (6 updates each).
    assert steps == list(range(len(steps))) and 12 <= len(steps) <= update


def test_the_test_set_evaluation_is_keras_evaluate_in_one_forward_pass():
    recipe = _recipe()
    rng = np.random.default_rng(3)
    x = rng.random((48, 64, 64, 3), dtype=np.float32)
    y = rng.integers(0, 6, 48)
    x_test, y_test = x[:20], y[:20]
    keras.utils.set_random_seed(1)
    model = recipe.build_model("mlp")
    model.compile(
        keras.optimizers.Adam(1e-3),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    seen = []
    record = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(dict(logs))
    )
    evaluation = recipe.signs_report.TestSetEvaluation(x_test, y_test)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[evaluation, record])
    # After the last epoch the weights are those evaluate() sees.
    loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert seen[-1]["val_loss"] == pytest.approx(loss, rel=1e-5)
    assert seen[-1]["val_accuracy"] == pytest.approx(accuracy, abs=1e-7)
    # The callbacks after it (History too) see the values.
    assert model.history.history["val_loss"] == [s["val_loss"] for s in seen]


@pytest.mark.parametrize("rate", ["schedule", "plateau", "float"])
def test_progress_reports_the_rate_of_each_epochs_first_update(rate):
    """Its rates, from the schedule evaluated once over the run, against
    the optimizer's own `learning_rate` read at each epoch's start."""
    from keras_lrtools.callbacks import ReduceLROnPlateau
    from keras_lrtools.schedules import CosineDecay

    recipe = _recipe()
    rng = np.random.default_rng(4)
    x = rng.random((48, 64, 64, 3), dtype=np.float32)
    y = rng.integers(0, 6, 48)
    epochs, total_steps = 6, 6 * 3  # 3 updates an epoch
    schedule = 3e-4 if rate == "float" else CosineDecay(1e-3, total_steps)
    # In max mode the falling loss seldom "improves": halved often.
    plateau = (
        ReduceLROnPlateau(monitor="loss", mode="max", factor=0.5, patience=1)
        if rate == "plateau"
        else None
    )
    keras.utils.set_random_seed(1)
    model = recipe.build_model("mlp")
    model.compile(
        keras.optimizers.Adam(schedule),
        "sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    progress = recipe.signs_report.Progress(
        1, epochs, schedule, total_steps, plateau
    )
    read = []
    reader = keras.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: read.append(
            float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        )
    )
    callbacks = [plateau] if plateau else []
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=epochs,
        verbose=0,
        callbacks=[*callbacks, progress, reader],
    )
    np.testing.assert_allclose(progress.learning_rates, read, rtol=1e-6)
    if plateau is not None:
        unscaled = [float(schedule(3 * epoch)) for epoch in range(epochs)]
        assert read[-1] <= unscaled[-1] / 4 * (1 + 1e-6)  # two halvings
