import math
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_lrtools.callbacks import ReduceLROnPlateau
from keras_lrtools.callbacks import StepRecorder
from keras_lrtools.callbacks import StepTensorBoard
from keras_lrtools.callbacks import step_tensorboard
from keras_lrtools.schedules import CosineDecay
from keras_lrtools.schedules import Warmup
from tests import references
from tests.callbacks.helpers import RecordLearningRate
from tests.callbacks.helpers import ScriptedMetric
from tests.callbacks.helpers import read_scalars
from tests.callbacks.helpers import unit_data
from tests.callbacks.helpers import unit_gradient_model

BATCH = 8
SAMPLES = 44  # 6 batches an epoch, the last one short (4 samples)
STEPS_PER_EPOCH = math.ceil(SAMPLES / BATCH)


def _data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(SAMPLES, 5)).astype("float32")
    y = rng.integers(0, 3, size=SAMPLES)
    return x, y


def _model(
    learning_rate, steps_per_execution=1, optimizer="adam", recorder=None
):
    """Compiled with a StepRecorder if `recorder` (default: with several
    steps per call, where it is required)."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    metrics = ["accuracy"]
    if recorder or (recorder is None and steps_per_execution > 1):
        metrics.append(StepRecorder())
    optimizers = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}
    model.compile(
        optimizers[optimizer](learning_rate),
        "sparse_categorical_crossentropy",
        metrics=metrics,
        steps_per_execution=steps_per_execution,
    )
    return model


def _per_batch_reference(learning_rate, epochs, optimizer="adam"):
    """The loss and accuracy of every batch, from a twin model trained one
    batch at a time with train_on_batch (metrics reset before each)."""
    model = _model(learning_rate, optimizer=optimizer)
    x, y = _data()
    losses, accuracies = [], []
    for _ in range(epochs):
        for start in range(0, SAMPLES, BATCH):
            model.reset_metrics()
            logs = model.train_on_batch(
                x[start : start + BATCH],
                y[start : start + BATCH],
                return_dict=True,
            )
            losses.append(logs["loss"])
            accuracies.append(logs["accuracy"])
    return losses, accuracies


def _set_ups():
    """(steps_per_execution, recorder): one step a call with the device
    read after each or with a StepRecorder, and several steps a call
    (not on torch, whose trainer allows only one)."""
    cases = [(1, False), (1, True)]
    if keras.backend.backend() != "torch":
        cases.append((4, True))
    return [
        pytest.param(
            spe,
            recorder,
            id=f"spe{spe}-{'with' if recorder else 'no'}-recorder",
        )
        for spe, recorder in cases
    ]


@pytest.mark.parametrize("steps_per_execution, recorder", _set_ups())
def test_every_update_is_logged_with_its_own_values(
    steps_per_execution, recorder, tmp_path
):
    schedule = Warmup(CosineDecay(0.05, 40), 5, initial_learning_rate=0.001)
    model = _model(schedule, steps_per_execution, recorder=recorder)
    x, y = _data()
    callback = StepTensorBoard(tmp_path)
    # Two fit calls: the step axis continues across them.
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[callback],
    )
    # With validation, which resets the metrics before each epoch's end.
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[callback],
        validation_data=(x[:9], y[:9]),
    )
    scalars = read_scalars(tmp_path / "train")
    updates = 3 * STEPS_PER_EPOCH
    for tag in (
        "learning_rate",
        "loss",
        "accuracy",
        "adam_effective_learning_rate",
    ):
        steps = [step for step, _ in scalars[tag]]
        assert steps == list(range(updates)), tag  # no gaps, no repeats

    rates = [value for _, value in scalars["learning_rate"]]
    np.testing.assert_allclose(
        rates, [float(schedule(k)) for k in range(updates)], rtol=1e-6
    )
    effective = [value for _, value in scalars["adam_effective_learning_rate"]]
    np.testing.assert_allclose(
        effective,
        [references.adam_effective(rates[k], k) for k in range(updates)],
        rtol=1e-4,
    )
    losses, accuracies = _per_batch_reference(schedule, 3)
    np.testing.assert_allclose(
        [v for _, v in scalars["loss"]], losses, rtol=2e-4, atol=1e-6
    )
    np.testing.assert_allclose(
        [v for _, v in scalars["accuracy"]], accuracies, atol=1e-6
    )
    # Not the epoch's running mean, which Keras logs as "batch" values.
    running = np.cumsum(losses[:STEPS_PER_EPOCH]) / np.arange(1, 7)
    assert not np.allclose([v for _, v in scalars["loss"]][:6], running)


class _EvaluatesAtEpochEnd(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        x, y = _data()
        self.model.evaluate(x[:8], y[:8], verbose=0)  # resets the metrics


@pytest.mark.parametrize("steps_per_execution, recorder", _set_ups())
def test_metrics_reset_before_it_reads_them_is_an_error(
    steps_per_execution, recorder, tmp_path
):
    model = _model(0.01, steps_per_execution, recorder=recorder)
    x, y = _data()
    callbacks = [_EvaluatesAtEpochEnd(), StepTensorBoard(tmp_path)]
    arguments = dict(batch_size=BATCH, epochs=2, verbose=0)
    with pytest.raises(RuntimeError, match="list StepTensorBoard before"):
        model.fit(x, y, callbacks=callbacks, **arguments)
    # Listed first, it reads them in time.
    model.fit(x, y, callbacks=callbacks[::-1], **arguments)


def test_plateau_scale_is_logged_and_applied(tmp_path):
    schedule = CosineDecay(0.1, 100)
    model = _model(schedule, optimizer="sgd")
    x, y = _data()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[
            ScriptedMetric("score", [3, 3, 3]),
            ReduceLROnPlateau("score", 0.5, 1, mode="min"),
            StepTensorBoard(tmp_path),
        ],
    )
    scalars = read_scalars(tmp_path / "train")
    scale = [1.0] * 12 + [0.5] * 6
    assert [v for _, v in scalars["learning_rate_scale"]] == scale
    np.testing.assert_allclose(
        [v for _, v in scalars["learning_rate"]],
        [float(schedule(k)) * scale[k] for k in range(18)],
        rtol=1e-6,
    )
    assert "adam_effective_learning_rate" not in scalars  # SGD


@pytest.mark.parametrize("steps_per_execution, recorder", _set_ups())
def test_a_float_rate_changed_by_other_callbacks_is_logged_where_used(
    steps_per_execution, recorder, tmp_path
):
    # Keras's own callbacks change a float LR: ReduceLROnPlateau at an
    # epoch's end (listed before), LearningRateScheduler at an epoch's
    # start (listed after). Each update is logged with the LR it used.
    model = _model(0.1, steps_per_execution, "sgd", recorder)
    x, y = _data()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=4,
        shuffle=False,
        verbose=0,
        callbacks=[
            ScriptedMetric("score", [3, 3, 3, 3]),
            keras.callbacks.ReduceLROnPlateau("score", 0.5, 1, mode="min"),
            StepTensorBoard(tmp_path),
            keras.callbacks.LearningRateScheduler(
                lambda epoch, lr: lr if epoch < 3 else lr / 10
            ),
        ],
    )
    # Halved after the second and the third epoch, then / 10 at the fourth.
    per_epoch = [0.1, 0.1, 0.05, 0.0025]
    expected = np.repeat(per_epoch, STEPS_PER_EPOCH)
    scalars = read_scalars(tmp_path / "train")
    assert [step for step, _ in scalars["learning_rate"]] == list(
        range(len(expected))
    )
    np.testing.assert_allclose(
        [v for _, v in scalars["learning_rate"]], expected, rtol=1e-6
    )
    assert "learning_rate_scale" not in scalars


class _HandWrittenWarmup(keras.callbacks.Callback):
    """Sets a float LR at every batch's begin, as hand-copied warmup
    callbacks do: 0.01 * (update + 1)."""

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        update = int(keras.ops.convert_to_numpy(optimizer.iterations))
        optimizer.learning_rate = 0.01 * (update + 1)


def _warmup_orders():
    """(recorder, warmup listed first). Listed after StepTensorBoard, a
    warmup's LR is logged as applied only where the recorder records the
    rates inside the step (not on jax); otherwise the docstring says to
    list StepTensorBoard after it."""
    cases = [(False, True), (True, True)]
    if keras.backend.backend() != "jax":
        cases.append((True, False))
    return cases


@pytest.mark.parametrize("recorder, warmup_first", _warmup_orders())
def test_a_float_rate_set_at_every_batch_is_logged_as_applied(
    recorder, warmup_first, tmp_path
):
    """SGD on a unit gradient moves the weight by the LR each update
    applied: the logged LR is that one."""
    model = unit_gradient_model(0.5)
    model.compile(
        model.optimizer,
        model.loss,
        metrics=[StepRecorder()] if recorder else [],
    )
    applied = RecordLearningRate()
    warmup, logger = _HandWrittenWarmup(), StepTensorBoard(tmp_path)
    first, second = (warmup, logger) if warmup_first else (logger, warmup)
    callbacks = [first, second, applied]
    model.fit(
        *unit_data(6),
        batch_size=2,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    np.testing.assert_allclose(
        applied.rates, 0.01 * np.arange(1, 13), rtol=1e-5
    )
    logged = read_scalars(tmp_path / "train")["learning_rate"]
    assert [step for step, _ in logged] == list(range(12))
    np.testing.assert_allclose(
        [value for _, value in logged], applied.rates, rtol=1e-5
    )


def test_update_freq_logs_every_nth_update_with_window_means(
    tmp_path, monkeypatch
):
    model = _model(0.01)
    x, y = _data()
    callback = StepTensorBoard(tmp_path, update_freq=4)
    reads = []
    original = step_tensorboard._read_trackers

    def counting(trackers):
        reads.append(len(reads))
        return original(trackers)

    monkeypatch.setattr(step_tensorboard, "_read_trackers", counting)
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[callback],
    )
    scalars = read_scalars(tmp_path / "train")
    assert [s for s, _ in scalars["loss"]] == [0, 4, 8]
    # The device is read only after the updates that are logged.
    assert len(reads) == 3
    losses, _ = _per_batch_reference(0.01, 2)
    # Step 4: batches 1..4 (update 0 was the previous point, same epoch);
    # step 8: batches 6..8 of the second epoch (metrics reset at 6).
    expected = [losses[0], np.mean(losses[1:5]), np.mean(losses[6:9])]
    np.testing.assert_allclose(
        [v for _, v in scalars["loss"]], expected, rtol=5e-4
    )


@pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="PyTorch's trainer allows only steps_per_execution=1",
)
def test_steps_per_execution_without_a_recorder_fails_at_the_first_step(
    tmp_path,
):
    model = _model(0.01)
    model.compile(
        model.optimizer,
        model.loss,
        metrics=["accuracy"],
        steps_per_execution=3,
    )
    x, y = _data()
    with pytest.raises(ValueError, match="needs a StepRecorder"):
        model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=5,
            verbose=0,
            callbacks=[StepTensorBoard(tmp_path)],
        )


def test_event_files_are_written_without_tensorflow(tmp_path):
    # On jax and torch, no TensorFlow is needed: make it unimportable.
    backend = "torch" if keras.backend.backend() == "torch" else "jax"
    script = f"""
