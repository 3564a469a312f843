import json

import keras
import numpy as np
import pytest

from keras_lrtools.callbacks import ReduceLROnPlateau
from keras_lrtools.schedules import CosineDecay
from keras_lrtools.schedules import ScaledSchedule
from tests.callbacks.helpers import Interrupt
from tests.callbacks.helpers import RecordLearningRate
from tests.callbacks.helpers import ScriptedMetric
from tests.callbacks.helpers import unit_data
from tests.callbacks.helpers import unit_gradient_model

BATCHES = 3  # updates per epoch


def _fit(model, callbacks, epochs, initial_epoch=0):
    x, y = unit_data(BATCHES)
    recorder = RecordLearningRate()
    model.fit(
        x,
        y,
        batch_size=2,
        epochs=epochs,
        initial_epoch=initial_epoch,
        shuffle=False,
        verbose=0,
        callbacks=[*callbacks, recorder],
    )
    return recorder


def _epoch_rates(recorder):
    """The LR of the first update of each epoch."""
    return [round(r, 7) for r in recorder.rates[::BATCHES]]


SEQUENCES = {
    "flat": [5, 5, 5, 5, 5, 5, 5, 5],
    "improving": [8, 7, 6, 5, 4, 3, 2, 1],
    "plateau-then-improve": [5, 4, 4, 4, 4, 3, 3, 3],
    "noisy": [5, 6, 4, 4.00005, 7, 3, 3, 9],
}


@pytest.mark.parametrize("patience", [0, 1, 2])
@pytest.mark.parametrize("sequence", list(SEQUENCES))
def test_float_learning_rate_is_reduced_exactly_as_keras_does(
    sequence, patience
):
    # Oracle: keras.callbacks.ReduceLROnPlateau with cooldown=0, where the
    # two agree by design.
    values = SEQUENCES[sequence]
    histories = []
    for plateau in (
        ReduceLROnPlateau("score", 0.5, patience, mode="min"),
        keras.callbacks.ReduceLROnPlateau("score", 0.5, patience, mode="min"),
    ):
        model = unit_gradient_model(0.1)
        recorder = _fit(
            model, [ScriptedMetric("score", values), plateau], len(values)
        )
        histories.append(_epoch_rates(recorder))
    assert histories[0] == histories[1]


@pytest.mark.parametrize("cooldown", [1, 2, 3])
def test_cooldown_protects_exactly_cooldown_epochs(cooldown):
    values = SEQUENCES["flat"]
    ours = ReduceLROnPlateau("score", 0.5, 1, mode="min", cooldown=cooldown)
    recorder = _fit(
        unit_gradient_model(0.1), [ScriptedMetric("score", values), ours], 8
    )
    rates = _epoch_rates(recorder)
    # Epoch 0 sets best; a reduction at the end of epoch 1, then every
    # cooldown + 1 epochs.
    reductions = [1 + i * (cooldown + 1) for i in range(8)]
    expected, lr = [], 0.1
    for epoch in range(8):
        expected.append(round(lr, 7))
        if epoch in reductions:
            lr *= 0.5
    assert rates == pytest.approx(expected)
    # Keras protects one epoch fewer: its cooldown=c + 1 matches ours.
    keras_callback = keras.callbacks.ReduceLROnPlateau(
        "score", 0.5, 1, mode="min", cooldown=cooldown + 1
    )
    keras_rates = _epoch_rates(
        _fit(
            unit_gradient_model(0.1),
            [ScriptedMetric("score", values), keras_callback],
            8,
        )
    )
    assert rates == keras_rates


def test_keras_cooldown_of_one_does_nothing_ours_does():
    values = SEQUENCES["flat"]
    rates = {}
    for name, callback in {
        "keras0": keras.callbacks.ReduceLROnPlateau(
            "score", 0.5, 1, mode="min", cooldown=0
        ),
        "keras1": keras.callbacks.ReduceLROnPlateau(
            "score", 0.5, 1, mode="min", cooldown=1
        ),
        "ours1": ReduceLROnPlateau("score", 0.5, 1, mode="min", cooldown=1),
    }.items():
        rates[name] = _epoch_rates(
            _fit(
                unit_gradient_model(0.1),
                [ScriptedMetric("score", values), callback],
                6,
            )
        )
    assert rates["keras0"] == rates["keras1"]
    assert rates["ours1"] != rates["keras1"]


