"""The numba engine against the NumPy reference: every kernel within 1e-12 relative."""

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calu_np import engine, layers

seeds = st.integers(min_value=0, max_value=2**32 - 1)
batch_sizes = st.integers(min_value=1, max_value=9)
widths = st.integers(min_value=1, max_value=7)
quantized_sets = st.sampled_from([
    np.array([0.0, 1.0, 2.0]),
    np.array([-2.0, -1.0, 0.0, 1.0, 2.0]),
    np.array([0.0, 0.5, 1.0, 3.0]),
    np.array([np.e, np.pi]),
    np.array([1.0, 1j, -1.0, -1j]),
])

TOLERANCE = 1e-12


@pytest.fixture(autouse=True)
def restore_engine():
    previous = engine.get_engine()
    yield
    engine.set_engine(previous)


def relative_error(actual, expected):
    """Return max |actual − expected| / max |expected|, or the absolute error where expected is all 0."""
    scale = np.max(np.abs(expected), initial=0.0)
    error = np.max(np.abs(actual - expected), initial=0.0)
    return error / scale if scale > 0 else error


def assert_close(actual, expected, name):
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != {expected.shape}"
    error = relative_error(actual, expected)
    assert error <= TOLERANCE, f"{name}: relative error {error:.3e}\nnumba {actual}\nnumpy {expected}"


def run_both(function, *args):
    """Return function(*args) under the numpy engine and under the numba engine."""
    engine.set_engine("numpy")
    reference = function(*args)
    engine.set_engine("numba")
    return reference, function(*args)


def calum_inputs(rng, batch, n_in):
    """Complex inputs with negative reals, −0.0 imaginary parts, exact zeros and complex entries."""
    magnitude = rng.uniform(0.2, 3.0, size=(batch, n_in))
    x = magnitude * rng.choice([-1.0, 1.0], size=(batch, n_in)) + 0j
    kind = rng.integers(0, 4, size=(batch, n_in))
    x = np.where(kind == 1, np.real(x) - 0.0j, x)  # −0.0 imaginary part
    x = np.where(kind == 2, 0.0, x)
    x = np.where(kind == 3, x * np.exp(1j * rng.uniform(-3.0, 3.0, size=(batch, n_in))), x)
    return x


def integer_weights(rng, n_out, n_in):
    """Weights as a trained CALU layer has them: near-integer exponents, some exactly 0 or ±1."""
    M = rng.integers(-2, 3, size=(n_out, n_in)) + 0.3 * (rng.normal(size=(n_out, n_in)) + 1j * rng.normal(size=(n_out, n_in)))
    exact = rng.random((n_out, n_in)) < 0.3
    return np.where(exact, np.round(M.real), M)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=batch_sizes, n_in=widths, n_out=widths)
def test_calum_forward_matches_reference(seed, batch, n_in, n_out):
    rng = np.random.default_rng(seed)
    x = calum_inputs(rng, batch, n_in)
    M = integer_weights(rng, n_out, n_in)
    (y_ref, _), (y, _) = run_both(engine.layer_forward, "CALUm", x, M)

    finite = np.isfinite(y_ref)
    np.testing.assert_array_equal(np.isfinite(y), finite)
    np.testing.assert_array_equal(y[~finite], y_ref[~finite])
    # Elementwise, because exp spreads the outputs over many orders of magnitude.
    error = np.abs(y[finite] - y_ref[finite]) / np.maximum(np.abs(y_ref[finite]), 1e-300)
    assert np.all(error <= TOLERANCE), f"max elementwise relative error {error.max():.3e}"


@settings(max_examples=40, deadline=None)
@given(seed=seeds, batch=batch_sizes, n_in=widths, n_out=widths)
def test_calum_backward_matches_reference(seed, batch, n_in, n_out):
    rng = np.random.default_rng(seed)
    x = calum_inputs(rng, batch, n_in)
    M = integer_weights(rng, n_out, n_in)
    G_y = rng.normal(size=(batch, n_out)) + 1j * rng.normal(size=(batch, n_out))

    def forward_backward():
        _, cache = engine.layer_forward("CALUm", x, M)
        return engine.layer_backward("CALUm", G_y, cache)

    (G_x_ref, G_M_ref), (G_x, G_M) = run_both(forward_backward)
    assert_close(G_x, G_x_ref, "G_x")
    assert_close(G_M, G_M_ref, "G_M")
    assert np.all(G_x[x == 0] == 0), "the input gradient must be 0 at zero inputs"
    assert np.all(np.isfinite(G_M))


