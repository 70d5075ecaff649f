"""Numba kernels for the training step's hot path, with explicit loops.

Each kernel names its NumPy twin in its docstring, and tests/test_kernels.py checks it against
that twin within 1e-12 relative. Arrays are complex128 or float64 and C-contiguous; `calu_np.engine`
prepares them and leaves the matrix products to BLAS, which beat explicit numba loops at
every size measured in bench/bench_engines.py, even 128 × 8 by 8 × 50.

Importing this module imports numba but compiles nothing: each kernel is compiled on its first
call, or loaded from numba's on-disk cache (`cache=True`) when an earlier process compiled it.
`error_model="numpy"` makes a division by zero give inf or NaN as in NumPy instead of raising,
and it lets LLVM vectorize the loops. The kernels that evaluate polynomials also allow
`fastmath={"contract"}`, which lets LLVM fuse a product and a sum into one FMA instruction: the
results stay the same from run to run on one machine, but may differ in the last bit between
CPUs with and without FMA.
"""

import math

import numpy as np
from llvmlite import ir as llvm_ir
from numba import njit, types
from numba.extending import intrinsic

# exp(a) = 2^k exp(r) with a = k ln 2 + r, |r| ≤ ln 2 / 2. ln 2 is split so that k · LN2_HI is
# exact for |k| < 2^20 (Cody and Waite's reduction).
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00

# sin b, cos b from b = m π/2 + t, |t| ≤ π/4, with π/2 split in three so that m · _PIO2_1 and
# m · _PIO2_2 are exact for |m| < 2^20.
_PIO2_1 = 1.57079632673412561417e00
_PIO2_2 = 6.07710050650619224932e-11
_PIO2_3 = 2.02226624879595063154e-21
_TWO_OVER_PI = 6.36619772367581382433e-01

# Outside these bounds the reductions above lose accuracy or exp(a) leaves the normal range,
# so such arguments go to the C library instead.
_FAST_EXP_MAX_REAL = 700.0
_FAST_EXP_MAX_IMAG = 1.0e5


@intrinsic
def _float64_bits(typing_context, value):
    """Return the IEEE 754 bits of a float64 as an int64, as one bitcast that LLVM can vectorize."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, arguments):
        return builder.bitcast(arguments[0], llvm_ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _float64_from_bits(typing_context, bits):
    """Return the float64 whose IEEE 754 bits are the int64 `bits`, as one bitcast."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, arguments):
        return builder.bitcast(arguments[0], llvm_ir.DoubleType())

    return types.float64(types.int64), codegen


# Adding 2^52 + 1023 to an integral float k with |k| < 2^51 leaves k + 1023 in the low mantissa bits.
_EXPONENT_SHIFTER = 2.0**52 + 1023.0


@njit(cache=True, error_model="numpy", inline="always")
def _power_of_two(k):
    """Return 2^k for an integral float k with |k| ≤ 1022, exactly.

    The biased exponent k + 1023 is read from the low mantissa bits of k + 2^52 + 1023 and
    shifted into the exponent field. Only additions, bitcasts and a shift, so LLVM vectorizes it.
    """
    return _float64_from_bits(_float64_bits(k + _EXPONENT_SHIFTER) << 52)


@njit(cache=True, error_model="numpy", inline="always")
def _exp_real_polynomial(a):
    """Return exp(a) for real |a| ≤ 700 by range reduction and a Taylor polynomial.

    The truncation error is below 1e-17 relative on the reduced range |r| ≤ 0.35. Other
    arguments give wrong results, so callers send them to the C library.
    """
    k = np.floor(a * _INV_LN2 + 0.5)
    r = (a - k * _LN2_HI) - k * _LN2_LO
    exp_r = 1.0 + r * (1.0 + r * (1 / 2 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (
        1 / 720 + r * (1 / 5040 + r * (1 / 40320 + r * (1 / 362880 + r * (1 / 3628800 + r * (
            1 / 39916800 + r * (1 / 479001600 + r * (1 / 6227020800)))))))))))))
    return exp_r * _power_of_two(k)