import sys
sys.modules["tensorflow"] = None
import os
os.environ["KERAS_BACKEND"] = "{backend}"
import keras, numpy as np
from keras_lrtools.callbacks import StepTensorBoard
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
model.compile(keras.optimizers.SGD(0.1), "mse")
model.fit(np.ones((8, 2)), np.ones((8, 1)), batch_size=2, verbose=0,
          callbacks=[StepTensorBoard({str(tmp_path)!r})])
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    scalars = read_scalars(tmp_path / "train")
    assert [s for s, _ in scalars["learning_rate"]] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(update_freq=0), ValueError, r"`update_freq` must be >= 1"),
        (dict(update_freq="epoch"), TypeError, r"`update_freq`.*integer"),
        (dict(log_dir=3), TypeError, r"`log_dir` must be a path"),
        (dict(run_name=""), TypeError, r"`run_name` must be a non-empty"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        StepTensorBoard(**kwargs)


def test_the_recorders_own_entry_is_not_an_epoch_value(tmp_path):
    """StepRecorder's `batch_loss` (the last batch's loss; under validation
    a copy of the loss) is left out of the epoch values."""
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(3, activation="softmax")]
    )
    model.compile(
        keras.optimizers.Adam(0.01),
        "sparse_categorical_crossentropy",
        metrics=["accuracy", StepRecorder()],
    )
    x, y = _data()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        validation_data=(x, y),
        verbose=0,
        callbacks=[StepTensorBoard(tmp_path)],
    )
    train = read_scalars(tmp_path / "train")
    validation = read_scalars(tmp_path / "validation")
    assert {"epoch_loss", "epoch_accuracy", "loss"} <= set(train)
    assert "epoch_loss" in validation
    assert not [t for t in (*train, *validation) if "batch_loss" in t]


