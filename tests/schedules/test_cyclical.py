import numpy as np
import pytest

from keras_lrtools.schedules import CyclicalLearningRate
from tests import references
from tests.schedules.helpers import STEP_KINDS
from tests.schedules.helpers import evaluate
from tests.torch_oracles import torch_learning_rates

CASES = [
    dict(mode="triangular", step_size=5, step_size_down=None, gamma=1.0),
    dict(mode="triangular2", step_size=5, step_size_down=None, gamma=1.0),
    dict(mode="exp_range", step_size=4, step_size_down=None, gamma=0.97),
    dict(mode="triangular", step_size=3, step_size_down=7, gamma=1.0),
    dict(mode="triangular2", step_size=6, step_size_down=2, gamma=1.0),
    dict(mode="exp_range", step_size=2, step_size_down=5, gamma=0.9),
]
IDS = ["tri", "tri2", "exp", "tri-asym", "tri2-asym", "exp-asym"]
STEPS = 60


def _schedule(case):
    return CyclicalLearningRate(0.001, 0.01, **case)


@pytest.mark.parametrize("kind", STEP_KINDS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cyclical_matches_torch_cyclic_lr(kind, case):
    import torch

    down = case["step_size_down"]
    want = torch_learning_rates(
        lambda optimizer: torch.optim.lr_scheduler.CyclicLR(
            optimizer,
            base_lr=0.001,
            max_lr=0.01,
            step_size_up=case["step_size"],
            step_size_down=down,
            mode=case["mode"],
            gamma=case["gamma"],
            cycle_momentum=False,
        ),
        STEPS,
    )
    got = evaluate(_schedule(case), range(STEPS), kind)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_cyclical_matches_triangle_wave_reference_far_out(case):
    schedule = _schedule(case)
    for step in (10**6, 10**6 + 1, 10**9, 10**9 + 2):
        want = references.cyclical(
            step,
            0.001,
            0.01,
            case["step_size"],
            case["step_size_down"],
            case["mode"],
            case["gamma"],
        )
        got = float(schedule(step))
        assert np.isfinite(got)
        assert got == pytest.approx(want, rel=1e-4, abs=1e-9)


def test_cyclical_survives_a_save_and_reload_unlike_tensorflow_addons():
    import json

    import keras

    schedule = CyclicalLearningRate(
        0.001, 0.01, 4, mode="exp_range", gamma=0.99
    )
    text = json.dumps(keras.saving.serialize_keras_object(schedule))
    restored = keras.saving.deserialize_keras_object(json.loads(text))
    assert restored.get_config() == schedule.get_config()
    assert float(restored(13)) == float(schedule(13))
