"""TensorFlow's start-up noise, kept off a normal run's output.

Importing TensorFlow writes C++ log lines to the process's stderr before
its logging is set up, so `TF_CPP_MIN_LOG_LEVEL` does not silence them:
info lines (CUDA stubs, CPU instructions), and on a machine without an
NVIDIA device an `E0000 ... failed call to cuInit` that reads as a
failure. `quiet_tensorflow_start()` catches what file descriptor 2
receives while Keras and TensorFlow start (import, device discovery) and
writes back every line but those. A user who sets `TF_CPP_MIN_LOG_LEVEL`
(0 for everything) gets TensorFlow's own output, untouched.
"""

import contextlib
import glob
import os
import re
import sys
import tempfile

_NOISE = re.compile(
    r"^(WARNING: All log messages before absl::InitializeLog\(\) is called"
    r"|I\d{4} \d\d:\d\d:[\d.]+ +\d+ \S+\] "
    r"|To enable the following instructions: .* rebuild TensorFlow"
    r"|[EW]\d{4} .*Unable to register cu(DNN|FFT|BLAS) factory"
    r"|[EW]\d{4} .*computation placer already registered"
    r")"
)
_NO_DEVICE_CUINIT = re.compile(r"^E\d{4} .*failed call to cuInit")


def is_noise(line, has_nvidia_device):
    """Whether a start-up line is noise (a real error never is)."""
    if _NOISE.match(line):
        return True
    return not has_nvidia_device and bool(_NO_DEVICE_CUINIT.match(line))


def _has_nvidia_device():
    return bool(glob.glob("/dev/nvidia[0-9]*"))


@contextlib.contextmanager
def quiet_tensorflow_start():
    """Filters the start-up noise written to stderr inside the block.

    Works on file descriptor 2, where TensorFlow's C++ code writes.
    Does nothing when the user set TF_CPP_MIN_LOG_LEVEL, or when the
    process has no descriptor 2.
    """
    descriptor = 2
    try:
        os.fstat(descriptor)
    except OSError:
        descriptor = None
    if descriptor is None or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        yield
        return
    # TensorFlow reads it once, as it starts: its later info lines go too.
    # Unset again after the block, so that child processes filter theirs.
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"
    sys.stderr.flush()
    saved = os.dup(descriptor)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), descriptor)
        try:
            yield
        finally:
            del os.environ["TF_CPP_MIN_LOG_LEVEL"]
            sys.stderr.flush()
            os.dup2(saved, descriptor)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode(errors="replace")
            device = _has_nvidia_device()
            kept = [
                line
                for line in text.splitlines(keepends=True)
                if not is_noise(line, device)
            ]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()
