"""Softmax cross-entropy for a classifier head, with the project's gradient convention.

For real logits z of shape (batch, n_classes) and integer labels c of shape (batch,):

    L = (1/B) Σ_b [logsumexp(z_b) − z_b,c_b]

Logits are real, so the carried gradient is G_z = ∂L/∂z̄ = ½ dL/dz.
"""

import numpy as np

from .stable import logsumexp, softmax


def softmax_cross_entropy_forward(z, labels):
    """Compute the mean cross-entropy L of softmax(z) against `labels`.

    Returns L (a float) and the cache for `softmax_cross_entropy_backward`. Raises ValueError
    for logits that are not a 2-d real array or labels outside [0, n_classes).
    """
    z = np.asarray(z)
    labels = np.asarray(labels)
    if z.ndim != 2 or np.iscomplexobj(z):
        raise ValueError(f"logits must be a real array of shape (batch, n_classes), got {z.dtype} {z.shape}")
    if labels.shape != (z.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers of shape ({z.shape[0]},), got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= z.shape[1]):
        raise ValueError(f"labels must lie in [0, {z.shape[1]}), got values from {labels.min()} to {labels.max()}")

    rows = np.arange(z.shape[0])
    loss = float(np.mean(logsumexp(z) - z[rows, labels]))
    return loss, (z, labels)


def softmax_cross_entropy_backward(cache):
    """Return G_z = ∂L/∂z̄ = ½ dL/dz for the mean softmax cross-entropy.

    dL/dz_bn = (softmax(z_b)_n − [n = c_b]) / B. The logits are real, so G_z is half of that
    and real.
    """
    z, labels = cache
    P = softmax(z)
    P[np.arange(z.shape[0]), labels] -= 1.0
    return 0.5 * P / z.shape[0]


def real_part_forward(z):
    """Compute r = Re z, the bridge from a complex CALU output to a real layer."""
    return np.real(z).copy(), None


def real_part_backward(G_r, cache=None):
    """Return G_z given G_r = ∂L/∂r̄ = ½ dL/dr for r = Re z.

    L depends on z only through Re z, so ∂L/∂Re z = dL/dr and ∂L/∂Im z = 0, and
    G_z = ½(∂L/∂Re z + i ∂L/∂Im z) = ½ dL/dr = G_r: the gradient passes unchanged, as a complex
    number with a zero imaginary part.
    """
    return np.asarray(G_r, dtype=np.complex128)
