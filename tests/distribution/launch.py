"""Runs the recipe on several devices of this CPU, in a fresh process.

tensorflow splits the CPU into logical devices and jax fakes host devices
only before they start, so the distribution tests run this as a
subprocess:

    python -m tests.distribution.launch DEVICES RECIPE_ARGUMENT...

It prints, after the recipe's own output, one line `STATE {json}` with
what the tests check: the number of replicas, whether every replica holds
the same weights, the update count and a checksum of the weights.
"""

import json
import os
import sys


def _split_devices(count):
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "jax":
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = (
            f"{flags} --xla_force_host_platform_device_count={count}"
        )
    elif backend == "tensorflow" and count > 1:
        import tensorflow as tf

        (cpu,) = tf.config.list_physical_devices("CPU")
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * count
        )


def _replica_values(model, variable):
    """The value each replica (device) holds, as NumPy arrays."""
    import keras
    import numpy as np

    value = variable.value
    if keras.backend.backend() == "tensorflow":
        strategy = model.distribute_strategy
        return [
            np.asarray(v) for v in strategy.experimental_local_results(value)
        ]
    if keras.backend.backend() == "jax":
        return [np.asarray(shard.data) for shard in value.addressable_shards]
    return [keras.ops.convert_to_numpy(value)]


def main(argv):
    _split_devices(int(argv[0]))
    import numpy as np

    from tests.recipes.test_train_signs import _recipe

    recipe = _recipe()
    trained = []
    original = recipe.prepare_run

    def keep_model(*args, **kwargs):
        built = original(*args, **kwargs)
        trained.append(built[0])
        return built

    recipe.prepare_run = keep_model
    status = recipe.main(recipe.signs_arguments.parse_arguments(argv[1:]))
    state = {"status": status}
    if trained:
        model = trained[-1]
        copies = [_replica_values(model, v) for v in model.weights]
        state.update(
            replicas=len(copies[0]),
            replicas_identical=all(
                all(np.array_equal(c[0], other) for other in c[1:])
                for c in copies
            ),
            iterations=int(
                np.asarray(
                    _replica_values(model, model.optimizer.iterations)[0]
                )
            ),
            weights_checksum=float(sum(np.sum(c[0]) for c in copies)),
        )
    print("STATE " + json.dumps(state), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
