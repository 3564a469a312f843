"""`for_run`: every short name sized for a run, warmup on and off,
overrides and bad input. The references are the run's rules written
another way: a decay behind a warmup is the same decay sized for the steps
after it, shifted; every curve peaks at the peak and ends at its floor."""

import math

import numpy as np
import pytest

from keras_lrtools import schedules
from keras_lrtools.schedules import RUN_SIZES
from keras_lrtools.schedules import for_run
from keras_lrtools.schedules import run_arguments

TOTAL, WARMUP, PEAK = 600, 90, 3e-4
NAMES = sorted(RUN_SIZES)
IN_FRONT = [n for n in NAMES if RUN_SIZES[n].warmup_in_front]


def _values(schedule, steps):
    if isinstance(schedule, float):
        return np.full(len(steps), schedule)
    return np.array([float(schedule(s)) for s in steps])


def test_the_table_names_every_public_schedule_once():
    classes = [s.schedule_class for s in RUN_SIZES.values()]
    wrappers = {"ScaledSchedule", "SequentialSchedule", "Warmup"}
    public = {
        name
        for name in schedules.__all__
        if name[0].isupper() and name not in wrappers
    } - {"RUN_SIZES", "SCHEDULES_BY_NAME"}
    assert sorted(c.__name__ for c in classes if c) == sorted(public)
    assert schedules.SCHEDULES_BY_NAME == {
        n: c for n, c in zip(RUN_SIZES, classes, strict=True) if c
    }


@pytest.mark.parametrize("warmup", [0, WARMUP])
@pytest.mark.parametrize("name", NAMES)
def test_every_schedule_peaks_at_the_peak_and_stays_finite(name, warmup):
    values = _values(for_run(name, TOTAL, PEAK, warmup), range(TOTAL + 1))
    assert np.all(np.isfinite(values)) and np.all(values >= 0)
    # noisy_linear_cosine adds noise of variance 0.1 (decaying);
    # linear_cosine's beta lifts it by 1%.
    tolerance = 0.5 if name == "noisy_linear_cosine" else 0.011
    assert values.max() == pytest.approx(PEAK, rel=tolerance)
    if name != "constant":
        assert values[-1] < values.max() / 2  # every other one decays


@pytest.mark.parametrize("name", NAMES)
def test_a_warmup_ramps_linearly_from_zero_to_the_peak(name):
    with_warmup = _values(for_run(name, TOTAL, PEAK, WARMUP), range(TOTAL))
    without = _values(for_run(name, TOTAL, PEAK), range(TOTAL))
    if name == "cyclical":  # its own triangle is the ramp
        np.testing.assert_array_equal(with_warmup, without)
        return
    if name == "one_cycle":  # its ramp is the warmup: from peak / 25
        assert with_warmup[0] == pytest.approx(PEAK / 25, rel=1e-5)
        assert with_warmup[WARMUP] == pytest.approx(PEAK, rel=1e-5)
        return
    ramp = np.arange(WARMUP) / WARMUP * with_warmup[WARMUP]
    np.testing.assert_allclose(with_warmup[:WARMUP], ramp, rtol=1e-5)
    if name != "noisy_linear_cosine":
        assert with_warmup[WARMUP] == pytest.approx(PEAK, rel=0.011)


@pytest.mark.parametrize("name", IN_FRONT)
def test_a_decay_behind_the_warmup_is_sized_for_the_steps_after_it(name):
    behind = for_run(name, TOTAL, PEAK, WARMUP)
    alone = for_run(name, TOTAL - WARMUP, PEAK)
    steps = [0, 1, 45, 200, TOTAL - WARMUP - 1, TOTAL - WARMUP, 5000]
    np.testing.assert_allclose(
        _values(behind, [WARMUP + s for s in steps]),
        _values(alone, steps),
        rtol=1e-5,
    )


@pytest.mark.parametrize("warmup", [0, WARMUP])
@pytest.mark.parametrize(
    "name, floor",
    [
        ("polynomial", PEAK / 100),
        ("cosine", PEAK * 0.01),
        ("warmup_stable_decay", PEAK / 100),
        ("piecewise", PEAK / 15),
        ("linear_cosine", PEAK * 0.01),
        ("one_cycle", PEAK / 25 / 1e3),
    ],
)
def test_the_decays_reach_their_floor_at_the_end_of_the_run(
    name, floor, warmup
):
    (last,) = _values(for_run(name, TOTAL, PEAK, warmup), [TOTAL])
    assert last == pytest.approx(floor, rel=1e-4)