def _recorder_model(steps_per_execution, jit_compile):
    """(model, its StepRecorder)."""
    model = _model(0.05)
    recorder = StepRecorder()
    model.compile(
        keras.optimizers.Adam(0.05),
        "sparse_categorical_crossentropy",
        metrics=["accuracy", recorder],
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    return model, recorder


def _recorder_cases():
    # torch: one step per call, and no torch.compile on this CPU.
    if keras.backend.backend() == "torch":
        return [(1, False)]
    return [(1, False), (1, True), (4, False), (4, True)]


@pytest.mark.parametrize("steps_per_execution, jit_compile", _recorder_cases())
def test_the_recorders_batch_loss_is_each_batchs_own_loss(
    steps_per_execution, jit_compile, tmp_path
):
    """`batch_loss` at a call's end is the loss of its last batch alone,
    as a twin trained batch by batch with train_on_batch has it; a batch
    whose sample weights are all zero gives 0 (also under XLA)."""
    x, y = _data()
    weights = np.ones(SAMPLES, "float32")
    weights[2 * BATCH : 3 * BATCH] = 0.0  # the third batch counts nothing
    twin, _ = _recorder_model(1, False)
    expected = []
    for start in range(0, SAMPLES, BATCH):
        twin.reset_metrics()
        logs = twin.train_on_batch(
            x[start : start + BATCH],
            y[start : start + BATCH],
            sample_weight=weights[start : start + BATCH],
            return_dict=True,
        )
        expected.append(logs["loss"])
    model, _ = _recorder_model(steps_per_execution, jit_compile)
    seen = {}
    model.fit(
        x,
        y,
        sample_weight=weights,
        batch_size=BATCH,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[
            StepTensorBoard(tmp_path),
            keras.callbacks.LambdaCallback(
                on_train_batch_end=lambda batch, logs: seen.update(
                    {batch: logs["batch_loss"]}
                )
            ),
        ],
    )
    assert seen, "no batch end was seen"
    for batch, value in seen.items():
        # Keras numbers a short last call's end as if it were full.
        last = min(batch, STEPS_PER_EPOCH - 1)
        np.testing.assert_allclose(value, expected[last], rtol=1e-4, atol=1e-6)
    assert expected[2] == 0.0
    if steps_per_execution == 1:
        assert sorted(seen) == list(range(STEPS_PER_EPOCH))
        assert seen[2] == 0.0


def test_a_recorder_no_logger_watches_records_nothing():
    model, recorder = _recorder_model(1, False)
    x, y = _data()
    history = model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    assert int(keras.ops.convert_to_numpy(recorder.position)) == 0
    assert not keras.ops.convert_to_numpy(recorder.snapshots).any()
    assert history.history["batch_loss"] == [0.0]


def test_a_recorder_too_narrow_for_the_rates_leaves_them_to_reads(tmp_path):
    """loss and accuracy take 4 numbers a step, a float LR 1 more: at width
    4 the rates are read before each call, at 5 recorded (not on jax);
    at 3 the metrics do not fit, and fit says so."""
    x, y = _data()
    for width in (3, 4, 5):
        model = _model(0.1, optimizer="sgd", recorder=False)
        recorder = StepRecorder(width=width)
        model.compile(
            model.optimizer, model.loss, metrics=["accuracy", recorder]
        )
        arguments = dict(batch_size=BATCH, epochs=2, verbose=0)
        callbacks = [
            StepTensorBoard(tmp_path / str(width)),
            keras.callbacks.LearningRateScheduler(
                lambda epoch, lr: 0.1 / (1 + 9 * epoch)
            ),
        ]
        if width == 3:
            with pytest.raises(ValueError) as error:
                model.fit(x, y, callbacks=callbacks, **arguments)
            assert str(error.value).startswith(
                "StepRecorder(width=3) keeps 3 numbers a step; the model "
                "needs 4 for its 2 metrics (2 each)."
            )
            continue
        model.fit(x, y, callbacks=callbacks, **arguments)
        records = width == 5 and keras.backend.backend() != "jax"
        assert (recorder.rate_layout is not None) == records
        logged = read_scalars(tmp_path / str(width) / "train")["learning_rate"]
        np.testing.assert_allclose(
            [value for _, value in logged],
            np.repeat([0.1, 0.01], STEPS_PER_EPOCH),
            rtol=1e-6,
        )


@pytest.mark.parametrize("steps_per_execution, recorder", _set_ups())
def test_a_callable_rate_is_logged_with_its_value(
    steps_per_execution, recorder, tmp_path
):
    # A plain callable LR (not a schedule): read before each call.
    model = _model(lambda: 0.05, steps_per_execution, "sgd", recorder)
    x, y = _data()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=2,
        verbose=0,
        callbacks=[StepTensorBoard(tmp_path)],
    )
    logged = read_scalars(tmp_path / "train")["learning_rate"]
    assert [step for step, _ in logged] == list(range(2 * STEPS_PER_EPOCH))
    np.testing.assert_allclose([value for _, value in logged], 0.05)


