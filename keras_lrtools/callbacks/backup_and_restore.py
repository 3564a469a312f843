"""Keras's `BackupAndRestore` for a run of several processes."""

import shutil
import tempfile

import keras

from keras_lrtools.callbacks._distribution import is_chief


class BackupAndRestore(keras.callbacks.Callback):
    """Keras's `BackupAndRestore`: every process restores, the chief writes.

    With several processes (JAX's distributed runtime, `backup_dir` on a
    file system all of them see), Keras's own callback would have every
    process write the same files at once and delete them at the end.
    Here every process restores from `backup_dir` at the start of `fit`,
    and only the chief (`is_chief`, process 0) writes and deletes it; the
    replicas are identical, so its copy is everyone's. The others still
    save, into a private temporary folder they delete: a Keras save
    creates variables, which every process of a JAX run must do together.
    In one process this is exactly Keras's callback.

    Args: those of `keras.callbacks.BackupAndRestore`.
    """

    def __init__(
        self,
        backup_dir,
        save_freq="epoch",
        double_checkpoint=False,
        delete_checkpoint=True,
    ):
        super().__init__()
        self.backup_dir = backup_dir
        self._options = dict(
            save_freq=save_freq,
            double_checkpoint=double_checkpoint,
            delete_checkpoint=delete_checkpoint,
        )
        # Keras's checks of the arguments, at construction.
        self._reader = self._writer = keras.callbacks.BackupAndRestore(
            backup_dir, **self._options
        )
        self._scratch = None

    def set_model(self, model):
        super().set_model(model)
        self._writer = self._reader
        if not is_chief(model):
            self._scratch = tempfile.mkdtemp(prefix="keras_lrtools-backup-")
            self._writer = keras.callbacks.BackupAndRestore(
                self._scratch, **self._options
            )
        self._reader.set_model(model)
        self._writer.set_model(model)

    def on_train_begin(self, logs=None):
        self._reader.on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._writer.on_epoch_end(epoch, logs)

    @property
    def async_safe(self):
        """True when it saves at epoch ends only (nothing at batch ends).

        Keras then dispatches batch ends asynchronously (jax, torch).
        """
        return self._options["save_freq"] == "epoch"

    def on_train_batch_end(self, batch, logs=None):
        self._writer.on_train_batch_end(batch, logs)

    def on_train_end(self, logs=None):
        self._writer.on_train_end(logs)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
