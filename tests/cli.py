"""Running a command line as a user does, for its error path."""

import subprocess
import sys


def assert_usage_error(arguments, message):
    """`python ARGUMENTS` exits with status 2 and one line on stderr that
    holds `message`."""
    result = subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    # One line (TensorFlow's own start-up lines aside, when the user
    # asked for them with TF_CPP_MIN_LOG_LEVEL).
    from keras_lrtools._quiet_start import is_noise

    lines = [
        line
        for line in result.stderr.splitlines()
        if not is_noise(line, has_nvidia_device=True)
        and "failed call to cuInit" not in line
    ]
    assert len(lines) == 1, result.stderr[-2000:]
