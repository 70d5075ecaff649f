"""Losses. The network's output is complex and targets are real or complex."""

import numpy as np


def mse_forward(y, t):
    """Compute L = mean |y − t|² over every element. Returns L and the cache for `mse_backward`."""
    r = y - t
    return float(np.mean(np.real(r * np.conj(r)))), r


def mse_backward(r):
    """Return G_y = ∂L/∂ȳ = (y − t) / size for L = mean |y − t|².

    |r|² = r r̄, so ∂|r|²/∂r̄ = r; a leftover imaginary part of y is penalised like a real error.
    """
    return r / r.size


def mse(y, t):
    """Return mean |y − t|² as a float."""
    return mse_forward(y, t)[0]
