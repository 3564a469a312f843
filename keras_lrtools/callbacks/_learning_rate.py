"""Reading and scaling the learning rate of a compiled model's optimizer."""

import keras
import numpy as np

from keras_lrtools.schedules import ScaledSchedule

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule


def single_optimizer(model, caller):
    """The model's optimizer; refuses a missing or a multi-optimizer."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError(
            f"{caller} needs a compiled model with an optimizer; call "
            "model.compile(optimizer=...) first."
        )
    if hasattr(optimizer, "optimizers"):
        raise ValueError(
            f"{caller} supports a single optimizer, not "
            f"{type(optimizer).__name__} with several."
        )
    return optimizer


def holds_schedule(optimizer):
    """True if the optimizer was built with a LearningRateSchedule."""
    learning_rate = optimizer.get_config()["learning_rate"]
    if isinstance(learning_rate, dict):
        return True
    if isinstance(learning_rate, (float, int, np.floating)):
        return False
    raise TypeError(
        "The optimizer's learning rate must be a float or a "
        "`keras.optimizers.schedules.LearningRateSchedule`, not "
        f"{type(learning_rate).__name__}."
    )


_SCALED_ATTRIBUTE = "_keras_lrtools_scaled_schedule"


def installed_scaled_schedule(optimizer):
    """The ScaledSchedule a callback installed, or None.

    None as well when the optimizer no longer holds it (another config).
    """
    installed = getattr(optimizer, _SCALED_ATTRIBUTE, None)
    if installed is not None and (
        keras.saving.serialize_keras_object(installed)
        == optimizer.get_config()["learning_rate"]
    ):
        return installed
    return None


def install_scaled_schedule(optimizer):
    """Puts the optimizer's schedule inside a ScaledSchedule, and returns it.

    Every callback of this package that scales the LR gets the same object
    (it is kept on the optimizer), so their reductions compose. A schedule
    from a loaded model is rebuilt from the optimizer's config (public
    API); an existing ScaledSchedule keeps its scale and plateau state.
    """
    installed = installed_scaled_schedule(optimizer)
    if installed is not None:
        return installed  # already in place: no retrace needed
    config = optimizer.get_config()["learning_rate"]
    try:
        schedule = keras.saving.deserialize_keras_object(config)
    except Exception as error:
        raise TypeError(
            "The optimizer's learning-rate schedule cannot be rebuilt from "
            "its config, so it cannot be scaled. Register it with "
            "@keras.saving.register_keras_serializable() and give it a "
            f"get_config(). Cause: {error}"
        ) from error
    if not isinstance(schedule, ScaledSchedule):
        schedule = ScaledSchedule(schedule, scale=1.0)
    optimizer.learning_rate = schedule
    setattr(optimizer, _SCALED_ATTRIBUTE, schedule)
    return schedule


def reduce_learning_rate(model, factor, min_lr=0.0):
    """Multiplies the LR in force by `factor`, never below `min_lr`.

    A float LR is assigned; a schedule is scaled through its
    ScaledSchedule and the train step retraced, so the change reaches the
    compiled step on every backend. Returns (old_lr, new_lr).
    """
    optimizer = model.optimizer
    old = learning_rate_in_force(optimizer)
    if old <= float32(min_lr) or old == 0.0:
        return old, old
    new = max(old * factor, min_lr)
    if holds_schedule(optimizer):
        schedule = install_scaled_schedule(optimizer)
        schedule.scale = float32(schedule.scale * new / old)
        model.make_train_function(force=True)
    else:
        optimizer.learning_rate = new
    return old, learning_rate_in_force(optimizer)


def learning_rate_in_force(optimizer):
    """LR of the optimizer's next update, as a Python float."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


_ADAM_FAMILY = ("Adam", "AdamW", "Adamax", "Nadam", "Lamb")


def adam_betas(optimizer):
    """(beta_1, beta_2) of an Adam-family optimizer, else None."""
    if type(optimizer).__name__ not in _ADAM_FAMILY:
        return None
    config = optimizer.get_config()
    return float(config["beta_1"]), float(config["beta_2"])


def float32(value):
    """`value` rounded to float32, as a Python float (exact to store)."""
    return float(np.float32(value))
