"""Numerically stable forms of the softmax, the logistic function and their logarithms.

Every function here works on real float64 arrays and reduces over the last axis where it
reduces at all.
"""

import numpy as np


def logsumexp(a, axis=-1, keepdims=False):
    """Compute log(Σ exp(a)) along `axis` without overflow, by shifting by the maximum."""
    a_max = np.max(a, axis=axis, keepdims=True)
    a_max = np.where(np.isfinite(a_max), a_max, 0.0)
    out = np.log(np.sum(np.exp(a - a_max), axis=axis, keepdims=True)) + a_max
    if not keepdims:
        out = np.squeeze(out, axis=axis)
    return out


def softmax(a, axis=-1):
    """Compute exp(a) / Σ exp(a) along `axis`, shifted by the maximum so exp never overflows."""
    shifted = a - np.max(a, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_one_minus_softmax(a):
    """Compute log(1 − P_n) for P = softmax(a) over the last axis, for every n.

    1 − P_n = Σ_{l≠n} exp(a_l) / Σ_l exp(a_l), so log(1 − P_n) = lse_{l≠n}(a) − lse(a). Written
    this way it stays accurate when P_n rounds to 1 in float64, where log(1 − P_n) would be
    log(0). The leave-one-out sums are formed from exp(a − max), which is ≤ 1, so nothing
    overflows; a sum that underflows to 0 gives −inf, the exact limit.
    """
    a_max = np.max(a, axis=-1, keepdims=True)
    e = np.exp(a - a_max)
    total = np.sum(e, axis=-1, keepdims=True)

    # Sum the other terms directly: total − e_n would lose every digit when e_n dominates.
    n = a.shape[-1]
    leave_one_out = 1.0 - np.eye(n)
    others = e @ leave_one_out
    with np.errstate(divide="ignore"):
        return np.log(others) - np.log(total)


def sigmoid(a):
    """Compute the logistic function 1 / (1 + exp(−a)) without overflow for either sign of a."""
    out = np.empty_like(a, dtype=np.float64)
    positive = a >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-a[positive]))
    e = np.exp(a[~positive])
    out[~positive] = e / (1.0 + e)
    return out
