"""SIGNS for train_signs.py: the pictures in [0, 1], and fit()'s inputs."""

import numpy as np

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


def fit_inputs(backend, train, test, batch_size, seed):
    """fit()'s data arguments.

    On tensorflow, cached tf.data pipelines: the training one shuffled
    every epoch, the test set as one batch (validation every epoch costs
    one small call). On jax and torch, which need no TensorFlow, NumPy
    arrays shuffled and batched by Keras.
    """
    (x, y), (x_test, y_test) = train, test
    if backend != "tensorflow":
        return dict(
            x=x,
            y=y,
            batch_size=batch_size,
            shuffle=True,
            validation_data=(x_test, y_test),
            validation_batch_size=len(x_test),
        )
    import tensorflow as tf

    dataset = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .cache()
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    validation = (
        tf.data.Dataset.from_tensor_slices((x_test, y_test))
        .batch(len(x_test))
        .cache()
    )
    # The pipeline shuffles; Keras's own shuffle would warn.
    return dict(x=dataset, shuffle=False, validation_data=validation)
