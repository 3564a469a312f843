"""CPU threads of train_signs.py's processes, set before Keras starts.

Every backend sizes its thread pools for the whole machine. With several
processes (`--jobs`), or beside other busy processes, that oversubscribes
the cores: measured here, two PyTorch processes with two OpenMP threads
each on two cores run a matmul about 30 times slower than with one. Each
process therefore gets its share: `cores // jobs` threads. JAX on a CPU
gets one XLA thread by default (XLA has no other thread count than one
or all cores): its pool spins between the calls of a compiled epoch and
slows the Python work of the callbacks, and for this network one thread
trains as fast as two (benchmarks/).
"""

import os

# The variables each backend reads when it starts.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",  # torch (and MKL/OpenBLAS under it)
    "MKL_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",  # tensorflow
    "TF_NUM_INTEROP_THREADS",
)
ONE_XLA_THREAD = "--xla_cpu_multi_thread_eigen=false"  # JAX's only switch


def cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def share(jobs):
    """Threads for each of `jobs` processes: their share of the cores."""
    return max(1, cores() // jobs)


def default_threads(jobs, environ=os.environ):
    """Threads of each process: 1 on jax, else the share of `jobs`."""
    if environ.get("KERAS_BACKEND") == "jax":
        return 1
    return share(jobs)


def pin(threads, environ=os.environ):
    """Sets the thread variables (those the user has not set) for this
    process and the processes it starts; call before Keras starts."""
    for name in THREAD_VARIABLES:
        environ.setdefault(name, str(threads))
    flags = environ.get("XLA_FLAGS", "")
    if threads == 1 and "xla_cpu_multi_thread_eigen" not in flags:
        environ["XLA_FLAGS"] = f"{flags} {ONE_XLA_THREAD}".strip()
    # Several processes on a GPU: each takes the memory it needs.
    environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")


def in_force():
    """The backend's CPU threads in this process (after Keras started)."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        return torch.get_num_threads()
    if backend == "tensorflow":
        import tensorflow as tf

        # Its intra-op pool is sized by the variable unless set in code.
        configured = tf.config.threading.get_intra_op_parallelism_threads()
        variable = int(os.environ.get("TF_NUM_INTRAOP_THREADS", 0))
        return configured or variable or cores()
    single = ONE_XLA_THREAD in os.environ.get("XLA_FLAGS", "")
    return 1 if single else cores()
