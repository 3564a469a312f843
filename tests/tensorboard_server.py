"""A real `tensorboard` server on a free 127.0.0.1 port, for tests about
what a user sees; stopped by its PID."""

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

STARTUP_SECONDS = 90


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def tensorboard_server(logdir, *arguments):
    """Yields a function get(path, body=None, **query) -> the server's
    parsed JSON answer (a POST of `body` as JSON when given)."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(logdir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *arguments,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def get(path, body=None, **query):
        url = f"http://127.0.0.1:{port}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url)
        if body is not None:
            request = urllib.request.Request(
                url,
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    "tensorboard exited: " + process.stderr.read().decode()
                )
            try:
                get("/data/runs")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield get
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()


def wait_for(read, done, seconds=60):
    """Polls read() until done(value) (the server loads files in the
    background); returns the last value."""
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.5)
