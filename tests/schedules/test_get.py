import pytest

from keras_lrtools import schedules

# Every short name's arguments, sized by the one table (keras_lrtools
# .schedules.RUN_SIZES) for a 100-update run.
EXAMPLE_ARGUMENTS = {
    name: schedules.run_arguments(name, 100, 0.1, 10)
    for name in schedules.SCHEDULES_BY_NAME
}


def test_every_short_name_of_the_issue_is_known():
    assert set(schedules.SCHEDULES_BY_NAME) == {
        "exponential",
        "natural",
        "inverse_time",
        "piecewise",
        "polynomial",
        "cosine",
        "cosine_restarts",
        "linear_cosine",
        "noisy_linear_cosine",
        "cyclical",
        "one_cycle",
        "warmup_stable_decay",
        "inverse_sqrt",
    }


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
