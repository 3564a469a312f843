"""Learning-rate schedules for Keras 3 optimizers.

Every class is a `keras.optimizers.schedules.LearningRateSchedule`, built
with `keras.ops` only (tensorflow, jax and torch backends, inside compiled
train steps), validated at construction and registered under
`keras_lrtools`, so models saved with them load back without
`custom_objects`.

    >>> import keras
    >>> from keras_lrtools.schedules import PolynomialDecay
    >>> optimizer = keras.optimizers.Adam(PolynomialDecay(0.01, 1000))

`for_run` sizes any of them by its short name for a run (length, peak,
warmup); `get` builds one from its short name and its own arguments.
"""

from keras_lrtools._validation import check_choice
from keras_lrtools.schedules.adam import adam_effective_learning_rate
from keras_lrtools.schedules.cosine import CosineDecay
from keras_lrtools.schedules.cosine import CosineDecayRestarts
from keras_lrtools.schedules.cyclical import CyclicalLearningRate
from keras_lrtools.schedules.exponential import ExponentialDecay
from keras_lrtools.schedules.exponential import NaturalExpDecay
from keras_lrtools.schedules.inverse_sqrt import InverseSqrtDecay
from keras_lrtools.schedules.inverse_time import InverseTimeDecay
from keras_lrtools.schedules.linear_cosine import LinearCosineDecay
from keras_lrtools.schedules.linear_cosine import NoisyLinearCosineDecay
from keras_lrtools.schedules.one_cycle import OneCycle
from keras_lrtools.schedules.piecewise import PiecewiseConstantDecay
from keras_lrtools.schedules.polynomial import PolynomialDecay
from keras_lrtools.schedules.scaled import ScaledSchedule
from keras_lrtools.schedules.sequential import SequentialSchedule
from keras_lrtools.schedules.sizing import RUN_SIZES
from keras_lrtools.schedules.sizing import SCHEDULES_BY_NAME
from keras_lrtools.schedules.sizing import for_run
from keras_lrtools.schedules.sizing import run_arguments
from keras_lrtools.schedules.warmup import Warmup
from keras_lrtools.schedules.warmup_stable_decay import WarmupStableDecay


def get(name, **kwargs):
    """Builds a schedule from its short name and constructor arguments.

    Args:
        name: A key of `SCHEDULES_BY_NAME` (the short names of
            `RUN_SIZES` but "constant").
        **kwargs: The arguments of that class's constructor.

    Returns:
        The schedule.

    Raises:
        ValueError: if `name` is unknown (the message lists the valid
            names), or an argument is out of range.
        TypeError: if `name` is not a string, or the arguments do not fit
            the class.

    Example:
    >>> schedule = get("natural", initial_learning_rate=0.1,
    ...                decay_steps=10, decay_rate=0.5)
    >>> type(schedule).__name__
    'NaturalExpDecay'
    """
    name = check_choice("name", name, tuple(SCHEDULES_BY_NAME))
    return SCHEDULES_BY_NAME[name](**kwargs)


__all__ = [
    "RUN_SIZES",
    "SCHEDULES_BY_NAME",
    "CosineDecay",
    "CosineDecayRestarts",
    "CyclicalLearningRate",
    "ExponentialDecay",
    "InverseSqrtDecay",
    "InverseTimeDecay",
    "LinearCosineDecay",
    "NaturalExpDecay",
    "NoisyLinearCosineDecay",
    "OneCycle",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "ScaledSchedule",
    "SequentialSchedule",
    "Warmup",
    "WarmupStableDecay",
    "adam_effective_learning_rate",
    "for_run",
    "get",
    "run_arguments",
]
