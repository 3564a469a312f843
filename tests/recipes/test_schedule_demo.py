"""recipes/schedule_demo.py: every short name of the table, in a real fit."""

import importlib.util
import re
from pathlib import Path

from keras_lrtools.schedules import RUN_SIZES

DEMO = Path(__file__).parents[2] / "recipes" / "schedule_demo.py"


def test_every_schedule_is_shown_and_applied_by_the_optimizer(capsys):
    spec = importlib.util.spec_from_file_location("schedule_demo", DEMO)
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    assert demo.main(["--steps", "100", "--fit-updates", "12"]) == 0
    out = capsys.readouterr().out
    shown = re.findall(r"^RESULT schedule=(\S+) .* ok$", out, re.MULTILINE)
    assert shown == list(RUN_SIZES)
    for name in RUN_SIZES:
        assert re.search(rf"^{name} +\d", out, re.MULTILINE), name