@pytest.mark.parametrize("steps_per_execution, recorder", _set_ups())
def test_a_plateau_added_in_a_later_fit_is_logged_as_applied(
    steps_per_execution, recorder, tmp_path
):
    """A first fit traces the step without a plateau; the second brings one
    (and validation, whose step is traced then): each update is logged
    with the LR and the scale it used."""
    model = _model(0.1, steps_per_execution, "sgd", recorder)
    x, y = _data()
    arguments = dict(batch_size=BATCH, shuffle=False, verbose=0)
    model.fit(
        x, y, epochs=1, callbacks=[StepTensorBoard(tmp_path)], **arguments
    )
    model.fit(
        x,
        y,
        epochs=3,
        validation_data=(x[:9], y[:9]),
        callbacks=[
            ScriptedMetric("score", [3, 3, 3]),
            ReduceLROnPlateau("score", 0.5, 1, mode="min"),
            StepTensorBoard(tmp_path),
        ],
        **arguments,
    )
    scalars = read_scalars(tmp_path / "train")
    scale = [1.0] * 12 + [0.5] * 6  # halved after the second epoch
    later = list(range(STEPS_PER_EPOCH, 4 * STEPS_PER_EPOCH))
    assert [step for step, _ in scalars["learning_rate_scale"]] == later
    assert [value for _, value in scalars["learning_rate_scale"]] == scale
    logged = scalars["learning_rate"]
    assert [step for step, _ in logged] == list(range(4 * STEPS_PER_EPOCH))
    np.testing.assert_allclose(
        [value for _, value in logged],
        [0.1] * STEPS_PER_EPOCH + [0.1 * k for k in scale],
        rtol=1e-6,
    )
