"""CALURegressor: exact recovery of small laws, the scikit-learn style API, and export round trips."""

import numpy as np
import pytest

from calu_np.export import emit, sympy_expressions
from calu_np.regressor import CALURegressor, refine
from calu_np.network import Network
from calu_np.spec import parse_q

FAST = dict(steps=400, restarts=1)


def draw(seed, n=300, low=0.5, high=2.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, high, (n, 2)) * rng.choice([-1.0, 1.0], (n, 2))


@pytest.fixture(scope="module")
def fitted():
    X = draw(0)
    y = X[:, 0] / X[:, 1] ** 2
    model = CALURegressor(layers="2 3:CALUm 1:CALUa", q="-2..2", random_state=0, **FAST).fit(X, y)
    return model, X, y


def test_recovers_exact_law(fitted):
    model, _, _ = fitted
    assert model.formula(["a", "b"]) == "y = a/b**2"


def test_extrapolates_at_round_off(fitted):
    model, _, _ = fitted
    X = draw(1, low=5.0, high=20.0)
    y = X[:, 0] / X[:, 1] ** 2
    assert np.mean((model.predict(X) - y) ** 2) / np.mean(y**2) < 1e-28


def test_score_is_one_for_exact_law(fitted):
    model, X, y = fitted
    assert model.score(X, y) == pytest.approx(1.0, abs=1e-12)


def test_predict_shape_follows_y(fitted):
    model, X, _ = fitted
    assert model.predict(X).shape == (len(X),)


def test_python_export_matches_predict(fitted):
    model, _, _ = fitted
    X = draw(2)
    namespace = {}
    exec(emit(model.expressions(), model.scale_, ["a", "b"], ["y"], "python"), namespace)
    expected = model.predict(X)
    got = namespace["law"](X[:, 0], X[:, 1])
    assert np.max(np.abs(got - expected)) <= 1e-12 * np.max(np.abs(expected))


def test_sympy_export_matches_predict(fitted):
    sympy = pytest.importorskip("sympy")
    model, _, _ = fitted
    X = draw(3)
    symbols, (expression,) = sympy_expressions(model.expressions(), model.scale_, ["a", "b"])
    got = np.real(sympy.lambdify(symbols, expression, "numpy")(*X.astype(complex).T))
    expected = model.predict(X)
    assert np.max(np.abs(got - expected)) <= 1e-12 * np.max(np.abs(expected))


def test_save_and_load_round_trip(fitted, tmp_path):
    model, X, _ = fitted
    path = tmp_path / "law.npz"
    model.save(path)
    loaded, metadata = CALURegressor.load(path)
    assert metadata["output_scale"] == [1.0]
    assert loaded.formula(["a", "b"]) == "y = a/b**2"
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_scale_and_two_outputs():
    X = draw(4)
    Y = 3.7 * np.column_stack([X[:, 0] * X[:, 1], X[:, 0] - 2 * X[:, 1]])
    model = CALURegressor(layers="2 3:CALUm 2:CALUa", q="-2..2", scale=True, **FAST).fit(X, Y)
    lines = model.formula(["a", "b"]).splitlines()
    assert lines[0].endswith("*(a*b)")
    assert lines[1].endswith("*(a - 2*b)")
    np.testing.assert_allclose(model.scale_, [3.7, 3.7], rtol=1e-12)
    assert model.predict(X).shape == (len(X), 2)


def test_get_and_set_params():
    model = CALURegressor(steps=10)
    params = model.get_params()
    assert params["steps"] == 10
    assert set(params) == {"layers", "q", "steps", "restarts", "scale", "validation_fraction", "random_state"}
    assert model.set_params(scale=True) is model
    assert model.scale is True
    with pytest.raises(ValueError, match="invalid parameter"):
        model.set_params(alpha=1)


def test_predict_before_fit_rejected():
    with pytest.raises(ValueError, match="not fitted"):
        CALURegressor().predict(np.ones((2, 2)))


def test_non_finite_data_rejected():
    X = np.ones((5, 2))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        CALURegressor().fit(X, np.arange(5.0))


def test_mismatched_layers_rejected():
    with pytest.raises(ValueError, match="maps 3 inputs"):
        CALURegressor(layers="3 2:CALUm 1:CALUa", **FAST).fit(np.ones((20, 2)), np.arange(20.0))


def test_refine_fixes_wrong_exponent():
    # Start from x0*x1 while the data follow x0/x1: one exponent move and the refit fix it.
    network = Network("2 1:CALUm 1:CALUa", parse_q("-2..2"))
    X = draw(5)
    t = (X[:, 0] / X[:, 1])[:, None]
    start = [np.array([[1, 1]], complex), np.array([[1]], complex)]
    Ms, scales, loss = refine(network, X, t, start)
    np.testing.assert_array_equal(Ms[0], [[1, -1]])
    np.testing.assert_array_equal(Ms[1], [[1]])
    assert loss < 1e-28


def test_input_and_output_names_public():
    rng = np.random.default_rng(0)
    X = rng.uniform(1.0, 2.0, (200, 2))
    model = CALURegressor(layers="2 3:CALUm 1:CALUa", random_state=0, **FAST).fit(X, X[:, 0] * X[:, 1])
    assert model.input_names() == ["x0", "x1"]
    assert model.output_names() == ["y"]
    assert model.input_names(["a", "b"]) == ["a", "b"]
    with pytest.raises(ValueError, match="3 names for 2 inputs"):
        model.input_names(["a", "b", "c"])
