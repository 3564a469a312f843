"""
Title: What a schedule costs at training time
Description: Trains the SIGNS course MLP (Adam, batch 32, the recipe's
    steps_per_execution, so the step itself is as cheap as it gets) with
    each keras_lrtools schedule at the recipe's defaults, and with a float
    learning rate, alternating all of them in each round; reports each
    schedule's time as a ratio to the float LR's in the same round
    (median and spread). Target: at most 1.02.
Runtime: about 3 minutes at the defaults; --smoke a few seconds.

Usage:
    python benchmarks/schedule_cost.py    # writes benchmarks/results/
    python benchmarks/schedule_cost.py --smoke
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import BATCH_SIZE
from _common import alternate
from _common import course_mlp
from _common import environment
from _common import load_recipe
from _common import ratio_stats
from _common import signs_data
from _common import timing_arguments
from _common import write_result

TARGET = 1.02
FLOAT = "float"


def _schedules(recipe, updates_per_epoch):
    """Name -> the LR Adam gets in the recipe (plateau: its ScaledSchedule)."""
    from keras_lrtools.schedules import ScaledSchedule
    from keras_lrtools.schedules import for_run

    rates = {FLOAT: 3e-4}
    args = recipe.signs_arguments.parse_arguments([])  # the defaults
    for name in recipe.signs_schedules.NAMES:
        if name == "constant":
            continue
        plan = recipe.signs_schedules.plan(
            name, args, updates_per_epoch, BATCH_SIZE
        )
        rate = for_run(*plan.sizes(), **plan.overrides)
        if name == "plateau":  # what ReduceLROnPlateau installs
            rate = ScaledSchedule(rate, 0.5)
        rates[name] = rate
    return rates


def run(rounds, epochs, smoke):
    x, y = signs_data(smoke)
    updates_per_epoch = -(-len(x) // BATCH_SIZE)
    recipe = load_recipe()
    rates = _schedules(recipe, updates_per_epoch)
    if smoke:
        rates = {k: rates[k] for k in (FLOAT, "cosine", "plateau")}
    import keras

    # The recipe's setting: one call per epoch; torch's trainer allows 1.
    steps_per_execution = (
        1 if keras.backend.backend() == "torch" else updates_per_epoch
    )
    models = {}
    for name, rate in rates.items():
        models[name] = course_mlp(rate, steps_per_execution=steps_per_execution)
        models[name].fit(x, y, BATCH_SIZE, epochs=1, verbose=0)  # traces

    cpu = {name: [] for name in rates}

    def timed(name):
        start, start_cpu = time.perf_counter(), time.process_time()
        models[name].fit(x, y, BATCH_SIZE, epochs=epochs, verbose=0)
        cpu[name].append(time.process_time() - start_cpu)
        return time.perf_counter() - start

    times = alternate(
        {name: (lambda name=name: timed(name)) for name in rates}, rounds
    )
    return {
        "benchmark": "schedule_cost",
        **environment(),
        "rounds": rounds,
        "epochs_per_fit": epochs,
        "updates_per_fit": epochs * updates_per_epoch,
        "steps_per_execution": steps_per_execution,
        "seconds": times,
        "ratio_to_float": ratio_stats(times, FLOAT),
        # CPU time of this process: what the schedule costs in work, blind
        # to the time this virtual machine's CPUs are taken away.
        "cpu_seconds": cpu,
        "cpu_ratio_to_float": ratio_stats(cpu, FLOAT),
        "target": TARGET,
    }


def markdown(result):
    ratios = result["ratio_to_float"]
    worst = max(
        (n for n in ratios if n != FLOAT), key=lambda n: ratios[n]["median"]
    )
    lines = [
        f"# Schedule cost ({result['backend']} backend)",
        "",
        f"SIGNS course MLP, Adam, batch 32, {result['updates_per_fit']} "
        "updates per timed fit, steps_per_execution="
        f"{result['steps_per_execution']}, every schedule at the recipe's "
        f"defaults, {result['rounds']} rounds alternating all variants. "
        "Ratio = time / time with a float LR in the same round. Target: "
        f"<= {result['target']}.",
        "",
        "| schedule | median ratio (wall time) | min | max | median ratio "
        "(CPU time) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, stats in ratios.items():
        cpu = result["cpu_ratio_to_float"][name]["median"]
        lines.append(
            f"| {name} | {stats['median']:.3f} | {stats['min']:.3f} | "
            f"{stats['max']:.3f} | {cpu:.3f} |"
        )
    lines += [
        "",
        f"Highest median: {worst}, {ratios[worst]['median']:.3f}.",
    ]
    return lines


def main(argv=None):
    # Many short fits: this machine's timing jitter (+-20% on a fit) is
    # averaged out by the median of many rounds, not by longer fits.
    args = timing_arguments(argv, __doc__, rounds=40, epochs=3)
    result = run(args.rounds, args.epochs, args.smoke)
    path = write_result(result, markdown(result), args.out)
    worst = max(
        (v["median"] for k, v in result["ratio_to_float"].items() if k != FLOAT)
    )
    print(f"RESULT benchmark=schedule_cost worst_median_ratio={worst:.3f}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
