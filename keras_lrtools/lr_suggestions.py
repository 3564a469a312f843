"""Rules that suggest a learning rate from an LR range test's curve.

Each is a pure function `(learning_rates, losses) -> float` of the rates
swept (increasing) and the (smoothed) losses recorded at them, with NaN
and infinite losses already cut off. Written from fastai's and Lightning's
descriptions.
"""

import numpy as np


def _clean(learning_rates, losses):
    learning_rates = np.asarray(learning_rates, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64)
    if learning_rates.shape != losses.shape or learning_rates.ndim != 1:
        raise ValueError(
            "`learning_rates` and `losses` must be 1-D and of the same "
            f"length. Received lengths {learning_rates.shape} and "
            f"{losses.shape}"
        )
    finite = np.isfinite(losses)
    if not finite.all():
        end = int(np.argmin(finite))  # stop at the first NaN or inf
        learning_rates, losses = learning_rates[:end], losses[:end]
    if len(losses) < 3:
        raise ValueError(
            "A suggestion needs at least 3 finite losses; the sweep gave "
            f"{len(losses)}. Sweep more steps or a narrower range."
        )
    return learning_rates, losses


def steepest_descent(learning_rates, losses):
    """The rate where the loss falls fastest against log10(rate).

    ```
    k* = argmin_k d loss / d log10(lr)   (central differences)
    ```
    fastai's `steep`; Lightning uses the slope against the rate itself.
    """
    learning_rates, losses = _clean(learning_rates, losses)
    slopes = np.gradient(losses, np.log10(learning_rates))
    return float(learning_rates[int(np.argmin(slopes))])


def minimum_divided_by_10(learning_rates, losses):
    """A tenth of the rate of the lowest loss: lr[argmin(loss)] / 10.

    fastai's `minimum`: the lowest point is already close to divergence.
    """
    learning_rates, losses = _clean(learning_rates, losses)
    return float(learning_rates[int(np.argmin(losses))] / 10.0)


def valley(learning_rates, losses):
    """The middle of the longest stretch over which the loss falls.

    The stretch ends where the longest strictly decreasing subsequence of
    the losses ends, and is as long as that subsequence; the rate suggested
    lies halfway along it, where the loss is falling but far from the edge
    of divergence (fastai's default rule).

    ```
    L[i] = 1 + max(L[j] for j < i with loss[j] > loss[i]), or 1
    e = argmax(L), b = e - L[e] + 1, k* = b + (e - b) // 2
    ```
    """
    learning_rates, losses = _clean(learning_rates, losses)
    count = len(losses)
    length = np.ones(count, dtype=int)
    for i in range(1, count):
        earlier = length[:i][losses[:i] > losses[i]]
        if len(earlier):
            length[i] = earlier.max() + 1
    end = int(np.argmax(length))
    begin = end - int(length[end]) + 1
    return float(learning_rates[begin + (end - begin) // 2])


def descent_midpoint(learning_rates, losses):
    """The geometric middle of the descent.

    From where the loss has done a quarter of its fall to its lowest point.

    ```
    m = argmin(loss)
    b = last k <= m with loss[k] >= loss[0] - 0.25 * (loss[0] - loss[m])
    lr* = sqrt(lr[b] * lr[m])
    ```
    Unlike `steepest_descent` it does not follow the noise of single
    batches near the edge, and unlike `minimum_divided_by_10` it does not
    fall back to rates too small to train when the minimum sits just
    before a collapse.
    """
    learning_rates, losses = _clean(learning_rates, losses)
    lowest = int(np.argmin(losses))
    threshold = losses[0] - 0.25 * (losses[0] - losses[lowest])
    falling_from = np.flatnonzero(losses[: lowest + 1] >= threshold)
    begin = int(falling_from[-1]) if len(falling_from) else 0
    return float(np.sqrt(learning_rates[begin] * learning_rates[lowest]))


RULES = {
    "descent_midpoint": descent_midpoint,
    "valley": valley,
    "steepest_descent": steepest_descent,
    "minimum_divided_by_10": minimum_divided_by_10,
}
