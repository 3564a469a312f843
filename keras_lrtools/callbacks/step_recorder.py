"""A metric that records every train step's running totals.

It runs inside the compiled step, so per-step values survive
`steps_per_execution > 1`.
"""

import weakref

import keras
from keras import ops

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


class _Untracked:
    """Holds variables that Keras must not track as the holder's own.

    Keras tracks variables stored in a metric's attributes, also inside
    lists and tuples; found only when the step is traced, they would
    change the metric's variable list after a distribution (jax's
    DataParallel) has fixed its layout.
    """

    def __init__(self, items):
        self.items = items


# The ring on the device: 64 MB of float32 at most.
MAX_VALUES = 2**24


@keras.saving.register_keras_serializable(package="keras_lrtools")
class StepRecorder(keras.metrics.Metric):
    """Records the running (total, count) of the loss and metrics per step.

    With `steps_per_execution > 1`, Keras runs several train steps inside
    one compiled call and shows callbacks only the last one's logs.
    Compiled as the last metric, this one copies, at every step, the
    running total and count of the loss tracker and of the mean metrics
    listed before it into a ring buffer; `StepTensorBoard` reads the buffer
    once an epoch (or before it wraps) and recovers each step's own batch
    loss and metrics by differencing. It finds what to record when the
    train step is traced, from the model a `StepTensorBoard` is attached
    to; without one it records nothing.

    Its result, shown in the logs as `batch_loss`, is the loss of the last
    batch alone (Keras's `loss` is the running mean of the epoch).

    Args:
        capacity: Int > 0. Steps kept; must exceed `steps_per_execution`;
            `capacity * width` at most 2**24 values (64 MB).
            Default 1024.
        width: Int > 0. Numbers kept per step, two per recorded metric.
            Default 16.
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
                "values (a ring a few times steps_per_execution is enough). "
                f"Received: capacity={self.capacity}, width={self.width}"
            )
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
        # is a read (Keras reads it eagerly at every epoch's end).
        self.last_batch_loss = self.add_variable(
            shape=(),
            initializer="zeros",
            dtype="float32",
            aggregation="only_first_replica",
            name="last_batch_loss",
        )
        self._sources = None

    def _watched_variables(self):
        """The variables to copy, found in the watched model (cached)."""
        if self._sources is None:
            for model in list(_WATCHED_MODELS):
                recorder, trackers = per_step_trackers(model.metrics)
                if recorder is self:
                    variables = [v for _, pair in trackers for v in pair]
                    if len(variables) > self.width:
                        raise ValueError(
                            f"StepRecorder(width={self.width}) records "
                            f"{self.width // 2} metrics; the model has "
                            f"{len(variables) // 2}. Compile with a larger "
                            "`width`."
                        )
                    self._sources = _Untracked(tuple(variables))
        return () if self._sources is None else self._sources.items

    @property
    def watched(self):
        """The variables it copies at each step (empty until traced)."""
        return () if self._sources is None else self._sources.items

    def update_state(self, y_true, y_pred, sample_weight=None):
        # Few keras.ops calls (tens of microseconds each on an eager
        # backend, torch); Python operators and indexing where they do.
        variables = self._watched_variables()
        if not variables:  # no StepTensorBoard watches the model
            return
        values = ops.stack(
            [
                v.value
                if v.dtype == "float32"
                else ops.cast(v.value, "float32")
                for v in variables
            ]
        )
        position = self.position.value
        # The loss tracker's (total, count) come first. Its previous row;
        # after a reset (position 0) the zeroed last row.
        # (ops.take: indexing a torch tensor by a tensor would read the
        # index back to the host, a sync per step on a GPU.)
        before = ops.take(
            self.snapshots.value, (position - 1) % self.capacity, axis=0
        )[:2]
        # Columns past the variables stay zero.
        self.snapshots.assign(
            ops.slice_update(
                self.snapshots.value,
                (position % self.capacity, 0),
                values[None],
            )
        )
        self.position.assign(position + 1)
        # An unchanged count (all sample weights zero) gives 0.
        change = values[:2] - before
        self.last_batch_loss.assign(ops.divide_no_nan(change[0], change[1]))

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
