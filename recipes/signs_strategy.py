"""train_signs.py's --strategy: the devices it trains on.

`mirrored` and `data_parallel` train in one process (MirroredStrategy
over the GPUs of one machine, or keras.distribution.DataParallel over the
devices jax sees). `multiworker` joins several processes, on one machine
or many, through JAX's distributed runtime and trains with DataParallel
over every device of every process; process 0 is the chief: it alone
writes logs and prints (keras_lrtools.callbacks.is_chief).
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
    process_id: int = 0
    num_processes: int = 1

    @property
    def is_chief(self):
        """True in the process that writes files and prints results."""
        return self.process_id == 0


def make_distribution(args):
    """Creates the --strategy (before any other TensorFlow or JAX op)."""
    import keras

    name = args.strategy
    if name == "none":
        return Distribution(contextlib.nullcontext, 1, None)
    if name == "multiworker":
        return _join_processes(args)
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


def _join_processes(args):
    """Starts JAX's distributed runtime and DataParallel over every device.

    jax.distributed.initialize is what keras.distribution.initialize
    calls; called here directly for its timeouts: a process that waits
    longer than --peer-timeout for the others, or whose peer stops
    answering for that long, is ended by JAX (exit status 134) instead of
    hanging.
    """
    import jax
    import keras

    # CPU processes exchange gradients over gloo (GPUs use NCCL anyway).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    where = (
        f"{args.coordinator}, process {args.process_id} of {args.num_processes}"
        if args.coordinator
        else "the cluster JAX detects"
    )
    print(
        f"Joining {where}; waiting up to {args.peer_timeout} s for every "
        "process.",
        flush=True,
    )
    jax.distributed.initialize(
        coordinator_address=args.coordinator,
        num_processes=args.num_processes,
        process_id=args.process_id,
        initialization_timeout=args.peer_timeout,
        heartbeat_timeout_seconds=args.peer_timeout,
    )
    devices = keras.distribution.list_devices()
    # Each process feeds its own part of every global batch
    # (signs_data.ProcessShard), so Keras must not shard again.
    distribution = keras.distribution.DataParallel(
        devices=devices, auto_shard_dataset=False
    )
    return Distribution(
        distribution.scope,
        len(devices),
        f"keras.distribution.DataParallel, {len(devices)} devices in "
        f"{jax.process_count()} processes",
        jax.process_index(),
        jax.process_count(),
    )


def announce(args, distribution, data):
    """Prints where the run trains (process 0); the error text when jax's
    DataParallel cannot split a batch evenly over its devices, else None."""
    replicas = distribution.replicas
    batch_size = args.batch_size * replicas  # global
    (x_train, _), (x_test, _) = data
    sizes = (len(x_train) % batch_size or batch_size, len(x_test))
    if args.strategy in ("data_parallel", "multiworker") and any(
        size % replicas for size in sizes
    ):
        return (
            f"--strategy data_parallel splits each batch over {replicas} "
            f"devices; the batch sizes {sizes} do not divide evenly. "
            "Change --batch-size."
        )
    backend, _, where = device_description()
    if distribution.description:
        where += f" ({distribution.description}, global batch {batch_size})"
    if distribution.is_chief:
        print(
            f"Training on {where} with the {backend} backend; "
            f"{len(x_train)} train / {len(x_test)} test pictures.",
            flush=True,
        )
    return None


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
