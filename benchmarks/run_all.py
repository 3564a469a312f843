"""
Title: Runs every benchmark and writes the summary
Description: Runs schedule_cost, logging_cost, throughput and
    schedule_quality (in that order: the timing ones on an idle machine
    first), each writing its Markdown and JSON into benchmarks/results/,
    then writes benchmarks/results/summary.md and puts the same table into
    the README between its benchmark-summary markers.
Runtime: about 35 minutes on a 2-core CPU; --smoke about 3 minutes.

Usage:
    python benchmarks/run_all.py
    python benchmarks/run_all.py --smoke --out /tmp/results
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import logging_cost
import schedule_cost
import schedule_quality
import throughput
from _common import RESULTS

BENCHMARKS = (schedule_cost, logging_cost, throughput, schedule_quality)
README = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md"
)
BEGIN, END = "<!-- benchmark-summary -->", "<!-- /benchmark-summary -->"


def _load(folder, name):
    import keras

    path = os.path.join(folder, f"{name}_{keras.backend.backend()}.json")
    with open(path) as file:
        return json.load(file)


def summary_rows(folder):
    """(what, measured, target, met) for each headline figure."""
    schedules = _load(folder, "schedule_cost")
    cost, cpu = schedules["ratio_to_float"], schedules["cpu_ratio_to_float"]
    worst = max(
        (k for k in cost if k != "float"), key=lambda k: cost[k]["median"]
    )
    worst_cpu = max(v["median"] for k, v in cpu.items() if k != "float")
    logging = _load(folder, "logging_cost")
    ours = logging["ratio_to_no_logging"]["step_tensorboard"]
    keras_tb = logging["ratio_to_no_logging"].get("keras_tensorboard")
    speed = _load(folder, "throughput")
    recipe = speed["throughput_ratio_to_baseline"]["recipe"]["median"]
    quality = _load(folder, "schedule_quality")
    rows = [
        (
            "Schedule cost: fit with a schedule / with a float LR, wall "
            f"time (worst median: {worst}; in CPU time the worst median is "
            f"{worst_cpu:.3f})",
            f"{cost[worst]['median']:.3f}",
            "<= 1.02",
            cost[worst]["median"] <= 1.02,
        ),
        (
            "Logging cost at steps_per_execution=1: StepTensorBoard / no "
            "logging"
            + (
                f" (Keras's TensorBoard(update_freq=1): "
                f"{keras_tb['median']:.3f})"
                if keras_tb
                else ""
            ),
            f"{ours['median']:.3f}",
            "<= 1.05",
            ours["median"] <= 1.05,
        ),
        (
            "Recipe throughput / raw tf.function epoch loop (updates/s: "
            f"recipe {speed['updates_per_second']['recipe']:.0f}, fit with "
            "the recipe's pipeline and nothing else "
            f"{speed['updates_per_second'].get('tuned_fit', 0):.0f}, raw "
            f"loop {speed['updates_per_second'].get('raw_loop', 0):.0f})",
            f"{recipe:.3f}",
            ">= 0.90",
            recipe >= 0.90,
        ),
        (
            f"Epochs to the course's 0.717, best schedule "
            f"({quality['best_schedule']}, median of {len(quality['seeds'])} "
            "seeds; the course: 1500)",
            str(quality["best_median_epochs"]),
            "<= 150",
            (quality["best_median_epochs"] or 10**9) <= 150,
        ),
        (
            "Wall time of the whole --schedule all sweep (minutes)",
            f"{quality['sweep_minutes_median']:.1f}",
            "<= 15",
            quality["sweep_minutes_median"] <= 15,
        ),
    ]
    return rows


def summary_table(folder):
    lines = [
        "| measured (SIGNS course MLP, batch 32, 2-core CPU) | value | "
        "target | met |",
        "| --- | --- | --- | --- |",
    ]
    for what, value, target, met in summary_rows(folder):
        lines.append(
            f"| {what} | {value} | {target} | {'yes' if met else 'no'} |"
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", default=RESULTS)
    args = parser.parse_args(argv)
    extra = ["--smoke"] if args.smoke else []
    for benchmark in BENCHMARKS:
        print(f"== {benchmark.__name__}", flush=True)
        benchmark.main([*extra, "--out", args.out])
    table = summary_table(args.out)
    with open(os.path.join(args.out, "summary.md"), "w") as file:
        file.write("# Benchmark summary\n\n" + table + "\n")
    print(table)
    if not args.smoke and os.path.abspath(args.out) == os.path.abspath(RESULTS):
        update_readme(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
