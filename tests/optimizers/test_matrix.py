"""Every tool on every optimizer set-up users bring, on this backend.

Every built-in Keras optimizer, plain, with gradient accumulation and
with EMA; five kinds of learning rate (a float, this package's schedule,
Keras's, a user's registered and unregistered schedule); float32,
mixed_float16 and mixed_bfloat16; a MultiOptimizer. The kinds and the
precisions rotate over the optimizer cases (every kind meets every
precision, every optimizer three kinds and three precisions); the
applied-LR and MultiOptimizer tests take every kind with every precision.
"""

import keras
import numpy as np
import pytest

from keras_lrtools import find_learning_rate
from keras_lrtools._optimizer_rates import rate_holders
from keras_lrtools.callbacks import LearningRateGuard
from keras_lrtools.callbacks import ReduceLROnPlateau
from keras_lrtools.callbacks import StepRecorder
from keras_lrtools.schedules import ScaledSchedule
from tests import references
from tests.callbacks.helpers import read_scalars
from tests.optimizers.setups import BATCH
from tests.optimizers.setups import BATCHES
from tests.optimizers.setups import EFFECTIVE_TAGS
from tests.optimizers.setups import LR_KINDS
from tests.optimizers.setups import OPTIMIZERS
from tests.optimizers.setups import PRECISIONS
from tests.optimizers.setups import VARIANTS
from tests.optimizers.setups import WeightSteps
from tests.optimizers.setups import assert_same_state
from tests.optimizers.setups import classification_data
from tests.optimizers.setups import classifier
from tests.optimizers.setups import logged_plateau
from tests.optimizers.setups import make_rate
from tests.optimizers.setups import ones
from tests.optimizers.setups import optimizer_state
from tests.optimizers.setups import plateau_scale
from tests.optimizers.setups import precision
from tests.optimizers.setups import reference_rate
from tests.optimizers.setups import unit_gradient_model

EPOCHS = 3


def _optimizer_cases():
    cases = [(n, v) for n in OPTIMIZERS for v in VARIANTS]
    for index, (name, variant) in enumerate(cases):
        kind = LR_KINDS[index % len(LR_KINDS)]
        policy = PRECISIONS[index % len(PRECISIONS)]
        yield pytest.param(
            name, variant, kind, policy, id=f"{name}-{variant}-{kind}-{policy}"
        )


