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

    With L_n = log Σ_{l≠n} exp(a_l − a_n), 1 − P_n = 1 / (1 + exp(−L_n)), so
    log(1 − P_n) = −log(1 + exp(−L_n)), evaluated by `np.logaddexp(0, −L_n)`. This keeps full
    relative accuracy at both ends: where P_n is small (the result is ≈ −P_n, which log1p
    resolves) and where P_n rounds to 1 in float64 (the result is ≈ L_n, finite even when every
    other term underflows: a = [1000, −1000] gives −2000, not −inf). Only a single-element set,
    where 1 − P = 0 exactly, gives −inf.
    """
    n = a.shape[-1]
    # Row n contains a_l − a_n for l ≠ n and −inf on the diagonal, which drops the term l = n.
    differences = a[..., None, :] - a[..., :, None]
    differences = np.where(np.eye(n, dtype=bool), -np.inf, differences)
    with np.errstate(divide="ignore"):
        L = logsumexp(differences, axis=-1)
    return -np.logaddexp(0.0, -L)


def sigmoid(a):
    """Compute the logistic function 1 / (1 + exp(−a)) without overflow for either sign of a."""
    out = np.empty_like(a, dtype=np.float64)
    positive = a >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-a[positive]))
    e = np.exp(a[~positive])
    out[~positive] = e / (1.0 + e)
    return out
