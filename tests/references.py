"""Independent reference implementations, in plain Python floats.

Written from the formulas (TF1's docs, PyTorch's and optax's definitions),
not from our code, and where possible in another form: restarts walk
period by period instead of using the closed-form logarithm, piecewise
scans the intervals, the warmup wrappers call these references for the
inner schedule.
"""

import math


def exponential(t, initial, decay_steps, rate, staircase=False):
    p = t // decay_steps if staircase else t / decay_steps
    return initial * rate**p


def natural_exp(t, initial, decay_steps, k, staircase=False):
    p = t // decay_steps if staircase else t / decay_steps
    return initial * math.exp(-k * p)


def inverse_time(t, initial, decay_steps, k, staircase=False):
    p = t // decay_steps if staircase else t / decay_steps
    return initial / (1.0 + k * p)


def piecewise(t, boundaries, values):
    for boundary, value in zip(boundaries, values[:-1], strict=True):
        if t <= boundary:
            return value
    return values[-1]


def polynomial(t, initial, decay_steps, end=1e-4, power=1.0, cycle=False):
    if cycle:
        periods = max(1, math.ceil(t / decay_steps))
        horizon = decay_steps * periods
    else:
        t = min(t, decay_steps)
        horizon = decay_steps
    return (initial - end) * (1.0 - t / horizon) ** power + end


def cosine(
    t, initial, decay_steps, alpha=0.0, warmup_target=None, warmup_steps=0
):
    if warmup_target is None:
        peak = initial
    else:
        peak = warmup_target
        if t < warmup_steps:
            return initial + (warmup_target - initial) * t / warmup_steps
    s = min(t - warmup_steps, decay_steps) / decay_steps
    return peak * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s)) + alpha)


def cosine_restarts(t, initial, first, t_mul=2.0, m_mul=1.0, alpha=0.0):
    # Walk the periods one by one (equal periods: jump there at once).
    start, length, peak = 0.0, float(first), 1.0
    if t_mul == 1.0:
        completed = t // first
        start, peak = float(completed * first), m_mul**completed
    while t >= start + length:
        start += length
        length *= t_mul
        peak *= m_mul
    g = (t - start) / length
    return initial * (
        (1 - alpha) * peak * 0.5 * (1 + math.cos(math.pi * g)) + alpha
    )


def linear_cosine(
    t, initial, decay_steps, num_periods=0.5, alpha=0.0, beta=0.001, eps=0.0
):
    t = min(t, decay_steps)
    linear = (decay_steps - t) / decay_steps
    cos = 0.5 * (1 + math.cos(2 * math.pi * num_periods * t / decay_steps))
    return initial * ((alpha + linear + eps) * cos + beta)


def cyclical(t, low, high, up, down=None, mode="triangular", gamma=1.0):
    # A triangle wave written as "distance along the current ramp".
    down = up if down is None else down
    index, position = divmod(t, up + down)
    if position <= up:
        scale = position / up
    else:
        scale = 1.0 - (position - up) / down
    if mode == "triangular":
        amplitude = 1.0
    elif mode == "triangular2":
        amplitude = 0.5**index
    else:
        amplitude = gamma**t
    return low + (high - low) * scale * amplitude


def warmup_ramp(shape, start, end, fraction):
    if shape == "linear":
        return start + (end - start) * fraction
    if shape == "exponential":
        return start * (end / start) ** fraction
    if shape == "cosine":
        return start + (end - start) * (1 - math.cos(math.pi * fraction)) / 2
    raise ValueError(shape)


def warmup(t, inner, warmup_steps, initial=0.0, shape="linear"):
    """`inner` is a Python function of the step."""
    if t < warmup_steps:
        return warmup_ramp(shape, initial, inner(0), t / warmup_steps)
    return inner(t - warmup_steps)


def sequential(t, pieces, boundaries):
    """`pieces` are Python functions of the step."""
    begin = 0
    for piece, boundary in zip(pieces[:-1], boundaries, strict=True):
        if t < boundary:
            return piece(t - begin)
        begin = boundary
    return pieces[-1](t - begin)


def warmup_stable_decay(
    t, peak, warmup, stable, decay, initial=0.0, final=0.0, shape="linear"
):
    if t < warmup:
        return initial + (peak - initial) * t / warmup
    if t < warmup + stable:
        return peak
    p = min((t - warmup - stable) / decay, 1.0)
    factor = {
        "linear": 1 - p,
        "cosine": 0.5 * (1 + math.cos(math.pi * p)),
        "1-sqrt": 1 - math.sqrt(p),
    }[shape]
    return final + (peak - final) * factor


def inverse_sqrt(t, peak, warmup):
    if t < warmup:
        return peak * t / warmup
    return peak / math.sqrt(t / warmup)


def adam_effective(lr, k, beta_1=0.9, beta_2=0.999):
    # Written as Kingma & Ba's alpha_t with 1-based t.
    t = k + 1
    return lr * (1 - beta_2**t) ** 0.5 / (1 - beta_1**t)


def adamax_effective(lr, k, beta_1=0.9):
    # Adamax's step divides m_t by (1 - beta_1^t) only (Kingma & Ba, 7.1).
    return lr / (1 - beta_1 ** (k + 1))


def nadam_effective(lr, k, beta_1=0.9, beta_2=0.999):
    # Keras's Nadam (Dozat's momentum schedule mu_i), for a steady gradient
    # g: m_t = (1 - beta_1^t) g, so m_hat_t / m_t collects both terms.
    t = k + 1
    mu = [beta_1 * (1 - 0.5 * 0.96**i) for i in range(1, t + 2)]
    product_t = math.prod(mu[:t])
    product_next = product_t * mu[t]
    m_hat_over_m = mu[t] / (1 - product_next) + (1 - mu[t - 1]) / (
        (1 - product_t) * (1 - beta_1**t)
    )
    return lr * math.sqrt(1 - beta_2**t) * m_hat_over_m


def one_cycle(t, peak, total, pct_start=0.3, div=25.0, final_div=1e4):
    # PyTorch's OneCycleLR, two phases, cosine annealing.
    initial = peak / div
    rise_end = pct_start * total - 1
    t = min(t, total - 1)
    if t <= rise_end:
        start, end, fraction = initial, peak, t / rise_end
    else:
        start, end = peak, initial / final_div
        fraction = (t - rise_end) / (total - 1 - rise_end)
    return end + (start - end) / 2 * (1 + math.cos(math.pi * fraction))