def test_keras_callback_raises_with_a_schedule_where_ours_scales_it():
    schedule = CosineDecay(0.1, 60)
    values = SEQUENCES["flat"][:4]
    with pytest.raises(TypeError, match="not settable"):
        _fit(
            unit_gradient_model(schedule),
            [
                ScriptedMetric("score", values),
                keras.callbacks.ReduceLROnPlateau("score", 0.5, 1, mode="min"),
            ],
            4,
        )
    plateau = ReduceLROnPlateau("score", 0.5, 1, mode="min")
    recorder = _fit(
        unit_gradient_model(schedule),
        [ScriptedMetric("score", values), plateau],
        4,
    )
    # Reductions at the ends of epochs 1 and 2 (flat after epoch 0).
    scale_per_epoch = [1.0, 1.0, 0.5, 0.25]
    expected = [
        float(schedule(k)) * scale_per_epoch[k // BATCHES]
        for k in range(4 * BATCHES)
    ]
    assert recorder.updates == list(range(4 * BATCHES))
    # The applied updates prove the compiled step used the new scale.
    np.testing.assert_allclose(recorder.rates, expected, rtol=1e-5)
    # A third reduction at the end of the last epoch.
    assert plateau.scale == 0.125


def test_logs_report_the_scaled_learning_rate_in_force():
    schedule = CosineDecay(0.1, 60)
    model = unit_gradient_model(schedule)
    plateau = ReduceLROnPlateau("score", 0.5, 1, mode="min")
    recorder = _fit(model, [ScriptedMetric("score", [3, 3, 3]), plateau], 3)
    for epoch, logs in enumerate(recorder.epoch_logs):
        next_update = (epoch + 1) * BATCHES
        scale = [1.0, 0.5, 0.25][epoch]
        assert logs["learning_rate"] == pytest.approx(
            float(schedule(next_update)) * scale, rel=1e-6
        )
        assert logs["learning_rate_scale"] == scale
    assert model.history.history["learning_rate_scale"] == [1.0, 0.5, 0.25]


@pytest.mark.parametrize("use_schedule", [False, True], ids=["float", "sched"])
def test_min_lr_bounds_the_reduction(use_schedule):
    learning_rate = ScaledSchedule(0.1) if use_schedule else 0.1
    plateau = ReduceLROnPlateau("score", 0.1, 0, mode="min", min_lr=0.004)
    recorder = _fit(
        unit_gradient_model(learning_rate),
        [ScriptedMetric("score", [5] * 5), plateau],
        5,
    )
    assert _epoch_rates(recorder) == pytest.approx(
        [0.1, 0.1, 0.01, 0.004, 0.004], rel=1e-5
    )


def test_relative_min_delta():
    # best 100: 99.5 is not 1% better, 98.9 is.
    values = [100, 99.5, 98.9, 98.9]
    plateau = ReduceLROnPlateau(
        "score", 0.5, 1, mode="min", min_delta=0.01, min_delta_mode="rel"
    )
    recorder = _fit(
        unit_gradient_model(0.1),
        [ScriptedMetric("score", values), plateau],
        4,
    )
    assert _epoch_rates(recorder) == pytest.approx([0.1, 0.1, 0.05, 0.05])


def test_max_mode_follows_accuracy_like_names():
    plateau = ReduceLROnPlateau("val_accuracy", 0.5, 1)
    recorder = _fit(
        unit_gradient_model(0.1),
        [ScriptedMetric("val_accuracy", [0.5, 0.6, 0.6, 0.7]), plateau],
        4,
    )
    assert _epoch_rates(recorder) == pytest.approx([0.1, 0.1, 0.1, 0.05])


def test_a_new_fit_resets_the_counters_and_keeps_the_learning_rate():
    schedule = CosineDecay(0.1, 200)
    model = unit_gradient_model(schedule)
    plateau = ReduceLROnPlateau("score", 0.5, 2, mode="min")
    _fit(model, [ScriptedMetric("score", [5, 5, 5]), plateau], 3)
    assert plateau.scale == 0.5
    # Second run: best is reset, so epoch 0 is an improvement again and
    # the scale stays 0.5 until two flat epochs follow.
    recorder = _fit(model, [ScriptedMetric("score", [9, 9, 9]), plateau], 3)
    rates = recorder.rates
    start = 3 * BATCHES
    expected = [
        float(schedule(start + i)) * (0.5 if i < 3 * BATCHES else 0.25)
        for i in range(3 * BATCHES)
    ]
    np.testing.assert_allclose(rates, expected, rtol=1e-5)
    assert plateau.scale == 0.25


def _uninterrupted(values, epochs, learning_rate):
    model = unit_gradient_model(learning_rate)
    plateau = ReduceLROnPlateau("score", 0.5, 1, mode="min", cooldown=1)
    return _fit(model, [ScriptedMetric("score", values), plateau], epochs)


VALUES = [5, 4, 4, 4, 4, 4, 3, 3, 3, 3]


@pytest.mark.parametrize(
    "learning_rate",
    [0.1, CosineDecay(0.1, 60)],
    ids=["float", "schedule"],
)
def test_state_survives_backup_and_restore(learning_rate, tmp_path):
    epochs = len(VALUES)
    reference = _uninterrupted(VALUES, epochs, learning_rate)

    def run(interrupt_at):
        model = unit_gradient_model(learning_rate)
        # Listed before BackupAndRestore, so that each checkpoint holds the
        # state of the epoch it closes (callbacks run in list order).
        callbacks = [
            ScriptedMetric("score", VALUES),
            ReduceLROnPlateau("score", 0.5, 1, mode="min", cooldown=1),
            keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
        ]
        if interrupt_at is not None:
            callbacks.append(Interrupt(interrupt_at))
        return _fit(model, callbacks, epochs)

    with pytest.raises(RuntimeError, match="interrupted"):
        run(interrupt_at=3)  # mid-cooldown: best, wait, cooldown all matter
    resumed = run(interrupt_at=None)
    resumed_from = 4 * BATCHES
    assert resumed.updates == list(range(resumed_from, epochs * BATCHES))
    np.testing.assert_allclose(
        resumed.rates, reference.rates[resumed_from:], rtol=1e-6
    )


@pytest.mark.parametrize(
    "learning_rate",
    [CosineDecay(0.1, 60)],
    ids=["schedule"],
)
def test_state_survives_model_save_and_load_model(learning_rate, tmp_path):
    epochs = len(VALUES)
    reference = _uninterrupted(VALUES, epochs, learning_rate)
    model = unit_gradient_model(learning_rate)
    plateau = ReduceLROnPlateau("score", 0.5, 1, mode="min", cooldown=1)
    _fit(model, [ScriptedMetric("score", VALUES), plateau], 4)
    model.save(tmp_path / "model.keras")
    saved = json.loads(
        json.dumps(model.optimizer.get_config()["learning_rate"])
    )
    assert saved["class_name"] == "ScaledSchedule"
    loaded = keras.models.load_model(tmp_path / "model.keras")
    plateau = ReduceLROnPlateau("score", 0.5, 1, mode="min", cooldown=1)
    resumed = _fit(
        loaded, [ScriptedMetric("score", VALUES), plateau], epochs, 4
    )
    np.testing.assert_allclose(
        resumed.rates, reference.rates[4 * BATCHES :], rtol=1e-6
    )


def test_missing_monitor_fails_at_the_end_of_the_first_epoch():
    plateau = ReduceLROnPlateau("val_loss")
    with pytest.raises(ValueError, match=r"`val_loss`.*Available: \['loss'\]"):
        _fit(unit_gradient_model(0.1), [plateau], 3)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(factor=1.0), ValueError, r"`factor` must be in \(0.0, 1.0\)"),
        (dict(factor=0.0), ValueError, r"`factor`.*Received: factor=0.0"),
        (dict(factor=1.5), ValueError, r"`factor`.*=1.5"),
        (dict(patience=-1), ValueError, r"`patience` must be >= 0"),
        (dict(patience=2.5), TypeError, r"`patience` must be an integer"),
        (dict(cooldown=-2), ValueError, r"`cooldown` must be >= 0.*=-2"),
        (dict(min_lr=-1e-3), ValueError, r"`min_lr` must be >= 0.0"),
        (dict(min_lr=float("nan")), ValueError, r"`min_lr`.*finite"),
        (
            dict(mode="lowest"),
            ValueError,
            r"`mode` must be one of \['auto', 'min', 'max'\]",
        ),
        (
            dict(monitor="score"),
            ValueError,
            r"`mode='auto'` cannot tell whether `score`",
        ),
        (dict(monitor=""), TypeError, r"`monitor` must be a non-empty"),
        (dict(min_delta=-0.1), ValueError, r"`min_delta` must be >= 0.0"),
        (
            dict(min_delta=2.0, min_delta_mode="rel"),
            ValueError,
            r"`min_delta` must be in \[0.0, 1.0\]",
        ),
        (
            dict(min_delta_mode="relative"),
            ValueError,
            r"`min_delta_mode` must be one of \['abs', 'rel'\]",
        ),
    ],
)
def test_bad_arguments_are_refused_at_construction(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        ReduceLROnPlateau(**kwargs)


@pytest.mark.parametrize("interactive", [True, False])
def test_messages_go_where_keras_sends_its_callbacks(
    interactive, capsys, caplog
):
    """Printed like Keras's messages, or through Python's logging after
    keras.config.disable_interactive_logging(), as Keras's own callback."""
    import logging

    x, y = unit_data(2)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.1), "mse")
    callbacks = [
        ScriptedMetric("score", [1.0, 1.0, 1.0]),
        ReduceLROnPlateau("score", 0.5, 1, mode="min", verbose=1),
        keras.callbacks.ReduceLROnPlateau("score", 0.5, 1, 1, mode="min"),
    ]
    was_on = keras.config.is_interactive_logging_enabled()
    if not interactive:
        keras.config.disable_interactive_logging()
    try:
        with caplog.at_level(logging.INFO):
            model.fit(x, y, epochs=3, verbose=0, callbacks=callbacks)
    finally:
        if was_on:
            keras.config.enable_interactive_logging()
    printed = capsys.readouterr().out
    logged = caplog.text
    ours = "ReduceLROnPlateau reducing learning rate to 0.05"
    keras_own = "ReduceLROnPlateau reducing learning rate to 0.025"
    shown, hidden = (printed, logged) if interactive else (logged, printed)
    assert ours in shown and keras_own in shown, (printed, logged)
    assert ours not in hidden and keras_own not in hidden