def test_cosine_restarts_end_their_third_period_with_the_run():
    arguments = run_arguments("cosine_restarts", TOTAL, PEAK, WARMUP)
    periods = [arguments["first_decay_steps"] * 2**i for i in range(3)]
    assert sum(periods) == pytest.approx(TOTAL - WARMUP, abs=7)


def test_lengths_and_rates_follow_the_run():
    small = run_arguments("warmup_stable_decay", 100, 0.1, 10)
    large = run_arguments("warmup_stable_decay", 1000, 0.2, 100)
    assert (small["warmup_steps"], small["stable_steps"]) == (10, 72)
    assert (small["decay_steps"], small["final_learning_rate"]) == (18, 1e-3)
    assert large["decay_steps"] == 10 * small["decay_steps"]
    assert large["peak_learning_rate"] == 0.2
    # The constant: the peak itself, or a Warmup to it.
    assert for_run("constant", 10, 0.1) == 0.1
    assert type(for_run("constant", 10, 0.1, 2)) is schedules.Warmup


def test_tiny_runs_are_valid_schedules_or_refused_by_their_length():
    refused = []
    for name in NAMES:
        for total, warmup in [(1, 0), (2, 1), (3, 0), (5, 4), (8, 0)]:
            try:
                schedule = for_run(name, total, 0.1, warmup)
            except ValueError as error:
                assert "`total_steps`" in str(error), (name, total, error)
                refused.append((name, total))
                continue
            values = _values(schedule, range(10))
            assert np.all(np.isfinite(values)), (name, total, warmup)
    # One cycle needs a step in each of its two phases.
    assert {name for name, _ in refused} == {"one_cycle"}
    assert ("one_cycle", 8) not in refused


def test_overrides_replace_any_argument_by_name():
    cosine = for_run("cosine", TOTAL, PEAK, WARMUP, alpha=0.5)
    assert cosine.get_config()["alpha"] == 0.5
    assert cosine.get_config()["warmup_steps"] == WARMUP
    # Behind a Warmup, the override reaches the decay.
    decay = for_run("exponential", TOTAL, PEAK, WARMUP, decay_rate=0.25)
    assert decay.schedule.get_config()["decay_rate"] == 0.25
    assert for_run("constant", 10, 0.1, learning_rate=0.2) == 0.2
    one_cycle = run_arguments("one_cycle", 10, 0.1, pct_start=0.5)
    assert one_cycle["pct_start"] == 0.5


@pytest.mark.parametrize(
    "arguments, error, message",
    [
        (("cosine_annealing", 10, 0.1), ValueError, "name='cosine_annealing'"),
        (("cosine", 0, 0.1), ValueError, "`total_steps` must be >= 1"),
        (("cosine", 10.5, 0.1), TypeError, "`total_steps` must be an int"),
        (("cosine", "10", 0.1), TypeError, "`total_steps` must be an int"),
        (("cosine", True, 0.1), TypeError, "`total_steps` must be an int"),
        (("cosine", 10, 0.0), ValueError, "`peak_learning_rate` must be > 0"),
        (("cosine", 10, -1e-3), ValueError, "`peak_learning_rate` must be > 0"),
        (("cosine", 10, math.nan), ValueError, "`peak_learning_rate` must be"),
        (("cosine", 10, math.inf), ValueError, "`peak_learning_rate` must be"),
        (("cosine", 10, "0.1"), TypeError, "`peak_learning_rate` must be"),
        (("cosine", 10, 0.1, -1), ValueError, "`warmup_steps` must be >= 0"),
        (("cosine", 10, 0.1, 10), ValueError, "`warmup_steps` must be < tot"),
        (("cosine", 10, 0.1, 2.0), TypeError, "`warmup_steps` must be an int"),
    ],
)
def test_bad_run_arguments_are_refused_by_name(arguments, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(")):
        for_run(*arguments)


def test_an_unknown_override_is_named_with_the_valid_ones():
    with pytest.raises(ValueError) as caught:
        for_run("cosine", 10, 0.1, gamma=0.5)
    message = str(caught.value)
    assert "'cosine' has no argument 'gamma'" in message
    assert "'alpha'" in message and "Received: gamma=0.5" in message
    # An override out of range is refused by the schedule itself.
    with pytest.raises(ValueError, match="`alpha`"):
        for_run("cosine", 10, 0.1, alpha=-1.0)
    with pytest.raises(ValueError, match="`learning_rate` must be > 0"):
        for_run("constant", 10, 0.1, learning_rate=-0.1)
