"""
Title: The GPU check's runs and report (benchmarks/gpu_check.sh runs it)
Description: Runs the recipe's `--smoke` run, then the whole
    `--schedule all` sweep (with --smoke, the sweep's smoke run) as a user
    would, on the backend of KERAS_BACKEND, and writes the device, each
    schedule's updates per second and wall time, and the sweep's wall time
    into benchmarks/results/gpu_check_<device>.md and .json.
Runtime: on a GPU a few minutes; --smoke on a 2-core CPU about 2 minutes.

Usage:
    KERAS_BACKEND=jax python benchmarks/gpu_report.py --logs /tmp/logs
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import ORIGINAL_ENVIRONMENT
from _common import RECIPE
from _common import RESULTS
from _common import environment
from _common import write_result


def recipe(arguments, log_dir):
    """(wall seconds, output) of the recipe's command line; fails loudly."""
    start = time.perf_counter()
    finished = subprocess.run(
        [sys.executable, RECIPE, *arguments, "--log-dir", log_dir],
        env=ORIGINAL_ENVIRONMENT,  # the recipe sets its own threads
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    print(finished.stdout, end="", flush=True)
    if finished.returncode != 0:
        sys.exit(
            f"gpu_report.py: {' '.join(arguments)} failed "
            f"({finished.returncode}):\n{finished.stderr[-3000:]}"
        )
    return seconds, finished.stdout


def device(output):
    """What the recipe said it trains on: "GPU (...)" or "CPU (...)"."""
    found = re.search(
        r"^Training on (.+?) with the (\w+) backend", output, re.M
    )
    return found.group(1) if found else "unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--logs", required=True, help="the runs' log root")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    smoke = ["--smoke"] if args.smoke else []
    smoke_seconds, output = recipe(
        ["--smoke"], os.path.join(args.logs, "smoke")
    )
    sweep_root = os.path.join(args.logs, "sweep")
    sweep_seconds, _ = recipe(["--schedule", "all", *smoke], sweep_root)
    runs = []
    pattern = os.path.join(sweep_root, "*", "*", "summary.json")
    for path in sorted(glob.glob(pattern)):
        with open(path) as file:
            summary = json.load(file)
        runs.append(
            {
                key: summary[key]
                for key in (
                    "schedule",
                    "epochs",
                    "updates_per_second",
                    "seconds",
                    "test_accuracy",
                )
            }
        )
    import keras

    where = device(output)
    result = {
        "benchmark": "gpu_check_" + re.sub(r"\W+", "_", where).strip("_"),
        **environment(),
        "device": where,
        "keras_location": os.path.dirname(keras.__file__),
        "smoke_run_seconds": smoke_seconds,
        "sweep_seconds": sweep_seconds,
        "sweep": "smoke" if args.smoke else "full",
        "runs": runs,
    }
    lines = [
        f"# GPU check: {where} ({result['backend']} backend)",
        "",
        f"Smoke run: {smoke_seconds:.1f} s. Sweep ({result['sweep']}, "
        f"{len(runs)} schedules): {sweep_seconds:.1f} s wall.",
        "",
        "| schedule | epochs | updates/s | seconds | test accuracy |",
        "| --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        lines.append(
            f"| {run['schedule']} | {run['epochs']} | "
            f"{run['updates_per_second']:.0f} | {run['seconds']:.1f} | "
            f"{run['test_accuracy']:.3f} |"
        )
    path = write_result(result, lines, args.out)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
