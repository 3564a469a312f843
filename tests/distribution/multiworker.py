"""One process of a run on JAX's distributed runtime (127.0.0.1, gloo).

    python -m tests.distribution.multiworker MODE ROOT [PORT PROCESS_ID]

SGD on w with loss mean(w * x): process 0 feeds x = 1 and process 1
x = 3, two of each per update, so the global batch is [1, 1, 3, 3], the
global loss is 2w and every update moves w by exactly -2 * lr; a one-process
run on that batch is the reference. Callbacks: ReduceLROnPlateau on the
real (global) loss, in "max" mode so it reduces every epoch after the
first; StepRecorder and StepTensorBoard; keras_lrtools' BackupAndRestore.
Both processes use the same folders (as on a shared file system).

MODE: "one" (the reference, one process, no runtime), "two", "cut"
(SIGKILL itself after epoch CUT's backup), "resume" (from that backup),
"die" (process 1 exits mid-run; process 0 must end), "alone" (no peer
ever comes); "one_nan" and "two_nan" as "one" and "two", with a NaN in
the last picture of process 1 and a LearningRateGuard that restores the
last healthy state twice, then stops the run.
Prints `RESULT {json}`.
"""

import json
import os
import signal
import sys

BATCHES = 4  # updates per epoch
PER_PROCESS = 2  # pictures per update from each process
EPOCHS = 6
CUT = 3  # "cut" kills itself after this epoch's end (1-based)
PEER_TIMEOUT = 20


def main(mode, root, port=None, process_id=0):
    os.environ["KERAS_BACKEND"] = "jax"
    import jax

    nan = mode.endswith("_nan")
    mode = mode.removesuffix("_nan")
    if mode != "one":
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(
            f"127.0.0.1:{port}",
            num_processes=2,
            process_id=process_id,
            initialization_timeout=PEER_TIMEOUT,
            heartbeat_timeout_seconds=PEER_TIMEOUT,
        )
    import keras
    import numpy as np

    from keras_lrtools.callbacks import BackupAndRestore
    from keras_lrtools.callbacks import LearningRateGuard
    from keras_lrtools.callbacks import ReduceLROnPlateau
    from keras_lrtools.callbacks import StepRecorder
    from keras_lrtools.callbacks import StepTensorBoard
    from keras_lrtools.schedules import CosineDecay
    from tests.callbacks.helpers import read_scalars
    from tests.callbacks.helpers import unit_loss

    if mode == "one":
        x = np.tile(np.float32([1, 1, 3, 3]), BATCHES)[:, None]
        batch_size = 2 * PER_PROCESS
        if nan:
            x[-1] = np.nan
    else:
        keras.distribution.set_distribution(
            keras.distribution.DataParallel(
                devices=keras.distribution.list_devices(),
                auto_shard_dataset=False,
            )
        )
        x = np.full((BATCHES * PER_PROCESS, 1), 1 + 2 * process_id, "float32")
        batch_size = PER_PROCESS
        if nan and process_id == 1:
            x[-1] = np.nan
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros"),
        ]
    )
    model.compile(
        keras.optimizers.SGD(CosineDecay(0.1, 40)),
        unit_loss,
        metrics=[StepRecorder()],
    )

    class Stop(keras.callbacks.Callback):
        """Ends the process the way the mode asks (SIGKILL, or an exit)."""

        def on_epoch_end(self, epoch, logs=None):
            if mode == "cut" and epoch + 1 == CUT:
                os.kill(os.getpid(), signal.SIGKILL)

        def on_train_batch_end(self, batch, logs=None):
            if mode == "die" and process_id == 1 and batch == 1:
                os._exit(9)

    plateau = ReduceLROnPlateau("loss", 0.5, patience=1, mode="max")
    log_dir = os.path.join(root, "logs")
    callbacks = [plateau, StepTensorBoard(log_dir)]
    callbacks.append(BackupAndRestore(os.path.join(root, "backup")))
    callbacks.append(Stop())
    if nan:
        callbacks.append(LearningRateGuard(action="restore", max_restores=2))
    model.fit(
        x,
        x,
        batch_size=batch_size,
        epochs=EPOCHS,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    result = {
        "process": process_id,
        "weight": float(np.ravel(model.get_weights()[0])[0]),
        "iterations": int(model.optimizer.iterations),
        "scale": plateau.scale,
        "event_files": sorted(
            name
            for folder, _, names in os.walk(log_dir)
            for name in names
            if "tfevents" in name
        ),
    }
    if process_id == 0:
        scalars = read_scalars(os.path.join(log_dir, "train"))
        for tag in ("learning_rate", "learning_rate_scale", "loss"):
            result[tag] = scalars.get(tag, [])
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    mode, root, *rest = sys.argv[1:]
    main(mode, root, *(int(v) for v in rest))
