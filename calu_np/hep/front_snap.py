"""Snap the CALU front end of a classifier onto exact exponents and coefficients.

The front end is ``CALUm → CALUa``: every CALUa feature is a sum of monomials of the inputs.
Snapping happens in two steps:

1. ``snap_exponents``: every CALUm exponent goes to its most probable element of Q and its
   phasor to ±1, so each unit becomes an exact monomial.
2. ``snap_coefficients``: units computing the same monomial are merged, each feature's merged
   coefficients are divided by the largest one in magnitude and rounded to {−1, 0, 1}, and then
   ``polish_coefficients`` changes one coefficient at a time while that lowers the training
   error of the best cut on the feature. Dividing by the largest coefficient is harmless
   because only the dense head reads the features and it is retrained after the snap. A
   feature whose best cut makes more than `margin` errors beyond the best feature's is set
   to 0.
"""

from dataclasses import dataclass

import numpy as np

from calu_np.layers import calum_forward


def snap_exponents(network):
    """Freeze the CALUm layer (layer 0) of `network` at its most probable exact weights."""
    Ms = network.snapped_weights()
    layer = network.layers[0]
    layer.frozen[...] = True
    layer.fixed_M[...] = Ms[0]
    return Ms[0]


def cut_errors(values, labels):
    """Return the number of training errors of the best single cut on `values`.

    Both orientations are tried (class 1 above or below the cut). Ties in `values` are split
    by position in the sort, which can only understate the error by the size of a tie.
    """
    order = np.argsort(values, kind="stable")
    ordered = labels[order]
    n_one = int(np.sum(ordered))
    n_zero = len(ordered) - n_one
    ones_below = np.concatenate([[0], np.cumsum(ordered)])
    zeros_below = np.arange(len(ordered) + 1) - ones_below
    # Class 1 above the cut: errors are the 1s below it and the 0s above it.
    errors_one_above = ones_below + (n_zero - zeros_below)
    errors = np.minimum(errors_one_above, len(ordered) - errors_one_above)
    return int(np.min(errors))


def polish_coefficients(U, labels, c, margin, max_sweeps=10):
    """Improve integer coefficients c ∈ {−1, 0, 1} of the feature U @ c by single changes.

    A change to 0 is kept when it adds at most `margin` errors of the best cut; any other
    change is kept only when it removes more than `margin`. The asymmetry makes the search
    prefer fewer terms, so a term that helps only by a handful of training events is dropped
    and cannot come back. Returns the new coefficients and their error count.
    """
    c = c.copy()
    errors = cut_errors(U @ c, labels)
    for _ in range(max_sweeps):
        changed = False
        for m in range(len(c)):
            for value in (0.0, 1.0, -1.0):
                if value == c[m]:
                    continue
                trial = U @ c + (value - c[m]) * U[:, m]
                trial_errors = cut_errors(trial, labels)
                keep = trial_errors <= errors + margin if value == 0 else trial_errors < errors - margin
                if keep:
                    c[m] = value
                    errors = trial_errors
                    changed = True
        if not changed:
            break
    return c, errors


@dataclass
class CoefficientSnap:
    """The exact CALUa weights chosen for each feature and the factor taken out of each."""

    M: np.ndarray  # (n_features, n_units) exact coefficients in {−1, 0, 1}
    scale: np.ndarray  # (n_features,) factor divided out of each feature's soft coefficients
    cut_errors: list  # training errors of the best cut on each kept feature, None if dropped


def snap_coefficients(network, x, labels, soft_M, margin):
    """Choose exact CALUa coefficients for the frozen-exponent `network` on training data x.

    `soft_M` is the trained CALUa weight matrix (n_features, n_units); only its real part
    matters, because the dense head reads Re of each feature. Units with identical exponent
    rows are merged into their first unit, whose merged coefficient is rounded.
    """
    exponents = network.layers[0].fixed_M
    monomial_values, _ = calum_forward(np.asarray(x, dtype=np.complex128), exponents)
    _, first_units, unit_groups = np.unique(np.real(exponents).round(12), axis=0, return_index=True, return_inverse=True)
    unit_groups = unit_groups.ravel()
    U = np.real(monomial_values[:, first_units])
    n_features = soft_M.shape[0]

    M = np.zeros(soft_M.shape, dtype=np.complex128)
    scales = np.ones(n_features)
    errors = []
    for f in range(n_features):
        merged = np.zeros(len(first_units))
        np.add.at(merged, unit_groups, np.real(soft_M[f]))
        largest = np.max(np.abs(merged))
        if largest == 0:
            errors.append(None)
            continue
        c = np.round(merged / largest)
        c, feature_errors = polish_coefficients(U, labels, c, margin)
        M[f, first_units] = c
        scales[f] = largest
        errors.append(feature_errors)

    # A feature that alone classifies worse than the best one by more than the margin is
    # dropped, so that the head cannot lean on terms that only fit the 13 TeV sample.
    best = min(e for e in errors if e is not None) if any(e is not None for e in errors) else None
    for f, feature_errors in enumerate(errors):
        if feature_errors is not None and feature_errors > best + margin:
            M[f] = 0.0
            errors[f] = None

    layer = network.layers[1]
    layer.frozen[...] = True
    layer.fixed_M[...] = M
    return CoefficientSnap(M, scales, errors)


def exact_front_weights(network):
    """Return the frozen weights of every front-end layer, for formula printing."""
    if not all(layer.frozen.all() for layer in network.layers):
        raise ValueError("the front end is not fully snapped; call snap_exponents and snap_coefficients first")
    return [layer.fixed_M.copy() for layer in network.layers]


