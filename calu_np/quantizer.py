"""Neural quantizer: a weight as the expected value of a softmax over a finite set Q.

For one weight with logits N̂_n (one per element q_n of Q):

    P_n = softmax_n(N̂),    N = Σ_n q_n P_n.

Q may hold real or complex values; the logits are always real.
"""

import numpy as np

from .stable import softmax


def quantizer_forward(logits, q):
    """Compute N = Σ_n q_n softmax_n(logits).

    logits: real array of shape (..., len(q)). q: complex array of shape (len(q),).
    Returns N (complex, shape (...)) and the cache for `quantizer_backward`.
    """
    P = softmax(logits)
    N = P @ q
    return N, (P, N, q)


def quantizer_backward(G_N, cache):
    """Return dL/dN̂ given G_N = ∂L/∂N̄.

    ∂N/∂N̂_n = P_n (q_n − N). The logits are real, so by the chain rule for a real parameter the
    gradient is dL/dN̂_n = 2 Re(conj(G_N) · P_n (q_n − N)).
    """
    P, N, q = cache
    dN_dlogits = P * (q - N[..., None])
    return 2.0 * np.real(np.conj(G_N)[..., None] * dN_dlogits)


def quantizer_probabilities(logits):
    """Return P = softmax(logits) over the last axis."""
    return softmax(logits)
