"""TensorFlow's start-up noise stays off the output; real errors and
everything else come through, and TF_CPP_MIN_LOG_LEVEL turns it off."""

import os
import subprocess
import sys

import keras
import pytest

from keras_lrtools._quiet_start import is_noise
from keras_lrtools._quiet_start import quiet_tensorflow_start

# Lines TensorFlow 2.21 writes at start-up (this machine, and a GPU-less
# one with CUDA libraries).
NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are "
    "written to STDERR",
    "I0000 00:00:1796056761.386083    3693 cudart_stub.cc:31] Could not "
    "find cuda drivers on your machine, GPU will not be used.",
    "I0000 00:00:1796056774.142637    3699 cpu_feature_guard.cc:227] This "
    "TensorFlow binary is optimized to use available CPU instructions.",
    "To enable the following instructions: AVX2 FMA, in other operations, "
    "rebuild TensorFlow with the appropriate compiler flags.",
    "E0000 00:00:1796056884.414593    3931 cuda_dnn.cc:8310] Unable to "
    "register cuDNN factory: Attempting to register factory for plugin "
    "cuDNN when one has already been registered",
]
CUINIT = (
    "E0000 00:00:1796056915.948137    3971 cuda_platform.cc:52] failed call "
    "to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR "
    "(303)"
)
REAL = [
    "E0000 00:00:1796056915.948137    3971 some_op.cc:52] Out of memory",
    "W0000 00:00:1796056915.948137    3971 loader.cc:1] could not load x.so",
    "Traceback (most recent call last):",
    "ValueError: Argument `decay_steps` must be > 0.",
    "UserWarning: a Python warning",
]


def test_noise_is_told_from_real_errors():
    assert all(is_noise(line, has_nvidia_device=False) for line in NOISE)
    assert not any(is_noise(line, False) for line in REAL)
    # cuInit failing is the reason a GPU is not used where there is one.
    assert is_noise(CUINIT, has_nvidia_device=False)
    assert not is_noise(CUINIT, has_nvidia_device=True)


def test_the_block_keeps_every_line_but_the_noise(capfd, monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    lines = [NOISE[0], REAL[0], NOISE[1], REAL[2], REAL[3]]
    with quiet_tensorflow_start():
        os.write(2, "".join(f"{line}\n" for line in lines).encode())
        print("to stdout", flush=True)
    captured = capfd.readouterr()
    assert captured.err.splitlines() == [REAL[0], REAL[2], REAL[3]]
    assert captured.out == "to stdout\n"


def test_an_error_inside_the_block_still_shows_what_was_written(
    capfd, monkeypatch
):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    with pytest.raises(ImportError), quiet_tensorflow_start():
        os.write(2, f"{NOISE[0]}\n{REAL[1]}\n".encode())
        raise ImportError("no module")
    assert capfd.readouterr().err.splitlines() == [REAL[1]]


def _start(env):
    return subprocess.run(
        [sys.executable, "-m", "keras_lrtools", "list"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_a_command_line_starts_clean_and_the_full_log_is_one_variable():
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = _start(env)
    assert quiet.returncode == 0
    assert quiet.stderr == ""
    assert quiet.stdout.count("\n") == 14
    full = _start({**env, "TF_CPP_MIN_LOG_LEVEL": "0"})
    assert full.returncode == 0 and full.stdout == quiet.stdout
    lines = full.stderr.splitlines()
    # What the quiet start dropped is noise, and only that.
    has_device = bool(__import__("glob").glob("/dev/nvidia[0-9]*"))
    assert all(is_noise(line, has_device) for line in lines), lines
    if keras.backend.backend() == "tensorflow":
        assert lines  # TensorFlow started, and said so
