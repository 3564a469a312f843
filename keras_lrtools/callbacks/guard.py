"""A guard against a learning rate that breaks training."""

import math

import keras
import numpy as np

from keras_lrtools._messages import say
from keras_lrtools._optimizer_rates import OptimizerSnapshot
from keras_lrtools._optimizer_rates import per_optimizer
from keras_lrtools._optimizer_rates import plateau_state
from keras_lrtools._optimizer_rates import rate_holders
from keras_lrtools._optimizer_rates import scale_learning_rates
from keras_lrtools._validation import check_choice
from keras_lrtools._validation import check_float
from keras_lrtools._validation import check_int
from keras_lrtools._validation import check_non_negative_int
from keras_lrtools._validation import check_open_fraction
from keras_lrtools._validation import check_positive_int
from keras_lrtools.callbacks._distribution import is_chief

ACTIONS = ("stop", "restore")
SYMPTOMS = (
    "non_finite_loss",
    "non_finite_weights",
    "exploding_loss",
    "collapse",
    "dead_relu",
)


class Diagnosis:
    """What the guard found.

    Attributes: `symptom` (one of SYMPTOMS), `epoch`, `batch` (or None),
    `learning_rate` (the LR in force) and `message` (shown to the user).
    """

    def __init__(self, symptom, epoch, batch, learning_rate, message):
        self.symptom = symptom
        self.epoch = epoch
        self.batch = batch
        self.learning_rate = learning_rate
        self.message = message

    def __repr__(self):
        return (
            f"Diagnosis(symptom={self.symptom!r}, epoch={self.epoch}, "
            f"batch={self.batch}, learning_rate={self.learning_rate:.4g})"
        )


