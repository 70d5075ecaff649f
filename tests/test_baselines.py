"""Property tests: every baseline backward pass against central finite differences.

For a real output y and the test loss L = Σ C ∘ y, the convention gives G_y = ½ C, parameter
gradients dL/dφ and an input gradient G_x = ½ dL/dx. Each gradient is checked along a random
direction D: Σ grad ∘ D must match the central difference (L(φ + hD) − L(φ − hD)) / 2h, taken
at h and h/2 and combined by Richardson extrapolation.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from calu_np.baselines import BASELINES, BaselineModel, FitConfig, baseline_stack, fit, parse_stack
from calu_np.baselines import dense, nalu, nau, npu

seeds = st.integers(min_value=0, max_value=2**32 - 1)
batch_sizes = st.integers(min_value=1, max_value=4)
widths = st.integers(min_value=1, max_value=4)

STEP = 1e-6
RTOL = 1e-5
ATOL = 1e-7


def signed_inputs(rng, shape, low=0.2, high=2.0):
    """Draw |x| in [low, high] with a random sign: away from 0, where |x| and log|x| have kinks."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def richardson(f):
    """Return f'(0) from central differences with steps STEP and STEP / 2, combined by Richardson.

    (4 d(h/2) − d(h)) / 3 cancels the h² error term of the central difference d(h), which
    exceeded RTOL for NALU stacks whose exponential path is strongly curved.
    """
    def central(h):
        return (f(h) - f(-h)) / (2 * h)

    return (4.0 * central(STEP / 2) - central(STEP)) / 3.0


def check_layer_gradients(forward, backward, x, params, rng):
    """Assert that backward matches central differences for every parameter and for x."""
    y, cache = forward(x, params)
    C = rng.normal(size=y.shape)
    grads = backward(0.5 * C, cache)
    assert set(grads) == set(params) | {"x"}

    def loss(x_value, params_value):
        return float(np.sum(C * forward(x_value, params_value)[0]))

    for key in params:
        D = rng.normal(size=params[key].shape)
        numeric = richardson(lambda h: loss(x, {**params, key: params[key] + h * D}))
        analytic = float(np.sum(grads[key] * D))
        assert analytic == pytest.approx(numeric, rel=RTOL, abs=ATOL), f"d/d{key}: analytic {analytic}, numeric {numeric}"

    D = rng.normal(size=x.shape)
    numeric = richardson(lambda h: loss(x + h * D, params))
    analytic = 2.0 * float(np.sum(grads["x"] * D))
    assert analytic == pytest.approx(numeric, rel=RTOL, abs=ATOL), f"d/dx: analytic {analytic}, numeric {numeric}"


@pytest.mark.parametrize("activation", dense.ACTIVATIONS)
@settings(max_examples=30, deadline=None)
@given(seed=seeds, batch=batch_sizes, n_in=widths, n_out=widths)
def test_dense_backward(activation, seed, batch, n_in, n_out):
    rng = np.random.default_rng(seed)
    params = dense.init_dense(rng, n_in, n_out)
    params["b"] = rng.normal(size=n_out)
    x = rng.normal(size=(batch, n_in))
    u = x @ params["W"].T + params["b"]
    assume(activation != "relu" or np.min(np.abs(u)) > 1e-3)  # keep ReLU away from its kink
    forward = lambda x, p: dense.dense_forward(x, p, activation)  # noqa: E731
    check_layer_gradients(forward, dense.dense_backward, x, params, rng)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=batch_sizes, n_in=widths, n_out=widths)
def test_nac_backward(seed, batch, n_in, n_out):
    rng = np.random.default_rng(seed)
    params = {"W_hat": rng.normal(size=(n_out, n_in)), "M_hat": rng.normal(size=(n_out, n_in))}
    check_layer_gradients(nalu.nac_forward, nalu.nac_backward, signed_inputs(rng, (batch, n_in)), params, rng)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=batch_sizes, n_in=widths, n_out=widths)
def test_nalu_backward(seed, batch, n_in, n_out):
    rng = np.random.default_rng(seed)
    params = {key: rng.normal(size=(n_out, n_in)) for key in ("W_hat", "M_hat", "G")}
    check_layer_gradients(nalu.nalu_forward, nalu.nalu_backward, signed_inputs(rng, (batch, n_in)), params, rng)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=batch_sizes, n_in=widths, n_out=widths)
def test_nau_backward(seed, batch, n_in, n_out):
    rng = np.random.default_rng(seed)
    params = {"W": rng.uniform(-1.0, 1.0, size=(n_out, n_in))}
    check_layer_gradients(nau.nau_forward, nau.nau_backward, signed_inputs(rng, (batch, n_in)), params, rng)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=batch_sizes, n_in=widths, n_out=widths)
def test_nmu_backward(seed, batch, n_in, n_out):
    rng = np.random.default_rng(seed)
    params = {"W": rng.uniform(0.0, 1.0, size=(n_out, n_in))}
    check_layer_gradients(nau.nmu_forward, nau.nmu_backward, signed_inputs(rng, (batch, n_in)), params, rng)


