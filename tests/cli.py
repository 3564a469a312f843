"""Running a command line as a user does, for its error path."""

import subprocess
import sys


def assert_usage_error(arguments, message):
    """`python ARGUMENTS` exits with status 2, `message` on stderr and no
    traceback."""
    result = subprocess.run(
        [sys.executable, *arguments],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr
    assert "Traceback" not in result.stderr
