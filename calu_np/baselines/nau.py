"""NAU and NMU (Madsen and Johansen, "Neural Arithmetic Units", ICLR 2020) as pure functions.

Shapes: x is (batch, n_in), W is (n_out, n_in), z is (batch, n_out); all real.

    NAU:  z = x Wᵀ,                             W kept in [−1, 1]
    NMU:  z_k = Π_j (W_kj x_j + 1 − W_kj),       W kept in [0, 1]

The bounds are a projection applied after every optimizer step (`clamp_nau`, `clamp_nmu`), not
part of the forward pass. The sparsity regulariser mean min(|W|, 1 − |W|) pushes each weight
towards an end of its interval and is ramped in during training.
G_z is ∂L/∂z̄ (½ dL/dz for real z) and parameter gradients are the plain dL/dW.
"""

import numpy as np


def init_nau(rng, n_in, n_out):
    """Draw W uniformly with Glorot's variance 2 / (n_in + n_out), cut to the interval [−1, 1]."""
    r = min(np.sqrt(6.0 / (n_in + n_out)), 1.0)
    return {"W": rng.uniform(-r, r, size=(n_out, n_in))}


def init_nmu(rng, n_in, n_out):
    """Draw W uniformly in [0.25, 0.75]: mean ½, so every factor starts halfway between 1 and x_j."""
    return {"W": rng.uniform(0.25, 0.75, size=(n_out, n_in))}


def nau_forward(x, params):
    """Compute z = x Wᵀ. Returns z and the cache for `nau_backward`."""
    return x @ params["W"].T, (x, params["W"])


def nau_backward(G_z, cache):
    """Return {"W", "x"} given G_z = ∂L/∂z̄ for z = x Wᵀ: dL/dW = 2 G_zᵀ x and G_x = G_z W."""
    x, W = cache
    return {"W": 2.0 * G_z.T @ x, "x": G_z @ W}


def _exclusive_products(factors):
    """Return, along the last axis, the product of every factor except the one at each position.

    Built from prefix and suffix products, so a zero factor elsewhere gives no division by 0.
    """
    ones = np.ones(factors.shape[:-1] + (1,))
    prefix = np.cumprod(np.concatenate([ones, factors[..., :-1]], axis=-1), axis=-1)
    suffix = np.cumprod(np.concatenate([ones, factors[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return prefix * suffix


def nmu_forward(x, params):
    """Compute z_k = Π_j (W_kj x_j + 1 − W_kj). Returns z and the cache for `nmu_backward`."""
    W = params["W"]
    factors = W[None, :, :] * x[:, None, :] + 1.0 - W[None, :, :]  # (batch, n_out, n_in)
    return np.prod(factors, axis=-1), (x, W, factors)


def nmu_backward(G_z, cache):
    """Return {"W", "x"} given G_z = ∂L/∂z̄ for z_k = Π_j f_kj, f_kj = W_kj x_j + 1 − W_kj.

    ∂z_k/∂f_kj = Π_{i≠j} f_ki =: P_kj, ∂f_kj/∂W_kj = x_j − 1 and ∂f_kj/∂x_j = W_kj, so
    dL/dW_kj = 2 Σ_batch G_z,k P_kj (x_j − 1) and G_x,j = Σ_k G_z,k P_kj W_kj.
    """
    x, W, factors = cache
    G_f = G_z[:, :, None] * _exclusive_products(factors)
    dL_dW = 2.0 * np.einsum("bkj,bj->kj", G_f, x - 1.0)
    G_x = np.einsum("bkj,kj->bj", G_f, W)
    return {"W": dL_dW, "x": G_x}


def clamp_nau(params):
    """Project the NAU weights onto [−1, 1] in place."""
    np.clip(params["W"], -1.0, 1.0, out=params["W"])


def clamp_nmu(params):
    """Project the NMU weights onto [0, 1] in place."""
    np.clip(params["W"], 0.0, 1.0, out=params["W"])


def sparsity_forward(W):
    """Compute R = mean min(|W|, 1 − |W|), zero when every weight is −1, 0 or 1. Returns R and a cache."""
    a = np.abs(W)
    return float(np.mean(np.minimum(a, 1.0 - a))), W


def sparsity_backward(cache):
    """Return dR/dW for R = mean min(|W|, 1 − |W|).

    d min(|w|, 1 − |w|)/dw = sign(w) where |w| < ½ and −sign(w) where |w| > ½. At the kinks
    it takes 0 for w = 0 and the |w| > ½ branch for |w| = ½.
    """
    W = cache
    direction = np.where(np.abs(W) < 0.5, 1.0, -1.0)
    return direction * np.sign(W) / W.size
