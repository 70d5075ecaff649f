"""Every backward pass held to central finite differences taken in the complex domain.

Convention under test: a backward pass returns G_z = ∂L/∂z̄ for a complex activation z, so the
derivative of the real loss L along a complex direction v is 2 Re(Σ conj(G_z) v). Each check
compares that with (L(z + hv) − L(z − hv)) / 2h for v real-only, imaginary-only and mixed. For a
real parameter φ (logits, θ) the backward pass stores dL/dφ itself, which is compared entry by
entry with the central difference along that entry.

The loss is a random complex linear functional of the output, L = Re Σ conj(c) y, so every output
entry matters and G_y = c / 2.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from calu_np.layers import calua_backward, calua_forward, calum_backward, calum_forward, complex_log
from calu_np.losses import mse_backward, mse_forward
from calu_np.network import CALULayer, Network
from calu_np.phasor import phasor_backward, phasor_forward
from calu_np.quantizer import quantizer_backward, quantizer_forward
from calu_np.regularizer import regularizer_backward, regularizer_forward
from calu_np.spec import parse_layers, phasor_is_trainable
from calu_np.stable import softmax
from tests.strategies import (
    batch_sizes,
    complex_inputs,
    inputs,
    layer_stacks,
    logits,
    q_sets,
    real_inputs,
    seeds,
    thetas,
    weight_matrices,
    widths,
)

STEP = 1e-6
RTOL = 1e-6
# Rounding in L is about 2e-16 · Σ|terms|, which a difference quotient divides by 2·STEP, so an
# absolute error near 1e-10 of that sum is expected; ATOL leaves a margin of 1000.
ATOL = 1e-7

DIRECTIONS = ("real", "imaginary", "complex")

PROPERTY = settings(max_examples=40, deadline=None)


# ---------------------------------------------------------------- finite-difference helpers


def linear_functional(c, y):
    """Return L = Re Σ conj(c) y, whose gradient G_y = ∂L/∂ȳ is c / 2."""
    return float(np.real(np.sum(np.conj(c) * y)))


def functional_scale(c, y):
    """Return Σ |c| |y|, the size of the terms whose rounding limits a difference quotient of L."""
    return float(np.sum(np.abs(c) * np.abs(y)))


def random_complex(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def direction(rng, shape, kind):
    """Return a random direction v of the given kind: real, imaginary or complex."""
    real = rng.standard_normal(shape)
    imag = rng.standard_normal(shape)
    if kind == "real":
        return real + 0j
    if kind == "imaginary":
        return 1j * imag
    return real + 1j * imag


def central_difference(loss, z, v, h=STEP):
    """Return (L(z + hv) − L(z − hv)) / 2h."""
    return (loss(z + h * v) - loss(z - h * v)) / (2.0 * h)


def upper_one_sided_difference(loss, z, v, h=STEP):
    """Return the second-order one-sided difference (−3 L(z) + 4 L(z + hv) − L(z + 2hv)) / 2h.

    Used where z lies on the branch cut and v points into the upper half plane: the engine reads
    z as a point on the upper side of the cut, so only steps towards Im > 0 stay on that side.
    """
    return (-3.0 * loss(z) + 4.0 * loss(z + h * v) - loss(z + 2.0 * h * v)) / (2.0 * h)


def directional_derivative(G_z, v):
    """Return the analytic derivative 2 Re(Σ conj(G_z) v) of L along v, given G_z = ∂L/∂z̄."""
    return 2.0 * float(np.real(np.sum(np.conj(G_z) * v)))


def assert_close(analytic, numeric, scale, label):
    """Assert |analytic − numeric| ≤ RTOL·max(|analytic|, |numeric|) + ATOL·scale + 1e-300.

    The last term lets subnormal round-off pass where both the values and the scale are 0.
    """
    tolerance = RTOL * max(abs(analytic), abs(numeric)) + ATOL * scale + 1e-300
    error = abs(analytic - numeric)
    assert error <= tolerance, (
        f"{label}: analytic {analytic:.12g}, numeric {numeric:.12g}, "
        f"difference {error:.3g} > tolerance {tolerance:.3g}"
    )


def unit_vector(array, index):
    """Return an array shaped like `array` with 1 at `index` and 0 elsewhere."""
    unit = np.zeros_like(array)
    unit[index] = 1.0
    return unit


def assert_real_gradient(loss, param, grad, scale, label, checked=None):
    """Compare each entry of the stored gradient of a real parameter with a central difference.

    `checked`, a boolean array shaped like `param`, limits the comparison to some entries.
    """
    assert grad.shape == param.shape, f"{label}: gradient shape {grad.shape}, parameter shape {param.shape}"
    assert np.all(np.isfinite(grad)), f"{label}: gradient not finite: {grad}"
    for index in np.ndindex(param.shape):
        if checked is not None and not checked[index]:
            continue
        numeric = central_difference(loss, param, unit_vector(param, index))
        assert_close(float(grad[index]), numeric, scale, f"{label}{list(index)}")


def on_branch_cut(z):
    """Return True where z lies on the negative real axis, the branch cut of the principal log."""
    return (np.real(z) < 0) & (np.imag(z) == 0)


# ---------------------------------------------------------------- quantizer and phasor


@PROPERTY
@given(data=st.data(), q=q_sets, n_out=widths, n_in=widths, seed=seeds)
def test_quantizer_backward_matches_differences(data, q, n_out, n_in, seed):
    rng = np.random.default_rng(seed)
    N_logits = data.draw(logits((n_out, n_in), len(q)))
    c = random_complex(rng, (n_out, n_in))

    N, cache = quantizer_forward(N_logits, q)
    grad = quantizer_backward(c / 2, cache)

    def loss(value):
        return linear_functional(c, quantizer_forward(value, q)[0])

    # N can cancel to 0 while its terms q_n P_n do not, so the rounding scale is Σ|c| max|q|.
    scale = float(np.sum(np.abs(c)) * np.max(np.abs(q)))
    assert_real_gradient(loss, N_logits, grad, scale, "dL/dlogits")


@PROPERTY
@given(data=st.data(), n_out=widths, n_in=widths, seed=seeds)
def test_phasor_backward_matches_differences(data, n_out, n_in, seed):
    rng = np.random.default_rng(seed)
    theta = data.draw(thetas((n_out, n_in)))
    c = random_complex(rng, (n_out, n_in))

    W, cache = phasor_forward(theta)
    grad = phasor_backward(c / 2, cache)

    def loss(value):
        return linear_functional(c, phasor_forward(value)[0])

    assert_real_gradient(loss, theta, grad, functional_scale(c, W), "dL/dtheta")


# ---------------------------------------------------------------- CALUa


@PROPERTY
@given(data=st.data(), batch=batch_sizes, n_in=widths, n_out=widths, seed=seeds)
def test_calua_backward_matches_differences(data, batch, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    x = data.draw(inputs((batch, n_in)))
    M = data.draw(weight_matrices((n_out, n_in)))
    c = random_complex(rng, (batch, n_out))

    y, cache = calua_forward(x, M)
    G_x, G_M = calua_backward(c / 2, cache)
    scale = functional_scale(c, y) + float(np.sum(np.abs(c) @ np.abs(M) * np.abs(x)))

    for kind in DIRECTIONS:
        v = direction(rng, x.shape, kind)
        numeric = central_difference(lambda value: linear_functional(c, calua_forward(value, M)[0]), x, v)
        assert_close(directional_derivative(G_x, v), numeric, scale, f"CALUa G_x, {kind} direction")

        v = direction(rng, M.shape, kind)
        numeric = central_difference(lambda value: linear_functional(c, calua_forward(x, value)[0]), M, v)
        assert_close(directional_derivative(G_M, v), numeric, scale, f"CALUa G_M, {kind} direction")


# ---------------------------------------------------------------- CALUm


def calum_difference(loss, x, v):
    """Return the finite difference of `loss` at x along v, one-sided where the step would cross
    the branch cut.

    A negative real input with a non-integer exponent sits on the cut of the principal log, and
    the engine reads it as lying on the upper side (a −0.0 imaginary part counts as +0.0). A
    central step along −imaginary would land on the other side, where x^M jumps, so for such
    inputs the direction is turned to point into the upper half plane (v → Re v + i|Im v|) and
    the difference is taken one-sided from the upper side. Returns (v used, numeric derivative,
    whether the one-sided form was used).
    """
    crosses = np.any(on_branch_cut(x) & (np.imag(v) != 0))
    if not crosses:
        return v, central_difference(loss, x, v), False
    v = np.real(v) + 1j * np.abs(np.imag(v))
    return v, upper_one_sided_difference(loss, x, v), True


@PROPERTY
@given(data=st.data(), batch=batch_sizes, n_in=widths, n_out=widths, seed=seeds)
def test_calum_backward_input_matches_differences(data, batch, n_in, n_out, seed):
    """G_x of CALUm, at real inputs of both signs (negative ones on the branch cut, handled by a
    one-sided difference from the upper side) and at complex inputs off the cut."""
    rng = np.random.default_rng(seed)
    x = data.draw(inputs((batch, n_in)))
    M = data.draw(weight_matrices((n_out, n_in)))
    c = random_complex(rng, (batch, n_out))

    y, cache = calum_forward(x, M)
    G_x, _ = calum_backward(c / 2, cache)
    scale = functional_scale(c, y) * (1.0 + float(np.sum(np.abs(M))))

    def loss(value):
        return linear_functional(c, calum_forward(value, M)[0])

    for kind in DIRECTIONS:
        v, numeric, one_sided = calum_difference(loss, x, direction(rng, x.shape, kind))
        side = "one-sided from the upper side of the cut" if one_sided else "central"
        assert_close(directional_derivative(G_x, v), numeric, scale, f"CALUm G_x, {kind} direction, {side}")


@PROPERTY
@given(data=st.data(), batch=batch_sizes, n_in=widths, n_out=widths, seed=seeds)
def test_calum_backward_weights_match_differences(data, batch, n_in, n_out, seed):
    """G_M of CALUm. y = exp(Σ M log x) is entire in M, so central differences hold even at
    negative real inputs, whose log x is fixed by the upper-side convention."""
    rng = np.random.default_rng(seed)
    x = data.draw(inputs((batch, n_in)))
    M = data.draw(weight_matrices((n_out, n_in)))
    c = random_complex(rng, (batch, n_out))

    y, cache = calum_forward(x, M)
    _, G_M = calum_backward(c / 2, cache)
    log_size = float(np.max(np.abs(complex_log(x))))
    scale = functional_scale(c, y) * (1.0 + log_size) ** 3

    for kind in DIRECTIONS:
        v = direction(rng, M.shape, kind)
        numeric = central_difference(lambda value: linear_functional(c, calum_forward(x, value)[0]), M, v)
        assert_close(directional_derivative(G_M, v), numeric, scale, f"CALUm G_M, {kind} direction")


@PROPERTY
@given(data=st.data(), batch=batch_sizes, n_in=widths, n_out=widths, seed=seeds)
def test_calum_backward_on_branch_cut(data, batch, n_in, n_out, seed):
    """Negative real inputs only, with exponents shifted by ½ so that most are not integers. The
    imaginary direction is always one-sided from the upper side of the cut, never skipped."""
    rng = np.random.default_rng(seed)
    magnitudes = data.draw(real_inputs((batch, n_in)))
    x = -np.abs(magnitudes)
    M = data.draw(weight_matrices((n_out, n_in))) + 0.5
    c = random_complex(rng, (batch, n_out))

    y, cache = calum_forward(x, M)
    G_x, _ = calum_backward(c / 2, cache)
    scale = functional_scale(c, y) * (1.0 + float(np.sum(np.abs(M))))

    def loss(value):
        return linear_functional(c, calum_forward(value, M)[0])

    v = 1j * np.abs(rng.standard_normal(x.shape))
    numeric = upper_one_sided_difference(loss, x, v)
    assert_close(
        directional_derivative(G_x, v), numeric, scale,
        "CALUm G_x on the cut, +imaginary direction, one-sided from the upper side",
    )


def test_calum_negative_zero_reads_upper_side():
    x_plus = np.array([[complex(-4.0, 0.0)]])
    x_minus = np.array([[complex(-4.0, -0.0)]])
    M = np.array([[0.5 + 0j]])

    assert complex_log(x_minus)[0, 0] == pytest.approx(np.log(4.0) + 1j * np.pi)
    y_plus, _ = calum_forward(x_plus, M)
    y_minus, _ = calum_forward(x_minus, M)
    assert y_plus[0, 0] == pytest.approx(2j)
    assert y_minus[0, 0] == pytest.approx(2j)


def test_calum_zero_input_value_and_gradients():
    """Exact zeros: 0 for a positive power, 1 for power exactly 0, finite gradients throughout."""
    x = np.array([[0.0, 2.0], [0.0, -3.0]], dtype=np.complex128)
    M = np.array(
        [
            [1.0, 1.0],  # 0^1 · x2 = 0
            [0.0, 2.0],  # 0^0 · x2^2 = x2^2
            [0.5 + 0.3j, 0.0],  # 0^(0.5+0.3i) = 0
            [0.0, 0.0],  # the empty product 1
        ],
        dtype=np.complex128,
    )
    y, cache = calum_forward(x, M)
    expected = np.array([[0.0, 4.0, 0.0, 1.0], [0.0, 9.0, 0.0, 1.0]], dtype=np.complex128)
    np.testing.assert_allclose(y, expected, rtol=1e-14, atol=0)

    c = np.ones_like(y) * (1 - 2j)
    G_x, G_M = calum_backward(c / 2, cache)
    assert np.all(np.isfinite(G_x)), G_x
    assert np.all(np.isfinite(G_M)), G_M
    assert np.all(G_x[:, 0] == 0)


def test_calum_gradients_beside_zero_input():
    """Away from the zero entry the gradients keep their usual values: the 0^0 unit still
    depends on x2 and on M_k2."""
    x = np.array([[0.0, 2.0, -1.5]], dtype=np.complex128)
    M = np.array([[0.0, 2.0, 0.5], [1.0, 1.0, 1.0]], dtype=np.complex128)
    rng = np.random.default_rng(0)
    c = random_complex(rng, (1, 2))

    y, cache = calum_forward(x, M)
    G_x, G_M = calum_backward(c / 2, cache)
    scale = functional_scale(c, y) * 10

    # Only the nonzero, non-negative entry is moved, and only in the real direction, so the step
    # neither reaches 0 nor crosses the cut.
    v = np.array([[0.0, 1.0, 0.0]], dtype=np.complex128)
    numeric = central_difference(lambda value: linear_functional(c, calum_forward(value, M)[0]), x, v)
    assert_close(directional_derivative(G_x, v), numeric, scale, "CALUm G_x beside a zero input")

    v = np.array([[0.0, 1.0 + 1j, 1.0], [0.0, 0.0, 0.0]], dtype=np.complex128)
    numeric = central_difference(lambda value: linear_functional(c, calum_forward(x, value)[0]), M, v)
    assert_close(directional_derivative(G_M, v), numeric, scale, "CALUm G_M beside a zero input")


# ---------------------------------------------------------------- losses and regularizer


@PROPERTY
@given(data=st.data(), batch=batch_sizes, n_out=widths, seed=seeds)
def test_mse_backward_matches_differences(data, batch, n_out, seed):
    rng = np.random.default_rng(seed)
    y = data.draw(complex_inputs((batch, n_out)))
    t = rng.standard_normal((batch, n_out))

    value, r = mse_forward(y, t)
    G_y = mse_backward(r)
    scale = float(np.mean(np.abs(y) + np.abs(t)) ** 2)

    for kind in DIRECTIONS:
        v = direction(rng, y.shape, kind)
        numeric = central_difference(lambda point: mse_forward(point, t)[0], y, v)
        assert_close(directional_derivative(G_y, v), numeric, scale, f"mse G_y, {kind} direction")


def distance_to_q(N_logits, q):
    P = np.exp(N_logits - N_logits.max(axis=-1, keepdims=True))
    P /= P.sum(axis=-1, keepdims=True)
    return np.abs((P @ q)[..., None] - q)


@PROPERTY
@given(data=st.data(), q=q_sets, n_out=widths, n_in=widths)
def test_regularizer_backward_matches_differences(data, q, n_out, n_in):
    N_logits = data.draw(logits((n_out, n_in), len(q)))
    # |N − q_n| has a kink at N = q_n (uniform logits put N on q_1 for Q = {0, 1, 2}). A central
    # difference across the kink gives the engine's choice 0, but a step that lands within STEP
    # of a kink without straddling it measures one side only.
    distance = distance_to_q(N_logits, q)
    assume(np.all((distance == 0) | (distance > 1e-3)))

    R, cache = regularizer_forward(N_logits, q)
    grad = regularizer_backward(cache)

    def loss(value):
        return regularizer_forward(value, q)[0]

    assert_real_gradient(loss, N_logits, grad, 1.0 + abs(R), "dR/dlogits")


@pytest.mark.parametrize("gap", [0.0, 5.0, 30.0, 100.0, 700.0, 710.0, 720.0, 740.0, 745.0, 760.0, 1000.0])
def test_regularizer_gradient_finite_at_large_gaps(gap):
    """Logit gaps where P_n is subnormal: d_n = |N − q_n| is subnormal and P_n / (1 − P_n) of the
    dominant element overflows, yet their product is of order 1."""
    q = np.array([0, 1, 2], dtype=np.complex128)
    N_logits = np.array([[gap, 0.0, 0.0], [0.0, gap, -gap], [-gap, 0.0, gap]])

    R, cache = regularizer_forward(N_logits, q)
    grad = regularizer_backward(cache)

    assert np.isfinite(R)
    assert R >= 0
    assert np.all(np.isfinite(grad)), grad


# ---------------------------------------------------------------- M = N ∘ W with frozen entries


@PROPERTY
@given(data=st.data(), q=q_sets, n_out=widths, n_in=widths, seed=seeds)
def test_weights_backward_with_frozen_entries(data, q, n_out, n_in, seed):
    rng = np.random.default_rng(seed)
    layer = CALULayer(data.draw(st.sampled_from(["CALUa", "CALUm"])), n_in, n_out, q)
    layer.frozen = rng.random((n_out, n_in)) < 0.4
    layer.fixed_M = random_complex(rng, (n_out, n_in))
    N_logits = data.draw(logits((n_out, n_in), len(q)))
    theta = data.draw(thetas((n_out, n_in))) if layer.trainable_phasor else None
    c = random_complex(rng, (n_out, n_in))

    M, cache = layer.weights(N_logits, theta)
    d_logits, d_theta = layer.weights_backward(c / 2, cache)
    scale = functional_scale(c, M) + float(np.sum(np.abs(c) * np.max(np.abs(q))))

    assert np.all(d_logits[layer.frozen] == 0), "frozen weights must get no logit gradient"
    assert_real_gradient(
        lambda value: linear_functional(c, layer.weights(value, theta)[0]), N_logits, d_logits, scale, "dL/dlogits"
    )

    if layer.trainable_phasor:
        assert np.all(d_theta[layer.frozen] == 0), "frozen weights must get no theta gradient"
        assert_real_gradient(
            lambda value: linear_functional(c, layer.weights(N_logits, value)[0]), theta, d_theta, scale, "dL/dtheta"
        )
    else:
        assert d_theta is None


# ---------------------------------------------------------------- Network.backward


def calum_inputs(network, x, cache):
    """Return the inputs of every CALUm layer of the last forward pass."""
    outputs = cache[2]
    layer_inputs = [x] + outputs[:-1]
    return [h for layer, h in zip(network.layers, layer_inputs) if layer.kind == "CALUm"]


def cut_sides(hs):
    """Return, for every CALUm input entry with Re < 0, whether it lies on the upper side of the
    cut, counting Im = ±0.0 as upper like the engine does."""
    return [np.where(np.real(h) < 0, np.imag(h) >= 0, True) for h in hs]


def rounding_bound(network, x, params, cache):
    """Return, for each output entry, the size of the terms whose float64 rounding it carries.

    A sum in CALUa can cancel to about 0 while its terms do not, so the bound propagates
    Σ_j |M_kj| bound(h_j) with |M| ≤ max|q| (|N| ≤ Σ|q_n| P_n and |W| = 1). A CALUm product
    carries the relative error of its exponent, Σ_j |M_kj| (|log h_j| + bound(h_j) / |h_j|).
    """
    bound = np.abs(x)
    outputs = cache[2]
    layer_inputs = [x] + outputs[:-1]
    for layer, h, y in zip(network.layers, layer_inputs, outputs):
        M_size = np.where(layer.frozen, np.abs(layer.fixed_M), np.max(np.abs(layer.q)))
        if layer.kind == "CALUa":
            bound = bound @ M_size.T
        else:
            relative = (np.abs(complex_log(h)) + bound / np.abs(h)) @ M_size.T
            bound = np.abs(y) * (1.0 + relative)
    return bound


@st.composite
def networks(draw):
    """A Network of 1–3 CALUa/CALUm layers, one random Q per layer, with parameters and a few
    frozen weights."""
    spec = parse_layers(draw(layer_stacks()))
    q = [draw(q_sets) for _ in spec.layers]
    network = Network(spec, q)
    params = {}
    for i, layer in enumerate(network.layers):
        shape = (layer.n_out, layer.n_in)
        params[f"{i}.logits"] = draw(logits(shape, len(layer.q)))
        if layer.trainable_phasor:
            params[f"{i}.theta"] = draw(thetas(shape))
        if draw(st.booleans()):
            layer.frozen = draw(arrays(bool, shape))
            layer.fixed_M = np.where(layer.frozen, 0.5 - 0.25j, 0.0)
    network.params = params
    return network


@settings(max_examples=50, deadline=None)
@given(data=st.data(), network=networks(), batch=batch_sizes, seed=seeds)
def test_network_backward_matches_differences(data, network, batch, seed):
    """Every parameter gradient and G_x of a random stack. Examples whose finite-difference steps
    would carry a hidden CALUm input across the branch cut, or near 0 or overflow, are dropped:
    there the network function itself jumps or is ill-conditioned, which the layer tests cover."""
    rng = np.random.default_rng(seed)
    x = data.draw(inputs((batch, network.n_inputs)))
    params = network.params
    c = random_complex(rng, (batch, network.n_outputs))

    y, cache = network.forward(x, params)
    assume(np.all(np.isfinite(y)) and np.max(np.abs(y)) < 1e8)
    hs = calum_inputs(network, x, cache)
    assume(all(np.min(np.abs(h)) > 1e-3 for h in hs))
    grads, G_x = network.backward(c / 2, cache)
    scale = float(np.sum(np.abs(c) * rounding_bound(network, x, params, cache)))

    base_sides = cut_sides(hs)
    crossed = []

    def loss_of(x_value, params_value):
        y_value, cache_value = network.forward(x_value, params_value)
        sides = cut_sides(calum_inputs(network, x_value, cache_value))
        if any(np.any(a != b) for a, b in zip(sides, base_sides)):
            crossed.append(True)
        return linear_functional(c, y_value)

    assert sorted(grads) == sorted(network.parameter_shapes())
    for key, value in params.items():
        def loss(point, key=key):
            return loss_of(x, {**params, key: point})

        numeric = {index: central_difference(loss, value, unit_vector(value, index)) for index in np.ndindex(value.shape)}
        assume(not crossed)
        for index, numeric_value in numeric.items():
            assert_close(float(grads[key][index]), numeric_value, scale, f"{network.spec}: d/d{key}{list(index)}")

    for kind in ("real", "imaginary"):
        v = direction(rng, x.shape, kind)
        v, numeric, one_sided = calum_difference(lambda point: loss_of(point, params), x, v)
        assume(not crossed)
        side = "one-sided from the upper side of the cut" if one_sided else "central"
        assert_close(directional_derivative(G_x, v), numeric, scale, f"{network.spec}: G_x, {kind} direction, {side}")


@settings(max_examples=30, deadline=None)
@given(network=networks())
def test_network_regularizer_matches_differences(network):
    """The network's potential is the sum over layers of the mean R per weight.

    Frozen weights still add their R to the value but get a zero gradient by design, so only
    the entries of weights that are not frozen are compared with finite differences.
    """
    params = network.params
    for i, layer in enumerate(network.layers):
        logits = params[f"{i}.logits"]
        distance = distance_to_q(logits, layer.q)
        # |N − q_n| has a kink at N = q_n. It is harmless only where P is one-hot, because there
        # the term's factor log(1 − P_n) vanishes with it; N = q_n from a spread P (symmetric
        # logits over {−1, 0, 1}, say) is a true kink that central differences average over.
        one_hot = np.max(softmax(logits), axis=-1, keepdims=True) == 1.0
        assume(np.all((one_hot & (distance == 0)) | (distance > 1e-3)))

    total, grads = network.regularizer(params)
    assert sorted(grads) == sorted(key for key in params if key.endswith(".logits"))
    for i, layer in enumerate(network.layers):
        key = f"{i}.logits"
        assert np.all(grads[key][layer.frozen] == 0), "frozen weights must get no regularizer gradient"

        def loss(point, key=key):
            return network.regularizer({**params, key: point})[0]

        free = np.broadcast_to(~layer.frozen[..., None], params[key].shape)
        assert_real_gradient(loss, params[key], grads[key], 1.0 + total, f"{network.spec}: dR/d{key}", checked=free)


def test_network_parameter_keys_cover_phasors():
    network = Network("2 3:CALUm 1:CALUa", [np.array([0, 1, 2]), np.array([-1, 0, 1])])
    assert phasor_is_trainable(network.layers[0].q)
    assert sorted(network.parameter_shapes()) == ["0.logits", "0.theta", "1.logits"]
