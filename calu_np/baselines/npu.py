"""The real neural power unit, RealNPU (Heim, Pevný and Šmídl, "Neural Power Units",
NeurIPS 2020), as pure functions.

Shapes: x is (batch, n_in), W is (n_out, n_in), the gate g is (n_in,), z is (batch, n_out).

    r = g ∘ (|x| + ε) + 1 − g        relevance gate: g_j = 0 replaces input j by 1
    κ = g ∘ [x < 0]                  how much of input j's sign is kept
    z = exp(log(r) Wᵀ) ∘ cos(π κ Wᵀ)

This is the complex-log power unit with the imaginary part of the weights fixed to 0: the
cosine restores the sign, so W_kj = 1 on a negative input gives a factor −|x_j|. The gate is
kept in [0, 1] by `clamp_npu` after every optimizer step.
G_z is ∂L/∂z̄ (½ dL/dz for real z) and parameter gradients are the plain dL/dφ.
"""

import numpy as np

EPS = 1e-7


def init_npu(rng, n_in, n_out):
    """Draw W from Glorot's uniform distribution and start every gate at ½."""
    r = np.sqrt(6.0 / (n_in + n_out))
    return {"W": rng.uniform(-r, r, size=(n_out, n_in)), "g": np.full(n_in, 0.5)}


def npu_forward(x, params):
    """Compute z = exp(log(r) Wᵀ) ∘ cos(π κ Wᵀ). Returns z and the cache for `npu_backward`."""
    W, g = params["W"], params["g"]
    magnitude = np.abs(x) + EPS
    negative = (x < 0).astype(np.float64)
    r = g * magnitude + 1.0 - g
    log_r = np.log(r)
    kappa = g * negative
    with np.errstate(over="ignore"):
        scale = np.exp(log_r @ W.T)
    angle = np.pi * (kappa @ W.T)
    z = scale * np.cos(angle)
    return z, (x, W, g, magnitude, negative, r, log_r, kappa, scale, angle)


def npu_backward(G_z, cache):
    """Return {"W", "g", "x"} given G_z = ∂L/∂z̄ for z = exp(s) cos(c), s = log(r) Wᵀ, c = π κ Wᵀ.

    G_s = G_z z and G_c = −G_z exp(s) sin(c), so dL/dW = 2 (G_sᵀ log r + π G_cᵀ κ).
    Back to the inputs of the gate: G_r = (G_s W) / r and G_κ = π G_c W, with ∂r/∂g = |x| + ε − 1,
    ∂κ/∂g = [x < 0], ∂r/∂x = g sign(x) and ∂κ/∂x = 0 (away from x = 0), so
    dL/dg = 2 Σ_batch (G_r (|x| + ε − 1) + G_κ [x < 0]) and G_x = G_r g sign(x).
    """
    x, W, g, magnitude, negative, r, log_r, kappa, scale, angle = cache
    G_s = G_z * scale * np.cos(angle)
    G_c = -G_z * scale * np.sin(angle)

    dL_dW = 2.0 * (G_s.T @ log_r + np.pi * G_c.T @ kappa)
    G_r = (G_s @ W) / r
    G_kappa = np.pi * (G_c @ W)
    dL_dg = 2.0 * np.sum(G_r * (magnitude - 1.0) + G_kappa * negative, axis=0)
    G_x = G_r * g * np.sign(x)
    return {"W": dL_dW, "g": dL_dg, "x": G_x}


def clamp_npu(params):
    """Project the relevance gate onto [0, 1] in place."""
    np.clip(params["g"], 0.0, 1.0, out=params["g"])
