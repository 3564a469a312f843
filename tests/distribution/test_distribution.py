"""Schedules and callbacks under tf.distribute and keras.distribution.

Each test starts a fresh process (devices must be split before the
backend starts): tensorflow's MirroredStrategy over 2 logical CPUs, jax's
DataParallel over 2 host devices. The tf.distribute tests run in the
tensorflow pass of the suite, the jax ones in the jax pass.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.callbacks.helpers import read_scalars
from tests.recipes.test_train_signs import _recipe

ROOT = Path(__file__).parents[2]
tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="tf.distribute is TensorFlow's (runs in the tensorflow pass)",
)
jax_only = pytest.mark.skipif(
    keras.backend.backend() != "jax",
    reason="keras.distribution runs on jax (runs in the jax pass)",
)


def _python(module, *argv, env=None, timeout=300):
    """Runs `python -m module argv` from the repository root."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *argv],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return completed


def _tagged_json(output, tag):
    (line,) = [
        text for text in output.splitlines() if text.startswith(tag + " ")
    ]
    return json.loads(line[len(tag) + 1 :])


def _check_scenarios(completed):
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = _tagged_json(completed.stdout, "RESULT")
    for name in ("float", "schedule"):
        reference = results[name]["reference"]
        distributed = results[name]["distributed"]
        resumed = results[name]["resumed"]
        # Every replica holds the same weight: no replica used another LR.
        for run in (distributed, resumed):
            ((first, *others),) = run["replicas"]
            assert len(others) == 1 and others == [first]
        # The step axis is the global update count, and the LR of every
        # update, plateau reductions included, is the one-device LR.
        assert distributed["iterations"] == reference["iterations"] == 24
        assert distributed["learning_rates"] == reference["learning_rates"]
        assert distributed["scales"] == reference["scales"]
        scales = [v for _, v in reference["scales"]]
        assert scales == [1.0] * 12 + [0.5] * 4 + [0.25] * 8
        # Interrupted after epoch 3 and resumed from its checkpoint: the
        # same LR trajectory from update 16, the same final weights.
        assert resumed["learning_rates"] == reference["learning_rates"][16:]
        assert resumed["scales"] == reference["scales"][16:]
        assert resumed["replicas"] == distributed["replicas"]


@tensorflow_only
def test_mirrored_strategy_keeps_every_promise_of_the_callbacks():
    _check_scenarios(_python("tests.distribution.scenarios"))


@jax_only
def test_jax_data_parallel_keeps_every_promise_of_the_callbacks():
    _check_scenarios(
        _python("tests.distribution.scenarios", env={"KERAS_BACKEND": "jax"})
    )


def _check_recipe(completed, log_dir, replicas, scale):
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "global batch 64" in completed.stdout
    state = _tagged_json(completed.stdout, "STATE")
    assert state["replicas"] == replicas
    assert state["replicas_identical"]
    # 180 smoke pictures in global batches of 2 x 32: 3 updates an epoch.
    assert state["iterations"] == 3 * 3
    (run,) = [p for p in Path(log_dir).iterdir() if p.is_dir()]
    settings = json.loads((run / "run.json").read_text())
    assert settings["global_batch_size"] == 64
    assert settings["peak_learning_rate"] == pytest.approx(3e-4 * scale)
    from keras_lrtools.schedules import CosineDecay

    schedule = CosineDecay(**settings["arguments"])
    logged = read_scalars(run / "train")["learning_rate"]
    assert [step for step, _ in logged] == list(range(9))
    np.testing.assert_allclose(
        [value for _, value in logged],
        [float(schedule(k)) for k in range(9)],
        rtol=1e-6,
    )
    assert len(list((run / "train").glob("events.out.tfevents.*"))) == 1


@tensorflow_only
def test_recipe_trains_under_mirrored_strategy_with_linear_scaling(tmp_path):
    completed = _python(
        "tests.distribution.launch",
        "2",
        "--strategy",
        "mirrored",
        "--scale-lr",
        "linear",
        "--smoke",
        "--log-dir",
        str(tmp_path),
    )
    assert "MirroredStrategy, 2 replicas" in completed.stdout
    _check_recipe(completed, tmp_path, replicas=2, scale=2.0)