def _expected_rates(kind, lr0, updates, batches_per_epoch=BATCHES):
    return np.array(
        [
            reference_rate(kind, lr0, k) * plateau_scale(k // batches_per_epoch)
            for k in range(updates)
        ]
    )


def _effective_reference(name, rate, k):
    if name in ("Adam", "AdamW"):
        return references.adam_effective(rate, k)
    if name == "Adamax":
        return references.adamax_effective(rate, k)
    return references.nadam_effective(rate, k)


def _assert_holds(model, kind, rates):
    """The user's objects are in use (wrapped when scaled, not copied)."""
    for holder, rate in zip(rate_holders(model, "test"), rates, strict=True):
        if kind == "float":
            assert holder.is_float
        else:
            assert isinstance(holder.schedule, ScaledSchedule)
            assert holder.schedule.schedule is rate


@pytest.mark.parametrize(
    ("name", "variant", "kind", "policy"), list(_optimizer_cases())
)
def test_every_optimizer_with_every_tool(name, variant, kind, policy, tmp_path):
    cls, lr0, options = OPTIMIZERS[name]
    with precision(policy):
        rate = make_rate(kind, lr0)
        model = classifier(
            cls(rate, **options, **VARIANTS[variant]),
            steps_per_execution=2,
            recorder=StepRecorder(),
        )
        x, y = classification_data()
        model.optimizer.build(model.trainable_variables)

        # The LR finder leaves the model exactly as it found it.
        before = optimizer_state(model)
        result = find_learning_rate(
            model, x, y, max_lr=0.01, num_steps=6, batch_size=BATCH
        )
        # Ftrl's closed-form update assumes a fixed LR: a sweep diverges.
        assert len(result.losses) == 6 or result.stop_reason is not None
        assert_same_state(before, optimizer_state(model))
        _assert_holds_unscaled(model, kind, rate)

        guard = LearningRateGuard(num_classes=3, action="restore")
        history = model.fit(
            x,
            y,
            batch_size=BATCH,
            epochs=EPOCHS,
            shuffle=False,
            verbose=0,
            callbacks=logged_plateau(tmp_path, guard),
        )
    assert guard.diagnoses == []
    assert history.history["learning_rate_scale"] == [1.0, 0.5, 0.25]
    _assert_holds(model, kind, [rate])

    scalars = read_scalars(tmp_path / "train")
    updates = EPOCHS * BATCHES  # the counter Keras passes to the schedule
    steps, logged = zip(*scalars["learning_rate"], strict=True)
    assert list(steps) == list(range(updates))  # each update once
    np.testing.assert_allclose(
        logged, _expected_rates(kind, lr0, updates), rtol=2e-5, atol=1e-9
    )
    effective_tags = {
        t for t in scalars if "effective" in t or "bias_corrected" in t
    }
    if name not in EFFECTIVE_TAGS:
        assert effective_tags == set()
        return
    assert effective_tags == {EFFECTIVE_TAGS[name]}
    accumulation = VARIANTS[variant].get("gradient_accumulation_steps", 1)
    np.testing.assert_allclose(
        [v for _, v in scalars[EFFECTIVE_TAGS[name]]],
        [
            _effective_reference(name, logged[k], k // accumulation)
            for k in range(updates)
        ],
        rtol=1e-4,
    )


def _assert_holds_unscaled(model, kind, rate):
    (holder,) = rate_holders(model, "test")
    assert holder.is_float if kind == "float" else holder.held is rate


@pytest.mark.parametrize("recorder", [False, True])
@pytest.mark.parametrize("variant", ["plain", "accumulate"])
@pytest.mark.parametrize("policy", PRECISIONS)
@pytest.mark.parametrize("kind", LR_KINDS)
def test_applied_learning_rate_is_the_logged_one(
    kind, policy, variant, recorder, tmp_path
):
    """SGD on a gradient of exactly 1 moves the weight by the LR applied;
    logged with the rates read between calls, or recorded in the step."""
    lr0 = 0.05
    accumulation = VARIANTS[variant].get("gradient_accumulation_steps", 1)
    with precision(policy):
        rate = make_rate(kind, lr0)
        model = unit_gradient_model(
            keras.optimizers.SGD(rate, **VARIANTS[variant]),
            metrics=[StepRecorder()] if recorder else [],
        )
        moved = WeightSteps(["kernel"])
        model.fit(
            *ones(BATCHES),
            batch_size=2,
            epochs=EPOCHS,
            shuffle=False,
            verbose=0,
            callbacks=logged_plateau(tmp_path, moved),
        )
    updates = EPOCHS * BATCHES
    logged = [v for _, v in read_scalars(tmp_path / "train")["learning_rate"]]
    expected = _expected_rates(kind, lr0, updates)
    np.testing.assert_allclose(logged, expected, rtol=2e-5, atol=1e-9)
    applied = [
        rate if (k + 1) % accumulation == 0 else 0.0
        for k, rate in enumerate(logged)
    ]
    np.testing.assert_allclose(moved.steps["kernel"], applied, atol=2e-6)
    _assert_holds(model, kind, [rate])


def _multi_optimizer(backbone_rate, head_rate):
    """Discriminative rates: a slow backbone, a fast head."""
    return keras.optimizers.MultiOptimizer(
        keras.optimizers.OptimizerMap(
            keras.optimizers.SGD(head_rate, name="head_sgd"),
            {"backbone/.*": keras.optimizers.SGD(backbone_rate, name="slow")},
        )
    )


@pytest.mark.parametrize("policy", PRECISIONS)
@pytest.mark.parametrize("kind", LR_KINDS)
def test_multi_optimizer_every_tool(kind, policy, tmp_path):
    backbone_lr0, head_lr0 = 0.01, 0.1
    # Every kind logged with and without a StepRecorder (by precision).
    recorder = PRECISIONS.index(policy) % 2 == 1
    with precision(policy):
        backbone_rate = make_rate(kind, backbone_lr0)
        model = unit_gradient_model(
            _multi_optimizer(backbone_rate, head_lr0),
            branches=("backbone", "head"),
            metrics=[StepRecorder()] if recorder else [],
        )
        x, y = ones(BATCHES, width=2)
        model.optimizer.build(model.trainable_variables)
        holders = rate_holders(model, "test")
        assert [h.name for h in holders] == ["slow", "head_sgd"]

        before = optimizer_state(model)
        held = [h.held for h in holders]
        result = find_learning_rate(
            model, x, y, num_steps=5, batch_size=2, max_lr=0.1
        )
        assert_same_state(before, optimizer_state(model))
        assert [h.held for h in rate_holders(model, "test")] == held
        assert len(result.losses) == 5

        moved = WeightSteps(["backbone", "head"])
        history = model.fit(
            x,
            y,
            batch_size=2,
            epochs=EPOCHS,
            shuffle=False,
            verbose=0,
            callbacks=logged_plateau(tmp_path, moved),
        )
    updates = EPOCHS * BATCHES
    scalars = read_scalars(tmp_path / "train")
    assert "learning_rate" not in scalars  # one curve per optimizer
    for layer, tag, kind_here, lr0 in (
        ("backbone", "learning_rate/slow", kind, backbone_lr0),
        ("head", "learning_rate/head_sgd", "float", head_lr0),
    ):
        steps, logged = zip(*scalars[tag], strict=True)
        assert list(steps) == list(range(updates))
        expected = _expected_rates(kind_here, lr0, updates)
        np.testing.assert_allclose(logged, expected, rtol=2e-5, atol=1e-9)
        np.testing.assert_allclose(moved.steps[layer], logged, atol=2e-6)
    assert history.history["learning_rate_scale"] == [1.0, 0.5, 0.25]
    backbone, head = rate_holders(model, "test")
    assert head.is_float
    if kind == "float":
        assert backbone.is_float
    else:
        assert backbone.schedule.schedule is backbone_rate


class NaNAtBatch(keras.utils.PyDataset):
    """Batches of ones; the loss of batch `bad` of the first epoch is NaN
    (a NaN sample weight)."""

    def __init__(self, width, bad=2):
        super().__init__()
        self.width, self.bad, self.fired = width, bad, False

    def __len__(self):
        return BATCHES

    def __getitem__(self, index):
        x = np.ones((2, self.width), "float32")
        weights = np.ones(2, "float32")
        if index == self.bad and not self.fired:
            self.fired = True
            weights[0] = np.nan
        return x, x[:, :1], weights


@pytest.mark.parametrize(
    ("setup", "policy"),
    [
        ("adam", "mixed_float16"),
        ("sgd_accumulate", "float32"),
        ("multi", "mixed_bfloat16"),
    ],
)
def test_guard_restores_and_reports_every_optimizer(setup, policy):
    with precision(policy):
        if setup == "multi":
            optimizer = _multi_optimizer(make_rate("unregistered", 0.01), 0.1)
            branches = ("backbone", "head")
        elif setup == "adam":
            optimizer = keras.optimizers.Adam(make_rate("ours", 0.01))
            branches = ("kernel",)
        else:
            optimizer = keras.optimizers.SGD(
                0.05, gradient_accumulation_steps=2
            )
            branches = ("kernel",)
        model = unit_gradient_model(optimizer, branches=branches)
        guard = LearningRateGuard(action="restore", factor=0.5, verbose=0)
        rates_before = [h.in_force() for h in rate_holders(model, "test")]
        model.fit(
            NaNAtBatch(len(branches)),
            epochs=2,
            verbose=0,
            callbacks=[guard],
        )
    (diagnosis,) = guard.diagnoses
    assert diagnosis.symptom == "non_finite_loss"
    assert all(np.isfinite(w).all() for w in model.get_weights())
    message = diagnosis.message
    if setup == "multi":
        assert "slow " in message and "head_sgd " in message
        assert "effective step" not in message  # SGD has none
    elif setup == "adam":
        assert "Adam's effective step" in message
    else:
        assert "effective step" not in message and "bias" not in message
    holders = rate_holders(model, "test")
    for holder, before in zip(holders, rates_before, strict=True):
        if holder.is_float:
            assert holder.in_force() == pytest.approx(before * 0.5)
        else:
            assert holder.schedule.scale == 0.5


@pytest.mark.parametrize(
    ("setup", "policy", "kind"),
    [
        ("Adam", "float32", "unregistered"),
        ("SGD", "mixed_float16", "ours"),
        ("Nadam", "mixed_bfloat16", "float"),
        ("multi", "mixed_float16", "registered"),
    ],
)
def test_finder_restores_when_it_stops_early_or_raises(setup, policy, kind):
    with precision(policy):
        rate = make_rate(kind, 0.01)
        if setup == "multi":
            optimizer = _multi_optimizer(rate, 0.1)
        else:
            optimizer = getattr(keras.optimizers, setup)(rate)
        model = classifier(optimizer)
        x, y = classification_data()
        model.optimizer.build(model.trainable_variables)
        held = [h.held for h in rate_holders(model, "test")]
        before = optimizer_state(model)
        diverged = find_learning_rate(
            model, x, y, min_lr=1.0, max_lr=1e6, num_steps=50, batch_size=8
        )
        assert diverged.stop_reason in ("nan", "diverged")
        assert len(diverged.losses) < 50
        assert_same_state(before, optimizer_state(model))
        one_shot = iter([(x[:8], y[:8]), (x[8:16], y[8:16])])
        with pytest.raises(ValueError, match="ran out after 2 batches"):
            find_learning_rate(model, one_shot, num_steps=10)
        assert_same_state(before, optimizer_state(model))
    assert [h.held for h in rate_holders(model, "test")] == held


class CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


@pytest.mark.parametrize("tool", ["plateau", "guard"])
def test_an_unscalable_rate_is_refused_before_the_first_update(tool):
    """A plain callable LR can be read but neither scaled nor saved."""
    model = unit_gradient_model(keras.optimizers.SGD(lambda: 0.1))
    callback = (
        ReduceLROnPlateau("loss")
        if tool == "plateau"
        else LearningRateGuard(action="restore")
    )
    counter = CountBatches()
    with pytest.raises(TypeError, match=r"plain callable .*LearningRateSch"):
        model.fit(
            *ones(2), batch_size=2, verbose=0, callbacks=[callback, counter]
        )
    assert counter.batches == 0
    # Reading it is fine: the stop guard and the logger take it.
    model.fit(
        *ones(2),
        batch_size=2,
        verbose=0,
        callbacks=[LearningRateGuard(), counter],
    )
    assert counter.batches == 2