class LearningRateGuard(keras.callbacks.Callback):
    """Detects a learning rate that breaks training, early and cheaply.

    With too large a step (Adam at 0.01 or 1 on the SIGNS network, say)
    every hidden ReLU can die: the network then predicts one class for
    every input, its cross-entropy sticks at about ln(num_classes) and its
    accuracy at the share of one class, and Keras gives no sign of it.
    The guard looks for:

    - `non_finite_loss`: a NaN or infinite loss (checked every
      `check_every_batches` batches and at each epoch end);
    - `non_finite_weights`: a NaN or infinite trainable weight at the end
      of every `probe_every_epochs`-th epoch and of the last one (of every
      epoch with `action="restore"`) (a NaN gradient can poison a weight
      whose NaN a ReLU then hides from the loss; the NaN stays);
    - `exploding_loss`: an epoch loss above `divergence_factor` times the
      best (positive) epoch loss so far and above the first epoch's (late
      in training a loss of 0.02 can spike to 0.17: that is noise, not
      divergence);
    - `collapse`: for `collapse_patience` consecutive epochs (the first
      epoch is never judged), the accuracy within `accuracy_tolerance` of
      one class's share (`class_shares`, or 1 / num_classes) and the loss
      either within `collapse_tolerance` of ln(num_classes) (a uniform
      guess) or stuck (changed by under 0.1%: a saturated softmax sure of
      one class); with `sample`, the network must also predict a single
      class for the whole sample;
    - `dead_relu` (only with `sample`): every unit of a ReLU layer, or at
      least `max_dead_fraction` of all ReLU units, output 0 for every
      input of the sample batch. (A healthy SIGNS network already has
      about 70% of its 37 units dead by this measure; the collapsed one
      about 90%, with its 12-unit layer entirely dead.)

    Then, with `action="stop"`, it stops training and prints what it found,
    the LR in force (each optimizer's, for a MultiOptimizer), the
    effective step size where the optimizer's bias correction has a
    closed form (Adam, AdamW, Adamax, Nadam) and what to do; with
    `action="restore"`, it puts back the weights and optimizer state of
    the last healthy epoch, multiplies the LR by `factor` (every
    optimizer's; through `ScaledSchedule` when it holds a schedule, as
    `ReduceLROnPlateau` does) and goes on, at most `max_restores` times
    before it stops. The findings are kept in
    `diagnoses`.

    Args:
        num_classes: Int >= 2, or None to read it from the model's output
            width. Needed for the collapse test.
        action: "stop" or "restore". Default "stop".
        collapse_patience: Int > 0. Consecutive collapsed epochs that
            trigger. Default 2.
        collapse_tolerance: Float > 0, in nats. Default 0.1.
        accuracy_tolerance: Float >= 0. Default 0.01.
        class_shares: Optional list of the classes' shares of the
            training data (floats summing to 1).
        divergence_factor: Float > 1. Default 4.0.
        check_every_batches: Int >= 0; 0 checks the loss for NaN only at
            epoch ends, and lets Keras run the batch-end callbacks
            asynchronously on jax and torch. Default 1.
        sample: Optional input batch (array) for the dead-ReLU test; the
            model must be a Sequential or functional model.
        max_dead_fraction: Float in (0, 1]. Default 0.95.
        probe_every_epochs: Int > 0. Epochs between dead-ReLU tests (a
            forward pass over `sample`) and weight checks (a read of every
            weight); dead units and NaN weights do not come back, so a
            sparser test only finds them later. Default 1.
        factor: Float in (0, 1). LR multiplier of a restore. Default 0.1.
        max_restores: Int >= 0. Default 3.
        accuracy_key: Name of the accuracy in the logs. Default None:
            "accuracy" when the model logs it. A name given must be one of
            the model's compiled metrics (checked at `on_train_begin`).
        verbose: 1 prints each finding (default), 0 keeps quiet.

    Example:
    >>> guard = LearningRateGuard(num_classes=6, action="stop")
    """

    def __init__(
        self,
        num_classes=None,
        action="stop",
        collapse_patience=2,
        collapse_tolerance=0.1,
        accuracy_tolerance=0.01,
        class_shares=None,
        divergence_factor=4.0,
        check_every_batches=1,
        sample=None,
        max_dead_fraction=0.95,
        probe_every_epochs=1,
        factor=0.1,
        max_restores=3,
        accuracy_key=None,
        verbose=1,
    ):
        super().__init__()
        self.num_classes = (
            None
            if num_classes is None
            else check_int("num_classes", num_classes, minimum=2)
        )
        self.action = check_choice("action", action, ACTIONS)
        self.collapse_patience = check_positive_int(
            "collapse_patience", collapse_patience
        )
        self.collapse_tolerance = check_float(
            "collapse_tolerance",
            collapse_tolerance,
            low=0.0,
            low_inclusive=False,
        )
        self.accuracy_tolerance = check_float(
            "accuracy_tolerance", accuracy_tolerance, low=0.0, high=1.0
        )
        self.class_shares = _check_shares(class_shares, self.num_classes)
        self.divergence_factor = check_float(
            "divergence_factor",
            divergence_factor,
            low=1.0,
            low_inclusive=False,
        )
        self.check_every_batches = check_non_negative_int(
            "check_every_batches", check_every_batches
        )
        self.sample = None if sample is None else _check_sample(sample)
        self.max_dead_fraction = check_float(
            "max_dead_fraction",
            max_dead_fraction,
            low=0.0,
            high=1.0,
            low_inclusive=False,
        )
        self.probe_every_epochs = check_positive_int(
            "probe_every_epochs", probe_every_epochs
        )
        self.factor = check_open_fraction("factor", factor)
        self.max_restores = check_non_negative_int("max_restores", max_restores)
        if accuracy_key is not None and not isinstance(accuracy_key, str):
            raise TypeError(
                "Argument `accuracy_key` must be a string. "
                f"Received: accuracy_key={accuracy_key!r}"
            )
        self._given_accuracy_key = accuracy_key
        self.accuracy_key = accuracy_key or "accuracy"
        self.verbose = check_int("verbose", verbose, minimum=0)
        self.diagnoses = []

    # Run state ------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._holders = rate_holders(
            self.model,
            "LearningRateGuard",
            scalable=self.action == "restore",
        )
        width = _output_width(self.model)
        if self.num_classes is not None and width not in (None, 1):
            if width != self.num_classes:
                raise ValueError(
                    f"Argument `num_classes` must match the model's output "
                    f"width ({width}). Received: num_classes="
                    f"{self.num_classes}"
                )
        _check_sample_fits(self.sample, self.model)
        _check_accuracy_key(self._given_accuracy_key, self.model)
        self._classes = self.num_classes or width
        self._shares = self.class_shares or (
            None if self._classes is None else [1.0 / self._classes]
        )
        if self.sample is None:
            self._probe = None
        elif getattr(self, "_probe_of", None) is not self.model:
            # Built once per model, not per fit: a new probe compiles its
            # forward pass again at its first use (0.1 s on jax).
            self._probe, self._probe_names = _relu_probe(self.model)
            self._probe_of = self.model
            # Converted once: a host-to-device copy of the sample every
            # epoch cost more than the probe itself (SIGNS: 12 MB).
            self._sample = keras.ops.convert_to_tensor(self.sample)
        self.diagnoses = []
        self._best_loss = math.inf
        self._first_loss = None
        self._collapsed_epochs = 0
        self._previous_loss = None
        self._restores = 0
        self._good_state = None
        self._epoch = 0
        self._found_in_epoch = False

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._found_in_epoch = False
        if self.action == "restore" and self._good_state is None:
            optimizer = self.model.optimizer
            if not optimizer.built and self.model.built:
                # Keras builds it at the first step: build it now, so the
                # state before the first update has its (fresh) slots too.
                optimizer.build(self.model.trainable_variables)
            self._good_state = OptimizerSnapshot(self.model, self._holders)

    @property
    def async_safe(self):
        """True without per-batch checks (nothing to do at a batch end).

        Keras then dispatches batch ends asynchronously (jax, torch).
        """
        return not self.check_every_batches

    def on_train_batch_end(self, batch, logs=None):
        if not self.check_every_batches or batch % self.check_every_batches:
            return
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self._found_in_epoch = True
            self._found(
                "non_finite_loss",
                batch,
                f"the loss became {float(loss)} at batch {batch}",
            )

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._found_in_epoch:
            # Already handled at a batch; the epoch's running mean still
            # carries the bad batch, so it is not judged again.
            return
        symptom = self._epoch_symptom(epoch, logs)
        if symptom is not None:
            self._found(*symptom)
        elif self.action == "restore":
            # Only the restore action needs the last healthy state.
            self._good_state = OptimizerSnapshot(self.model, self._holders)

    # Tests ----------------------------------------------------------------

    def _epoch_symptom(self, epoch, logs):
        loss = logs.get("loss")
        if loss is None:
            return None
        loss = float(loss)
        if not math.isfinite(loss):
            return ("non_finite_loss", None, f"the epoch loss is {loss}")
        poisoned = self._checks_weights(epoch) and [
            variable.path
            for variable in self.model.trainable_variables
            if not np.isfinite(keras.ops.convert_to_numpy(variable)).all()
        ]
        if poisoned:
            return (
                "non_finite_weights",
                None,
                f"{', '.join(poisoned)} hold NaN or infinite values (a NaN "
                "gradient), though the loss is finite",
            )
        if self._first_loss is None:
            self._first_loss = loss
        if (
            self._best_loss > 0
            and loss > self.divergence_factor * self._best_loss
            and loss > self._first_loss
        ):
            return (
                "exploding_loss",
                None,
                f"the loss {loss:.4g} is above {self.divergence_factor:g} "
                f"times its best, {self._best_loss:.4g}, and above its "
                f"first epoch's, {self._first_loss:.4g}",
            )
        self._best_loss = min(self._best_loss, loss)
        collapse = self._collapse(epoch, loss, logs.get(self.accuracy_key))
        if collapse is not None:
            return ("collapse", None, collapse)
        if self._probe is not None and (
            (epoch + 1) % self.probe_every_epochs == 0
        ):
            dead, dead_layers = self._dead_units()
            if dead >= self.max_dead_fraction or dead_layers:
                layers = (
                    f"; every unit of {', '.join(dead_layers)} is dead, so "
                    "the output no longer depends on the input"
                    if dead_layers
                    else ""
                )
                return (
                    "dead_relu",
                    None,
                    f"{dead:.0%} of the ReLU units output 0 for every "
                    f"input of the sample batch{layers}",
                )
        return None

    def _checks_weights(self, epoch):
        """Whether this epoch's end reads every weight (a device read each).

        At each probe epoch and the last; under `restore`, at every epoch,
        before its state is kept as healthy.
        """
        return (
            self.action == "restore"
            or (epoch + 1) % self.probe_every_epochs == 0
            or epoch + 1 == (self.params or {}).get("epochs")
        )

    def _collapse(self, epoch, loss, accuracy):
        previous, self._previous_loss = self._previous_loss, loss
        if epoch == 0 or self._classes is None or accuracy is None:
            return None
        chance = math.log(self._classes)
        at_chance = abs(loss - chance) <= self.collapse_tolerance
        stuck = previous is not None and abs(loss - previous) <= (
            1e-3 * abs(previous)
        )
        share = min(self._shares, key=lambda s: abs(float(accuracy) - s))
        one_class = abs(float(accuracy) - share) <= self.accuracy_tolerance
        if one_class and self._probe is not None:
            one_class = self._predicted_classes() == 1
        collapsed = one_class and (at_chance or stuck)
        self._collapsed_epochs = self._collapsed_epochs + 1 if collapsed else 0
        if self._collapsed_epochs < self.collapse_patience:
            return None
        if at_chance:
            how = (
                f"the loss ({loss:.4f}) stayed within "
                f"{self.collapse_tolerance:g} of ln({self._classes}) = "
                f"{chance:.4f}, the loss of a uniform guess,"
            )
        else:
            how = (
                f"the loss stuck at {loss:.4f} (a saturated softmax, sure "
                "of one class)"
            )
        return (
            f"training collapsed: for {self._collapsed_epochs} epochs {how} "
            f"and the accuracy ({float(accuracy):.4f}) at one class's share "
            f"({share:.4f}): the network predicts one class for every "
            "input, typically because a too large step killed its ReLUs"
        )

    def _predicted_classes(self):
        """Number of distinct classes predicted on the sample batch."""
        predictions = self.model(self._sample, training=False)
        predictions = keras.ops.convert_to_numpy(predictions)
        return len(np.unique(np.argmax(predictions, axis=-1)))

    def _dead_units(self):
        """Returns the dead fraction of ReLU units and the all-dead layers.

        A unit is dead if it outputs 0 for every input of the sample.
        """
        # One compiled call (an eager one compiles op by op on jax).
        outputs = self._probe.predict_on_batch(self._sample)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        dead = total = 0
        dead_layers = []
        for name, output in zip(self._probe_names, outputs, strict=True):
            values = keras.ops.convert_to_numpy(output)
            values = values.reshape(values.shape[0], -1)
            dead_here = int(np.sum(np.all(values <= 0.0, axis=0)))
            if dead_here == values.shape[1]:
                dead_layers.append(name)
            dead += dead_here
            total += values.shape[1]
        return dead / max(total, 1), dead_layers

    # Actions --------------------------------------------------------------

    def _found(self, symptom, batch, what):
        _ = self.model  # jax: sync the trainer's state into the variables
        learning_rate = self._holders[0].in_force()
        where = f"epoch {self._epoch + 1}" + (
            "" if batch is None else f", batch {batch}"
        )
        rate = "learning rate{} in force: {}".format(
            "s" if len(self._holders) > 1 else "",
            per_optimizer(self._holders, [h.describe() for h in self._holders]),
        )
        advice = (
            "What to do: lower the learning rate (10x at a time), warm it "
            "up (keras_lrtools.schedules.Warmup), or pick one with an LR "
            "range test (keras_lrtools.find_learning_rate)."
        )
        restore = self.action == "restore" and (
            self._restores < self.max_restores and self._good_state is not None
        )
        if restore:
            self._good_state.restore(self.model, learning_rates=False)
            if batch is not None:
                # The epoch's running means hold the bad batch: restart
                # them, so the rest of the epoch is measured afresh.
                self.model.reset_metrics()
            state, _ = plateau_state(self.model, self._holders)
            reduced = scale_learning_rates(
                self.model, self._holders, state, self.factor
            )
            self._restores += 1
            self._collapsed_epochs = 0
            self._best_loss = math.inf
            lowered = (
                "left the learning rate at 0"
                if reduced is None
                else "lowered the learning rate "
                + per_optimizer(
                    self._holders,
                    [
                        f"from {a:.4g} to {b:.4g}"
                        for a, b in zip(*reduced, strict=True)
                    ],
                )
            )
            outcome = (
                f"Restored the weights of the last healthy epoch and "
                f"{lowered}, total scale {state.read()['scale']:.4g} "
                f"(restore {self._restores} of {self.max_restores})."
            )
        else:
            self.model.stop_training = True
            outcome = "Training stopped."
        message = (
            f"LearningRateGuard, {where}: {what}. {rate}. {outcome} {advice}"
        )
        self.diagnoses.append(
            Diagnosis(symptom, self._epoch, batch, learning_rate, message)
        )
        if self.verbose and is_chief(self.model):
            say("\n" + message)


