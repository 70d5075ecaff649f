"""Snap: replace every soft weight by an exact element of Q (times ±1) and keep it if it helps.

After training, each softmax is close to one-hot but never exactly, so the model carries
errors of the order of the leftover probabilities. Snapping sets N to the most probable q and
the phasor to the nearer of ±1, which makes the network an exact formula whose error is float64
round-off when the snap is right.
"""

from dataclasses import dataclass

import numpy as np

from .losses import mse


@dataclass
class SnapReport:
    """Outcome of a snap: whether it was kept and the training loss before and after."""

    kept: bool
    loss_before: float
    loss_after: float
    method: str = "argmax"

    def describe(self):
        if self.kept:
            return f"snap kept ({self.method}): training MSE {self.loss_before:.3e} -> {self.loss_after:.3e}"
        return (
            f"snap rejected ({self.method}): training MSE would rise from {self.loss_before:.3e} "
            f"to {self.loss_after:.3e}; the soft weights were kept"
        )


def freeze(network, Ms):
    """Fix every weight of `network` to the given total weights Ms (one array per layer)."""
    for layer, M in zip(network.layers, Ms):
        layer.frozen[...] = True
        layer.fixed_M[...] = M


def snap(network, x, t):
    """Snap `network` in place to its most probable weights if that does not raise the training loss.

    Returns a SnapReport saying which happened.
    """
    x = np.asarray(x, dtype=np.complex128)
    loss_before = mse(network.forward(x)[0], t)
    Ms = network.snapped_weights()
    y_snapped = network.forward(x, Ms=Ms)[0]
    loss_after = mse(y_snapped, t) if np.all(np.isfinite(y_snapped)) else float("inf")
    kept = loss_after <= loss_before
    if kept:
        freeze(network, Ms)
    return SnapReport(kept, loss_before, loss_after)