@jax_only
def test_recipe_trains_under_jax_data_parallel(tmp_path):
    completed = _python(
        "tests.distribution.launch",
        "2",
        "--strategy",
        "data_parallel",
        "--smoke",
        "--log-dir",
        str(tmp_path),
        env={"KERAS_BACKEND": "jax"},
    )
    assert "DataParallel, 2 devices" in completed.stdout
    _check_recipe(completed, tmp_path, replicas=2, scale=1.0)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


MULTIWORKER_FIT = """
import keras, numpy as np, tensorflow as tf
from keras_lrtools.callbacks import is_chief
strategy = tf.distribute.MultiWorkerMirroredStrategy()
with strategy.scope():
    print("CHIEF", is_chief(), flush=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
x = np.ones((16, 4), "float32")
dataset = tf.data.Dataset.from_tensor_slices((x, x[:, :2])).batch(8)
try:
    model.fit(dataset, epochs=1, verbose=0)
    print("FIT OK", flush=True)
except Exception as error:
    print("FIT FAILED", type(error).__name__, flush=True)
"""


@tensorflow_only
def test_multiworker_chief_and_the_keras_bug_that_blocks_fit():
    """Two workers on 127.0.0.1: worker 0 is the chief, and Keras's fit
    fails under MultiWorkerMirroredStrategy, which is why the recipe's
    --strategy multiworker runs on jax only. When Keras fixes it, this
    test fails and the recipe can offer it on tensorflow too."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", MULTIWORKER_FIT],
            cwd=ROOT,
            env={
                **os.environ,
                "TF_CONFIG": json.dumps(
                    {
                        "cluster": cluster,
                        "task": {"type": "worker", "index": index},
                    }
                ),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for index in range(2)
    ]
    outputs = [worker.communicate(timeout=300)[0] for worker in workers]
    assert "CHIEF True" in outputs[0] and "CHIEF False" in outputs[1]
    for output in outputs:
        assert "FIT FAILED ValueError" in output, output


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_recipe_refuses_multiworker_off_jax_with_the_command_that_works(
    backend, capsys, monkeypatch
):
    monkeypatch.setenv("KERAS_BACKEND", backend)
    recipe = _recipe()
    with pytest.raises(SystemExit) as raised:
        recipe.signs_arguments.parse_arguments(["--strategy", "multiworker"])
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert "keras-team/keras#20585" in error
    assert f"(got '{backend}')" in error
    assert (
        "KERAS_BACKEND=jax python recipes/train_signs.py --strategy " in error
    )
    assert len(error.strip().splitlines()) == 1


CLUSTER = ["--coordinator", "127.0.0.1:1234", "--num-processes", "2"]


@pytest.mark.parametrize(
    "argv, variables, message",
    [
        (CLUSTER, {}, "go together (or none, where JAX finds the cluster)"),
        (
            [*CLUSTER, "--process-id", "2"],
            {},
            "--process-id must be in 0 .. 1 (--num-processes 2), got 2.",
        ),
        (
            ["--coordinator", "localhost", *CLUSTER[2:], "--process-id", "0"],
            {},
            "--coordinator must be HOST:PORT (a port in 1-65535), got "
            "'localhost'.",
        ),
        (
            [*CLUSTER[:2], "--num-processes", "0", "--process-id", "0"],
            {},
            "--num-processes must be >= 1, got 0.",
        ),
        (
            [*CLUSTER, "--process-id", "0", "--peer-timeout", "0"],
            {},
            "--peer-timeout must be a positive integer, got 0.",
        ),
        (
            [],
            {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "127.0.0.1:1234"},
            "go together",
        ),
        (
            [*CLUSTER],
            {"KERAS_DISTRIBUTION_PROCESS_ID": "first"},
            "$KERAS_DISTRIBUTION_PROCESS_ID must be an integer, got 'first'.",
        ),
    ],
)
def test_recipe_checks_the_cluster_before_starting(
    argv, variables, message, capsys, monkeypatch
):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    recipe = _recipe()
    with pytest.raises(SystemExit) as raised:
        recipe.signs_arguments.parse_arguments(
            ["--strategy", "multiworker", *argv]
        )
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert len(error.strip().splitlines()) == 1


def test_cluster_flags_belong_to_multiworker(capsys):
    recipe = _recipe()
    with pytest.raises(SystemExit) as raised:
        recipe.signs_arguments.parse_arguments(["--process-id", "1"])
    assert raised.value.code == 2
    assert "--process-id is for --strategy multiworker." in (
        capsys.readouterr().err
    )
