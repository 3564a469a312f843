"""train_signs.py's --strategy: the devices it trains on.

One process trains (MirroredStrategy over the GPUs of one machine, or
keras.distribution.DataParallel over the devices jax sees), so it is the
chief: the callbacks write and print there.
"""

import contextlib
import dataclasses
import os


@dataclasses.dataclass
class Distribution:
    """The strategy in force: its scope, replicas and a description."""

    scope: object
    replicas: int
    description: str | None


def make_distribution(name):
    """Creates the --strategy (before any other TensorFlow op)."""
    import keras

    if name == "none":
        return Distribution(contextlib.nullcontext, 1, None)
    if name == "mirrored":
        import tensorflow as tf

        # Every local GPU; without one, every logical CPU (one, unless
        # split with tf.config.set_logical_device_configuration).
        devices = tf.config.list_logical_devices(
            "GPU"
        ) or tf.config.list_logical_devices("CPU")
        strategy = tf.distribute.MirroredStrategy(
            devices=[d.name for d in devices]
        )
        replicas = strategy.num_replicas_in_sync
        return Distribution(
            strategy.scope,
            replicas,
            f"{type(strategy).__name__}, {replicas} replicas",
        )
    devices = keras.distribution.list_devices()
    distribution = keras.distribution.DataParallel(devices=devices)
    return Distribution(
        distribution.scope,
        len(devices),
        f"keras.distribution.DataParallel, {len(devices)} devices",
    )


def uneven_split(strategy, replicas, batch_sizes):
    """The error text when jax's DataParallel cannot split a batch evenly
    over its devices, else None."""
    if strategy != "data_parallel" or not any(
        size % replicas for size in batch_sizes
    ):
        return None
    return (
        f"--strategy data_parallel splits each batch over {replicas} "
        f"devices; the batch sizes {batch_sizes} do not divide evenly. "
        "Change --batch-size."
    )


def device_description():
    """(backend, on a GPU, "GPU (...)" or "CPU (n cores)")."""
    import keras

    backend = keras.backend.backend()
    gpus = []
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = [d.name for d in tf.config.list_physical_devices("GPU")]
    elif backend == "jax":
        import jax

        gpus = [str(d) for d in jax.devices() if d.platform == "gpu"]
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            gpus = [torch.cuda.get_device_name(0)]
    if gpus:
        return backend, True, f"GPU ({', '.join(gpus)})"
    return backend, False, f"CPU ({os.cpu_count()} cores)"
