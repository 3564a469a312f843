"""
Title: Runs every benchmark on every backend and writes the summary
Description: On each installed backend (tensorflow, jax, torch; a
    process each) runs throughput, logging_cost and sweep_speed; on
    tensorflow also schedule_cost and schedule_quality (the schedules'
    quality does not depend on the backend). Each writes its Markdown and
    JSON into benchmarks/results/; then benchmarks/results/summary.md, and
    the same table in the README between its benchmark-summary markers.
    `--this-backend` runs the benchmarks of KERAS_BACKEND only, in this
    process; `--summary` only rebuilds the table from the results there.
Runtime: about 70 minutes on a 2-core CPU; --smoke about 10.

Usage:
    python benchmarks/run_all.py
    KERAS_BACKEND=jax python benchmarks/run_all.py --this-backend
    python benchmarks/run_all.py --summary
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import logging_cost
import schedule_cost
import schedule_quality
import sweep_speed
import throughput
from _common import ORIGINAL_ENVIRONMENT
from _common import RESULTS

BACKENDS = ("tensorflow", "jax", "torch")
EVERY_BACKEND = (throughput, logging_cost, sweep_speed)
TENSORFLOW_ONLY = (schedule_cost, schedule_quality)
README = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md"
)
BEGIN, END = "<!-- benchmark-summary -->", "<!-- /benchmark-summary -->"


def _load(folder, name, backend):
    path = os.path.join(folder, f"{name}_{backend}.json")
    if not os.path.exists(path):
        return None
    with open(path) as file:
        return json.load(file)


def _ratio(stats):
    return f"{stats['median']:.2f} ({stats['min']:.2f}-{stats['max']:.2f})"


def summary_rows(folder):
    """(backend, what, measured, target, met) for each headline figure."""
    rows = []
    for backend in BACKENDS:
        speed = _load(folder, "throughput", backend)
        if speed is not None:
            per_second = speed["updates_per_second"]
            ratios = speed["throughput_ratio_to_baseline"]
            recipe = ratios["recipe"]
            rows.append(
                (
                    backend,
                    "Recipe / bare fit, updates per second (recipe "
                    f"{per_second['recipe']:.0f}, bare fit "
                    f"{per_second['bare_fit']:.0f}, Keras's default fit "
                    f"{per_second['plain_fit']:.0f}, raw loop "
                    f"{per_second['raw_loop']:.0f}; "
                    f"{speed.get('cpu_threads', '?')} CPU thread(s))",
                    _ratio(recipe),
                    ">= 0.90",
                    recipe["median"] >= 0.90,
                )
            )
        logging = _load(folder, "logging_cost", backend)
        if logging is not None:
            ours = logging["ratio_to_no_logging"]["step_tensorboard"]
            rows.append(
                (
                    backend,
                    "Per-step logging: StepTensorBoard + StepRecorder / no "
                    "logging, time",
                    _ratio(ours),
                    "<= 1.05",
                    ours["median"] <= 1.05,
                )
            )
            one_call = logging.get("one_call_ratio_to_no_logging")
            if one_call:
                ours = one_call["step_tensorboard_one_call"]
                rows.append(
                    (
                        backend,
                        "Per-step logging at one compiled call per epoch "
                        "(the recipe's): StepTensorBoard + StepRecorder / "
                        "no logging, time",
                        _ratio(ours),
                        "<= 1.05",
                        ours["median"] <= 1.05,
                    )
                )
        sweep = _load(folder, "sweep_speed", backend)
        if sweep is not None:
            rows.append(
                (
                    backend,
                    f"Sweep of {sweep['runs']} runs x {sweep['epochs']} "
                    f"epochs: --jobs {sweep['jobs']} / (--jobs 1) / "
                    f"{sweep['jobs']}, wall time (--jobs 1: "
                    f"{sweep['sequential_seconds'] / 60:.1f} min, --jobs "
                    f"{sweep['jobs']}: {sweep['parallel_seconds'] / 60:.1f} "
                    "min; same results: "
                    f"{'yes' if sweep['same_results'] else 'NO'})",
                    f"{sweep['ratio_to_sequential_over_jobs']:.2f}",
                    "<= 1.25",
                    sweep["ratio_to_sequential_over_jobs"] <= 1.25
                    and sweep["same_results"],
                )
            )
    cost = _load(folder, "schedule_cost", "tensorflow")
    if cost is not None:
        ratios = cost["ratio_to_float"]
        worst = max(
            (k for k in ratios if k != "float"),
            key=lambda k: ratios[k]["median"],
        )
        rows.append(
            (
                "tensorflow",
                f"Schedule cost: fit with a schedule / with a float LR "
                f"(worst: {worst})",
                f"{ratios[worst]['median']:.3f}",
                "<= 1.02",
                ratios[worst]["median"] <= 1.02,
            )
        )
    quality = _load(folder, "schedule_quality", "tensorflow")
    if quality is not None:
        rows.append(
            (
                "tensorflow",
                "Epochs to the course's 0.717, best schedule "
                f"({quality['best_schedule']}, median of "
                f"{len(quality['seeds'])} seeds; the course: 1500)",
                str(quality["best_median_epochs"]),
                "<= 150",
                (quality["best_median_epochs"] or 10**9) <= 150,
            )
        )
    return rows


def summary_table(folder):
    lines = [
        "| backend | measured (SIGNS course MLP, batch 32, 2-core CPU; "
        "median (min-max)) | value | target | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for backend, what, value, target, met in summary_rows(folder):
        lines.append(
            f"| {backend} | {what} | {value} | {target} | "
            f"{'yes' if met else 'no'} |"
        )
    return "\n".join(lines)


def update_readme(table, path=README):
    with open(path) as file:
        text = file.read()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    text = text[:start] + "\n" + table + "\n" + text[end:]
    with open(path + ".tmp", "w") as file:
        file.write(text)
    os.replace(path + ".tmp", path)


def this_backend(smoke, out):
    """The benchmarks of KERAS_BACKEND, in this process."""
    import keras

    extra = ["--smoke"] if smoke else []
    chosen = EVERY_BACKEND
    if keras.backend.backend() == "tensorflow":
        chosen = (schedule_cost, *EVERY_BACKEND, schedule_quality)
    for benchmark in chosen:
        print(f"== {benchmark.__name__} ({keras.backend.backend()})")
        sys.stdout.flush()
        benchmark.main([*extra, "--out", out])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", default=RESULTS)
    parser.add_argument("--this-backend", action="store_true")
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args(argv)
    if args.this_backend:
        this_backend(args.smoke, args.out)
    elif not args.summary:
        for backend in BACKENDS:
            if importlib.util.find_spec(backend) is None:
                print(f"== {backend}: not installed, left out")
                continue
            command = [sys.executable, os.path.abspath(__file__)]
            command += ["--this-backend", "--out", args.out]
            command += ["--smoke"] if args.smoke else []
            environ = {**ORIGINAL_ENVIRONMENT, "KERAS_BACKEND": backend}
            subprocess.run(command, check=True, env=environ)
    table = summary_table(args.out)
    with open(os.path.join(args.out, "summary.md"), "w") as file:
        file.write("# Benchmark summary\n\n" + table + "\n")
    print(table)
    if not args.smoke and os.path.abspath(args.out) == os.path.abspath(RESULTS):
        update_readme(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
