"""What keras_lrtools._optimizer_rates relies on in Keras, pinned.

Keras has no public way to get the schedule object an optimizer holds or
the counter it passes to the schedule; `_optimizer_rates` reads
`optimizer._learning_rate` and `optimizer._iterations`, and on jax the
trainer's `_jax_state_synced`. These tests fail on a Keras upgrade that
changes any of them, or the other behaviours the module builds on. One
pins what StepTensorBoard and the guard are shaped for: when Keras
dispatches batch ends asynchronously.
"""

import keras
import pytest

from keras_lrtools._optimizer_rates import _COUNTER
from keras_lrtools._optimizer_rates import _HELD
from keras_lrtools._optimizer_rates import attached_plateau_state
from keras_lrtools._optimizer_rates import jax_trainer_reloads
from keras_lrtools._optimizer_rates import plateau_state
from keras_lrtools._optimizer_rates import rate_holders
from tests.optimizers.setups import OPTIMIZERS
from tests.optimizers.setups import UnregisteredStep
from tests.optimizers.setups import ones
from tests.optimizers.setups import precision
from tests.optimizers.setups import unit_gradient_model


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_optimizer_holds_the_object_it_was_given(name):
    cls, lr0, options = OPTIMIZERS[name]
    schedule = UnregisteredStep(lr0)
    optimizer = cls(schedule, **options)
    assert getattr(optimizer, _HELD) is schedule
    other = UnregisteredStep(lr0 / 2)
    optimizer.learning_rate = other  # Keras's public setter
    assert getattr(optimizer, _HELD) is other
    with_float = cls(lr0, **options)
    assert isinstance(getattr(with_float, _HELD), keras.Variable)
    assert float(getattr(with_float, _HELD).numpy()) == pytest.approx(lr0)


def test_the_schedule_gets_the_batch_counter_under_accumulation():
    """With gradient_accumulation_steps=2, Keras calls the schedule with
    `_iterations` (batches) and applies the update at every second batch;
    the public `iterations` counts updates."""
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [0, 1, 2], [1.0, 2.0, 4.0, 8.0]
    )
    model = unit_gradient_model(
        keras.optimizers.SGD(schedule, gradient_accumulation_steps=2)
    )
    model.fit(*ones(4), batch_size=2, epochs=1, shuffle=False, verbose=0)
    optimizer = model.optimizer
    assert int(getattr(optimizer, _COUNTER).numpy()) == 4
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 2
    # Updates at batches 1 and 3: schedule(1) + schedule(3) = 2 + 8.
    kernel = float(model.get_layer("kernel").kernel.numpy()[0, 0])
    assert kernel == pytest.approx(-10.0)


def test_wrappers_expose_their_optimizers():
    with precision("mixed_float16"):
        model = unit_gradient_model(keras.optimizers.Adam(0.1))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.optimizer.inner_optimizer, keras.optimizers.Adam)
    (holder,) = rate_holders(model, "test")
    assert holder.optimizer is model.optimizer.inner_optimizer

    slow, fast = keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.1)
    multi = keras.optimizers.MultiOptimizer(
        lambda variable: slow if "backbone" in variable.path else fast
    )
    model = unit_gradient_model(multi, branches=("backbone", "head"))
    assert multi.optimizers == []  # a selector's optimizers come at build
    holders = rate_holders(model, "test")  # builds it
    assert [h.optimizer for h in holders] == [slow, fast]


def test_a_layer_on_an_optimizer_attribute_is_checkpointed(tmp_path):
    """The plateau state lives on the optimizer as an attribute; Keras's
    saver walks the optimizer's attributes, so checkpoints hold it."""
    model = unit_gradient_model(keras.optimizers.SGD(0.1))
    model.fit(*ones(2), batch_size=2, verbose=0)
    holders = rate_holders(model, "test")
    state, new = plateau_state(model, holders)
    assert new
    state.write({"scale": 0.25, "best": 3.0, "wait": 2.0})
    path = str(tmp_path / "w.weights.h5")
    model.save_weights(path)

    fresh = unit_gradient_model(keras.optimizers.SGD(0.1))
    fresh.fit(*ones(2), batch_size=2, verbose=0)
    fresh_state, _ = plateau_state(fresh, rate_holders(fresh, "test"))
    fresh.load_weights(path)
    assert attached_plateau_state(fresh) is fresh_state
    values = fresh_state.read()
    assert (values["scale"], values["best"], values["wait"]) == (
        0.25,
        3.0,
        2.0,
    )
    assert len(fresh.optimizer.variables) == len(model.optimizer.variables)


def test_loss_scale_optimizer_build_is_not_idempotent():
    """Why the finder and the guard build an optimizer only if unbuilt:
    a LossScaleOptimizer built twice gets a second loss scale."""
    with precision("mixed_float16"):
        model = unit_gradient_model(keras.optimizers.SGD(0.1))
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)
    count = len(optimizer.variables)
    optimizer.build(model.trainable_variables)
    assert len(optimizer.variables) == count + 2


def test_a_plain_callable_rate_is_refused_for_scaling():
    model = unit_gradient_model(keras.optimizers.SGD(lambda: 0.1))
    (holder,) = rate_holders(model, "test")  # readable
    assert holder.in_force() == pytest.approx(0.1)
    with pytest.raises(TypeError, match=r"plain callable.*subclass"):
        rate_holders(model, "ReduceLROnPlateau", scalable=True)


@pytest.mark.parametrize("check_every_batches", [0, 1])
def test_batch_ends_stay_asynchronous_without_batch_end_hooks(
    check_every_batches, tmp_path
):
    # Keras dispatches on_train_batch_end in a thread (jax, torch) unless a
    # callback overrides it and is not `async_safe`: StepTensorBoard has no
    # such hook, and the guard none that does anything at 0.
    from keras_lrtools.callbacks import BackupAndRestore
    from keras_lrtools.callbacks import LearningRateGuard
    from keras_lrtools.callbacks import ReduceLROnPlateau
    from keras_lrtools.callbacks import StepTensorBoard

    callbacks = [
        StepTensorBoard(tmp_path),
        ReduceLROnPlateau(),
        LearningRateGuard(check_every_batches=check_every_batches),
        BackupAndRestore(tmp_path / "backup"),  # saves at epoch ends
    ]
    dispatch = keras.callbacks.CallbackList(callbacks)
    thread_safe = keras.backend.backend() != "tensorflow"
    assert dispatch._async_train == (thread_safe and not check_every_batches)
    batch_saves = BackupAndRestore(tmp_path / "backup", save_freq=3)
    assert not keras.callbacks.CallbackList([batch_saves])._async_train


class _Syncs(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        _ = self.model  # on jax, syncs the trainer's state


class _SeesReloads(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        self.seen.append(jax_trainer_reloads(self._model))


@pytest.mark.parametrize("synced", [False, True])
def test_jax_trainer_reloads_at_epoch_starts_and_after_a_sync(synced):
    # jax's trainer takes its state from the variables at an epoch's first
    # call and after a callback read `callback.model`; the other backends
    # use the variables at every call.
    model = unit_gradient_model(keras.optimizers.SGD(0.1))
    seen = _SeesReloads()
    model.fit(
        *ones(3),
        batch_size=2,
        epochs=2,
        verbose=0,
        callbacks=[_Syncs(), seen] if synced else [seen],
    )
    every_call = synced or keras.backend.backend() != "jax"
    expected = [True] * 6 if every_call else [True, False, False] * 2
    assert seen.seen == expected
