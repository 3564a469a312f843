"""Linear cosine decay and its noisy variant (Bello et al., 2017).

TF1's `linear_cosine_decay` and `noisy_linear_cosine_decay`.
"""

import math
import random

from keras import ops

from keras_lrtools._validation import check_float
from keras_lrtools._validation import check_int
from keras_lrtools._validation import check_learning_rate
from keras_lrtools._validation import check_step_count
from keras_lrtools.schedules._common import REGISTER
from keras_lrtools.schedules._common import LearningRateSchedule
from keras_lrtools.schedules._common import as_float_step
from keras_lrtools.schedules._common import as_step

_MAX_SEED = 2**32 - 1


@REGISTER
class LinearCosineDecay(LearningRateSchedule):
    """Linear cosine decay, TF1 `tf.train.linear_cosine_decay`.

    A cosine (of `num_periods` periods) multiplied by a linear decay, as
    proposed for neural optimizer search. Keras 3 has no equivalent.

    Formula (t = optimizer step, D = decay_steps, I =
    initial_learning_rate):

    ```
    t'     = min(t, D)
    linear = (D - t') / D
    cosine = (1 + cos(2 * pi * num_periods * t' / D)) / 2
    lr(t)  = I * ((alpha + linear) * cosine + beta)
    ```

    With the default `beta=0.001` the LR ends at `I * beta`, not 0.

    Args:
        initial_learning_rate: Float >= 0. LR at step 0 is
            `initial_learning_rate * (1 + alpha + beta)`.
        decay_steps: Int > 0. Updates to the end of the decay.
        num_periods: Float >= 0. Number of cosine periods in the decay.
            Default 0.5.
        alpha: Float >= 0. Added to the linear part. Default 0.
        beta: Float >= 0. Floor, as a fraction of `initial_learning_rate`.
            Default 0.001.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is outside the range given above.

    Example:
    >>> schedule = LinearCosineDecay(0.1, decay_steps=100)
    >>> [round(float(schedule(s)), 5) for s in (0, 50, 100)]
    [0.1001, 0.0251, 0.0001]

    References:
        Bello et al., Neural Optimizer Search with Reinforcement Learning,
        2017, https://arxiv.org/abs/1709.07417
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        num_periods=0.5,
        alpha=0.0,
        beta=0.001,
        name="LinearCosineDecay",
    ):
        self.initial_learning_rate = check_learning_rate(
            "initial_learning_rate", initial_learning_rate
        )
        self.decay_steps = check_step_count("decay_steps", decay_steps)
        self.num_periods = check_float("num_periods", num_periods, low=0.0)
        self.alpha = check_float("alpha", alpha, low=0.0)
        self.beta = check_float("beta", beta, low=0.0)
        self.name = name

    def _decay(self, step, linear_noise):
        clipped = ops.minimum(as_float_step(step), float(self.decay_steps))
        decay_steps = float(self.decay_steps)
        linear = (decay_steps - clipped) / decay_steps
        cosine = 0.5 * (
            1.0
            + ops.cos(2.0 * math.pi * self.num_periods * clipped / decay_steps)
        )
        return self.initial_learning_rate * (
            (self.alpha + linear + linear_noise) * cosine + self.beta
        )

    def __call__(self, step):
        return self._decay(as_step(step), 0.0)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "num_periods": self.num_periods,
            "alpha": self.alpha,
            "beta": self.beta,
            "name": self.name,
        }


@REGISTER
class NoisyLinearCosineDecay(LinearCosineDecay):
    """Noisy linear cosine decay, TF1 `noisy_linear_cosine_decay`.

    `LinearCosineDecay` with Gaussian noise of decaying variance added to
    the linear part. Unlike TF1, which draws new noise on every call, the
    noise here is a pure function of `(seed, step)`: the same step gives
    the same LR in every call, run and resumed run, on every backend and
    under jit. It comes from a counter-based hash (two rounds of the
    `lowbias32` integer mixer) and the Box-Muller transform.

    Formula (t = optimizer step, D = decay_steps, I =
    initial_learning_rate):

    ```
    t'     = min(t, D)
    linear = (D - t') / D
    eps_t  = sqrt(initial_variance / (1 + t') ** variance_decay) * z(seed, t)
    cosine = (1 + cos(2 * pi * num_periods * t' / D)) / 2
    lr(t)  = I * ((alpha + linear + eps_t) * cosine + beta)
    ```

    where z(seed, t) is a standard normal deviate determined by the seed
    and the step (the step taken modulo 2 ** 32).

    Args:
        initial_learning_rate: Float >= 0. Scale of the LR.
        decay_steps: Int > 0. Updates to the end of the decay.
        initial_variance: Float >= 0. Noise variance at step 0. Default 1.
        variance_decay: Float >= 0. Decay exponent of the variance.
            Default 0.55.
        num_periods: Float >= 0. Number of cosine periods. Default 0.5.
        alpha: Float >= 0. Added to the linear part. Default 0.
        beta: Float >= 0. Floor, as a fraction of `initial_learning_rate`.
            Default 0.001.
        seed: Optional int in [0, 2 ** 32 - 1]. If None, one is drawn at
            construction and kept in the config, so a saved schedule
            reloads with the same noise.
        name: Optional string used as the ops name scope.

    Raises:
        TypeError: if an argument has the wrong type.
        ValueError: if an argument is outside the range given above.

    Example:
    >>> schedule = NoisyLinearCosineDecay(0.1, decay_steps=100, seed=7)
    >>> float(schedule(42)) == float(schedule(42))
    True
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        initial_variance=1.0,
        variance_decay=0.55,
        num_periods=0.5,
        alpha=0.0,
        beta=0.001,
        seed=None,
        name="NoisyLinearCosineDecay",
    ):
        super().__init__(
            initial_learning_rate,
            decay_steps,
            num_periods=num_periods,
            alpha=alpha,
            beta=beta,
            name=name,
        )
        self.initial_variance = check_float(
            "initial_variance", initial_variance, low=0.0
        )
        self.variance_decay = check_float(
            "variance_decay", variance_decay, low=0.0
        )
        if seed is None:
            seed = random.SystemRandom().randrange(_MAX_SEED + 1)
        self.seed = check_int("seed", seed, minimum=0)
        if self.seed > _MAX_SEED:
            raise ValueError(
                f"Argument `seed` must be <= {_MAX_SEED}. "
                f"Received: seed={seed!r}"
            )

    def __call__(self, step):
        step = as_step(step)
        clipped = ops.minimum(as_float_step(step), float(self.decay_steps))
        variance = self.initial_variance / ops.power(
            1.0 + clipped, self.variance_decay
        )
        noise = ops.sqrt(variance) * standard_normal(self.seed, step)
        return self._decay(step, noise)

    def get_config(self):
        config = super().get_config()
        config.update(
            initial_variance=self.initial_variance,
            variance_decay=self.variance_decay,
            seed=self.seed,
        )
        return config


