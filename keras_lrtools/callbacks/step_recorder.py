"""A metric that records every train step's running totals.

It runs inside the compiled step, so per-step values survive
`steps_per_execution > 1`.
"""

import weakref

import keras
import numpy as np
from keras import ops

from keras_lrtools._optimizer_rates import rate_holders
from keras_lrtools._optimizer_rates import rate_terms
from keras_lrtools._validation import check_positive_int

# Models whose StepTensorBoard wants per-step values (set in set_model).
_WATCHED_MODELS = weakref.WeakSet()


def watch_model(model):
    """Marks `model` as one whose StepRecorder should record (weakly)."""
    _WATCHED_MODELS.add(model)


def leaf_metrics(metrics):
    """The model's metrics with containers (compiled metrics) flattened."""
    for metric in metrics:
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, (list, tuple)) and not isinstance(
            metric, StepRecorder
        ):
            yield from leaf_metrics(inner)
        else:
            yield metric


def per_step_trackers(metrics):
    """Returns (recorder or None, [(name, (total, count)), ...]).

    The trackers are Keras's mean metrics (the loss trackers, and
    compiled metrics such as accuracy). With a recorder, only the ones a
    train step updates before it are kept: the loss trackers and the
    compiled metrics listed before it.
    """
    leaves = list(leaf_metrics(metrics))
    recorders = [m for m in leaves if isinstance(m, StepRecorder)]
    if len(recorders) > 1:
        raise ValueError("Compile at most one StepRecorder.")
    recorder = recorders[0] if recorders else None
    trackers = []
    after_recorder = False
    for metric in leaves:
        if metric is recorder:
            after_recorder = True
            continue
        is_loss = metric.name == "loss" or metric.name.endswith("_loss")
        if after_recorder and not is_loss:
            continue
        if [v.name for v in metric.variables] == ["total", "count"]:
            total, count = metric.variables
            trackers.append((metric.name, (total, count)))
    return recorder, trackers


def _float32(value):
    """A variable's or tensor's value as float32 (no op if it is one)."""
    if isinstance(value, keras.Variable):
        dtype, value = value.dtype, value.value
    else:
        dtype = keras.backend.standardize_dtype(value.dtype)
    return value if dtype == "float32" else ops.cast(value, "float32")


class _Untracked:
    """Holds variables that Keras must not track as the holder's own.

    Keras tracks variables stored in a metric's attributes, also inside
    lists and tuples; found only when the step is traced, they would
    change the metric's variable list after a distribution (jax's
    DataParallel) has fixed its layout.
    """

    def __init__(self, items):
        self.items = items


def _stack_and_concatenate():
    """keras.ops' stack and concatenate, or torch's own on torch.

    torch runs the train step eagerly, where Keras's dispatch costs 30-80
    us a call against 5 us for torch's (same arguments, same result); the
    other backends trace the step once.
    """
    if keras.backend.backend() == "torch":
        import torch

        return torch.stack, torch.cat
    return ops.stack, ops.concatenate


_STACK, _CONCATENATE = _stack_and_concatenate()  # the backend is fixed


# The buffer on the device: 64 MB of float32 at most.
MAX_VALUES = 2**24
TINY = float(np.finfo(np.float32).tiny)  # float32's smallest normal, 2**-126