@njit(cache=True, error_model="numpy", inline="always")
def _cos_sin_polynomial(b):
    """Return (cos b, sin b) for |b| ≤ 1e5 by range reduction and Taylor polynomials.

    The truncation errors are below 1e-17 relative on the reduced range |t| ≤ π/4.
    """
    m = np.floor(b * _TWO_OVER_PI + 0.5)
    t = ((b - m * _PIO2_1) - m * _PIO2_2) - m * _PIO2_3
    t2 = t * t
    sin_t = t + t * t2 * (-1 / 6 + t2 * (1 / 120 + t2 * (-1 / 5040 + t2 * (1 / 362880 + t2 * (
        -1 / 39916800 + t2 * (1 / 6227020800 + t2 * (-1 / 1307674368000 + t2 * (1 / 355687428096000))))))))
    cos_t = 1.0 + t2 * (-0.5 + t2 * (1 / 24 + t2 * (-1 / 720 + t2 * (1 / 40320 + t2 * (
        -1 / 3628800 + t2 * (1 / 479001600 + t2 * (-1 / 87178291200 + t2 * (1 / 20922789888000))))))))

    # Quadrant m mod 4 as a float, so the selects below stay vectorizable.
    quadrant = m - 4.0 * np.floor(m * 0.25)
    odd = (quadrant == 1.0) | (quadrant == 3.0)
    cos_base = sin_t if odd else cos_t
    sin_base = cos_t if odd else sin_t
    cos_b = -cos_base if (quadrant == 1.0) | (quadrant == 2.0) else cos_base
    sin_b = -sin_base if quadrant >= 2.0 else sin_base
    return cos_b, sin_b


@njit(cache=True, error_model="numpy", inline="always")
def _exp_polynomial_parts(a, b):
    """Return (Re, Im) of exp(a + ib) for |a| ≤ 700 and |b| ≤ 1e5, to a few units in the last place.

    `complex_exp_into` sends other arguments to `_exp_libm_parts`.
    """
    magnitude = _exp_real_polynomial(a)
    cos_b, sin_b = _cos_sin_polynomial(b)
    return magnitude * cos_b, magnitude * sin_b


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def _exp_real_into(a, out):
    """Write exp(a) into out (1-D float64 arrays of the same size). Twin: `np.exp(a)`.

    Like `complex_exp_into`: a vectorized polynomial pass, then the C library for the arguments
    outside its range, only if there are any.
    """
    n_outside = 0
    for i in range(a.size):
        outside = (abs(a[i]) > _FAST_EXP_MAX_REAL) | (a[i] != a[i])
        n_outside += outside
        out[i] = _exp_real_polynomial(a[i])
    if n_outside == 0:
        return
    for i in range(a.size):
        if (abs(a[i]) > _FAST_EXP_MAX_REAL) | (a[i] != a[i]):
            out[i] = math.exp(a[i])


@njit(cache=True, error_model="numpy", inline="always")
def _exp_libm_parts(a, b):
    """Return (Re, Im) of exp(a + ib) with the C library's exp, cos and sin, for any argument.

    Follows C99 cexp where NumPy relies on it: a zero imaginary part stays exactly zero (so
    exp(inf + 0j) is inf + 0j), and for a > 708 the magnitude is applied in two factors so that
    a small cos b or sin b can still bring the result back into range.
    """
    if b == 0.0:
        return math.exp(a), b
    if a > 708.0:
        head = math.exp(708.0)
        tail = math.exp(a - 708.0)
        return math.cos(b) * head * tail, math.sin(b) * head * tail
    magnitude = math.exp(a)
    return magnitude * math.cos(b), magnitude * math.sin(b)


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def complex_exp_into(s, y):
    """Write exp(s) into y (both 2-D, same shape). Twin: `np.exp(s)`.

    A vectorized pass uses the polynomial form and counts the arguments outside its range.
    A second pass recomputes those with the C library, and runs only if there are any.
    """
    s_flat = s.reshape(-1)
    y_flat = y.reshape(-1)
    n_outside = 0
    for i in range(s_flat.size):
        a = s_flat[i].real
        b = s_flat[i].imag
        outside = (abs(a) > _FAST_EXP_MAX_REAL) | (abs(b) > _FAST_EXP_MAX_IMAG) | (a != a) | (b != b)
        n_outside += outside
        real, imag = _exp_polynomial_parts(a, b)
        y_flat[i] = complex(real, imag)
    if n_outside == 0:
        return
    for i in range(s_flat.size):
        a = s_flat[i].real
        b = s_flat[i].imag
        if (abs(a) > _FAST_EXP_MAX_REAL) | (abs(b) > _FAST_EXP_MAX_IMAG) | (a != a) | (b != b):
            real, imag = _exp_libm_parts(a, b)
            y_flat[i] = complex(real, imag)


