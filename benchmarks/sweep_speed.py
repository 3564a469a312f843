"""
Title: Wall time of the recipe's sweep, one run at a time and in parallel
Description: Runs `recipes/train_signs.py --schedule all` (every schedule,
    seed 1) as a user would, once with `--jobs 1` and once with `--jobs N`
    (default: one per core), both with the parallel sweep's CPU threads
    per process, and reports both wall times, the parallel sweep's ratio
    to (sequential wall time) / N (target: at most 1.25), and checks that
    both sweeps report the same results (every number of every run but
    its timing). The sequential sweep's wall time is the sum of its
    single runs (one process trains them in turn).
Runtime: about 5-20 minutes a backend at 150 epochs; --smoke about 3.

Usage:
    KERAS_BACKEND=jax python benchmarks/sweep_speed.py
    python benchmarks/sweep_speed.py --epochs 30 --jobs 2
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import ORIGINAL_ENVIRONMENT
from _common import RECIPE
from _common import RESULTS
from _common import THREADS
from _common import environment
from _common import write_result

TARGET = 1.25
TIMING_KEYS = ("seconds", "updates_per_second")


def sweep(jobs, threads, epochs, smoke, log_dir):
    """(wall seconds, {run: summary}) of one `--schedule all` sweep."""
    command = [sys.executable, RECIPE, "--schedule", "all", "--jobs", str(jobs)]
    command += ["--threads", str(threads)]
    command += ["--smoke"] if smoke else ["--epochs", str(epochs)]
    start = time.perf_counter()
    subprocess.run(
        [*command, "--log-dir", log_dir],
        check=True,
        stdout=subprocess.DEVNULL,
        env=ORIGINAL_ENVIRONMENT,  # the recipe sets its threads
    )
    seconds = time.perf_counter() - start
    summaries = {}
    pattern = os.path.join(log_dir, "*", "*", "summary.json")
    for path in sorted(glob.glob(pattern)):
        with open(path) as file:
            summary = json.load(file)
        summaries[os.path.basename(os.path.dirname(path))] = summary
    return seconds, summaries


def results_without_timing(summaries):
    return {
        run: {k: v for k, v in summary.items() if k not in TIMING_KEYS}
        for run, summary in summaries.items()
    }


def run(jobs, epochs, smoke):
    root = tempfile.mkdtemp(prefix="bench-sweep-")
    # Both with the parallel sweep's threads per process: the same work
    # per run, and the same floats (tensorflow's sums differ in the last
    # bit between 1 and 2 threads, enough to flip a near-tie early on).
    threads = THREADS.default_threads(jobs, ORIGINAL_ENVIRONMENT)
    sequential, one = sweep(
        1, threads, epochs, smoke, os.path.join(root, "jobs-1")
    )
    parallel, many = sweep(
        jobs, threads, epochs, smoke, os.path.join(root, "jobs-n")
    )
    run_seconds = sum(s["seconds"] for s in one.values())
    return {
        "benchmark": "sweep_speed",
        **environment(),
        "jobs": jobs,
        "threads_per_process": threads,
        "epochs": "smoke" if smoke else epochs,
        "runs": len(one),
        "sequential_seconds": sequential,
        "sum_of_training_seconds": run_seconds,
        "parallel_seconds": parallel,
        "ratio_to_sequential_over_jobs": parallel / (sequential / jobs),
        "same_results": results_without_timing(one)
        == results_without_timing(many),
        "target": TARGET,
    }


def markdown(result):
    return [
        f"# Sweep wall time ({result['backend']} backend)",
        "",
        f"`--schedule all`, {result['runs']} runs of {result['epochs']} "
        f"epochs, on {result['machine']['cpus']} cores, "
        f"{result['threads_per_process']} CPU thread(s) per process.",
        "",
        "| | seconds |",
        "| --- | --- |",
        f"| --jobs 1 (one process, runs in turn) | "
        f"{result['sequential_seconds']:.1f} |",
        f"| of which training (sum of the runs' seconds) | "
        f"{result['sum_of_training_seconds']:.1f} |",
        f"| --jobs {result['jobs']} | {result['parallel_seconds']:.1f} |",
        "",
        f"Ratio of --jobs {result['jobs']} to (--jobs 1) / {result['jobs']}: "
        f"{result['ratio_to_sequential_over_jobs']:.2f} (target <= "
        f"{result['target']}). Same results in both: "
        f"{'yes' if result['same_results'] else 'NO'}.",
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--jobs", type=int, default=THREADS.cores())
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    result = run(max(2, args.jobs), args.epochs, args.smoke)
    path = write_result(result, markdown(result), args.out)
    print(
        f"RESULT sequential={result['sequential_seconds']:.1f} "
        f"parallel={result['parallel_seconds']:.1f} "
        f"ratio={result['ratio_to_sequential_over_jobs']:.2f} "
        f"same_results={result['same_results']}"
    )
    print(f"wrote {path}")
    return 0 if result["same_results"] else 1


if __name__ == "__main__":
    sys.exit(main())
