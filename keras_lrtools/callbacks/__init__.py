"""Callbacks for `model.fit`.

Plateau reduction that works with schedules, per-step TensorBoard logging,
a guard against a learning rate that breaks training, and a backup that
several processes share.
"""

from keras_lrtools.callbacks._distribution import is_chief
from keras_lrtools.callbacks.backup_and_restore import BackupAndRestore
from keras_lrtools.callbacks.guard import Diagnosis
from keras_lrtools.callbacks.guard import LearningRateGuard
from keras_lrtools.callbacks.reduce_lr_on_plateau import ReduceLROnPlateau
from keras_lrtools.callbacks.step_recorder import StepRecorder
from keras_lrtools.callbacks.step_tensorboard import StepTensorBoard
from keras_lrtools.callbacks.step_tensorboard import tensorboard_command

__all__ = [
    "BackupAndRestore",
    "Diagnosis",
    "LearningRateGuard",
    "ReduceLROnPlateau",
    "StepRecorder",
    "StepTensorBoard",
    "is_chief",
    "tensorboard_command",
]
