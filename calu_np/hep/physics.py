"""Lorentz-invariant quantities of dimuon events, with the metric signature (+, −, −, −)."""

import numpy as np

FEATURE_NAMES = ("E1", "Px1", "Py1", "Pz1", "E2", "Px2", "Py2", "Pz2")


def minkowski_dot(p, q):
    """Compute the Minkowski product p·q = p0 q0 − p1 q1 − p2 q2 − p3 q3.

    ``p`` and ``q`` are four-vectors (E, px, py, pz) along their last axis, shape (..., 4),
    and broadcast against each other. Returns an array of shape (...).
    """
    p = np.asarray(p)
    q = np.asarray(q)
    if p.shape[-1:] != (4,) or q.shape[-1:] != (4,):
        raise ValueError(
            f"four-vectors need a last axis of length 4, got shapes {p.shape} and {q.shape}"
        )
    return p[..., 0] * q[..., 0] - p[..., 1] * q[..., 1] - p[..., 2] * q[..., 2] - p[..., 3] * q[..., 3]


def invariant_mass(features):
    """Compute the invariant mass m = sqrt((p1 + p2)²) of the two muons in each event.

    ``features`` has shape (..., 8) with columns ``FEATURE_NAMES``, in GeV. Returns the mass in
    GeV, shape (...). A slightly negative m² from rounding in nearly collinear pairs gives 0.
    """
    features = np.asarray(features)
    if features.shape[-1:] != (len(FEATURE_NAMES),):
        raise ValueError(
            f"features need a last axis of length 8 (E1..Pz2), got shape {features.shape}"
        )
    pair = features[..., :4] + features[..., 4:]
    return np.sqrt(np.maximum(minkowski_dot(pair, pair), 0.0))
