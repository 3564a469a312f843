"""Every public constructor and function, fed bad input, systematically.

One table: each case is (what is called, the argument, the bad value, the
error expected). Bad values come from the argument's kind (wrong types,
NaN and Inf, out of range, empty and mismatched sequences); every case
asserts the error type and that the message names the argument. The
schedules' own table (tests/schedules/test_validation.py) is counted in
too. The number of cases is printed in the test summary.
"""

import keras
import numpy as np
import pytest

import keras_lrtools
from keras_lrtools import callbacks as C
from keras_lrtools import schedules as S
from keras_lrtools.datasets import signs
from tests.schedules import test_validation as schedule_table

NAN, INF = float("nan"), float("inf")
V, T = ValueError, TypeError

# Bad values of each kind of argument, with the error each must raise.
KINDS = {
    "positive_int": [("3", T), (2.5, T), (True, T), (None, T), (0, V), (-1, V)],
    "non_negative_int": [("3", T), (1.5, T), (True, T), (None, T), (-1, V)],
    "fraction": [("x", T), (None, T), (NAN, V), (INF, V), (0.0, V), (1.0, V)],
    "positive_float": [("x", T), (None, T), (NAN, V), (INF, V), (-1.0, V)],
    "rate": [("x", T), (None, T), (NAN, V), (INF, V), (-0.1, V)],
    "bool": [("yes", T), (1, T), (None, T)],
    "choice": [("nonsense", V), (3, T), (None, T)],
    "string": [(3, T), (None, T), ("", T)],
    "path": [(3, T), (None, T), (["logs"], T)],
}


def _model():
    model = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(2, activation="softmax")]
    )
    model.compile(
        keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy"
    )
    return model


X = np.zeros((64, 2), "float32")
Y = np.zeros(64, "int64")


def _find(**overrides):
    arguments = {"model": _model(), "x": X, "y": Y, "num_steps": 20}
    return keras_lrtools.find_learning_rate(**{**arguments, **overrides})


# (name, call taking keyword arguments, {argument: kind}).
TARGETS = [
    (
        "ReduceLROnPlateau",
        C.ReduceLROnPlateau,
        {
            "factor": "fraction",
            "patience": "non_negative_int",
            "cooldown": "non_negative_int",
            "min_lr": "rate",
            "mode": "choice",
            "min_delta_mode": "choice",
        },
    ),
    (
        "StepTensorBoard",
        C.StepTensorBoard,
        {
            "update_freq": "positive_int",
            "epoch_metrics": "bool",
            "log_dir": "path",
            "run_name": "string",
        },
    ),
    (
        "StepRecorder",
        C.StepRecorder,
        {"capacity": "positive_int", "width": "positive_int"},
    ),
    (
        "LearningRateGuard",
        C.LearningRateGuard,
        {
            "action": "choice",
            "collapse_patience": "positive_int",
            "check_every_batches": "non_negative_int",
            "probe_every_epochs": "positive_int",
            "factor": "fraction",
            "max_restores": "non_negative_int",
            "divergence_factor": "positive_float",
        },
    ),
    (
        "find_learning_rate",
        _find,
        {
            "min_lr": "rate",
            "max_lr": "rate",
            "batch_size": "positive_int",
            "mode": "choice",
            "skip_start": "non_negative_int",
            "skip_end": "non_negative_int",
        },
    ),
    (
        "adam_effective_learning_rate",
        lambda **kw: keras_lrtools.adam_effective_learning_rate(
            **{"learning_rate": 0.001, "step": 3, **kw}
        ),
        {"learning_rate": "rate", "beta_1": "fraction", "beta_2": "fraction"},
    ),
    (
        "steps_per_epoch",
        lambda **kw: keras_lrtools.steps_per_epoch(
            **{"num_examples": 1080, "batch_size": 32, **kw}
        ),
        {"num_examples": "positive_int", "batch_size": "positive_int"},
    ),
    (
        "steps_from_epochs",
        lambda **kw: keras_lrtools.steps_from_epochs(
            **{"epochs": 10, "steps_in_an_epoch": 34, **kw}
        ),
        {"epochs": "non_negative_int", "steps_in_an_epoch": "positive_int"},
    ),
    (
        "plot_schedule",
        lambda **kw: keras_lrtools.plot_schedule(
            **{"schedules": S.CosineDecay(0.1, 10), "steps": 20, **kw}
        ),
        {"steps": "positive_int", "log_scale": "bool"},
    ),
    (
        "schedules.for_run",
        lambda **kw: S.for_run(
            **{
                "name": "cosine",
                "total_steps": 100,
                "peak_learning_rate": 0.1,
                **kw,
            }
        ),
        {
            "name": "choice",
            "total_steps": "positive_int",
            "peak_learning_rate": "rate",
            "warmup_steps": "non_negative_int",
        },
    ),
]
# Zero is valid for these (only negatives are out of range).
ZERO_ALLOWED = {("ReduceLROnPlateau", "min_lr")}
# Beta 0 is a valid Adam setting; the fraction's open interval is (0, 1).
BETAS = {"beta_1", "beta_2"}

