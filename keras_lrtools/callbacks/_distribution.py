"""Which process of a distributed run writes logs and prints.

Every process (worker) runs the callbacks, and each must apply the same
changes to its copy of the model and optimizer (the LR, a restore), so
that all replicas stay identical. Files and messages come from one
process only, the chief:

- tensorflow: `tf.distribute`'s chief, task "chief", else worker 0 of a
  cluster without one (MultiWorkerMirroredStrategy with TF_CONFIG); a
  single-machine strategy (MirroredStrategy) has only the chief;
- jax: process 0 (`jax.process_index()`);
- torch: rank 0 of an initialized `torch.distributed` group.
"""

import keras


def is_chief(model=None):
    """True in the process that writes logs and prints messages."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_is_chief(model)
    if backend == "jax":
        import jax

        return jax.process_index() == 0
    if backend == "torch":
        import torch.distributed

        return (
            not torch.distributed.is_available()
            or not torch.distributed.is_initialized()
            or torch.distributed.get_rank() == 0
        )
    return True


def _tensorflow_is_chief(model):
    import tensorflow as tf

    strategy = getattr(model, "distribute_strategy", None)
    if strategy is None:
        strategy = tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    cluster = resolver.cluster_spec().as_dict()
    if not cluster or resolver.task_type is None:
        return True
    if resolver.task_type == "chief":
        return True
    return (
        resolver.task_type == "worker"
        and resolver.task_id == 0
        and "chief" not in cluster
    )
