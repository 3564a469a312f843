import math

import keras
import numpy as np
import pytest

from keras_lrtools import find_learning_rate
from keras_lrtools import lr_suggestions
from keras_lrtools.callbacks import LearningRateGuard
from keras_lrtools.schedules import CosineDecay
from tests.conftest import course_mlp

# Suggestion rules on constructed curves with known answers ---------------

RATES = np.logspace(-6, 0, 61)  # 10 points a decade
LOG = np.log10(RATES)


def test_steepest_descent_finds_the_steepest_point_in_log_space():
    # A sigmoid drop centred at 1e-3: steepest exactly there.
    losses = 2.0 - np.tanh(2.0 * (LOG + 3.0))
    assert lr_suggestions.steepest_descent(RATES, losses) == pytest.approx(1e-3)


def test_minimum_divided_by_ten():
    losses = (LOG + 2.0) ** 2  # lowest at 1e-2
    assert lr_suggestions.minimum_divided_by_10(RATES, losses) == pytest.approx(
        1e-3
    )


def test_valley_is_halfway_along_the_longest_descent():
    # Flat and noisy (no long descent) up to 1e-4, falling from 1e-4 to
    # 1e-2, rising after: the descent (indices 20..40, plus one noisy
    # point before it) ends at 40 and is 22 long, so k* = 19 + 10 = 29.
    losses = np.where(LOG < -4, 2.0 + 0.01 * (np.arange(61) % 2), 0.0)
    falling = (LOG >= -4) & (LOG <= -2)
    losses[falling] = 2.0 - (LOG[falling] + 4.0) * 0.5
    losses[LOG > -2] = 1.0 + (LOG[LOG > -2] + 2.0)
    assert lr_suggestions.valley(RATES, losses) == pytest.approx(RATES[29])


def test_rules_stop_at_the_first_nan():
    losses = (LOG + 2.0) ** 2
    losses[45:] = np.nan  # nothing after 10**-1.5 counts
    assert lr_suggestions.minimum_divided_by_10(RATES, losses) == pytest.approx(
        10**-2 / 10
    )


def test_descent_midpoint_is_between_the_start_of_the_fall_and_the_low():
    # Flat at 2 up to 1e-5, falls linearly in log10(lr) to 1 at 1e-3,
    # then rises: 25% of the fall is done at 10**-4.5, the low is 1e-3.
    losses = np.interp(LOG, [-6, -5, -3, 0], [2.0, 2.0, 1.0, 3.0])
    assert lr_suggestions.descent_midpoint(RATES, losses) == pytest.approx(
        np.sqrt(10**-4.5 * 1e-3), rel=0.13
    )


def test_rules_need_three_finite_points():
    with pytest.raises(ValueError, match="at least 3 finite losses"):
        lr_suggestions.valley([1e-3, 1e-2, 1e-1], [1.0, np.nan, 2.0])


# The finder on real SIGNS data -------------------------------------------


def _optimizer_state(model):
    return [
        np.array(keras.ops.convert_to_numpy(v))
        for v in model.optimizer.variables
    ]


@pytest.fixture(scope="module")
def signs_finder(signs):
    (x, y), _ = signs
    model = course_mlp(1e-4, steps_per_execution=1)
    model.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)
    weights = [w.copy() for w in model.get_weights()]
    optimizer = _optimizer_state(model)
    result = find_learning_rate(
        model, x, y, min_lr=1e-6, max_lr=0.1, num_steps=400, seed=3
    )
    return model, weights, optimizer, result


def test_the_model_is_left_bit_for_bit_as_it_was(signs_finder):
    model, weights, optimizer, _ = signs_finder
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    for before, after in zip(optimizer, _optimizer_state(model), strict=True):
        np.testing.assert_array_equal(before, after)
    assert int(model.optimizer.iterations) == 2
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)


def test_recorded_losses_are_those_of_each_batch(signs_finder, signs):
    # Oracle: a twin model trained on the same batches at the same rates,
    # one train_on_batch (metrics reset) at a time.
    _, weights, _, result = signs_finder
    (x, y), _ = signs
    twin = course_mlp(1e-4, steps_per_execution=1)
    twin.fit(x[:64], y[:64], batch_size=32, epochs=1, verbose=0)
    twin.set_weights(weights)
    order = np.random.default_rng(3).permutation(len(x))
    for step in range(12):
        index = order[step * 32 : (step + 1) * 32]
        twin.optimizer.learning_rate = result.learning_rates[step]
        logs = twin.train_on_batch(x[index], y[index], return_dict=True)
        assert result.losses[step] == pytest.approx(logs["loss"], rel=1e-4)
    # Per batch, not a running mean: it goes up as well as down.
    assert np.any(np.diff(result.losses[:50]) > 0)


def test_rates_sweep_exponentially_and_are_smoothed(signs_finder):
    _, _, _, result = signs_finder
    rates = result.learning_rates
    assert rates[0] == pytest.approx(1e-6)
    np.testing.assert_allclose(
        rates[1:] / rates[:-1], rates[1] / rates[0], rtol=1e-4
    )
    beta, average = 0.98, 0.0
    for step, loss in enumerate(result.losses[:30]):
        average = beta * average + (1 - beta) * loss
        assert result.smoothed_losses[step] == pytest.approx(
            average / (1 - beta ** (step + 1)), rel=1e-9
        )


