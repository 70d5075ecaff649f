"""Regularization potential that pulls each neural quantizer onto one element of Q.

For one weight with probabilities P_n = softmax_n(N̂) and expected value N = Σ_n q_n P_n:

    R = −Σ_n |N − q_n| log(1 − P_n)

Each term is ≥ 0 because log(1 − P_n) ≤ 0, and R = 0 exactly when P is one-hot: then the one
q_n with P_n = 1 has |N − q_n| = 0 and every other term has log(1 − 0) = 0. The talk prints
the potential with the opposite sign, which would push weights away from Q when minimised.
"""

import numpy as np

from .stable import log_one_minus_softmax, softmax


def regularizer_forward(logits, q):
    """Compute R summed over all weights. logits: (..., len(q)) real; q: (len(q),) complex.

    Returns the scalar R and the cache for `regularizer_backward`.
    """
    P = softmax(logits)
    N = P @ q
    u = N[..., None] - q
    d = np.abs(u)
    ell = log_one_minus_softmax(logits)
    # d_n = 0 exactly where ell_n = −inf can only happen at a one-hot P, whose term is 0.
    terms = np.where(d == 0.0, 0.0, -d * ell)
    return float(np.sum(terms)), (logits, P, N, u, d, ell, q)


def regularizer_backward(cache):
    """Return dR/dN̂ with the same shape as the logits.

    With d_n = |N − q_n| and ℓ_n = log(1 − P_n), R = −Σ_n d_n ℓ_n and

        ∂N/∂N̂_m   = P_m (q_m − N)
        ∂d_n/∂N̂_m = Re(conj(N − q_n) ∂N/∂N̂_m) / d_n        (taken as 0 where d_n = 0)
        ∂ℓ_n/∂N̂_m = −P_n (δ_nm − P_m) / (1 − P_n)

    so dR/dN̂_m = −Σ_n [∂d_n/∂N̂_m ℓ_n + d_n ∂ℓ_n/∂N̂_m]. The product d_n P_n / (1 − P_n) is
    formed as exp(log d_n + log P_n − log(1 − P_n)) so it stays finite as P_n → 1.
    """
    logits, P, N, u, d, ell, q = cache
    dN = P * (q - N[..., None])  # (..., m)

    safe_d = np.where(d == 0.0, 1.0, d)
    # Divide the real and imaginary parts separately, because complex division by a subnormal
    # d_n overflows in NumPy 2.4 (logit gaps of about 710–745 give such d_n).
    unit = np.where(d == 0.0, 0.0, np.real(u) / safe_d - 1j * (np.imag(u) / safe_d))  # (..., n)
    # ∂d_n/∂N̂_m = Re(unit_n · dN_m): an outer product over (n, m).
    dd = np.real(unit[..., :, None] * dN[..., None, :])
    ell_finite = np.where(np.isfinite(ell), ell, 0.0)
    term_d = np.einsum("...nm,...n->...m", dd, ell_finite)

    log_P = logits - np.max(logits, axis=-1, keepdims=True)
    log_P = log_P - np.log(np.sum(np.exp(log_P), axis=-1, keepdims=True))
    # d_n · P_n/(1 − P_n) in log space: d_n can be subnormal while P_n/(1 − P_n) overflows,
    # yet their product stays of order |q|. It is 0 · ∞ only at a one-hot P, whose limit is 0.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        weighted = np.exp(np.log(safe_d) + log_P - ell)
    weighted = np.where(d == 0.0, 0.0, weighted)  # (..., n)
    # Σ_n d_n ∂ℓ_n/∂N̂_m = −Σ_n weighted_n (δ_nm − P_m) = −weighted_m + P_m Σ_n weighted_n
    term_ell = -weighted + P * np.sum(weighted, axis=-1, keepdims=True)

    return -(term_d + term_ell)


def regularizer_strength(step, total_steps, strength, start=0.6, end=0.9):
    """Return the regularizer weight at `step`: 0 before start·total, a linear ramp to
    `strength` at end·total, then constant."""
    t = step / max(total_steps, 1)
    if t <= start:
        return 0.0
    if t >= end:
        return strength
    return strength * (t - start) / (end - start)
