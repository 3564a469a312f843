"""keras_lrtools' BackupAndRestore in one process: Keras's callback.

(Several processes: tests/distribution/test_multiworker.py.)
"""

import keras
import numpy as np
import pytest

from keras_lrtools.callbacks import BackupAndRestore
from keras_lrtools.callbacks import ReduceLROnPlateau
from keras_lrtools.schedules import CosineDecay
from tests.callbacks.helpers import Interrupt
from tests.callbacks.helpers import ScriptedMetric
from tests.callbacks.helpers import unit_data
from tests.callbacks.helpers import unit_gradient_model

SCORES = [5, 4, 4, 4, 3, 3]


def _fit(backup, *extra):
    model = unit_gradient_model(CosineDecay(0.1, 30))
    plateau = ReduceLROnPlateau("score", 0.5, 1, mode="min")
    x, y = unit_data(4)
    callbacks = [ScriptedMetric("score", SCORES), plateau, *extra]
    if backup is not None:
        callbacks.append(backup)
    model.fit(x, y, batch_size=2, epochs=6, verbose=0, callbacks=callbacks)
    return model, plateau


@pytest.mark.parametrize("kind", ["ours", "keras"])
def test_resumes_as_keras_does(tmp_path, kind):
    cls = (
        BackupAndRestore if kind == "ours" else keras.callbacks.BackupAndRestore
    )
    reference, reference_plateau = _fit(None)
    with pytest.raises(RuntimeError, match="interrupted"):
        _fit(cls(str(tmp_path / "backup")), Interrupt(2))
    assert (tmp_path / "backup").is_dir()
    resumed, plateau = _fit(cls(str(tmp_path / "backup")))
    np.testing.assert_array_equal(
        resumed.get_weights()[0], reference.get_weights()[0]
    )
    assert int(resumed.optimizer.iterations) == 24
    assert plateau.scale == reference_plateau.scale < 1
    assert not (tmp_path / "backup").exists()  # deleted at the end


def test_keras_checks_the_arguments_at_construction(tmp_path):
    with pytest.raises(ValueError, match="save_freq"):
        BackupAndRestore(str(tmp_path), save_freq="often")
    with pytest.raises(ValueError, match="backup_dir"):
        BackupAndRestore(None)
