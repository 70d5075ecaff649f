"""Choice of the implementation behind the layers and the total weights M = N ∘ W.

Two engines compute the same functions:

- "numba" (the default, the faster one): the kernels in `calu_np.kernels` for everything but
  the matrix products, which go to BLAS through NumPy. numba is imported on the first call that needs it, never at import.
- "numpy": the reference implementation in `calu_np.layers`, `calu_np.quantizer` and
  `calu_np.phasor`, which the tests hold the numba kernels to.

The engine is chosen with `set_engine(name)` or the environment variable CALU_NP_ENGINE, read
at the first use. A backward call is routed by the cache it receives, so a forward and its
backward always use the same engine even if the choice changes in between.
"""

import os
from typing import NamedTuple

import numpy as np

from . import layers
from .phasor import phasor_backward, phasor_forward
from .quantizer import quantizer_backward, quantizer_forward

ENGINES = ("numpy", "numba")
DEFAULT_ENGINE = "numba"
ENVIRONMENT_VARIABLE = "CALU_NP_ENGINE"

_current = None


def set_engine(name):
    """Select the engine used by every network from now on. Raises ValueError for an unknown name."""
    global _current
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: expected one of {', '.join(ENGINES)}")
    _current = name


def get_engine():
    """Return the name of the engine in use, reading CALU_NP_ENGINE on the first call."""
    global _current
    if _current is None:
        name = os.environ.get(ENVIRONMENT_VARIABLE, DEFAULT_ENGINE)
        if name not in ENGINES:
            raise ValueError(
                f"invalid {ENVIRONMENT_VARIABLE}={name!r}: expected one of {', '.join(ENGINES)}, or unset it"
            )
        _current = name
    return _current


_kernels_module = None


def _kernels():
    # Imported on first use so that importing calu_np loads no numba and compiles nothing.
    global _kernels_module
    if _kernels_module is None:
        from . import kernels

        _kernels_module = kernels
    return _kernels_module


def _complex_array(a):
    return np.ascontiguousarray(a, dtype=np.complex128)


# ---------------------------------------------------------------------------------------------
# Layers.


class NumbaCALUaCache(NamedTuple):
    x: np.ndarray
    M: np.ndarray


class NumbaCALUmCache(NamedTuple):
    L: np.ndarray  # log x, with 0 where x is 0
    is_zero: np.ndarray
    M: np.ndarray
    y: np.ndarray
    x: np.ndarray


class NumpyLayerCache(NamedTuple):
    kind: str
    cache: tuple


def _numba_calua_forward(x, M):
    """y = x Mᵀ; see `layers.calua_forward`."""
    x = _complex_array(x)
    M = _complex_array(M)
    return x @ M.T, NumbaCALUaCache(x, M)


def _numba_calua_backward(G_y, cache, input_grad):
    """G_x = G_y conj(M), G_M = G_yᵀ conj(x), formed as conj(conj(G_y)ᵀ x); see `layers.calua_backward`."""
    x, M = cache
    G_y = _complex_array(G_y)
    # conj(G_y) and conj(M) are small; conjugating the output avoids a copy of the large x.
    G_M = np.conj(np.conj(G_y).T @ x)
    G_x = G_y @ np.conj(M) if input_grad else None
    return G_x, G_M


def _numba_calum_forward(x, M):
    """y = exp((log x) Mᵀ) with the zero-input limits; see `layers.calum_forward`."""
    kernels = _kernels()
    x = _complex_array(x)
    M = _complex_array(M)
    L, is_zero, n_zero = kernels.calum_log(x)
    s = L @ M.T
    y = np.empty_like(s)
    kernels.complex_exp_into(s, y)
    if n_zero:
        kernels.calum_zero_limits(y, is_zero, M)
    return y, NumbaCALUmCache(L, is_zero, M, y, x)


def _numba_calum_backward(G_y, cache, input_grad):
    """G_M = G_sᵀ conj(L) and G_x = G_s conj(M) / conj(x) with G_s = G_y conj(y); see `layers.calum_backward`.

    Both products are formed from conj(G_s), then conjugated: conj(conj(G_s)ᵀ L) = G_sᵀ conj(L),
    so no conjugated copy of a large matrix is made.
    """
    kernels = _kernels()
    L, is_zero, M, y, x = cache
    conj_G_s = kernels.calum_conj_output_grad(_complex_array(G_y), y)
    G_M = np.conj(conj_G_s.T @ L)
    G_x = None
    if input_grad:
        G_x = kernels.calum_input_grad(conj_G_s @ M, x, is_zero)
    return G_x, G_M


_NUMBA_FORWARD = {"CALUa": _numba_calua_forward, "CALUm": _numba_calum_forward}
_NUMBA_BACKWARD = {NumbaCALUaCache: _numba_calua_backward, NumbaCALUmCache: _numba_calum_backward}


def _check_kind(kind):
    if kind not in layers.FORWARD:
        raise ValueError(f"unknown layer kind {kind!r}: expected one of {', '.join(layers.FORWARD)}")


