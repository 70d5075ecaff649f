"""Numba kernel that trains one baseline unit for many steps in a single call.

The twin of `calu_np.baselines.unit.train_steps_reference`, which computes every step with the
layer functions of `nau`, `nalu` and `npu` and NumPy's Adam. tests/test_unit.py checks that the
two agree within 1e-9 relative after hundreds of steps. The unit has one output and `n`
inputs, and its parameters are one flat vector θ in the layout of `unit.LAYOUTS`.

Per step, with the batch rows x_b, targets t_b, B rows and r_b = y_b − t_b:

    L = (1/B) Σ_b r_b² + s R(W) + β Σ_i |θ_i|,    G_b = ∂L/∂ȳ_b = r_b / B,

where R is the NAU/NMU sparsity regulariser mean min(|W|, 1 − |W|) and β the L1 weight. The
gradients of each unit are those of its module's backward pass (derived in
docs/derivations.md), written for one output:

- NAU: y = Σ_j W_j x_j;  dL/dW_j = 2 Σ_b G_b x_bj.
- NMU: y = Π_j f_j, f_j = W_j x_j + 1 − W_j;  dL/dW_j = 2 Σ_b G_b (x_bj − 1) Π_{i≠j} f_bi.
- NAC: W = tanh(Ŵ) σ(M̂), y = Σ_j W_j x_j;  dL/dW as the NAU, then
  dL/dŴ = dL/dW (1 − tanh² Ŵ) σ(M̂) and dL/dM̂ = dL/dW tanh(Ŵ) σ(M̂)(1 − σ(M̂)).
- NALU: a = Σ W_j x_j, m = exp(Σ W_j log(|x_j| + ε)), g = σ(Σ G_j x_j), y = g a + (1 − g) m;
  G_a = G g, G_s = G (1 − g) m, G_u = G (a − m) g (1 − g);
  dL/dW_j = 2 Σ_b (G_a x_bj + G_s log(|x_bj| + ε)), dL/dG_j = 2 Σ_b G_u x_bj, chained as NAC.
- NPU: r_j = g_j (|x_j| + ε) + 1 − g_j, κ_j = g_j [x_j < 0], s = Σ W_j log r_j, c = π Σ W_j κ_j,
  y = exp(s) cos c;  G_s = G y, G_c = −G exp(s) sin c;
  dL/dW_j = 2 Σ_b (G_s log r_j + π G_c κ_j),
  dL/dg_j = 2 Σ_b (G_s W_j (|x_j| + ε − 1) / r_j + π G_c W_j [x_j < 0]).

Sparsity: dR/dW_j = sign(W_j) / n where |W_j| < ½, −sign(W_j) / n otherwise. L1: β sign(θ_i).
Then Adam, then the projection of the bounded parameters (NAU W to [−1, 1], NMU W and the
NPU gate to [0, 1]).
"""

import math

import numpy as np
from numba import njit

from ..kernels import adam_update

NAU, NMU, NAC, NALU, NPU = 0, 1, 2, 3, 4
EPS = 1e-7


@njit(cache=True, error_model="numpy", inline="always")
def _sigmoid(u):
    if u >= 0.0:
        return 1.0 / (1.0 + math.exp(-u))
    e = math.exp(u)
    return e / (1.0 + e)


@njit(cache=True, error_model="numpy", inline="always")
def _sign(value):
    if value > 0.0:
        return 1.0
    if value < 0.0:
        return -1.0
    return 0.0