@njit(cache=True, error_model="numpy")
def calum_log(x):
    """Return (L, is_zero, n_zero) for x of shape (batch, n_in).

    L = log x with the principal branch, −0.0 imaginary parts read as +0.0, and 0 in place of
    log 0; is_zero marks the inputs equal to 0 and n_zero counts them. Twin:
    `np.where(x == 0, 0, layers.complex_log(x))` and `x == 0`, as in `layers.calum_forward`.
    """
    n_rows, n_cols = x.shape
    L = np.empty_like(x)
    is_zero = np.empty(x.shape, dtype=np.bool_)
    n_zero = 0
    for i in range(n_rows):
        for j in range(n_cols):
            real = x[i, j].real
            imag = x[i, j].imag + 0.0  # −0.0 + 0.0 is +0.0 in IEEE arithmetic
            zero = (real == 0.0) & (imag == 0.0)
            is_zero[i, j] = zero
            if zero:
                n_zero += 1
                L[i, j] = 0.0
            elif imag == 0.0 and real == real:
                # Real input: hypot(x, 0) is |x| and atan2(+0, x) is π or +0, so the calls are skipped.
                L[i, j] = complex(math.log(abs(real)), math.pi if real < 0.0 else 0.0)
            else:
                L[i, j] = complex(math.log(math.hypot(real, imag)), math.atan2(imag, real))
    return L, is_zero, n_zero


@njit(cache=True, error_model="numpy")
def calum_zero_limits(y, is_zero, M):
    """Overwrite y with the limits of Π_j x_bj^M_kj where some x_bj is 0, in place.

    y[b, k] becomes 0 if a zero input meets a weight with Re M > 0, else inf + 0j if one meets a
    weight with Re M < 0. Twin: the `np.any(is_zero)` branch of `layers.calum_forward`.
    """
    batch, n_out = y.shape
    n_in = is_zero.shape[1]
    for b in range(batch):
        for k in range(n_out):
            kills = False
            blows = False
            for j in range(n_in):
                if is_zero[b, j]:
                    kills |= M[k, j].real > 0.0
                    blows |= M[k, j].real < 0.0
            if kills:
                y[b, k] = 0.0
            elif blows:
                y[b, k] = complex(np.inf, 0.0)


@njit(cache=True, error_model="numpy")
def calum_conj_output_grad(G_y, y):
    """Return conj(G_s) = conj(G_y) · y, with 0 wherever it is not finite.

    G_s = G_y conj(y) is the gradient with respect to s for y = exp(s). The conjugate is
    returned so that the products that follow need no conjugated copy of a large matrix.
    Twin: `np.conj(G_s)` after the `np.isfinite` mask in `layers.calum_backward`.
    """
    n_rows, n_cols = y.shape
    out = np.empty_like(y)
    for i in range(n_rows):
        for j in range(n_cols):
            value = np.conj(G_y[i, j]) * y[i, j]
            finite = np.isfinite(value.real) & np.isfinite(value.imag)
            out[i, j] = value if finite else 0.0
    return out


@njit(cache=True, error_model="numpy")
def calum_input_grad(conj_G_L, x, is_zero):
    """Return G_x = G_L / conj(x), with 0 where x is 0, given conj(G_L) = conj(G_s) M.

    Twin: `np.where(is_zero, 0, G_L / np.conj(safe_x))` in `layers.calum_backward`.
    """
    n_rows, n_cols = x.shape
    G_x = np.empty_like(x)
    for i in range(n_rows):
        for j in range(n_cols):
            if is_zero[i, j]:
                G_x[i, j] = 0.0
            else:
                G_x[i, j] = np.conj(conj_G_L[i, j]) / np.conj(x[i, j])
    return G_x