@keras.saving.register_keras_serializable(package="keras_lrtools")
class StepRecorder(keras.metrics.Metric):
    """Records the running (total, count) of the loss and metrics per step.

    With `steps_per_execution > 1`, Keras runs several train steps inside
    one compiled call and shows callbacks only the last one's logs.
    Compiled as the last metric, this one copies, at every step, the
    running total and count of the loss tracker and of the mean metrics
    listed before it into a buffer of its last `capacity` steps;
    `StepTensorBoard` reads it once an epoch (or before it overflows) and
    recovers each step's own batch loss and metrics by differencing. On
    tensorflow and torch it also records the rates each step used (a
    float LR, a plateau's scale), so that logging every update needs no
    device read between calls (jax's train step gives metrics no access
    to the optimizer's variables). It finds what to record when the train
    step is traced, from the model a `StepTensorBoard` is attached to;
    without one it records nothing.

    Its result, shown in the logs as `batch_loss`, is the loss of the last
    batch alone (Keras's `loss` is the running mean of the epoch).

    Args:
        capacity: Int > 0. Steps kept; must exceed `steps_per_execution`
            (each step moves the buffer down a row: a few times that is
            enough); `capacity * width` at most 2**24 values (64 MB).
            Default 1024.
        width: Int > 0. Numbers kept per step: two per recorded metric,
            then one per float LR or plateau scale if they fit (else
            StepTensorBoard reads those before each call). Default 16.
        name: Name in the logs. Default "batch_loss".
        dtype: Optional dtype of the result.

    Example:
    >>> recorder = StepRecorder()
    >>> # model.compile(..., metrics=["accuracy", recorder],
    >>> #               steps_per_execution=34)
    """

    def __init__(self, capacity=1024, width=16, name="batch_loss", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.capacity = check_positive_int("capacity", capacity)
        self.width = check_positive_int("width", width)
        if self.capacity * self.width > MAX_VALUES:
            raise ValueError(
                f"Arguments `capacity` x `width` must be <= {MAX_VALUES:,} "
                "values (a few times steps_per_execution is enough). "
                f"Received: capacity={self.capacity}, width={self.width}"
            )
        # Row 0 the last step's, row 1 the one before, ...
        self.snapshots = self.add_variable(
            shape=(self.capacity, self.width),
            initializer="zeros",
            dtype="float32",
            # Every replica copies the same (already reduced) totals.
            aggregation="only_first_replica",
            name="snapshots",
        )
        self.position = self.add_variable(
            shape=(),
            initializer="zeros",
            dtype="int32",
            aggregation="only_first_replica",
            name="position",
        )
        # The last batch's own loss, kept by update_state so that result()
        # is a read (Keras reads it eagerly at every epoch's end: 1-4 ms
        # computed there on jax and tensorflow).
        self.last_batch_loss = self.add_variable(
            shape=(),
            initializer="zeros",
            dtype="float32",
            aggregation="only_first_replica",
            name="last_batch_loss",
        )
        self._sources = None
        self._layout = None

    def _watched(self):
        """(the tracker variables to copy, the model, its rate holders).

        Of the watched model, cached; ((), None, None) while no
        StepTensorBoard watches the model.
        """
        if self._sources is None:
            for model in list(_WATCHED_MODELS):
                recorder, trackers = per_step_trackers(model.metrics)
                if recorder is self:
                    variables = tuple(v for _, pair in trackers for v in pair)
                    holders = rate_holders(model, "StepRecorder")
                    self._sources = _Untracked(
                        (variables, weakref.ref(model), holders)
                    )
        if self._sources is None:
            return (), None, None
        variables, model, holders = self._sources.items
        return variables, model(), holders

    @property
    def watched(self):
        """The tracker variables it copies at each step (none till traced)."""
        return () if self._sources is None else self._sources.items[0]

    @property
    def rate_layout(self):
        """Where each step's row keeps the rates in force, as last traced.

        (plateau, per_holder) shaped like `rate_terms`: a column index in
        place of each value, None where there is none (per holder: a
        schedule's scale of 1). None where it records no rates (see
        `_rate_columns`).
        """
        return None if self._layout is None else self._layout.items

    def _rate_columns(self, model, holders, first):
        """(values, layout) of the rates in force now (see rate_terms).

        One column each from `first` on; a value that several terms share
        is kept once. No values and no layout (StepTensorBoard reads the
        rates before each call instead) on jax, whose train step updates
        the metrics in a scope that holds their variables only (a read is
        cheap there), and for a plain callable LR, which it would call
        once more every step.
        """
        if keras.backend.backend() == "jax" or any(
            h.schedule is None and not h.is_float for h in holders
        ):
            return [], None
        plateau, per_holder = rate_terms(model, holders)
        values, columns = [], {}

        def column(value):
            if value is None:
                return None
            if id(value) not in columns:
                columns[id(value)] = first + len(values)
                values.append(value)
            return columns[id(value)]

        layout = (column(plateau), [(k, column(v)) for k, v in per_holder])
        return values, layout

    def update_state(self, y_true, y_pred, sample_weight=None):
        # Few ops (each costs on torch, which runs the step eagerly);
        # Python operators and indexing where they do.
        variables, model, holders = self._watched()
        if not variables:  # no StepTensorBoard watches the model
            return
        if len(variables) > self.width:
            raise ValueError(
                f"StepRecorder(width={self.width}) keeps {self.width} "
                f"numbers a step; the model needs {len(variables)} for its "
                f"{len(variables) // 2} metrics (2 each). Compile with a "
                "larger `width`."
            )
        rates, layout = self._rate_columns(model, holders, len(variables))
        if len(variables) + len(rates) > self.width:
            rates, layout = [], None  # read before each call instead
        if layout != self.rate_layout:  # (Keras's __setattr__ costs)
            self._layout = None if layout is None else _Untracked(layout)
        values = [_float32(v) for v in (*variables, *rates)]
        row = _CONCATENATE(
            [
                _STACK(values),
                ops.zeros((self.width - len(values),), dtype="float32"),
            ]
        )
        kept = self.snapshots.value
        # The loss tracker's (total, count) come first: their change since
        # the last row (after a reset, the zeroed one), with Python
        # operators. An unchanged count (all sample weights zero) gives 0;
        # adding TINY leaves a count over 1e-30 as it is (float32 keeps 24
        # bits). Before the assignment, which torch makes in place.
        change = row[:2] - kept[0, :2]
        self.last_batch_loss.assign(change[0] / (change[1] + TINY))
        # The new row first, the others one down, the oldest dropped: no
        # index from the device, which costs more per step (torch, or a
        # sync on a GPU) or an XLA cluster (tensorflow without XLA).
        self.snapshots.assign(_CONCATENATE([row[None], kept[:-1]]))
        self.position.assign(self.position.value + 1)

    def result(self):
        return self.last_batch_loss.value

    def reset_state(self):
        self.snapshots.assign(ops.zeros((self.capacity, self.width)))
        self.position.assign(0)
        self.last_batch_loss.assign(0.0)

    def get_config(self):
        return {
            "capacity": self.capacity,
            "width": self.width,
            "name": self.name,
            "dtype": self.dtype,
        }
