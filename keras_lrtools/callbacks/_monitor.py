"""Which way a monitored value should go, and what counts as better."""

import math

from keras_lrtools._validation import check_choice
from keras_lrtools._validation import check_float

MODES = ("auto", "min", "max")
MIN_DELTA_MODES = ("abs", "rel")
_MAX_SUFFIXES = ("accuracy", "acc", "auc", "precision", "recall")


def resolve_mode(monitor, mode):
    """Returns "min" or "max" for `monitor`; "auto" needs a known name."""
    if not isinstance(monitor, str) or not monitor:
        raise TypeError(
            "Argument `monitor` must be a non-empty string, the name of a "
            f"value in the epoch logs. Received: monitor={monitor!r}"
        )
    mode = check_choice("mode", mode, MODES)
    if mode != "auto":
        return mode
    if monitor.endswith("loss"):
        return "min"
    if monitor.endswith(_MAX_SUFFIXES):
        return "max"
    raise ValueError(
        f"Argument `mode='auto'` cannot tell whether `{monitor}` should go "
        "down or up (auto knows names ending in 'loss' and in "
        f"{list(_MAX_SUFFIXES)}); pass mode='min' or mode='max'. "
        f"Received: monitor={monitor!r}, mode='auto'"
    )


class Improvement:
    """The improvement test of a plateau callback.

    ```
    min, abs: current < best - min_delta
    min, rel: current < best * (1 - min_delta)
    max, abs: current > best + min_delta
    max, rel: current > best * (1 + min_delta)
    ```

    A NaN value never counts as an improvement.
    """

    def __init__(self, mode, min_delta, min_delta_mode):
        self.mode = mode
        self.min_delta_mode = check_choice(
            "min_delta_mode", min_delta_mode, MIN_DELTA_MODES
        )
        high = 1.0 if self.min_delta_mode == "rel" else None
        self.min_delta = check_float("min_delta", min_delta, low=0.0, high=high)

    @property
    def worst(self):
        return math.inf if self.mode == "min" else -math.inf

    def __call__(self, current, best):
        if math.isnan(current):
            return False
        if self.mode == "min":
            if self.min_delta_mode == "abs":
                return current < best - self.min_delta
            return current < best * (1.0 - self.min_delta)
        if self.min_delta_mode == "abs":
            return current > best + self.min_delta
        return current > best * (1.0 + self.min_delta)
