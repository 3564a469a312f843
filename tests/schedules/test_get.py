import pytest

from keras_lrtools import schedules

EXAMPLE_ARGUMENTS = {
    "exponential": dict(
        initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5
    ),
    "natural": dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5),
    "inverse_time": dict(
        initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5
    ),
    "piecewise": dict(boundaries=[5], values=[0.1, 0.01]),
    "polynomial": dict(initial_learning_rate=0.1, decay_steps=10),
    "cosine": dict(initial_learning_rate=0.1, decay_steps=10),
    "cosine_restarts": dict(initial_learning_rate=0.1, first_decay_steps=10),
    "linear_cosine": dict(initial_learning_rate=0.1, decay_steps=10),
    "noisy_linear_cosine": dict(
        initial_learning_rate=0.1, decay_steps=10, seed=1
    ),
    "cyclical": dict(
        initial_learning_rate=0.01, maximal_learning_rate=0.1, step_size=5
    ),
    "one_cycle": dict(maximal_learning_rate=0.1, total_steps=100),
    "warmup_stable_decay": dict(
        peak_learning_rate=0.1, warmup_steps=5, stable_steps=10, decay_steps=5
    ),
    "inverse_sqrt": dict(peak_learning_rate=0.1, warmup_steps=10),
}


def test_every_short_name_of_the_issue_is_known():
    assert set(schedules.SCHEDULES_BY_NAME) == set(EXAMPLE_ARGUMENTS)


@pytest.mark.parametrize("name", sorted(EXAMPLE_ARGUMENTS))
def test_get_builds_the_named_schedule(name):
    schedule = schedules.get(name, **EXAMPLE_ARGUMENTS[name])
    assert type(schedule) is schedules.SCHEDULES_BY_NAME[name]
    assert (
        schedule.get_config().items()
        >= {
            k: v
            for k, v in EXAMPLE_ARGUMENTS[name].items()
            if not isinstance(v, list)
        }.items()
    )


def test_unknown_name_lists_the_valid_names():
    with pytest.raises(ValueError) as error:
        schedules.get("cosine_annealing", initial_learning_rate=0.1)
    message = str(error.value)
    assert "Received: name='cosine_annealing'" in message
    for name in EXAMPLE_ARGUMENTS:
        assert repr(name) in message


def test_name_must_be_a_string():
    with pytest.raises(TypeError, match=r"`name` must be a string"):
        schedules.get(3)