def test_nmu_backward_with_zero_factor():
    # W = 1 on the input 0.0 makes the first factor exactly 0; no gradient may divide by it.
    x = np.array([[0.0, 3.0, -2.0]])
    params = {"W": np.array([[1.0, 1.0, 1.0]])}
    z, cache = nau.nmu_forward(x, params)
    grads = nau.nmu_backward(np.ones_like(z), cache)
    assert z[0, 0] == 0.0
    assert grads["W"][0, 0] == pytest.approx(2.0 * (0.0 - 1.0) * 3.0 * -2.0)
    assert grads["x"][0, 0] == pytest.approx(3.0 * -2.0)
    assert grads["x"][0, 1] == 0.0


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=batch_sizes, n_in=widths, n_out=widths)
def test_npu_backward(seed, batch, n_in, n_out):
    rng = np.random.default_rng(seed)
    params = {"W": rng.normal(size=(n_out, n_in)), "g": rng.uniform(0.1, 0.9, size=n_in)}
    check_layer_gradients(npu.npu_forward, npu.npu_backward, signed_inputs(rng, (batch, n_in)), params, rng)


def test_npu_keeps_sign_of_product():
    x = np.array([[-2.0, 3.0], [-0.5, -4.0]])
    params = {"W": np.array([[1.0, 1.0]]), "g": np.ones(2)}
    z, _ = npu.npu_forward(x, params)
    assert z[:, 0] == pytest.approx(x[:, 0] * x[:, 1], rel=1e-6)


def test_nalu_loses_sign_of_product():
    # Saturated weights give W = 1 and a gate near 0 selects the multiplicative path, which
    # reads |x|: the output is |x0 x1| = 6 where the product is −6.
    x = np.array([[-2.0, 3.0]])
    params = {"W_hat": np.full((1, 2), 20.0), "M_hat": np.full((1, 2), 40.0), "G": np.array([[20.0, -20.0]])}
    y, _ = nalu.nalu_forward(x, params)
    assert y[0, 0] == pytest.approx(6.0, rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, n_in=widths, n_out=widths)
def test_sparsity_backward(seed, n_in, n_out):
    rng = np.random.default_rng(seed)
    W = rng.uniform(-1.0, 1.0, size=(n_out, n_in))
    assume(np.min(np.abs(np.abs(W) - 0.5)) > 1e-3 and np.min(np.abs(W)) > 1e-3)  # away from the kinks
    _, cache = nau.sparsity_forward(W)
    grad = nau.sparsity_backward(cache)
    D = rng.normal(size=W.shape)
    numeric = (nau.sparsity_forward(W + STEP * D)[0] - nau.sparsity_forward(W - STEP * D)[0]) / (2 * STEP)
    assert float(np.sum(grad * D)) == pytest.approx(numeric, rel=RTOL, abs=ATOL)


@pytest.mark.parametrize("name", sorted(BASELINES))
@settings(max_examples=10, deadline=None)
@given(seed=seeds, batch=batch_sizes)
def test_model_backward(name, seed, batch):
    rng = np.random.default_rng(seed)
    model = BaselineModel(baseline_stack(name, 3, 4, 2).replace("100:", "6:"))
    params = model.initialise(rng)
    x = signed_inputs(rng, (batch, 3))
    if name == "relu":
        pre_activations = [cache[2] for cache in model.forward(x, params)[1]]
        assume(all(np.min(np.abs(u)) > 1e-3 for u in pre_activations))  # away from the kink
    if name == "npu":
        params["0.g"] = rng.uniform(0.1, 0.9, size=3)

    def forward(x_value, p):
        return model.forward(x_value, p)

    def backward(G_y, caches):
        grads, G_x = model.backward(G_y, caches)
        return {**grads, "x": G_x}

    check_layer_gradients(forward, backward, x, params, rng)


def test_parse_stack_rejects_bad_tokens():
    with pytest.raises(ValueError, match="unknown layer kind"):
        parse_stack("2 5:FOO 1:NAU")
    with pytest.raises(ValueError, match="invalid unit count"):
        parse_stack("2 0:NAU")
    with pytest.raises(ValueError, match="invalid input size"):
        parse_stack("x 1:NAU")


def test_nau_learns_addition():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1.0, 1.0, size=(256, 2))
    t = x[:, :1] + x[:, 1:]
    model = BaselineModel("2 1:NAU")
    result = fit(model, x, t, FitConfig(steps=1500, lr=0.05, lr_end=1e-3))
    assert result.diverged_at is None
    assert model.params["0.W"] == pytest.approx(np.ones((1, 2)), abs=1e-4)


def test_fit_stops_on_overflow():
    # Inputs of 1e200 make y² overflow to inf in the loss on the first step.
    x = np.full((8, 2), 1e200)
    t = np.zeros((8, 1))
    model = BaselineModel("2 1:IDENTITY")
    steps_seen = []
    result = fit(model, x, t, FitConfig(steps=20, seed=1), progress=steps_seen.append)
    assert result.diverged_at == 1
    assert sum(steps_seen) == 20
    assert all(np.all(np.isfinite(value)) for value in model.params.values())
