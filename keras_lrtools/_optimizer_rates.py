"""The one owner of a Keras optimizer's learning rate.

The plateau callback, `StepTensorBoard`, the guard and the LR finder ask
this module; none of them reaches into an optimizer. It finds every
optimizer of a model that holds a learning rate (through
`LossScaleOptimizer`, any wrapper with an `inner_optimizer`, and each
optimizer of a `MultiOptimizer`), reads the object it holds (the user's
own schedule, never a copy rebuilt from its config), installs and finds
the `ScaledSchedule` a plateau scales, keeps the one `PlateauState`,
knows each optimizer's bias correction, and tells when jax's trainer
applies a float LR set between its calls.

Keras has no public way to do three of these things, so this module,
and only this one, uses what Keras does (pinned by
tests/optimizers/test_keras_internals.py, which fail on a Keras upgrade
that changes them):

- `optimizer._learning_rate`: the schedule or callable the optimizer was
  given, or the variable of a float rate. (`optimizer.learning_rate`
  evaluates it; `get_config()` serializes it, which fails for an
  unregistered class and is absent from a LossScaleOptimizer's config.)
- `optimizer._iterations`: the counter Keras passes to the schedule. With
  `gradient_accumulation_steps=n` it counts batches, and the public
  `optimizer.iterations` is it divided by n.
- `model._jax_state_synced` (jax): whether the trainer, which keeps its
  state apart from the variables during an epoch, takes it from them
  again at its next call (at an epoch's first call, and after a callback
  synced it by reading `callback.model`).
"""

import keras
import numpy as np

from keras_lrtools.schedules import ScaledSchedule
from keras_lrtools.schedules.adam import adam_bias_correction
from keras_lrtools.schedules.adam import adamax_bias_correction
from keras_lrtools.schedules.adam import nadam_bias_correction
from keras_lrtools.schedules.scaled import PlateauState

LearningRateSchedule = keras.optimizers.schedules.LearningRateSchedule

_HELD = "_learning_rate"  # Keras internal, see the module docstring
_COUNTER = "_iterations"  # Keras internal, see the module docstring
_JAX_RELOADS = "_jax_state_synced"  # Keras internal, see the docstring
_PLATEAU_STATE = "_keras_lrtools_plateau_state"

# Closed-form bias corrections, by Keras's public optimizer class (the
# torch backend trains with subclasses of its own: see _public_class).
_BIAS_CORRECTIONS = {
    keras.optimizers.Adam: lambda o, t: adam_bias_correction(
        t, o.beta_1, o.beta_2
    ),
    keras.optimizers.AdamW: lambda o, t: adam_bias_correction(
        t, o.beta_1, o.beta_2
    ),
    keras.optimizers.Adamax: lambda o, t: adamax_bias_correction(t, o.beta_1),
    keras.optimizers.Nadam: lambda o, t: nadam_bias_correction(
        t, o.beta_1, o.beta_2
    ),
}
ADAM_TAG = "adam_effective_learning_rate"
BIAS_CORRECTED_TAG = "bias_corrected_learning_rate"


class RateHolder:
    """One optimizer of a model that holds a learning rate.

    `name` tells it apart in logs and messages: "" for a model with one
    such optimizer, the optimizer's name inside a MultiOptimizer.
    """

    def __init__(self, optimizer, name):
        self.optimizer = optimizer
        self.name = name

    @property
    def held(self):
        """What the optimizer holds: a schedule, a callable or a variable."""
        return getattr(self.optimizer, _HELD)

    @property
    def schedule(self):
        """The schedule in use (a ScaledSchedule once scaled), or None."""
        held = self.held
        return held if isinstance(held, LearningRateSchedule) else None

    @property
    def is_float(self):
        return isinstance(self.held, keras.Variable)

    @property
    def counter(self):
        """The counter Keras passes to the schedule (a variable)."""
        return getattr(self.optimizer, _COUNTER)

    @property
    def label(self):
        return f"optimizer `{self.name}`" if self.name else "the optimizer"

    def hold(self, rate):
        """Makes the optimizer use `rate` (Keras's public setter).

        A float is assigned to the optimizer's rate variable (only where
        it holds a float); a schedule or callable replaces what it holds.
        """
        self.optimizer.learning_rate = rate

    def in_force(self):
        """LR of the next update, as a Python float."""
        return float(keras.ops.convert_to_numpy(self.optimizer.learning_rate))

    @property
    def effective_tag(self):
        """The tag of the effective step size, None without a closed form."""
        kind = _public_class(self.optimizer)
        if kind not in _BIAS_CORRECTIONS:
            return None
        adam = kind in (keras.optimizers.Adam, keras.optimizers.AdamW)
        return ADAM_TAG if adam else BIAS_CORRECTED_TAG

    def bias_corrections(self, steps):
        """lr_effective / lr at counter values `steps`, or None.

        Keras's update at counter k uses t = iterations + 1, where
        iterations = k // gradient_accumulation_steps.
        """
        formula = _BIAS_CORRECTIONS.get(_public_class(self.optimizer))
        if formula is None:
            return None
        accumulation = self.optimizer.gradient_accumulation_steps or 1
        t = np.asarray(steps, dtype="int64") // accumulation + 1
        return np.asarray(
            keras.ops.convert_to_numpy(formula(self.optimizer, t)),
            dtype=np.float64,
        )

    def describe(self):
        """'lr 0.001 (effective step 0.0003)' for messages."""
        rate = self.in_force()
        text = f"{rate:.4g}"
        if self.effective_tag is not None:
            step = int(keras.ops.convert_to_numpy(self.counter))
            correction = float(self.bias_corrections([step])[0])
            which = (
                "Adam's effective step"
                if self.effective_tag == ADAM_TAG
                else f"{type(self.optimizer).__name__}'s bias-corrected step"
            )
            text += f" ({which} {rate * correction:.4g})"
        return text


