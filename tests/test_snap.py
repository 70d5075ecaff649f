"""Snap: exact candidates are kept only when they do not raise the training loss."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from calu_np.formula import formulas_of
from calu_np.network import Network
from calu_np.snap import allowed_values, decompose, round_onto_sums, snap
from calu_np.train import TrainConfig

from tests.strategies import q_sets

Q = np.array([0.0, 1.0, 2.0])
PEAK = 12.0  # a logit margin that makes one softmax entry about 1 − 6e-6

# The values one weight can take where the phasor trains: Q and −Q.
signed_q_sets = q_sets.map(lambda q: np.concatenate([q, -q]))
coefficients = st.complex_numbers(max_magnitude=12.0, allow_nan=False, allow_infinity=False)


def product_data(n=200, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.2, 1.0, size=(n, 2)) * rng.choice([-1.0, 1.0], size=(n, 2))
    return x, scale * x[:, :1] * x[:, 1:2]


def peaked_logits(values, n_q=3):
    """Logits whose softmax puts almost all weight on the index given for each entry."""
    values = np.asarray(values)
    logits = np.zeros(values.shape + (n_q,))
    np.put_along_axis(logits, values[..., None], PEAK, axis=-1)
    return logits


def product_network(extra_units=0):
    """A "2 k:CALUm 1:CALUa" network whose first unit computes x0·x1 with output weight 1."""
    units = 1 + extra_units
    network = Network(f"2 {units}:CALUm 1:CALUa", Q)
    exponents = np.zeros((units, 2), dtype=int)
    exponents[0] = [1, 1]
    out = np.zeros((1, units), dtype=int)
    out[0, 0] = 1
    network.params = {
        "0.logits": peaked_logits(exponents),
        "0.theta": np.full((units, 2), -8.0),
        "1.logits": peaked_logits(out),
        "1.theta": np.full((1, units), -8.0),
    }
    return network


def test_snap_keeps_exact_product():
    x, t = product_data()
    network = product_network()
    report = snap(network, x, t)
    assert report.kept
    assert report.loss_after < 1e-28
    assert report.loss_after <= report.loss_before
    assert "kept" in report.describe()
    assert np.all(network.layers[0].frozen)
    assert np.all(network.layers[1].frozen)


def test_snap_weights_in_allowed_set():
    x, t = product_data()
    network = product_network(extra_units=2)
    snap(network, x, t)
    for layer in network.layers:
        values = allowed_values(layer)
        assert np.all(np.isin(layer.fixed_M, values))


def test_snap_rejects_when_loss_rises():
    # t = 0.5·x0·x1: the soft model has N = 0.5 exactly (P = ½, ½, 0) and no exact weight can match it.
    x, t = product_data(scale=0.5)
    network = product_network()
    network.params["1.logits"] = np.array([[[0.0, 0.0, -np.inf]]])
    y_before = network.forward(x)[0].copy()
    report = snap(network, x, t)
    assert not report.kept
    assert report.loss_after > report.loss_before
    assert "rejected" in report.describe()
    assert not np.any(network.layers[0].frozen)
    assert not np.any(network.layers[1].frozen)
    np.testing.assert_array_equal(network.forward(x)[0], y_before)


def test_snap_spreads_large_coefficient_over_copies():
    # t = 3·x0·x1 needs an output weight of 3 with Q·{±1} = {−2, …, 2}: two copies of the unit.
    x, t = product_data(scale=3.0)
    network = product_network(extra_units=3)
    report = snap(network, x, t)
    assert report.kept
    assert report.loss_after < 1e-27
    assert "merged sum" not in report.method
    assert np.all(np.isin(network.layers[1].fixed_M, allowed_values(network.layers[1])))
    assert np.sum(network.layers[1].fixed_M.real) == 3


def test_snap_nearest_fixes_spread_softmax():
    # P = (0.34, 0.32, 0.34) over {0, 1, 2} means N = 1 but its argmax is 0 or 2.
    x, t = product_data()
    network = product_network()
    network.params["0.logits"][0, 0] = np.log([0.34, 0.32, 0.34])
    report = snap(network, x, t)
    assert report.kept
    assert report.loss_after < 1e-28
    assert report.candidates["argmax"] > 1e-3


def test_snap_retrains_missing_unit():
    # Only the unit x0·x1 is right; t also needs x0, which a short retraining round must find.
    x, _ = product_data(n=400)
    t = x[:, :1] * x[:, 1:2] + x[:, :1]
    network = product_network(extra_units=4)
    config = TrainConfig(seed=0, snap_rounds=2, snap_retrain_steps=600, snap_search=False)
    calls = []
    report = snap(network, x, t, config, progress=calls.append)
    assert report.kept
    assert "retrain" in report.method
    assert report.loss_after < 1e-25
    assert sum(calls) <= config.snap_rounds * config.snap_retrain_steps


@pytest.mark.parametrize(
    "value, expected",
    [(2.6, [2, 1]), (0.4, []), (-5.2, [-2, -2, -1]), (6.0, [2, 2, 2])],
)
def test_decompose_rounds_onto_sums(value, expected):
    values = np.array([0, 1, 2, -1, -2], dtype=complex)
    assert [int(term.real) for term in decompose(value, values, 10)] == expected


def test_decompose_stops_at_max_terms():
    values = np.array([0, 1, 2, -1, -2], dtype=complex)
    assert len(decompose(9.0, values, 2)) == 2


def test_snap_search_finds_neighbour_feature():
    # t needs x0, one exponent away from the trained unit x0·x1; the search adds it without training.
    x, _ = product_data(n=400)
    t = x[:, :1] * x[:, 1:2] + x[:, :1]
    network = product_network(extra_units=4)
    report = snap(network, x, t)
    assert report.kept
    assert report.method == "refit+search"
    assert report.loss_after < 1e-25
    assert np.all(np.isin(network.layers[0].fixed_M, allowed_values(network.layers[0])))
    assert np.all(np.isin(network.layers[1].fixed_M, allowed_values(network.layers[1])))


@given(values=signed_q_sets, c=coefficients, max_terms=st.integers(1, 6))
def test_round_onto_sums_matches_decompose(values, c, max_terms):
    expected = sum(decompose(c, values, max_terms), 0j)
    assert round_onto_sums(np.array([c]), values, max_terms)[0] == expected


def narrow_network(rows, weights, units=5):
    """A "2 units:CALUm 1:CALUa" network whose first units have the given exponent rows and output weights.

    Exponents and weights are in {−2, …, 2}, and a negative one sets its phasor to −1.
    """
    exponents = np.zeros((units, 2), dtype=int)
    exponents[: len(rows)] = rows
    out = np.zeros((1, units), dtype=int)
    out[0, : len(weights)] = weights
    network = Network(f"2 {units}:CALUm 1:CALUa", Q)
    network.params = {
        "0.logits": peaked_logits(np.abs(exponents)),
        "0.theta": np.where(exponents < 0, 8.0, -8.0),
        "1.logits": peaked_logits(np.abs(out)),
        "1.theta": np.where(out < 0, 8.0, -8.0),
    }
    return network


@pytest.mark.parametrize(
    "sign, rows, weights, expected",
    [
        # Near misses that training reached over [1.1, 1.2]: x0·x1 + 1 for x0 + x1, x0/x1 − 1 for x0 − x1.
        (1.0, [[1, 1], [0, 0]], [1, 1], "y0 = x0 + x1"),
        (-1.0, [[1, -1], [0, 0]], [1, -1], "y0 = x0 - x1"),
    ],
)
def test_snap_search_narrow_range(sign, rows, weights, expected):
    # Over [1.1, 1.2] every monomial is nearly collinear with the others, so the greedy pursuit
    # picks wrong features for the residual. Only trying the supports one by one finds the law.
    rng = np.random.default_rng(0)
    x = rng.uniform(1.1, 1.2, size=(2000, 2))
    t = x[:, :1] + sign * x[:, 1:2]
    network = narrow_network(rows, weights)
    report = snap(network, x, t)
    assert report.exact
    assert report.method == "refit+search"
    assert formulas_of(network) == [expected]
    x_far = rng.uniform(1.2, 6.0, size=(2000, 2))
    np.testing.assert_allclose(network.forward(x_far)[0], x_far[:, :1] + sign * x_far[:, 1:2], rtol=0, atol=1e-13)
