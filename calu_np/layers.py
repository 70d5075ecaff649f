"""CALUa and CALUm layers as pure functions of the input x and the total weight M = N ∘ W.

Shapes: x is (batch, n_in), M is (n_out, n_in), y is (batch, n_out); all complex128.

    CALUa:  y_bk = Σ_j M_kj x_bj
    CALUm:  y_bk = exp(Σ_j M_kj log x_bj) = Π_j x_bj^M_kj

CALUm uses the principal complex logarithm, so negative inputs keep their sign:
log(−2) = ln 2 + iπ. Branch-cut convention: an input whose imaginary part is −0.0 is read as
+0.0 before the logarithm, so every negative real input, however it was produced, lies on the
upper side of the cut (argument +π). Integer exponents give a product that is continuous across
the cut; fractional ones do not, and this convention fixes which side is taken.

Inputs of exactly 0: the product x^M is taken as its limit, 0 where Re M > 0, 1 where M = 0 and
complex infinity where Re M < 0. The gradient with respect to such an input is set to 0 (the
logarithm has no derivative there); gradients with respect to M stay finite.
NOTE: 0^M for Re M = 0 and Im M ≠ 0 has no limit; the factor is then taken as 1, like M = 0.
A unit that meets one zero input with Re M > 0 and another with Re M < 0 gives 0.
"""

import numpy as np


def calua_forward(x, M):
    """Compute y = x Mᵀ. Returns y and the cache for `calua_backward`."""
    return x @ M.T, (x, M)


def calua_backward(G_y, cache):
    """Return (G_x, G_M) given G_y = ∂L/∂ȳ for y = x Mᵀ.

    y is holomorphic and linear in both x and M, so G_x = G_y conj(M) and G_M = G_yᵀ conj(x).
    """
    x, M = cache
    G_x = G_y @ np.conj(M)
    G_M = G_y.T @ np.conj(x)
    return G_x, G_M


def complex_log(x):
    """Return the principal logarithm of x, with −0.0 imaginary parts read as +0.0.

    Entries equal to 0 give −inf + 0j; callers mask them.
    """
    x = np.asarray(x, dtype=np.complex128) + 0.0  # −0.0 + 0.0 is +0.0 in IEEE arithmetic
    with np.errstate(divide="ignore"):
        return np.log(x)


def calum_forward(x, M):
    """Compute y_bk = exp(Σ_j M_kj log x_bj). Returns y and the cache for `calum_backward`.

    Exact zeros in x are kept out of the sum and handled by their limit (see the module
    docstring), so the output is never NaN for finite inputs and weights.
    """
    L = complex_log(x)
    is_zero = x == 0
    L_finite = np.where(is_zero, 0.0, L)
    s = L_finite @ M.T
    y = np.exp(s)

    if np.any(is_zero):
        zero_f = is_zero.astype(np.float64)
        # For each (b, k): does a zero input meet a weight with Re M > 0 (→ 0) or Re M < 0 (→ ∞)?
        kills = zero_f @ (np.real(M) > 0).T.astype(np.float64) > 0
        blows = zero_f @ (np.real(M) < 0).T.astype(np.float64) > 0
        y = np.where(blows & ~kills, np.complex128(complex(np.inf, 0.0)), y)
        y = np.where(kills, 0.0 + 0.0j, y)
    return y, (L_finite, is_zero, M, y, x)


def calum_backward(G_y, cache):
    """Return (G_x, G_M) given G_y = ∂L/∂ȳ for y = exp(s), s = (log x) Mᵀ.

    dy/ds = y, so G_s = G_y conj(y). s is linear in M and in L = log x, so
    G_M = G_sᵀ conj(L) and G_L = G_s conj(M). dL/dx = 1/x, so G_x = G_L / conj(x).
    At a negative real x this is the derivative taken from the upper side of the branch cut,
    the side the forward pass reads x on. At x = 0 the input gradient is set to 0 and log x is
    replaced by 0 in G_M; where such an input drives y to 0, G_s = 0 anyway, which is the limit
    of y log x as x → 0.
    """
    L_finite, is_zero, M, y, x = cache
    G_s = G_y * np.conj(y)
    G_s = np.where(np.isfinite(G_s), G_s, 0.0)
    G_M = G_s.T @ np.conj(L_finite)
    G_L = G_s @ np.conj(M)
    safe_x = np.where(is_zero, 1.0, x)
    G_x = np.where(is_zero, 0.0, G_L / np.conj(safe_x))
    return G_x, G_M


FORWARD = {"CALUa": calua_forward, "CALUm": calum_forward}
BACKWARD = {"CALUa": calua_backward, "CALUm": calum_backward}