def _to_int32(value):
    """A 32-bit pattern (Python int) as the signed int32 it encodes."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= (1 << 31) else value


def _lowbias32_python(x):
    """Chris Wellons' lowbias32 mixer on Python ints (for the seed keys)."""
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def _logical_right_shift(x, bits):
    return ops.bitwise_and(ops.right_shift(x, bits), (1 << (32 - bits)) - 1)


def _lowbias32(x):
    """Chris Wellons' lowbias32 mixer on int32 tensors.

    The products wrap modulo 2 ** 32 on every backend, as the mixer needs.
    """
    x = ops.bitwise_xor(x, _logical_right_shift(x, 16))
    x = ops.multiply(x, ops.convert_to_tensor(_to_int32(0x7FEB352D), "int32"))
    x = ops.bitwise_xor(x, _logical_right_shift(x, 15))
    x = ops.multiply(x, ops.convert_to_tensor(_to_int32(0x846CA68B), "int32"))
    return ops.bitwise_xor(x, _logical_right_shift(x, 16))


def _uniform(seed, stream, step):
    """A uniform deviate in [0, 1) with 24 random bits.

    A pure function of (seed, stream, step).
    """
    key = _lowbias32_python(seed ^ _lowbias32_python(0x9E3779B9 * stream + 1))
    x = ops.bitwise_xor(ops.cast(step, "int32"), _to_int32(key))
    x = _lowbias32(ops.add(_lowbias32(x), _to_int32(key * 0x85EBCA6B)))
    return ops.cast(_logical_right_shift(x, 8), "float32") * (2.0**-24)


def standard_normal(seed, step):
    """A standard normal deviate, a pure function of (seed, step)."""
    step = ops.convert_to_tensor(step)
    if "float" in str(step.dtype):
        step = ops.floor(step)
    u1 = _uniform(seed, 0, step)
    u2 = _uniform(seed, 1, step)
    radius = ops.sqrt(-2.0 * ops.log(1.0 - u1))
    return radius * ops.cos(2.0 * math.pi * u2)