@njit(cache=True, error_model="numpy", fastmath={"contract"})
def weights_forward(logits, q, theta, has_phasor, frozen, fixed_M):
    """Return (M, P, N, sigma, W): the total weights M = N ∘ W and what the backward pass needs.

    logits (n_out, n_in, len(q)) real, q (len(q),) complex, theta (n_out, n_in) real (read only
    if has_phasor), frozen (n_out, n_in) bool, fixed_M (n_out, n_in) complex. P = softmax(logits),
    N = Σ_n q_n P_n, sigma = σ(θ), W = exp(iπ σ) or 1 without a phasor, and M = fixed_M where
    frozen. Twin: `CALULayer.weights` (`quantizer_forward`, `phasor_forward`).

    The exponentials, the sigmoid and the phasor each run in a loop over all weights that LLVM
    vectorizes, so the C library's exp, cos and sin are called only for extreme arguments.
    """
    n_out, n_in, n_q = logits.shape
    n_weights = n_out * n_in
    logit_rows = logits.reshape(n_weights, n_q)
    P = np.empty_like(logits)
    P_rows = P.reshape(n_weights, n_q)
    N = np.empty((n_out, n_in), dtype=np.complex128)
    sigma = np.zeros((n_out, n_in), dtype=np.float64)
    W = np.empty((n_out, n_in), dtype=np.complex128)
    M = np.empty((n_out, n_in), dtype=np.complex128)
    N_flat = N.reshape(-1)
    sigma_flat = sigma.reshape(-1)
    W_flat = W.reshape(-1)
    M_flat = M.reshape(-1)

    # Softmax shifted by its maximum, so exp never overflows.
    shifted = np.empty_like(P_rows)
    for w in range(n_weights):
        top = logit_rows[w, 0]
        for n in range(1, n_q):
            top = max(top, logit_rows[w, n])
        for n in range(n_q):
            shifted[w, n] = logit_rows[w, n] - top
    _exp_real_into(shifted.reshape(-1), P.reshape(-1))
    for w in range(n_weights):
        total = 0.0
        for n in range(n_q):
            total += P_rows[w, n]
        expected = 0j
        for n in range(n_q):
            P_rows[w, n] = P_rows[w, n] / total
            expected += P_rows[w, n] * q[n]
        N_flat[w] = expected

    if has_phasor:
        # With e = exp(−|θ|) ≤ 1, σ(θ) is 1 / (1 + e) for θ ≥ 0 and e / (1 + e) below: neither overflows.
        theta_flat = theta.reshape(-1)
        minus_abs_theta = np.empty(n_weights)
        e = np.empty(n_weights)
        for w in range(n_weights):
            minus_abs_theta[w] = -abs(theta_flat[w])
        _exp_real_into(minus_abs_theta, e)
        for w in range(n_weights):
            s = 1.0 / (1.0 + e[w]) if theta_flat[w] >= 0.0 else e[w] / (1.0 + e[w])
            sigma_flat[w] = s
            cos_angle, sin_angle = _cos_sin_polynomial(math.pi * s)
            W_flat[w] = complex(cos_angle, sin_angle)
    else:
        for w in range(n_weights):
            W_flat[w] = 1.0

    frozen_flat = frozen.reshape(-1)
    fixed_flat = fixed_M.reshape(-1)
    for w in range(n_weights):
        M_flat[w] = fixed_flat[w] if frozen_flat[w] else N_flat[w] * W_flat[w]
    return M, P, N, sigma, W


@njit(cache=True, error_model="numpy")
def weights_backward(G_M, P, N, sigma, W, q, has_phasor, frozen):
    """Return (dL/dlogits, dL/dθ) given G_M = ∂L/∂M̄ and the arrays from `weights_forward`.

    Frozen entries get zero gradients. With G_N = G_M conj(W) and G_W = G_M conj(N):
    dL/dN̂_n = 2 Re(conj(G_N) P_n (q_n − N)) and dL/dθ = 2 Re(conj(G_W) iπ σ(1 − σ) W); dL/dθ is
    all zeros without a phasor. Twin: `CALULayer.weights_backward` (`quantizer_backward`,
    `phasor_backward`).
    """
    n_out, n_in, n_q = P.shape
    d_logits = np.empty_like(P)
    d_theta = np.zeros((n_out, n_in), dtype=np.float64)
    for k in range(n_out):
        for j in range(n_in):
            G = 0j if frozen[k, j] else G_M[k, j]
            conj_G_N = np.conj(G * np.conj(W[k, j]))
            for n in range(n_q):
                dN = P[k, j, n] * (q[n] - N[k, j])
                d_logits[k, j, n] = 2.0 * (conj_G_N * dN).real
            if has_phasor:
                s = sigma[k, j]
                rate = math.pi * s * (1.0 - s)
                dW = complex(0.0, rate) * W[k, j]
                d_theta[k, j] = 2.0 * (np.conj(G * np.conj(N[k, j])) * dW).real
    return d_logits, d_theta


@njit(cache=True, error_model="numpy")
def adam_update(param, grad, m, v, lr, beta1, beta2, eps, correction1, correction2):
    """Apply one Adam update to the float64 arrays param, m and v in place.

    All four arrays are C-contiguous with the same shape, of any number of dimensions. Twin: the
    NumPy branch of `engine.adam_update` (the body of `optim.Adam.step`), with the operations in
    the same order, so both give the same bits.
    """
    param_flat = param.reshape(-1)
    grad_flat = grad.reshape(-1)
    m_flat = m.reshape(-1)
    v_flat = v.reshape(-1)
    for i in range(param_flat.size):
        g = grad_flat[i]
        m_i = m_flat[i] * beta1
        m_i = m_i + (1.0 - beta1) * g
        v_i = v_flat[i] * beta2
        v_i = v_i + (1.0 - beta2) * g * g
        m_flat[i] = m_i
        v_flat[i] = v_i
        param_flat[i] = param_flat[i] - lr * (m_i / correction1) / (math.sqrt(v_i / correction2) + eps)
