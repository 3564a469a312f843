"""
Title: Which schedule trains SIGNS fastest, and how long the sweep takes
Description: Runs the recipe's whole sweep (`train_signs.py --schedule all`,
    every schedule at its recipe defaults) once per seed, and reports per
    schedule the final test accuracy and the number of epochs to first
    reach the course's 0.717 test accuracy (median over the seeds; the
    course needed 1500 epochs at a constant 1e-4), and the wall time of
    each whole sweep (target: 15 minutes or less on a 2-core CPU).
Runtime: about 7 minutes per seed on a 2-core CPU (21 at the defaults);
    --smoke a minute.

Usage:
    python benchmarks/schedule_quality.py    # writes benchmarks/results/
    python benchmarks/schedule_quality.py --smoke
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import RECIPE
from _common import RESULTS
from _common import environment
from _common import write_result

COURSE_EPOCHS = 1500
TARGET_EPOCHS = 150
TARGET_SWEEP_MINUTES = 15


def run_sweep(seed, epochs, smoke):
    """Runs one whole sweep; returns (wall seconds, summaries by name)."""
    log_dir = tempfile.mkdtemp(prefix=f"quality-seed{seed}-")
    command = [
        sys.executable,
        RECIPE,
        "--schedule",
        "all",
        "--seed",
        str(seed),
        "--log-dir",
        log_dir,
        "--print-every",
        "1000",
    ]
    command += ["--smoke"] if smoke else ["--epochs", str(epochs)]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    summaries = {}
    for path in glob.glob(
        os.path.join(log_dir, "sweep-*", "*", "summary.json")
    ):
        with open(path) as file:
            summary = json.load(file)
        summaries[summary["schedule"]] = summary
    return seconds, summaries


def run(seeds, epochs, smoke):
    sweeps = {seed: run_sweep(seed, epochs, smoke) for seed in seeds}
    names = list(next(iter(sweeps.values()))[1])
    schedules = {}
    for name in names:
        runs = [sweeps[seed][1][name] for seed in seeds]
        reached = [r["epochs_to_course_accuracy"] for r in runs]
        # A seed that never reaches it counts as more than any epoch count.
        ranked = sorted(r if r is not None else float("inf") for r in reached)
        median_epochs = ranked[len(ranked) // 2]
        schedules[name] = {
            "test_accuracy": [r["test_accuracy"] for r in runs],
            "median_test_accuracy": statistics.median(
                r["test_accuracy"] for r in runs
            ),
            "epochs_to_course_accuracy": reached,
            "median_epochs_to_course_accuracy": (
                None if median_epochs == float("inf") else median_epochs
            ),
            "updates_per_second": statistics.median(
                r["updates_per_second"] for r in runs
            ),
        }
    reaching = {
        n: s["median_epochs_to_course_accuracy"]
        for n, s in schedules.items()
        if s["median_epochs_to_course_accuracy"] is not None
    }
    best = min(reaching, key=reaching.get) if reaching else None
    sweep_seconds = [sweeps[seed][0] for seed in seeds]
    return {
        "benchmark": "schedule_quality",
        **environment(),
        "seeds": list(seeds),
        "epochs": epochs if not smoke else "smoke",
        "schedules": schedules,
        "best_schedule": best,
        "best_median_epochs": reaching.get(best),
        "target_epochs": TARGET_EPOCHS,
        "sweep_seconds": sweep_seconds,
        "sweep_minutes_median": statistics.median(sweep_seconds) / 60,
        "target_sweep_minutes": TARGET_SWEEP_MINUTES,
    }


def markdown(result):
    seeds = ", ".join(str(s) for s in result["seeds"])
    lines = [
        f"# Schedule quality on SIGNS ({result['backend']} backend)",
        "",
        f"Course MLP, Adam, batch 32, {result['epochs']} epochs, every "
        f"schedule at the recipe's defaults, seeds {seeds}. Epochs to "
        "0.717 = first epoch whose test accuracy reaches the course's "
        f"0.717 (the course needed {COURSE_EPOCHS} at a constant 1e-4); "
        "'never' = not within the run.",
        "",
        "| schedule | epochs to 0.717 (median) | per seed | test accuracy "
        "(median) | per seed | reaches it in "
        f"<= {TARGET_EPOCHS} |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    ordered = sorted(
        result["schedules"].items(),
        key=lambda item: (
            item[1]["median_epochs_to_course_accuracy"] or float("inf")
        ),
    )
    for name, s in ordered:
        median = s["median_epochs_to_course_accuracy"]
        per_seed = ", ".join(
            str(e) if e is not None else "never"
            for e in s["epochs_to_course_accuracy"]
        )
        accuracies = ", ".join(f"{a:.3f}" for a in s["test_accuracy"])
        ok = median is not None and median <= TARGET_EPOCHS
        lines.append(
            f"| {name} | {median or 'never'} | {per_seed} | "
            f"{s['median_test_accuracy']:.3f} | {accuracies} | "
            f"{'yes' if ok else 'no'} |"
        )
    minutes = ", ".join(f"{s / 60:.1f}" for s in result["sweep_seconds"])
    lines += [
        "",
        f"Best: {result['best_schedule']} "
        f"({result['best_median_epochs']} epochs, median of seeds; target "
        f"<= {TARGET_EPOCHS}).",
        "",
        f"Whole `--schedule all` sweep: {result['sweep_minutes_median']:.1f} "
        f"minutes (median; per seed {minutes}); target <= "
        f"{TARGET_SWEEP_MINUTES}.",
    ]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--epochs", type=int, default=150)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="one seed of the recipe's --smoke sweep: only checks it runs",
    )
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.seeds = args.seeds[:1]
    result = run(args.seeds, args.epochs, args.smoke)
    path = write_result(result, markdown(result), args.out)
    print(
        f"RESULT benchmark=schedule_quality best={result['best_schedule']} "
        f"best_median_epochs={result['best_median_epochs']} "
        f"sweep_minutes={result['sweep_minutes_median']:.1f}"
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