_PUBLIC_OPTIMIZERS = {
    value
    for value in vars(keras.optimizers).values()
    if isinstance(value, type) and issubclass(value, keras.optimizers.Optimizer)
}


def _public_class(optimizer):
    """The first of Keras's public optimizer classes the optimizer is."""
    for kind in type(optimizer).__mro__:
        if kind in _PUBLIC_OPTIMIZERS:
            return kind
    return None


def per_optimizer(holders, texts):
    """'text' for one optimizer; 'name text, name text' for several."""
    return ", ".join(
        f"{holder.name} {text}" if holder.name else text
        for holder, text in zip(holders, texts, strict=True)
    )


def model_optimizer(model, caller):
    """The model's optimizer; a clear error if it has none."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        raise ValueError(
            f"{caller} needs a compiled model with an optimizer; call "
            "model.compile(optimizer=...) first."
        )
    return optimizer


def rate_holders(model, caller, *, scalable=False):
    """The model's optimizers that hold a learning rate, in a fixed order.

    With `scalable=True`, refuses a rate that cannot be scaled (a plain
    callable), saying why and what to do.
    """
    optimizer = model_optimizer(model, caller)
    if isinstance(optimizer, keras.optimizers.MultiOptimizer) and not (
        optimizer.optimizers
    ):
        # Built from a selector function: its optimizers appear at build.
        if not model.built:
            raise ValueError(
                f"{caller} needs the model built to find the optimizers of "
                "its MultiOptimizer; call model.build(...) or fit first."
            )
        optimizer.build(model.trainable_variables)
    leaves = list(_leaves(optimizer))
    names = _unique_names(leaves) if len(leaves) > 1 else [""]
    holders = [RateHolder(o, n) for o, n in zip(leaves, names, strict=True)]
    for holder in holders:
        _check_readable(holder, caller, scalable)
    return holders


def _leaves(optimizer):
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        yield from _leaves(inner)
    elif isinstance(optimizer, keras.optimizers.MultiOptimizer):
        for member in optimizer.optimizers:
            yield from _leaves(member)
    else:
        yield optimizer


def _unique_names(optimizers):
    names = []
    for index, optimizer in enumerate(optimizers):
        name = optimizer.name
        names.append(name if name not in names else f"{name}_{index}")
    return names


def _check_readable(holder, caller, scalable):
    kind = type(holder.optimizer).__name__
    if not hasattr(holder.optimizer, _HELD):
        raise TypeError(
            f"{caller} cannot read the learning rate of {kind}: it is not a "
            "Keras 3 optimizer (keras.optimizers.Optimizer) or a wrapper "
            "with an `inner_optimizer`. Compile with a Keras optimizer."
        )
    held = holder.held
    if isinstance(held, (LearningRateSchedule, keras.Variable)):
        return
    if scalable:
        raise TypeError(
            f"{caller} cannot scale the learning rate of {holder.label} "
            f"({kind}): it is a plain callable ({held!r}), whose value "
            "this package can neither scale nor save. Pass a float, or "
            "subclass keras.optimizers.schedules.LearningRateSchedule."
        )


# Plateau state and scaling -----------------------------------------------


def plateau_state(model, holders):
    """The model's one PlateauState, and whether it is new to this process.

    Kept on the model's optimizer (so its checkpoints hold it) and shared
    by every ScaledSchedule of the model. A model loaded from a `.keras`
    file brings it in its ScaledSchedule's config: it is adopted. A train
    step traced before it came is traced again (a StepRecorder records
    the rates in force, its scale among them, from the traced step).
    """
    optimizer = model.optimizer
    state = getattr(optimizer, _PLATEAU_STATE, None)
    new = state is None
    if new:
        loaded = [h.schedule.state for h in holders if _is_scaled(h)]
        state = loaded[0] if loaded else PlateauState()
        setattr(optimizer, _PLATEAU_STATE, state)
        if getattr(model, "train_function", None) is not None:
            model.make_train_function(force=True)
    for holder in holders:
        if _is_scaled(holder):
            holder.schedule.state = state
    return state, new


def attached_plateau_state(model):
    """The PlateauState a plateau callback or the guard attached, or None."""
    optimizer = getattr(model, "optimizer", None)
    return getattr(optimizer, _PLATEAU_STATE, None)


def rate_terms(model, holders):
    """What fixes the next update's rates, besides the schedules' formulas.

    (plateau, per_holder): the attached PlateauState's scale variable, or
    None; per holder ("scale", v) for a ScaledSchedule (v its scale
    variable), ("scale", None) for another schedule (a scale of 1), and
    ("rate", lr) for a float or a callable (lr its current value, a
    variable or a tensor). Read on the host before a compiled call, or
    recorded inside each step (StepRecorder).
    """
    state = attached_plateau_state(model)
    plateau = None if state is None else state.scale_variable
    per_holder = []
    for holder in holders:
        held = holder.schedule
        if isinstance(held, ScaledSchedule):
            per_holder.append(("scale", held.state.scale_variable))
        elif held is not None:
            per_holder.append(("scale", None))
        else:  # a float's variable, or a callable's value now
            per_holder.append(("rate", holder.optimizer.learning_rate))
    return plateau, per_holder


def jax_trainer_reloads(model):
    """Whether jax's trainer takes the model's variables at its next call.

    Only then is a float LR assigned since its last call applied (and the
    variables readable); in between it trains on its own copy. Always
    True on the other backends, which use the variables at every call.
    """
    if keras.backend.backend() != "jax":
        return True
    return bool(getattr(model, _JAX_RELOADS))


def _is_scaled(holder):
    return isinstance(holder.held, ScaledSchedule)


def install_scaling(model, holders, state):
    """Wraps every schedule held in a ScaledSchedule sharing `state`.

    The user's schedule object goes inside, not a copy. Returns True if
    anything was installed (the train step must then be retraced).
    """
    installed = False
    for holder in holders:
        schedule = holder.schedule
        if schedule is None or isinstance(schedule, ScaledSchedule):
            continue
        scaled = ScaledSchedule(schedule)
        scaled.state = state
        holder.hold(scaled)
        installed = True
    return installed


def scale_learning_rates(model, holders, state, factor, min_lr=0.0):
    """Multiplies every LR in force by one common factor, keeping ratios.

    The factor is `factor`, raised so that the largest LR in force does
    not fall below `min_lr` (Keras's rule `max(lr * factor, min_lr)` for
    one optimizer). Floats are assigned, schedules scaled through the
    shared state (also where they are at 0 now, in a warmup's first
    step), and the train step retraced. Returns (old, new), the LRs in
    force, or None if nothing could be reduced (all at `min_lr`, or
    floats at 0).
    """
    old = [holder.in_force() for holder in holders]
    top = max(old)
    floats_only = all(holder.is_float for holder in holders)
    if (min_lr > 0 and top <= float32(min_lr)) or (top == 0 and floats_only):
        return None
    multiplier = factor if top == 0 else max(factor, min_lr / top)
    install_scaling(model, holders, state)
    for holder, rate in zip(holders, old, strict=True):
        if holder.is_float:
            holder.hold(float32(rate * multiplier))
    scale = state.read()["scale"]
    state.write({"scale": float32(scale * multiplier)})
    model.make_train_function(force=True)
    return old, [holder.in_force() for holder in holders]


def float32(value):
    """`value` rounded to float32, as a Python float (exact to store)."""
    return float(np.float32(value))


# Snapshots ----------------------------------------------------------------


class OptimizerSnapshot:
    """The model's weights and optimizer state at one moment.

    `restore()` puts back the weights and every optimizer variable
    (iteration counters, moments, loss scale); with
    `learning_rates=True` also what each optimizer holds (the same
    objects) and its float rate, else the learning rates stay as they are
    now (a guard's restore lowers them afterwards).
    """

    def __init__(self, model, holders):
        self._holders = holders
        self._held = [holder.held for holder in holders]
        self._weights = [np.array(w) for w in model.get_weights()]
        self._variables = list(model.optimizer.variables)
        self._values = [
            np.array(keras.ops.convert_to_numpy(v)) for v in self._variables
        ]

    def restore(self, model, learning_rates):
        model.set_weights(self._weights)
        rate_variables = {id(h.held) for h in self._holders if h.is_float}
        for variable, value in zip(self._variables, self._values, strict=True):
            if learning_rates or id(variable) not in rate_variables:
                variable.assign(value)
        if learning_rates:
            for holder, held in zip(self._holders, self._held, strict=True):
                if holder.held is not held:
                    holder.hold(held)
