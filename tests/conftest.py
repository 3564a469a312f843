import os

import keras
import numpy as np
import pytest


def pytest_report_header(config):
    return (
        f"keras_lrtools tests: KERAS_BACKEND={keras.backend.backend()}, "
        f"keras {keras.__version__}"
    )


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    np.random.seed(1234)
    yield


@pytest.fixture
def backend():
    return keras.backend.backend()


def signs_dir():
    """The real SIGNS data, from KERAS_LRTOOLS_DATA (set by .ci/run)."""
    return os.environ.get("KERAS_LRTOOLS_DATA")