def test_calum_negative_inputs_keep_sign():
    x = np.array([[-2.0, 3.0], [-2.0 - 0.0j, -3.0]])
    M = np.array([[1.0, 1.0], [2.0, 0.0]]) + 0j
    engine.set_engine("numba")
    y, _ = engine.layer_forward("CALUm", x, M)
    np.testing.assert_allclose(y, [[-6.0, 4.0], [6.0, 4.0]], rtol=1e-15, atol=1e-15)


def test_calum_zero_input_limits():
    x = np.array([[0.0, 2.0]]) + 0j
    M = np.array([[1.0, 1.0], [0.0, 1.0], [-1.0, 1.0], [-1.0, 0.0]]) + 0j
    (y_ref, _), (y, _) = run_both(engine.layer_forward, "CALUm", x, M)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(y, [[0.0, 2.0, complex(np.inf, 0.0), complex(np.inf, 0.0)]])


def test_calum_backward_skips_input_gradient():
    rng = np.random.default_rng(3)
    x = calum_inputs(rng, 4, 3)
    M = integer_weights(rng, 2, 3)
    G_y = rng.normal(size=(4, 2)) + 0j
    engine.set_engine("numba")
    _, cache = engine.layer_forward("CALUm", x, M)
    G_x, G_M = engine.layer_backward("CALUm", G_y, cache, input_grad=False)
    assert G_x is None
    np.testing.assert_array_equal(G_M, engine.layer_backward("CALUm", G_y, cache)[1])


@settings(max_examples=30, deadline=None)
@given(seed=seeds, batch=batch_sizes, n_in=widths, n_out=widths)
def test_calua_matches_reference(seed, batch, n_in, n_out):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, n_in)) + 1j * rng.normal(size=(batch, n_in))
    M = integer_weights(rng, n_out, n_in)
    G_y = rng.normal(size=(batch, n_out)) + 1j * rng.normal(size=(batch, n_out))

    def forward_backward():
        y, cache = engine.layer_forward("CALUa", x, M)
        return (y,) + engine.layer_backward("CALUa", G_y, cache)

    (y_ref, G_x_ref, G_M_ref), (y, G_x, G_M) = run_both(forward_backward)
    assert_close(y, y_ref, "y")
    assert_close(G_x, G_x_ref, "G_x")
    assert_close(G_M, G_M_ref, "G_M")


@settings(max_examples=40, deadline=None)
@given(seed=seeds, n_out=widths, n_in=widths, q=quantized_sets, with_phasor=st.booleans())
def test_weights_match_reference(seed, n_out, n_in, q, with_phasor):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 3.0, size=(n_out, n_in, len(q)))
    theta = rng.normal(0.0, 4.0, size=(n_out, n_in)) if with_phasor else None
    frozen = rng.random((n_out, n_in)) < 0.3
    fixed_M = np.where(frozen, rng.choice(q, size=(n_out, n_in)), 0.0).astype(np.complex128)
    G_M = rng.normal(size=(n_out, n_in)) + 1j * rng.normal(size=(n_out, n_in))

    def forward_backward():
        M, cache = engine.weights_forward(logits, theta, q, frozen, fixed_M)
        return M, engine.weights_backward(G_M, cache)

    (M_ref, (d_logits_ref, d_theta_ref)), (M, (d_logits, d_theta)) = run_both(forward_backward)
    assert_close(M, M_ref, "M")
    assert_close(d_logits, d_logits_ref, "dL/dlogits")
    np.testing.assert_array_equal(M[frozen], fixed_M[frozen])
    assert np.all(d_logits[frozen] == 0), "frozen weights must get no gradient"
    if with_phasor:
        assert_close(d_theta, d_theta_ref, "dL/dtheta")
        assert np.all(d_theta[frozen] == 0)
    else:
        assert d_theta is None
        assert d_theta_ref is None


def test_weights_with_saturated_logits():
    logits = np.array([[[800.0, 0.0, -800.0], [0.0, 0.0, 0.0]]])
    theta = np.array([[800.0, -800.0]])
    frozen = np.zeros((1, 2), dtype=bool)
    fixed_M = np.zeros((1, 2), dtype=np.complex128)
    (M_ref, _), (M, _) = run_both(engine.weights_forward, logits, theta, np.array([0.0, 1.0, 2.0]), frozen, fixed_M)
    assert np.all(np.isfinite(M))
    assert_close(M, M_ref, "M")


