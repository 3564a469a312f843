"""SIGNS for train_signs.py: the pictures in [0, 1], and fit()'s inputs."""

import keras
import numpy as np

from keras_lrtools import steps_per_epoch

NUM_CLASSES = 6
SMOKE_TRAIN_PER_CLASS = 30
SMOKE_TEST_PER_CLASS = 10


def load(data_dir=None, smoke=False):
    """((x_train, y_train), (x_test, y_test)), pixels scaled to [0, 1];
    with `smoke`, a small class-balanced subset."""
    from keras_lrtools.datasets import signs

    (x_train, y_train), (x_test, y_test) = signs.load_data(data_dir)
    if smoke:
        x_train, y_train = _per_class(x_train, y_train, SMOKE_TRAIN_PER_CLASS)
        x_test, y_test = _per_class(x_test, y_test, SMOKE_TEST_PER_CLASS)
    scale = np.float32(1.0 / 255.0)
    return (
        (x_train.astype("float32") * scale, y_train),
        (x_test.astype("float32") * scale, y_test),
    )


def train_size(smoke):
    """Training pictures: 1080, or the smoke subset's 180."""
    return NUM_CLASSES * SMOKE_TRAIN_PER_CLASS if smoke else 1080


def _per_class(x, y, count):
    keep = np.concatenate(
        [np.flatnonzero(y == c)[:count] for c in range(NUM_CLASSES)]
    )
    return x[keep], y[keep]


def fit_inputs(backend, train, test, batch_size, seed, distribution=None):
    """fit()'s data arguments.

    On tensorflow, a cached tf.data pipeline shuffled every epoch; on jax
    and torch, which need no TensorFlow, NumPy arrays shuffled and batched
    by Keras. On one device the test set is evaluated by
    `signs_report.TestSetEvaluation` in one forward pass; on several, by
    fit's `validation_data` (as one batch), and with several processes,
    where each feeds its own part of every global batch (`ProcessShard`),
    each evaluates its part of the test set (the mean is over all).
    """
    (x, y), (x_test, y_test) = train, test
    if distribution is not None and distribution.num_processes > 1:
        part = _part(len(x_test), distribution)
        return dict(
            x=ProcessShard(x, y, batch_size, seed, distribution),
            shuffle=False,
            validation_data=(x_test[part], y_test[part]),
            validation_batch_size=part.stop - part.start,
        )
    several = distribution is not None and distribution.replicas > 1
    if backend != "tensorflow":
        inputs = dict(x=x, y=y, batch_size=batch_size, shuffle=True)
        if several:
            inputs.update(
                validation_data=(x_test, y_test),
                validation_batch_size=len(x_test),
            )
        return inputs
    import tensorflow as tf

    # Repeated, with fit told each epoch's length: Keras then keeps one
    # iterator for the whole run (a new seeded shuffle every epoch, as
    # before). A new iterator every epoch made about one epoch in six end
    # 100-150 ms late on a 2-core CPU (benchmarks/README.md).
    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .cache()
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )
    # The pipeline shuffles; Keras's own shuffle would warn.
    inputs = dict(
        x=dataset,
        shuffle=False,
        steps_per_epoch=steps_per_epoch(len(x), batch_size),
    )
    if several:
        inputs["validation_data"] = (
            tf.data.Dataset.from_tensor_slices((x_test, y_test))
            .batch(len(x_test))
            .cache()
        )
    return inputs


def _part(size, distribution):
    """This process's contiguous part of `size` items (sizes divide)."""
    share = size // distribution.num_processes
    return slice(
        distribution.process_id * share, (distribution.process_id + 1) * share
    )


class ProcessShard(keras.utils.PyDataset):
    """This process's part of each global batch of a shuffled epoch.

    Every process draws the same order (the seed and the epoch), cuts it
    into global batches of `batch_size` and takes its contiguous part of
    each; Keras joins the parts, in process order, into the global batch
    one process would have trained on.
    """

    def __init__(self, x, y, batch_size, seed, distribution):
        super().__init__()
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.seed = seed
        self.distribution = distribution
        self.epoch = 0
        self._order = self._shuffled()

    def _shuffled(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        return rng.permutation(len(self.x))

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        batch = self._order[
            index * self.batch_size : (index + 1) * self.batch_size
        ]
        mine = batch[_part(len(batch), self.distribution)]
        return self.x[mine], self.y[mine]

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._shuffled()