def _check_sample(sample):
    """A batch of inputs: a non-empty numeric array."""
    if isinstance(sample, (str, bytes)):
        raise TypeError(
            "Argument `sample` must be a batch of inputs (an array). "
            f"Received: sample of type {type(sample).__name__}"
        )
    array = np.asarray(sample)
    if array.dtype.kind not in "biuf" or array.ndim < 1 or len(array) == 0:
        raise ValueError(
            "Argument `sample` must be a non-empty numeric batch of inputs. "
            f"Received: sample of shape {array.shape}, dtype {array.dtype}"
        )
    return array


def _check_sample_fits(sample, model):
    """The sample's pictures have the shape of the model's input."""
    if sample is None:
        return
    try:
        expected = tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        return
    if len(model.inputs) != 1:
        return  # a sample of several inputs is not an array
    mismatch = len(expected) != sample.ndim - 1 or any(
        e is not None and e != s
        for e, s in zip(expected, sample.shape[1:], strict=True)
    )
    if mismatch:
        raise ValueError(
            "Argument `sample` must be a batch of the model's inputs, of "
            f"shape (n, {', '.join(str(d) for d in expected)}). Received: "
            f"sample of shape {sample.shape}"
        )


def _check_accuracy_key(key, model):
    """A given accuracy key names one of the compiled metrics.

    Checked where the compiled metrics are a flat list.
    """
    if key is None:
        return
    metrics = (model.get_compile_config() or {}).get("metrics") or []
    if not isinstance(metrics, list):
        return  # per-output metrics: logged under prefixed names
    names = []
    for metric in metrics:
        if isinstance(metric, str):
            names.append(metric)
        elif isinstance(metric, dict) and "config" in metric:
            names.append((metric["config"] or {}).get("name"))
        else:
            return
    if key not in names:
        raise ValueError(
            "Argument `accuracy_key` must name one of the model's compiled "
            f"metrics {names}. Received: accuracy_key={key!r}"
        )


