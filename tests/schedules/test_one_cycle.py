import numpy as np
import pytest

from keras_lrtools.schedules import OneCycle
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import evaluate
from tests.torch_oracles import torch_learning_rates

CASES = [
    dict(total_steps=50, pct_start=0.3, anneal="cos", three_phase=False),
    dict(total_steps=50, pct_start=0.3, anneal="linear", three_phase=False),
    dict(total_steps=50, pct_start=0.25, anneal="cos", three_phase=True),
    dict(total_steps=41, pct_start=0.37, anneal="linear", three_phase=True),
    dict(
        total_steps=33,
        pct_start=0.5,
        anneal="cos",
        three_phase=False,
        div_factor=10.0,
        final_div_factor=100.0,
    ),
]
IDS = ["cos", "linear", "cos-3", "linear-3-odd", "cos-divs"]


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_one_cycle_matches_torch_one_cycle_lr(kind, case):
    import torch

    case = dict(case)
    total = case["total_steps"]
    want = torch_learning_rates(
        lambda optimizer: torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=0.2,
            total_steps=total,
            pct_start=case["pct_start"],
            anneal_strategy=case["anneal"],
            three_phase=case["three_phase"],
            div_factor=case.get("div_factor", 25.0),
            final_div_factor=case.get("final_div_factor", 1e4),
            cycle_momentum=False,
        ),
        total,
    )
    got = evaluate(OneCycle(0.2, **case), range(total), kind)
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_one_cycle_holds_the_final_rate_past_the_horizon(case):
    schedule = OneCycle(0.2, **case)
    total = case["total_steps"]
    final = (
        0.2 / case.get("div_factor", 25.0) / case.get("final_div_factor", 1e4)
    )
    for step in (total - 1, total, total + 1, total + 1000, 10**9):
        assert float(schedule(step)) == pytest.approx(final, rel=1e-5)


def test_one_cycle_peaks_at_the_end_of_the_rise():
    schedule = OneCycle(0.2, total_steps=100, pct_start=0.3)
    values = evaluate(schedule, range(100))
    assert int(np.argmax(values)) == 29
    assert values[29] == pytest.approx(0.2)