def test_the_suggestion_lies_below_the_collapse_rate(signs_finder, tmp_path):
    _, _, _, result = signs_finder
    suggestion = result.suggestion()
    assert 1e-6 < suggestion < 1e-3  # 0.01 collapses this network
    assert set(result.suggestions()) == {
        "descent_midpoint",
        "valley",
        "steepest_descent",
        "minimum_divided_by_10",
    }
    path = result.plot(tmp_path / "lr_find.png")
    from PIL import Image

    with Image.open(path) as image:
        assert image.size[0] > 600


def test_the_suggested_rate_trains_where_0_01_collapses(signs):
    # As recipes/train_signs.py --lr auto does: the suggestion is the peak
    # of a cosine decay after a 20-epoch warmup.
    (x, y), (x_test, y_test) = signs
    model = course_mlp(1e-4, steps_per_execution=1)
    rate = find_learning_rate(
        model, x, y, min_lr=1e-6, max_lr=0.1, num_steps=1000, seed=1
    ).suggestion()
    assert 1e-5 < rate < 1e-3

    class StopAt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if logs["val_accuracy"] >= 0.70:
                self.model.stop_training = True

    def cosine(peak):
        return CosineDecay(
            0.0, 280 * 34, alpha=0.01, warmup_target=peak, warmup_steps=20 * 34
        )

    trained = course_mlp(cosine(rate))
    history = trained.fit(
        x,
        y,
        batch_size=32,
        epochs=300,
        verbose=0,
        validation_data=(x_test, y_test),
        callbacks=[StopAt()],
    )
    assert max(history.history["val_accuracy"]) >= 0.70
    guard = LearningRateGuard(num_classes=6, verbose=0)
    collapsed = course_mlp(cosine(0.01))
    collapsed.fit(
        x,
        y,
        batch_size=32,
        epochs=40,
        verbose=0,
        validation_data=(x_test, y_test),
        callbacks=[guard],
    )
    assert guard.diagnoses, "0.01 should collapse"


# Schedules, early stops, errors -----------------------------------------


def _regression(learning_rate):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(learning_rate), "mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return model, x, x @ np.array([1.0, -2.0, 0.5, 3.0], "float32")


def test_a_schedule_in_the_optimizer_is_put_back():
    schedule = CosineDecay(0.01, 100)
    model, x, y = _regression(schedule)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    before = model.optimizer.get_config()["learning_rate"]
    result = find_learning_rate(model, x, y, num_steps=20, batch_size=16)
    assert len(result.losses) == 20
    assert model.optimizer.get_config()["learning_rate"] == before
    assert int(model.optimizer.iterations) == 4
    assert float(model.optimizer.learning_rate) == pytest.approx(
        float(schedule(4))
    )
    # The compiled step uses the schedule again, not the sweep.
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert float(model.optimizer.learning_rate) == pytest.approx(
        float(schedule(8))
    )


def test_divergence_stops_the_sweep_early():
    model, x, y = _regression(0.01)
    result = find_learning_rate(
        model, x, y, min_lr=1e-4, max_lr=100.0, num_steps=200, batch_size=16
    )
    assert result.stop_reason in ("diverged", "nan")
    assert len(result.losses) < 200
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_an_error_mid_sweep_still_restores_the_model(monkeypatch):
    model, x, y = _regression(0.01)
    weights = [w.copy() for w in model.get_weights()]
    calls = []
    original = model.train_on_batch

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("interrupted")
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "train_on_batch", failing)
    with pytest.raises(RuntimeError, match="interrupted"):
        find_learning_rate(model, x, y, num_steps=20, batch_size=16)
    for before, after in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_linear_mode_and_datasets():
    model, x, y = _regression(0.01)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            part = slice(index * 16, (index + 1) * 16)
            return x[part], y[part]

    result = find_learning_rate(
        model,
        Batches(),
        min_lr=0.001,
        max_lr=0.01,
        num_steps=10,
        mode="linear",
    )
    np.testing.assert_allclose(
        result.learning_rates, np.linspace(0.001, 0.01, 10), rtol=1e-5
    )


def test_a_one_shot_iterator_that_runs_out_is_an_error():
    model, x, y = _regression(0.01)
    batches = iter([(x[:16], y[:16]), (x[16:32], y[16:32])])
    with pytest.raises(ValueError, match="ran out after 2 batches"):
        find_learning_rate(model, batches, num_steps=10)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (
            dict(min_lr=0.1, max_lr=0.01),
            ValueError,
            r"`max_lr` must be greater than `min_lr`.*min_lr=0.1",
        ),
        (dict(min_lr=0.0), ValueError, r"`min_lr` must be > 0"),
        (dict(max_lr=-1.0), ValueError, r"`max_lr`"),
        (dict(num_steps=3), ValueError, r"`num_steps` must be >= 5"),
        (
            dict(mode="log"),
            ValueError,
            r"`mode` must be one of \['exponential', 'linear'\]",
        ),
        (dict(smoothing=1.0), ValueError, r"`smoothing`"),
        (dict(divergence_factor=1.0), ValueError, r"`divergence_factor`"),
        (dict(batch_size=0), ValueError, r"`batch_size` must be >= 1"),
    ],
)
def test_bad_arguments_are_refused(kwargs, error, pattern):
    model, x, y = _regression(0.01)
    with pytest.raises(error, match=pattern):
        find_learning_rate(model, x, y, **kwargs)


def test_an_uncompiled_model_is_refused():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="needs a compiled model"):
        find_learning_rate(model, np.ones((8, 4)), np.ones(8))


def test_mismatched_data_is_refused():
    model, x, y = _regression(0.01)
    with pytest.raises(ValueError, match="same length"):
        find_learning_rate(model, x, y[:10])
    assert math.isfinite(float(model.get_weights()[0][0, 0]))