def layer_forward(kind, x, M):
    """Run the forward pass of a layer of `kind` ("CALUa" or "CALUm") with the current engine.

    Returns y and an opaque cache for `layer_backward`.
    """
    _check_kind(kind)
    if get_engine() == "numba":
        return _NUMBA_FORWARD[kind](x, M)
    y, cache = layers.FORWARD[kind](x, M)
    return y, NumpyLayerCache(kind, cache)


def layer_backward(kind, G_y, cache, input_grad=True):
    """Run the backward pass matching `layer_forward`. Returns (G_x, G_M).

    With input_grad=False, G_x is None: the numba engine then skips its matrix product, which
    a network's first layer never needs during training.
    """
    _check_kind(kind)
    if isinstance(cache, NumpyLayerCache):
        G_x, G_M = layers.BACKWARD[cache.kind](G_y, cache.cache)
        return (G_x if input_grad else None), G_M
    return _NUMBA_BACKWARD[type(cache)](G_y, cache, input_grad)


# ---------------------------------------------------------------------------------------------
# Total weights M = N ∘ W.


class NumpyWeightsCache(NamedTuple):
    N: np.ndarray
    W: np.ndarray
    quantizer_cache: tuple
    phasor_cache: tuple  # None without a trainable phasor
    frozen: np.ndarray


class NumbaWeightsCache(NamedTuple):
    P: np.ndarray
    N: np.ndarray
    sigma: np.ndarray
    W: np.ndarray
    q: np.ndarray
    has_phasor: bool
    frozen: np.ndarray


def weights_forward(logits, theta, q, frozen, fixed_M):
    """Compute the total weights M = N ∘ W of one layer, with frozen entries set to fixed_M.

    logits (n_out, n_in, len(q)) real; theta (n_out, n_in) real, or None where the layer has no
    trainable phasor (then W = 1); q the quantized set; frozen (n_out, n_in) bool; fixed_M
    (n_out, n_in) complex. Returns M and an opaque cache for `weights_backward`.
    """
    q = np.asarray(q, dtype=np.complex128)
    if get_engine() == "numba":
        has_phasor = theta is not None
        theta_array = np.ascontiguousarray(theta, dtype=np.float64) if has_phasor else np.empty((0, 0))
        M, P, N, sigma, W = _kernels().weights_forward(
            np.ascontiguousarray(logits, dtype=np.float64), q, theta_array, has_phasor,
            np.ascontiguousarray(frozen, dtype=np.bool_), _complex_array(fixed_M),
        )
        return M, NumbaWeightsCache(P, N, sigma, W, q, has_phasor, frozen)

    N, quantizer_cache = quantizer_forward(logits, q)
    if theta is not None:
        W, phasor_cache = phasor_forward(theta)
    else:
        W, phasor_cache = np.ones_like(N), None
    M = np.where(frozen, fixed_M, N * W)
    return M, NumpyWeightsCache(N, W, quantizer_cache, phasor_cache, frozen)


def weights_backward(G_M, cache):
    """Return (dL/dlogits, dL/dθ or None) given G_M = ∂L/∂M̄ for M = N ∘ W.

    M = N W is holomorphic in both factors, so G_N = G_M conj(W) and G_W = G_M conj(N); the
    quantizer and the phasor turn these into the derivatives of their real parameters. Frozen
    entries do not depend on the parameters and get zero gradients.
    """
    if isinstance(cache, NumbaWeightsCache):
        d_logits, d_theta = _kernels().weights_backward(
            _complex_array(G_M), cache.P, cache.N, cache.sigma, cache.W, cache.q, cache.has_phasor,
            np.ascontiguousarray(cache.frozen, dtype=np.bool_),
        )
        return d_logits, (d_theta if cache.has_phasor else None)

    G_M = np.where(cache.frozen, 0.0, G_M)
    d_logits = quantizer_backward(G_M * np.conj(cache.W), cache.quantizer_cache)
    d_theta = None
    if cache.phasor_cache is not None:
        d_theta = phasor_backward(G_M * np.conj(cache.N), cache.phasor_cache)
    return d_logits, d_theta


# ---------------------------------------------------------------------------------------------
# Optimizer.


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, correction1, correction2):
    """Apply one Adam update to the float64 arrays param, m and v in place.

    m ← β₁ m + (1 − β₁) g, v ← β₂ v + (1 − β₂) g², param ← param − lr (m / c₁) / (√(v / c₂) + ε),
    with c₁, c₂ the bias corrections 1 − βᵗ. Both engines give the same bits.
    """
    if get_engine() == "numba" and param.flags.c_contiguous and m.flags.c_contiguous and v.flags.c_contiguous:
        grad_array = np.ascontiguousarray(grad, dtype=np.float64)
        # The kernel loops over param.size elements of each array, so shapes must match exactly.
        if grad_array.shape == param.shape == m.shape == v.shape:
            _kernels().adam_update(param, grad_array, m, v, lr, beta1, beta2, eps, correction1, correction2)
            return
    m *= beta1
    m += (1.0 - beta1) * grad
    v *= beta2
    v += (1.0 - beta2) * grad * grad
    param -= lr * (m / correction1) / (np.sqrt(v / correction2) + eps)