def test_complex_exp_matches_numpy():
    from calu_np import kernels

    rng = np.random.default_rng(7)
    s = rng.normal(0.0, 50.0, size=(40, 50)) + 1j * rng.normal(0.0, 1e3, size=(40, 50))
    special = [0.0, -0.0j, 1j * np.pi, 700.0, -700.0, 705.0 + 1.0j, -720.0 + 2.0j, 709.5 + 1.5707963j,
               750.0 + 0.0j, -750.0, 1.0 + 2e5j, 3.0 - 1e7j, complex(np.inf, 0.0), complex(-np.inf, 1.0),
               complex(np.nan, 0.0), complex(0.0, np.nan), 1e-300 + 1e-300j]
    s.flat[: len(special)] = special
    y = np.empty_like(s)
    kernels.complex_exp_into(s, y)
    with np.errstate(all="ignore"):
        expected = np.exp(s)

    finite = np.isfinite(expected)
    np.testing.assert_array_equal(np.isfinite(y), finite)
    error = np.abs(y[finite] - expected[finite]) / np.maximum(np.abs(expected[finite]), 1e-300)
    assert np.all(error <= TOLERANCE), f"max elementwise relative error {error.max():.3e}"
    np.testing.assert_array_equal(np.isnan(y), np.isnan(expected))
    # A zero imaginary part stays exactly zero, as in NumPy.
    assert y.flat[0].imag == 0.0
    assert y.flat[1] == complex(1.0, -0.0)


def test_real_exp_matches_numpy():
    from calu_np import kernels

    rng = np.random.default_rng(8)
    a = rng.normal(0.0, 100.0, size=500)
    special = [0.0, -0.0, 1e-300, 700.0, -700.0, 705.0, -720.0, 709.7, 710.0, -745.0, -800.0, 800.0,
               np.inf, -np.inf, np.nan]
    a[: len(special)] = special
    out = np.empty_like(a)
    kernels._exp_real_into(a, out)
    with np.errstate(all="ignore"):
        expected = np.exp(a)

    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(expected))
    finite = np.isfinite(expected) & (expected > 0)
    error = np.abs(out[finite] - expected[finite]) / expected[finite]
    assert np.all(error <= TOLERANCE), f"max elementwise relative error {error.max():.3e}"
    np.testing.assert_array_equal(out[expected == 0], 0.0)


def test_adam_update_gives_numpy_bits():
    rng = np.random.default_rng(11)
    results = {}
    for name in engine.ENGINES:
        engine.set_engine(name)
        param, m, v = rng.normal(size=(3, 4, 5)), np.zeros((4, 5)), np.zeros((4, 5))
        param_start = param[0].copy()
        state = [param_start, m, v]
        for step in range(1, 4):
            grad = np.sin(state[0] * step)
            engine.adam_update(state[0], grad, state[1], state[2], 0.02, 0.9, 0.999, 1e-8,
                               1.0 - 0.9**step, 1.0 - 0.999**step)
        results[name] = state
        rng = np.random.default_rng(11)
    for reference, actual in zip(results["numpy"], results["numba"]):
        np.testing.assert_array_equal(actual, reference)


def test_numba_engine_is_reproducible():
    rng = np.random.default_rng(5)
    x = calum_inputs(rng, 6, 4)
    M = integer_weights(rng, 3, 4)
    G_y = rng.normal(size=(6, 3)) + 0j
    engine.set_engine("numba")
    runs = []
    for _ in range(2):
        y, cache = engine.layer_forward("CALUm", x, M)
        runs.append((y,) + engine.layer_backward("CALUm", G_y, cache))
    for first, second in zip(*runs):
        np.testing.assert_array_equal(first, second)


def test_engine_rejects_unknown_name():
    with pytest.raises(ValueError, match="unknown engine 'cuda'"):
        engine.set_engine("cuda")


def test_engine_reads_environment_variable():
    code = "from calu_np import engine; print(engine.get_engine())"
    for value, expected in [("numpy", "numpy"), ("numba", "numba"), (None, engine.DEFAULT_ENGINE)]:
        environment = dict(os.environ)
        environment.pop(engine.ENVIRONMENT_VARIABLE, None)
        if value is not None:
            environment[engine.ENVIRONMENT_VARIABLE] = value
        output = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True)
        assert output.stdout.strip() == expected


def test_engine_rejects_invalid_environment_variable():
    code = "from calu_np import engine; engine.get_engine()"
    environment = dict(os.environ, CALU_NP_ENGINE="fortran")
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True)
    assert result.returncode != 0
    assert "invalid CALU_NP_ENGINE='fortran'" in result.stderr


def test_import_loads_no_numba():
    code = ("import sys; import calu_np, calu_np.engine, calu_np.network, calu_np.train; "
            "print('numba' in sys.modules)")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False"


def test_reference_layers_unchanged_by_engine_choice():
    # The reference functions stay callable directly, whatever engine is selected.
    engine.set_engine("numba")
    y, _ = layers.calum_forward(np.array([[4.0 + 0j]]), np.array([[0.5 + 0j]]))
    assert y[0, 0] == 2.0