def _check_shares(shares, num_classes):
    if shares is None:
        return None
    if isinstance(shares, dict):
        raise TypeError(
            "Argument `class_shares` must be a list of floats, one per "
            "class in class order, not a dict. "
            f"Received: class_shares={shares!r}"
        )
    if isinstance(shares, (str, bytes)) or not hasattr(shares, "__iter__"):
        raise TypeError(
            "Argument `class_shares` must be a list of floats. "
            f"Received: class_shares={shares!r}"
        )
    shares = [
        check_float(f"class_shares[{i}]", s, low=0.0, high=1.0)
        for i, s in enumerate(shares)
    ]
    if not shares or abs(sum(shares) - 1.0) > 1e-3:
        raise ValueError(
            "Argument `class_shares` must be non-empty and sum to 1. "
            f"Received: class_shares={shares}"
        )
    if num_classes is not None and len(shares) != num_classes:
        raise ValueError(
            "Argument `class_shares` must have `num_classes` elements. "
            f"Received: class_shares with {len(shares)} elements, "
            f"num_classes={num_classes}"
        )
    return shares


def _output_width(model):
    try:
        width = model.outputs[0].shape[-1]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return width if isinstance(width, int) and width >= 2 else None


def _relu_probe(model):
    """A model from the inputs to every ReLU output, for the dead test."""
    relu = keras.activations.relu
    layers = [
        layer
        for layer in model.layers
        if getattr(layer, "activation", None) is relu
        or isinstance(layer, keras.layers.ReLU)
    ]
    if not layers:
        raise ValueError(
            "LearningRateGuard(sample=...) tests ReLU units, but the model "
            "has no layer with a ReLU activation."
        )
    try:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        probe = keras.Model(inputs, [layer.output for layer in layers])
    except (AttributeError, ValueError) as error:
        raise ValueError(
            "LearningRateGuard(sample=...) needs a Sequential or functional "
            f"model to read its ReLU outputs. Cause: {error}"
        ) from error
    return probe, [layer.name for layer in layers]
