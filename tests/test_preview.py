import subprocess
import sys

import numpy as np
import pytest

from keras_lrtools import plot_schedule
from keras_lrtools.__main__ import main as cli
from keras_lrtools.schedules import CosineDecay
from keras_lrtools.schedules import OneCycle
from tests import references
from tests.cli import assert_usage_error


def test_values_are_the_schedule_at_every_step(tmp_path):
    cosine = CosineDecay(0.0, 80, warmup_target=0.1, warmup_steps=20)
    one_cycle = OneCycle(0.05, 100)
    curves = plot_schedule(
        [cosine, one_cycle],
        120,
        labels=["cos", "1cycle"],
        adam_effective=True,
        path=tmp_path / "p.png",
    )
    np.testing.assert_array_equal(curves["steps"], np.arange(120))
    np.testing.assert_allclose(
        curves["cos"],
        [references.cosine(k, 0.0, 80, 0.0, 0.1, 20) for k in range(120)],
        rtol=1e-5,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        curves["1cycle (Adam lr_t)"],
        [references.adam_effective(float(one_cycle(k)), k) for k in range(120)],
        rtol=1e-4,
    )
    from PIL import Image

    with Image.open(tmp_path / "p.png") as image:
        assert image.size[0] > 600


def test_labels_must_match():
    with pytest.raises(ValueError, match="one distinct name per schedule"):
        plot_schedule([OneCycle(0.1, 10)] * 2, 10, labels=["a", "a"])
    with pytest.raises(TypeError, match=r"`schedules\[0\]` must be"):
        plot_schedule([0.1], 10)


def test_cli_preview_writes_a_png_and_prints_values(tmp_path, capsys):
    out = tmp_path / "oc.png"
    code = cli(
        [
            "preview",
            "one_cycle",
            "--peak_learning_rate",
            "0.01",
            "--total_steps",
            "100",
            "--adam",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    assert out.stat().st_size > 10_000
    printed = capsys.readouterr().out
    # OneCycle's first rate: peak / div_factor (25).
    assert "one_cycle: step 0: 0.0004, " in printed


def test_cli_overrides_replace_the_sized_arguments(capsys):
    argv = ["preview", "polynomial", "--total_steps", "100", "--steps", "100"]
    assert cli([*argv, "--peak_learning_rate", "0.5", "--power", "2"]) == 0
    printed = capsys.readouterr().out
    # (0.5 - 0.005) * (1 - 50 / 100) ** 2 + 0.005 at step 50.
    assert "step 50: 0.1287" in printed  # 0.12875 in float32
    assert cli(["preview", "constant", "--steps", "4"]) == 0
    assert "constant: step 0: 0.001, step 1: 0.001" in capsys.readouterr().out


def test_cli_list_names_every_schedule_with_its_parameters(capsys):
    assert cli(["list"]) == 0
    printed = capsys.readouterr().out
    assert (
        "one_cycle            OneCycle(maximal_learning_rate, total_steps"
        in printed
    )
    from keras_lrtools.schedules import RUN_SIZES

    assert printed.count("\n") == len(RUN_SIZES)


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["preview", "cosine_annealing"],
            "unknown schedule 'cosine_annealing'",
        ),
        (
            ["preview", "one_cycle", "--max_lr", "0.1"],
            "one_cycle has no parameter 'max_lr'; it takes: total_steps, "
            "peak_learning_rate, warmup_steps, maximal_learning_rate",
        ),
        (
            ["preview", "cosine", "--warmup_steps", "1000"],
            "`warmup_steps` must be < total_steps (1000)",
        ),
        (
            ["preview", "cosine", "--steps", str(10**12)],
            "--steps must be a positive integer <= 10,000,000, got",
        ),
        (
            ["preview", "cosine", "--out", "x.xyz"],
            "--out 'x.xyz': the file name must end in one of ",
        ),
        (
            ["preview", "cosine", "--out", "missing/x.png"],
            "missing' does not exist",
        ),
        (
            [
                "preview",
                "one_cycle",
                "--maximal_learning_rate",
                "-1",
                "--total_steps",
                "10",
            ],
            "`maximal_learning_rate` must be > 0",
        ),
    ],
)
def test_cli_errors_are_clear(argv, message):
    assert_usage_error(["-m", "keras_lrtools", *argv], message)


def _imported_modules(argv):
    """(exit status, modules imported) of `python -m keras_lrtools ARGV`,
    from Python's own import log (-X importtime)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "keras_lrtools", *argv],
        capture_output=True,
        text=True,
        timeout=300,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return result.returncode, modules


@pytest.mark.parametrize(
    "argv",
    [
        ["preview", "cosine_annealing"],
        ["preview", "cosine", "--steps", "0"],
        ["preview", "cosine", "--out", "x.xyz"],
        ["list", "extra"],
    ],
)
def test_cli_answers_bad_input_before_keras_starts(argv):
    code, modules = _imported_modules(argv)
    assert code == 2
    assert "keras_lrtools._cli_checks" in modules
    heavy = {"keras", "tensorflow", "jax", "torch"}
    assert not heavy & {name.split(".")[0] for name in modules}


def test_cli_starts_keras_for_a_valid_command():
    code, modules = _imported_modules(["list"])
    assert code == 0 and "keras" in modules
