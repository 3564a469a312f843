"""The callbacks under a distribution, in a fresh process with 2 devices.

    python -m tests.distribution.scenarios

tensorflow: MirroredStrategy over 2 logical CPUs; jax: keras.distribution
DataParallel over 2 host devices. SGD on w with loss mean(w * x), x = 1,
so every update moves w by exactly -lr. Each scenario trains with a
schedule, ReduceLROnPlateau (scripted to reduce), StepRecorder and
StepTensorBoard, once on one device (the reference) and once under the
distribution; then once more interrupted and resumed with
BackupAndRestore. Prints `RESULT {json}` for the tests to check.
"""

import json
import os
import sys
import tempfile

BATCHES = 4
GLOBAL_BATCH = 4  # 2 per replica
EPOCHS = 6
SCORES = [5, 4, 4, 4, 3, 3]  # the plateau reduces after epoch 2 (index)


def _split_devices():
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "jax":
        os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
        return
    import tensorflow as tf

    (cpu,) = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )


def _distribution():
    import keras

    if keras.backend.backend() == "jax":
        return keras.distribution.DataParallel(
            devices=keras.distribution.list_devices()
        ).scope
    import tensorflow as tf

    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=devices).scope


def _replica_values(model, variable):
    import keras
    import numpy as np

    if keras.backend.backend() == "jax":
        return [np.asarray(s.data) for s in variable.value.addressable_shards]
    strategy = model.distribute_strategy
    return [
        np.asarray(v)
        for v in strategy.experimental_local_results(variable.value)
    ]


def train(scope, learning_rate, log_dir, backup_dir=None, interrupt_at=None):
    import contextlib

    import keras
    import numpy as np

    from keras_lrtools.callbacks import ReduceLROnPlateau
    from keras_lrtools.callbacks import StepRecorder
    from keras_lrtools.callbacks import StepTensorBoard
    from tests.callbacks.helpers import Interrupt
    from tests.callbacks.helpers import ScriptedMetric
    from tests.callbacks.helpers import unit_loss

    with scope() if scope else contextlib.nullcontext():
        model = keras.Sequential(
            [
                keras.Input((1,)),
                keras.layers.Dense(
                    1, use_bias=False, kernel_initializer="zeros"
                ),
            ]
        )
        model.compile(
            keras.optimizers.SGD(learning_rate),
            unit_loss,
            metrics=[StepRecorder()],
        )
        callbacks = [
            ScriptedMetric("score", SCORES),
            ReduceLROnPlateau("score", 0.5, 1, mode="min"),
            StepTensorBoard(log_dir),
        ]
        if backup_dir:
            callbacks.append(keras.callbacks.BackupAndRestore(backup_dir))
        if interrupt_at is not None:
            callbacks.append(Interrupt(interrupt_at))
        x = np.ones((BATCHES * GLOBAL_BATCH, 1), "float32")
        try:
            model.fit(
                x,
                x,
                batch_size=GLOBAL_BATCH,
                epochs=EPOCHS,
                shuffle=False,
                verbose=0,
                callbacks=callbacks,
            )
        except RuntimeError as error:
            if "interrupted" not in str(error):
                raise
            return None
    return {
        "replicas": [
            [float(np.ravel(v)[0]) for v in _replica_values(model, w)]
            for w in model.weights
        ],
        "iterations": int(
            np.asarray(_replica_values(model, model.optimizer.iterations)[0])
        ),
        "learning_rates": _read(log_dir, "learning_rate"),
        "scales": _read(log_dir, "learning_rate_scale"),
        "losses": _read(log_dir, "loss"),
    }


def _read(log_dir, tag):
    from tests.callbacks.helpers import read_scalars

    return read_scalars(os.path.join(log_dir, "train")).get(tag, [])


def main():
    _split_devices()
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
    from keras_lrtools.schedules import CosineDecay

    root = tempfile.mkdtemp(prefix="distribution-")
    results = {}
    for name, rate in (("float", 0.1), ("schedule", None)):
        # A fresh schedule per run: the plateau callback scales it.
        def learning_rate(rate=rate):
            return rate if rate is not None else CosineDecay(0.1, 30)

        folder = os.path.join(root, name)
        scope = _distribution()
        results[name] = {
            "reference": train(None, learning_rate(), folder + "/one"),
            "distributed": train(scope, learning_rate(), folder + "/two"),
        }
        backup = folder + "/backup"
        interrupted = train(
            scope, learning_rate(), folder + "/cut", backup, interrupt_at=3
        )
        assert interrupted is None
        results[name]["resumed"] = train(
            scope, learning_rate(), folder + "/resumed", backup
        )
    print("RESULT " + json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