@njit(cache=True, error_model="numpy")
def _loss_and_gradient(kind, theta, x, t, rows, grad, work):
    """Return the batch MSE and write its gradient with respect to θ into `grad`.

    `rows` are the batch's row indices into x and t; `work` is scratch of length ≥ 3n.
    """
    n = x.shape[1]
    batch = rows.shape[0]
    grad[:] = 0.0
    weight = work[:n]
    if kind == NAC or kind == NALU:
        for j in range(n):
            weight[j] = math.tanh(theta[j]) * _sigmoid(theta[n + j])
    elif kind != NPU:
        for j in range(n):
            weight[j] = theta[j]
    loss = 0.0
    for b in range(batch):
        row = rows[b]
        if kind == NAU or kind == NAC:
            y = 0.0
            for j in range(n):
                y += weight[j] * x[row, j]
            r = y - t[row]
            G = r / batch
            for j in range(n):
                grad[j] += 2.0 * G * x[row, j]
        elif kind == NMU:
            # Products of every factor but one, from prefix and suffix products.
            factor = work[n:2 * n]
            suffix = work[2 * n:3 * n]
            for j in range(n):
                factor[j] = weight[j] * x[row, j] + 1.0 - weight[j]
            running = 1.0
            for j in range(n - 1, -1, -1):
                suffix[j] = running
                running *= factor[j]
            y = running
            r = y - t[row]
            G = r / batch
            prefix = 1.0
            for j in range(n):
                grad[j] += 2.0 * G * (x[row, j] - 1.0) * prefix * suffix[j]
                prefix *= factor[j]
        elif kind == NALU:
            a = 0.0
            s = 0.0
            u = 0.0
            for j in range(n):
                a += weight[j] * x[row, j]
                s += weight[j] * math.log(abs(x[row, j]) + EPS)
                u += theta[2 * n + j] * x[row, j]
            m = math.exp(s)
            g = _sigmoid(u)
            y = g * a + (1.0 - g) * m
            r = y - t[row]
            G = r / batch
            G_a = G * g
            G_s = G * (1.0 - g) * m
            G_u = G * (a - m) * g * (1.0 - g)
            for j in range(n):
                grad[j] += 2.0 * (G_a * x[row, j] + G_s * math.log(abs(x[row, j]) + EPS))
                grad[2 * n + j] += 2.0 * G_u * x[row, j]
        else:  # NPU
            s = 0.0
            c = 0.0
            for j in range(n):
                gate = theta[n + j]
                relevance = gate * (abs(x[row, j]) + EPS) + 1.0 - gate
                s += theta[j] * math.log(relevance)
                if x[row, j] < 0.0:
                    c += theta[j] * gate
            c *= math.pi
            scale = math.exp(s)
            y = scale * math.cos(c)
            r = y - t[row]
            G = r / batch
            G_s = G * y
            G_c = -G * scale * math.sin(c)
            for j in range(n):
                gate = theta[n + j]
                magnitude = abs(x[row, j]) + EPS
                relevance = gate * magnitude + 1.0 - gate
                negative = 1.0 if x[row, j] < 0.0 else 0.0
                grad[j] += 2.0 * (G_s * math.log(relevance) + math.pi * G_c * gate * negative)
                grad[n + j] += 2.0 * (G_s * theta[j] * (magnitude - 1.0) / relevance
                                      + math.pi * G_c * theta[j] * negative)
        loss += r * r
    loss /= batch
    if kind == NAC or kind == NALU:
        # Chain dL/dW through W = tanh(Ŵ) σ(M̂).
        for j in range(n):
            tanh_w = math.tanh(theta[j])
            sigma_m = _sigmoid(theta[n + j])
            dL_dW = grad[j]
            grad[j] = dL_dW * (1.0 - tanh_w * tanh_w) * sigma_m
            grad[n + j] = dL_dW * tanh_w * sigma_m * (1.0 - sigma_m)
    return loss


@njit(cache=True, error_model="numpy")
def add_regulariser_gradient(n_inputs, theta, grad, sparsity, beta):
    """Add to `grad` the gradient of sparsity · mean_j min(|θ_j|, 1 − |θ_j|) + β Σ_k |θ_k|.

    The sparsity term covers the first `n_inputs` entries (the W of an NAU or NMU):
    d min(|w|, 1 − |w|)/dw = sign(w) where |w| < ½ and −sign(w) elsewhere, with sign(0) = 0,
    as `nau.sparsity_backward`. The L1 term covers all of θ: d|θ|/dθ = sign(θ).
    """
    if sparsity > 0.0:
        for j in range(n_inputs):
            direction = 1.0 if abs(theta[j]) < 0.5 else -1.0
            grad[j] += sparsity * (direction * _sign(theta[j]) / n_inputs)
    if beta > 0.0:
        for k in range(theta.shape[0]):
            grad[k] += beta * _sign(theta[k])


@njit(cache=True, error_model="numpy")
def train_steps(kind, n_inputs, theta, m, v, last_good, x, t, batches, first_step, total_steps,
                lr, beta1, beta2, eps, sparsity_strength, sparsity_start, sparsity_end,
                l1_start, l1_end, l1_growth, l1_every, losses):
    """Run one Adam step per row of `batches` on θ, m and v in place. Returns the steps completed.

    Step numbers start at `first_step` (0-based); Adam's bias correction uses step + 1. At a step
    whose number is a multiple of 50, θ is copied into `last_good` before its update. When a
    loss is not finite, θ is set back to `last_good` and the call returns the number of steps
    completed before it, which is then less than len(batches). `losses` receives each step's
    batch MSE (before the regularisers).
    """
    n_params = theta.shape[0]
    grad = np.empty(n_params)
    work = np.empty(3 * n_inputs)
    span = max(sparsity_end - sparsity_start, 1e-12)
    for i in range(batches.shape[0]):
        step = first_step + i
        loss = _loss_and_gradient(kind, theta, x, t, batches[i], grad, work)
        if not math.isfinite(loss):
            theta[:] = last_good
            return i
        if step % 50 == 0:
            last_good[:] = theta
        losses[i] = loss

        strength = 0.0
        if (kind == NAU or kind == NMU) and sparsity_strength > 0.0:
            fraction = step / max(total_steps, 1)
            strength = sparsity_strength * min(max((fraction - sparsity_start) / span, 0.0), 1.0)
        beta = 0.0
        if l1_start > 0.0:
            beta = min(l1_start * l1_growth ** (step // l1_every), l1_end)
        add_regulariser_gradient(n_inputs, theta, grad, strength, beta)

        adam_update(theta, grad, m, v, lr, beta1, beta2, eps, 1.0 - beta1 ** (step + 1), 1.0 - beta2 ** (step + 1))

        if kind == NAU:
            for j in range(n_inputs):
                theta[j] = min(max(theta[j], -1.0), 1.0)
        elif kind == NMU:
            for j in range(n_inputs):
                theta[j] = min(max(theta[j], 0.0), 1.0)
        elif kind == NPU:
            for j in range(n_inputs):
                theta[n_inputs + j] = min(max(theta[n_inputs + j], 0.0), 1.0)
    return batches.shape[0]
