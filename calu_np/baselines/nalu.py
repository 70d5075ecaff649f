"""NAC and NALU (Trask, Hill, Reed, Rae, Dyer and Blunsom, "Neural Arithmetic Logic Units",
NeurIPS 2018) as pure functions.

Shapes: x is (batch, n_in), Ŵ, M̂ and G are (n_out, n_in), y is (batch, n_out); all real.

    NAC:   W = tanh(Ŵ) ∘ σ(M̂),   a = x Wᵀ
    NALU:  m = exp(log(|x| + ε) Wᵀ),   g = σ(x Gᵀ),   y = g ∘ a + (1 − g) ∘ m

a and m share the same W, as in the paper. The multiplicative path reads |x|, so it loses the
sign of negative inputs: NALU cannot represent x0 · x1 when one factor is negative.
G_y is ∂L/∂ȳ (½ dL/dy for real y) and parameter gradients are the plain dL/dφ.
"""

import numpy as np

EPS = 1e-7


def _sigmoid(u):
    # Stable on both tails: exp is only taken of −|u|.
    e = np.exp(-np.abs(u))
    return np.where(u >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _glorot(rng, n_in, n_out):
    r = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-r, r, size=(n_out, n_in))


def init_nac(rng, n_in, n_out):
    """Draw Ŵ and M̂ from Glorot's uniform distribution."""
    return {"W_hat": _glorot(rng, n_in, n_out), "M_hat": _glorot(rng, n_in, n_out)}


def init_nalu(rng, n_in, n_out):
    """Draw Ŵ, M̂ and the gate weights G from Glorot's uniform distribution."""
    params = init_nac(rng, n_in, n_out)
    params["G"] = _glorot(rng, n_in, n_out)
    return params


def nac_weight_forward(W_hat, M_hat):
    """Compute W = tanh(Ŵ) ∘ σ(M̂). Returns W and the cache for `nac_weight_backward`."""
    tanh_W = np.tanh(W_hat)
    sigma_M = _sigmoid(M_hat)
    return tanh_W * sigma_M, (tanh_W, sigma_M)


def nac_weight_backward(dL_dW, cache):
    """Return (dL/dŴ, dL/dM̂) given the plain dL/dW for W = tanh(Ŵ) σ(M̂).

    dW/dŴ = (1 − tanh² Ŵ) σ(M̂) and dW/dM̂ = tanh(Ŵ) σ(M̂)(1 − σ(M̂)).
    """
    tanh_W, sigma_M = cache
    dL_dW_hat = dL_dW * (1.0 - tanh_W**2) * sigma_M
    dL_dM_hat = dL_dW * tanh_W * sigma_M * (1.0 - sigma_M)
    return dL_dW_hat, dL_dM_hat


def nac_forward(x, params):
    """Compute a = x Wᵀ with W = tanh(Ŵ) ∘ σ(M̂). Returns a and the cache for `nac_backward`."""
    W, weight_cache = nac_weight_forward(params["W_hat"], params["M_hat"])
    return x @ W.T, (x, W, weight_cache)


def nac_backward(G_a, cache):
    """Return {"W_hat", "M_hat", "x"} given G_a = ∂L/∂ā for a = x Wᵀ.

    dL/dW = 2 G_aᵀ x, chained through `nac_weight_backward`; G_x = G_a W.
    """
    x, W, weight_cache = cache
    dL_dW_hat, dL_dM_hat = nac_weight_backward(2.0 * G_a.T @ x, weight_cache)
    return {"W_hat": dL_dW_hat, "M_hat": dL_dM_hat, "x": G_a @ W}


def nalu_forward(x, params):
    """Compute y = g ∘ a + (1 − g) ∘ m (see the module docstring). Returns y and the cache.

    m overflows to inf when Σ_j W_kj log(|x_j| + ε) exceeds about 709; the training loop treats
    a non-finite loss as divergence.
    """
    W, weight_cache = nac_weight_forward(params["W_hat"], params["M_hat"])
    a = x @ W.T
    log_x = np.log(np.abs(x) + EPS)
    with np.errstate(over="ignore"):
        m = np.exp(log_x @ W.T)
    g = _sigmoid(x @ params["G"].T)
    y = g * a + (1.0 - g) * m
    return y, (x, W, weight_cache, params["G"], a, log_x, m, g)


def nalu_backward(G_y, cache):
    """Return {"W_hat", "M_hat", "G", "x"} given G_y = ∂L/∂ȳ for the NALU output y.

    Gate: G_g = G_y (a − m), G_u = G_g g (1 − g) for u = x Gᵀ, so dL/dG = 2 G_uᵀ x.
    Paths: G_a = G_y g and G_s = G_y (1 − g) m for m = exp(s), s = log(|x| + ε) Wᵀ, so
    dL/dW = 2 (G_aᵀ x + G_sᵀ log(|x| + ε)), chained through `nac_weight_backward`.
    Input: G_x = G_u G + G_a W + (G_s W) sign(x) / (|x| + ε), with sign(0) = 0.
    """
    x, W, weight_cache, G, a, log_x, m, g = cache
    G_u = G_y * (a - m) * g * (1.0 - g)
    G_a = G_y * g
    G_s = G_y * (1.0 - g) * m

    dL_dW = 2.0 * (G_a.T @ x + G_s.T @ log_x)
    dL_dW_hat, dL_dM_hat = nac_weight_backward(dL_dW, weight_cache)
    G_x = G_u @ G + G_a @ W + (G_s @ W) * np.sign(x) / (np.abs(x) + EPS)
    return {"W_hat": dL_dW_hat, "M_hat": dL_dM_hat, "G": 2.0 * G_u.T @ x, "x": G_x}
