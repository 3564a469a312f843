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

    Does nothing when the user set TF_CPP_MIN_LOG_LEVEL, or when stderr
    has no file descriptor (a notebook).
    """
    try:
        descriptor = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        descriptor = None
    if descriptor is None or "TF_CPP_MIN_LOG_LEVEL" in os.environ:
        yield
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "1"  # later info lines, too
    sys.stderr.flush()
    saved = os.dup(descriptor)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), descriptor)
        try:
            yield
        finally:
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
