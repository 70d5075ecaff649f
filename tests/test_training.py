"""Training loop: reproducibility, divergence handling, the regularizer ramp and a short run on x·y."""

import re

import numpy as np
import pytest

from calu_np.experiment import default_config, run_regression
from calu_np.network import Network
from calu_np.regularizer import regularizer_strength
from calu_np.train import TrainConfig, TrainingDiverged, planned_steps, run_adam, train

Q = np.array([0.0, 1.0, 2.0])
SHORT = dict(steps=150, restarts=2, restart_steps=40, batch_size=32)


def product_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.1, 1.0, size=(n, 2)) * rng.choice([-1.0, 1.0], size=(n, 2))
    return x, x[:, :1] * x[:, 1:2]


def trained_network(config):
    x, t = product_data()
    network = Network("2 5:CALUm 1:CALUa", Q)
    curve = train(network, x, t, config)
    return network, curve


def test_train_same_seed_bit_identical():
    first, first_curve = trained_network(TrainConfig(seed=3, **SHORT))
    second, second_curve = trained_network(TrainConfig(seed=3, **SHORT))
    assert first_curve == second_curve
    assert first.params.keys() == second.params.keys()
    for key in first.params:
        np.testing.assert_array_equal(first.params[key], second.params[key])


def test_train_other_seed_differs():
    first, _ = trained_network(TrainConfig(seed=3, **SHORT))
    second, _ = trained_network(TrainConfig(seed=4, **SHORT))
    assert not np.array_equal(first.params["0.logits"], second.params["0.logits"])


def test_train_curve_length_and_progress():
    config = TrainConfig(seed=0, **SHORT)
    x, t = product_data()
    calls = []
    curve = train(Network("2 5:CALUm 1:CALUa", Q), x, t, config, progress=calls.append)
    assert len(curve) == config.restart_steps + config.steps
    assert sum(calls) == config.restarts * config.restart_steps + config.steps
    assert planned_steps(config) == sum(calls) + config.snap_rounds * config.snap_retrain_steps


def test_diverged_names_step_and_layer():
    x, t = product_data(n=64)
    x[40, 0] = np.nan
    network = Network("2 5:CALUm 1:CALUa", Q)
    config = TrainConfig(seed=1, steps=200, restarts=1, batch_size=8)
    snapshots = []

    def remember(_):
        snapshots.append(network.copy_params())

    with pytest.raises(TrainingDiverged, match=r"step \d+, first in the output of layer 0 \(CALUm\)") as caught:
        train(network, x, t, config, progress=remember)
    step = int(re.search(r"step (\d+)", str(caught.value)).group(1))
    assert step == len(snapshots) + 1
    # Kept: the parameters evaluated at the last step with a finite loss, before its update.
    expected = snapshots[step - 3] if step >= 3 else None
    if expected is not None:
        for key, value in expected.items():
            np.testing.assert_array_equal(network.params[key], value)
    for value in network.params.values():
        assert np.all(np.isfinite(value))


def test_diverged_in_loss_names_loss():
    x, t = product_data(n=16)
    t[3, 0] = np.inf
    network = Network("2 5:CALUm 1:CALUa", Q)
    config = TrainConfig(seed=0, steps=5, restarts=1, batch_size=16)
    with pytest.raises(TrainingDiverged, match="at step 1, first in the loss"):
        train(network, x, t, config)


@pytest.mark.parametrize(
    "fraction, expected",
    [(0.0, 0.0), (0.5, 0.0), (0.6, 0.0), (0.75, 0.5e-3), (0.9, 1e-3), (1.0, 1e-3)],
)
def test_regularizer_ramp_values(fraction, expected):
    assert regularizer_strength(int(fraction * 1000), 1000, 1e-3, 0.6, 0.9) == pytest.approx(expected)


def test_regularizer_off_before_ramp():
    # Before reg_start the regularizer weighs 0, so the run matches one without regularizer.
    x, t = product_data()
    curves = []
    for strength in (1e-3, 0.0):
        network = Network("2 5:CALUm 1:CALUa", Q)
        config = TrainConfig(seed=0, steps=100, restarts=1, batch_size=32, reg_strength=strength)
        curves.append(train(network, x, t, config))
    with_reg, without = curves
    assert with_reg[:61] == without[:61]
    assert with_reg[70:] != without[70:]


def test_mul_short_run_exact():
    config = default_config("mul", seed=0)
    config.restarts, config.steps = 1, 1500
    result = run_regression("mul", seed=0, config=config)
    assert result.snap_report.kept
    assert result.metrics["after_snap"]["extrapolation_mse"] <= 1e-20
    assert result.metrics["after_snap"]["interpolation_mse"] <= 1e-20


def test_run_regression_progress_reaches_plan():
    config = default_config("add", seed=0)
    config.restarts, config.steps, config.snap_retrain_steps = 1, 300, 50
    calls = []
    run_regression("add", seed=0, config=config, progress=calls.append)
    assert sum(calls) == planned_steps(config)