CASES = []
for name, call, arguments in TARGETS:
    for argument, kind in arguments.items():
        for value, error in KINDS[kind]:
            if argument in BETAS and value == 0.0:
                continue
            CASES.append((name, call, argument, value, error))

# Sequences and other rules that no kind covers.
EXTRA = [
    (
        "plot_schedule",
        lambda **kw: keras_lrtools.plot_schedule(
            **{"schedules": [], "steps": 20, **kw}
        ),
        "schedules",
        [],
        V,
    ),
    (
        "plot_schedule",
        lambda **kw: keras_lrtools.plot_schedule(
            **{"schedules": [S.CosineDecay(0.1, 10)], "steps": 20, **kw}
        ),
        "labels",
        ["a", "b"],
        V,
    ),
    ("find_learning_rate", _find, "max_lr", 1e-9, V),  # below min_lr
    ("find_learning_rate", _find, "x", "pictures", T),
    ("find_learning_rate", _find, "model", "model", T),
    (
        "BackupAndRestore",
        lambda **kw: C.BackupAndRestore(**kw),
        "backup_dir",
        None,
        V,
    ),
    (
        "BackupAndRestore",
        lambda **kw: C.BackupAndRestore(**{"backup_dir": "backup", **kw}),
        "save_freq",
        "often",
        V,
    ),
    ("schedules.get", lambda **kw: S.get(**kw), "name", "fast", V),
    ("schedules.get", lambda **kw: S.get(**kw), "name", 3, T),
    ("load_data", lambda **kw: signs.load_data(**kw), "data_dir", 3, T),
    (
        "load_data",
        lambda **kw: signs.load_data(**kw),
        "data_dir",
        "/nonexistent/signs",
        signs.SignsDataError,
    ),
]


def _log(function, **kw):
    arguments = {"log_dir": "/tmp/unused", "hparams": {}, "metrics": ["m"]}
    if function is keras_lrtools.hparams.log_session:
        arguments["metrics"] = {"m": 0.5}
    return function(**{**arguments, **kw})


def _guard_begin(**kw):
    """A guard through on_train_begin on a 2-input, 2-class model."""
    guard = C.LearningRateGuard(**kw)
    guard.set_model(_model())
    guard.on_train_begin()


def _empty_dataset():
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(
        (np.zeros((0, 2), "float32"), np.zeros(0, "int64"))
    ).batch(4)


EXPERIMENT = keras_lrtools.hparams.log_experiment
SESSION = keras_lrtools.hparams.log_session
EXTRA += [
    (
        "schedules.for_run",
        lambda **kw: S.for_run("cosine", 10, **kw),
        "peak_learning_rate",
        0.0,
        V,
    ),
    (
        "schedules.for_run",
        lambda **kw: S.for_run("cosine", 10, 0.1, **kw),
        "warmup_steps",
        10,
        V,
    ),
    (
        "log_experiment",
        lambda **kw: _log(EXPERIMENT, **kw),
        "hparams",
        ["schedule"],
        T,
    ),
    (
        "log_experiment",
        lambda **kw: _log(EXPERIMENT, **kw),
        "hparams",
        {"": None},
        T,
    ),
    (
        "log_experiment",
        lambda **kw: _log(EXPERIMENT, **kw),
        "hparams",
        {"seed": [1, "two"]},
        T,
    ),
    ("log_experiment", lambda **kw: _log(EXPERIMENT, **kw), "metrics", [], V),
    ("log_experiment", lambda **kw: _log(EXPERIMENT, **kw), "metrics", [3], T),
    (
        "log_session",
        lambda **kw: _log(SESSION, **kw),
        "hparams",
        {"model": ["mlp"]},
        T,
    ),
    (
        "log_session",
        lambda **kw: _log(SESSION, **kw),
        "metrics",
        {"accuracy": "high"},
        T,
    ),
    ("log_session", lambda **kw: _log(SESSION, **kw), "metrics", [0.5], T),
]
CASES += EXTRA

SCHEDULE_CASES = len(schedule_table.CASES)
TOTAL_CASES = len(CASES) + SCHEDULE_CASES


def _id(case):
    name, _, argument, value, _ = case
    return f"{name}-{argument}={value!r}"[:80]


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_bad_input_is_refused_naming_the_argument(case):
    _, call, argument, value, error = case
    with pytest.raises(error) as raised:
        call(**{argument: value})
    assert f"`{argument}`" in str(raised.value)


def test_the_count_of_bad_input_cases(record_property):
    record_property("bad_input_cases", TOTAL_CASES)
    assert TOTAL_CASES > 400
