"""A resumed or reloaded run continues the same LR trajectory and plateau.

Interrupted after epoch 1 and resumed by `BackupAndRestore` into a model
built anew, or saved to a `.keras` file and loaded (in this process, and
in a new one), across optimizer set-ups: the logged LR of every update
and the plateau's state equal those of an uninterrupted run.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_lrtools._optimizer_rates import attached_plateau_state
from keras_lrtools._optimizer_rates import rate_holders
from tests.callbacks.helpers import Interrupt
from tests.callbacks.helpers import read_scalars
from tests.optimizers.setups import BATCHES
from tests.optimizers.setups import UnregisteredStep
from tests.optimizers.setups import logged_plateau
from tests.optimizers.setups import make_rate
from tests.optimizers.setups import ones
from tests.optimizers.setups import precision
from tests.optimizers.setups import unit_gradient_model

EPOCHS = 4
SETUPS = [
    ("adam", "float32", "float"),
    ("adam", "float32", "ours"),
    ("adam", "float32", "keras"),
    ("adam", "mixed_float16", "registered"),
    ("adam", "float32", "unregistered"),
    ("sgd_accumulate", "mixed_bfloat16", "ours"),
    ("multi", "mixed_float16", "unregistered"),
]
CUSTOM_OBJECTS = {"UnregisteredStep": UnregisteredStep}


def _model(setup, kind):
    rate = make_rate(kind, 0.01)
    if setup == "multi":
        optimizer = keras.optimizers.MultiOptimizer(
            keras.optimizers.OptimizerMap(
                keras.optimizers.SGD(0.1, name="head_sgd"),
                {"backbone/.*": keras.optimizers.Adam(rate, name="slow")},
            )
        )
        return unit_gradient_model(optimizer, ("backbone", "head"))
    if setup == "sgd_accumulate":
        optimizer = keras.optimizers.SGD(rate, gradient_accumulation_steps=2)
    else:
        optimizer = keras.optimizers.Adam(rate)
    return unit_gradient_model(optimizer)


def _fit(model, callbacks, epochs=EPOCHS, initial_epoch=0):
    width = model.inputs[0].shape[-1]
    return model.fit(
        *ones(BATCHES, width),
        batch_size=2,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )


def _trajectory(log_dir):
    """{tag: [(step, value)]} of the learning-rate tags."""
    return {
        tag: points
        for tag, points in read_scalars(log_dir / "train").items()
        if tag.startswith("learning_rate")
    }


def _assert_same_trajectory(got, want):
    assert sorted(got) == sorted(want)
    for tag, points in want.items():
        steps, values = zip(*got[tag], strict=True)
        assert list(steps) == [step for step, _ in points], tag
        np.testing.assert_allclose(
            values, [v for _, v in points], rtol=1e-6, err_msg=tag
        )


def _state(model):
    return attached_plateau_state(model).read()


@pytest.mark.parametrize(("setup", "policy", "kind"), SETUPS)
def test_backup_and_restore_continues_the_trajectory(
    setup, policy, kind, tmp_path
):
    with precision(policy):
        reference = _model(setup, kind)
        _fit(reference, logged_plateau(tmp_path / "reference"))

        backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
        with pytest.raises(RuntimeError, match="interrupted"):
            _fit(
                _model(setup, kind),
                logged_plateau(tmp_path / "run", backup, Interrupt(1)),
            )
        resumed = _model(setup, kind)  # a new process would build it anew
        backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
        _fit(resumed, logged_plateau(tmp_path / "run", backup))
    _assert_same_trajectory(
        _trajectory(tmp_path / "run"), _trajectory(tmp_path / "reference")
    )
    assert _state(resumed) == _state(reference)
    for got, want in zip(
        resumed.get_weights(), reference.get_weights(), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize(("setup", "policy", "kind"), SETUPS)
def test_keras_file_continues_the_trajectory(setup, policy, kind, tmp_path):
    with precision(policy):
        reference = _model(setup, kind)
        _fit(reference, logged_plateau(tmp_path / "reference"))
        saved = _model(setup, kind)
        _fit(saved, logged_plateau(tmp_path / "run"), epochs=2)
        path = str(tmp_path / "model.keras")
        saved.save(path)
        loaded = keras.models.load_model(path, custom_objects=CUSTOM_OBJECTS)
        history = _fit(
            loaded, logged_plateau(tmp_path / "run"), initial_epoch=2
        )
    if kind == "float":
        # A float LR keeps its reduced value; the plateau's counters start
        # afresh (README, "Works with"): the next reduction comes later.
        assert history.history["learning_rate_scale"] == [1.0, 0.5]
        return
    _assert_same_trajectory(
        _trajectory(tmp_path / "run"), _trajectory(tmp_path / "reference")
    )
    assert _state(loaded) == _state(reference)
    holders = rate_holders(loaded, "test")
    assert any(h.schedule is not None for h in holders)


_CONTINUE_IN_A_NEW_PROCESS = """
import json, sys
import keras
from keras_lrtools._optimizer_rates import attached_plateau_state
from tests.optimizers.setups import logged_plateau, precision
from tests.optimizers.test_resume import CUSTOM_OBJECTS, _fit
with precision(sys.argv[3]):
    model = keras.models.load_model(sys.argv[1], custom_objects=CUSTOM_OBJECTS)
    _fit(model, logged_plateau(sys.argv[2]), initial_epoch=2)
print(json.dumps(attached_plateau_state(model).read()))
"""


@pytest.mark.parametrize(
    ("setup", "policy", "kind"),
    [("multi", "mixed_float16", "unregistered"), ("adam", "float32", "ours")],
)
def test_keras_file_in_a_new_process(setup, policy, kind, tmp_path):
    with precision(policy):
        reference = _model(setup, kind)
        _fit(reference, logged_plateau(tmp_path / "reference"))
        saved = _model(setup, kind)
        _fit(saved, logged_plateau(tmp_path / "run"), epochs=2)
        saved.save(str(tmp_path / "model.keras"))
    root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _CONTINUE_IN_A_NEW_PROCESS,
            str(tmp_path / "model.keras"),
            str(tmp_path / "run"),
            policy,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    state = json.loads(done.stdout.strip().splitlines()[-1])
    assert state == _state(reference)
    _assert_same_trajectory(
        _trajectory(tmp_path / "run"), _trajectory(tmp_path / "reference")
    )
