"""Unit phasor W = exp(iπ σ(θ)): a trainable sign that moves between +1 (θ → −∞) and −1 (θ → +∞)."""

import numpy as np

from .stable import sigmoid


def phasor_forward(theta):
    """Compute W = exp(iπ σ(θ)) elementwise. Returns W and the cache for `phasor_backward`."""
    s = sigmoid(theta)
    W = np.exp(1j * np.pi * s)
    return W, (s, W)


def phasor_backward(G_W, cache):
    """Return dL/dθ given G_W = ∂L/∂W̄.

    dW/dθ = iπ σ(θ)(1 − σ(θ)) W, so dL/dθ = 2 Re(conj(G_W) · iπ σ(1 − σ) W).
    """
    s, W = cache
    dW_dtheta = 1j * np.pi * s * (1.0 - s) * W
    return 2.0 * np.real(np.conj(G_W) * dW_dtheta)


def nearest_sign(theta):
    """Snap each phasor to the nearer of +1 and −1: −1 where σ(θ) > ½, that is θ > 0."""
    return np.where(theta > 0, -1.0 + 0j, 1.0 + 0j)
