"""Dense layers y = φ(x Wᵀ + b) with φ = tanh, ReLU or the identity, as pure functions.

Shapes: x is (batch, n_in), W is (n_out, n_in), b is (n_out,), y is (batch, n_out); all real.
Backward passes follow the project convention: the incoming G_y is ∂L/∂ȳ, which for a real
activation is ½ dL/dy, and the returned parameter gradients are the plain dL/dW and dL/db.
"""

import numpy as np

ACTIVATIONS = ("tanh", "relu", "identity")


def init_dense(rng, n_in, n_out):
    """Draw W from Glorot's uniform distribution, U[−r, r] with r = √(6 / (n_in + n_out)), and b = 0."""
    r = np.sqrt(6.0 / (n_in + n_out))
    return {"W": rng.uniform(-r, r, size=(n_out, n_in)), "b": np.zeros(n_out)}


def dense_forward(x, params, activation):
    """Compute y = φ(x Wᵀ + b) for φ named by `activation`. Returns y and the cache for `dense_backward`."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: expected one of {', '.join(ACTIVATIONS)}")
    u = x @ params["W"].T + params["b"]
    if activation == "tanh":
        y = np.tanh(u)
    elif activation == "relu":
        y = np.maximum(u, 0.0)
    else:
        y = u
    return y, (x, params["W"], u, y, activation)


def dense_backward(G_y, cache):
    """Return {"W", "b", "x"} given G_y = ∂L/∂ȳ for y = φ(u), u = x Wᵀ + b.

    G_u = G_y φ'(u) with φ' = 1 − tanh² u, [u > 0] (0 at u = 0) or 1. Then
    dL/dW = 2 G_uᵀ x, dL/db = 2 Σ_batch G_u and G_x = G_u W (everything real).
    """
    x, W, u, y, activation = cache
    if activation == "tanh":
        G_u = G_y * (1.0 - y * y)
    elif activation == "relu":
        G_u = G_y * (u > 0.0)
    else:
        G_u = G_y
    return {"W": 2.0 * G_u.T @ x, "b": 2.0 * np.sum(G_u, axis=0), "x": G_u @ W}
