"""Snap: exact candidates are kept only when they do not raise the training loss."""

import numpy as np
import pytest

from calu_np.network import Network
from calu_np.snap import allowed_values, decompose, snap
from calu_np.train import TrainConfig

Q = np.array([0.0, 1.0, 2.0])
PEAK = 12.0  # a logit margin that makes one softmax entry about 1 − 6e-6


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
