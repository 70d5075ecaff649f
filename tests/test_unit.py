"""The one-unit trainer of the NALM benchmark: its numba kernel against finite differences and
against its NumPy twin, its schedules, and what it does when the loss diverges.
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from calu_np.baselines import BaselineModel
from calu_np.baselines.unit import KIND_CODES, LAYOUTS, UnitSchedule, UnitTrainer, pack, train_steps, unpack

unit_kernels = pytest.importorskip("calu_np.baselines.unit_kernels")

seeds = st.integers(min_value=0, max_value=2**32 - 1)
kinds = st.sampled_from(sorted(KIND_CODES))
STEP = 1e-6


def batch_loss(kind, theta, x, t):
    """The batch MSE of the unit, from its module's forward pass."""
    model = BaselineModel(f"{x.shape[1]} 1:{kind}")
    model.params = {f"0.{name}": value for name, value in unpack(kind, theta, x.shape[1]).items()}
    y = model.forward(x)[0][:, 0]
    return float(np.mean((y - t) ** 2))


def random_unit(rng, kind, n_inputs):
    """Parameters inside each unit's allowed set, away from the kinks of |·| and the clamps."""
    blocks = []
    for name in LAYOUTS[kind]:
        if name == "g" or kind == "NMU":
            blocks.append(rng.uniform(0.1, 0.9, n_inputs))
        elif kind == "NAU":
            blocks.append(rng.uniform(0.1, 0.9, n_inputs) * rng.choice([-1.0, 1.0], n_inputs))
        else:
            blocks.append(rng.normal(size=n_inputs))
    return np.concatenate(blocks)


@settings(max_examples=40, deadline=None)
@given(seed=seeds, kind=kinds, n_inputs=st.integers(1, 4), batch=st.integers(1, 6))
def test_kernel_gradient_central_differences(seed, kind, n_inputs, batch):
    rng = np.random.default_rng(seed)
    theta = random_unit(rng, kind, n_inputs)
    x = rng.uniform(0.2, 2.0, (batch, n_inputs)) * rng.choice([-1.0, 1.0], (batch, n_inputs))
    t = rng.normal(size=batch)
    grad = np.empty_like(theta)
    loss = unit_kernels._loss_and_gradient(KIND_CODES[kind], theta, x, t, np.arange(batch), grad,
                                           np.empty(3 * n_inputs))
    assert loss == pytest.approx(batch_loss(kind, theta, x, t), rel=1e-12)
    D = rng.normal(size=theta.shape)
    numeric = (batch_loss(kind, theta + STEP * D, x, t) - batch_loss(kind, theta - STEP * D, x, t)) / (2 * STEP)
    assert float(grad @ D) == pytest.approx(numeric, rel=1e-5, abs=1e-7)


def regulariser(theta, n_inputs, sparsity, beta):
    W = np.abs(theta[:n_inputs])
    return sparsity * np.mean(np.minimum(W, 1.0 - W)) + beta * np.sum(np.abs(theta))


@settings(max_examples=40, deadline=None)
@given(seed=seeds, n_inputs=st.integers(1, 4), extra=st.integers(0, 4))
def test_regulariser_gradient_central_differences(seed, n_inputs, extra):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(-1.2, 1.2, n_inputs + extra)
    # Away from the kinks of min(|w|, 1 − |w|) at 0 and ±½, and of |θ| at 0.
    assume(np.min(np.abs(theta)) > 1e-3 and np.min(np.abs(np.abs(theta) - 0.5)) > 1e-3)
    sparsity, beta = rng.uniform(0.1, 10.0), rng.uniform(1e-3, 1.0)
    grad = np.zeros_like(theta)
    unit_kernels.add_regulariser_gradient(n_inputs, theta, grad, sparsity, beta)
    D = rng.normal(size=theta.shape)
    # The penalty is piecewise linear, so a longer step loses nothing and keeps round-off small,
    # while step · |D| stays well inside the 1e-3 margin around the kinks.
    step = 1e-5
    numeric = (regulariser(theta + step * D, n_inputs, sparsity, beta)
               - regulariser(theta - step * D, n_inputs, sparsity, beta)) / (2 * step)
    assert float(grad @ D) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("kind", sorted(KIND_CODES))
def test_kernel_matches_numpy_twin(kind):
    # Both regularisers switch on part way, so every branch of a step runs.
    rng = np.random.default_rng(5)
    x = rng.uniform(-2.0, 2.0, (2000, 2))
    t = x[:, 0] * x[:, 1]
    schedule = UnitSchedule(total_steps=400, lr=5e-3, sparsity_strength=1.0, sparsity_start=0.25, sparsity_end=0.5,
                            l1_start=1e-4, l1_end=1e-2, l1_every=100)
    thetas, losses = {}, {}
    for engine in ("numpy", "numba"):
        trainer = UnitTrainer(BaselineModel(f"2 1:{kind}"), x, t, schedule, seed=3, engine=engine)
        losses[engine] = [trainer.run(100) for _ in range(4)]
        thetas[engine] = trainer.theta
    assert losses["numpy"] == losses["numba"] == [100] * 4
    error = np.max(np.abs(thetas["numba"] - thetas["numpy"])) / np.max(np.abs(thetas["numpy"]))
    assert error < 1e-9, f"{kind}: relative difference {error:.2e} after 400 steps"


def test_schedules():
    schedule = UnitSchedule(total_steps=50_000, sparsity_strength=10.0, l1_start=1e-9, l1_end=1e-7)
    assert schedule.sparsity_weight(19_999) == 0.0
    assert schedule.sparsity_weight(27_500) == pytest.approx(5.0)
    assert schedule.sparsity_weight(40_000) == 10.0
    assert [schedule.l1_weight(step) for step in (0, 9_999, 10_000, 20_000, 45_000)] == pytest.approx(
        [1e-9, 1e-9, 1e-8, 1e-7, 1e-7])
    assert UnitSchedule(total_steps=10).l1_weight(5) == 0.0


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_divergence_restores_kept_parameters(engine):
    # Rows 0–99 are finite and row 100 has a NaN target. Batches 0–59 use the finite rows and
    # batch 60 reaches the NaN, so 60 steps complete and θ goes back to its copy from before step 50.
    rng = np.random.default_rng(0)
    x = rng.uniform(1.0, 2.0, (101, 2))
    t = x[:, 0] + x[:, 1]
    t[100] = np.nan
    batches = rng.integers(0, 100, (61, 8))
    batches[60, 0] = 100
    schedule = UnitSchedule(total_steps=61, lr=1e-2)
    theta0 = pack("NAU", {"W": np.array([[0.3, -0.2]])})

    def run(count):
        theta, m, v = theta0.copy(), np.zeros(2), np.zeros(2)
        last_good = theta.copy()
        done = train_steps("NAU", 2, theta, m, v, last_good, x, t, batches[:count], 0, schedule, np.zeros(count),
                           engine=engine)
        return done, theta

    done, theta = run(61)
    assert done == 60
    _, theta_after_50 = run(50)
    np.testing.assert_array_equal(theta, theta_after_50)
    assert np.all(np.isfinite(theta))


def test_trainer_learns_addition():
    rng = np.random.default_rng(1)
    x = rng.uniform(1.0, 2.0, (5000, 2))
    model = BaselineModel("2 1:NAU")
    trainer = UnitTrainer(model, x, x.sum(axis=1), UnitSchedule(total_steps=3000, lr=1e-2), seed=0)
    assert trainer.run(3000) == 3000
    np.testing.assert_allclose(model.params["0.W"], [[1.0, 1.0]], atol=1e-6)


def test_trainer_stops_after_divergence():
    x = np.ones((50, 2))
    trainer = UnitTrainer(BaselineModel("2 1:NAU"), x, np.full(50, np.inf), UnitSchedule(total_steps=10), seed=0)
    assert trainer.run(10) == 0
    assert trainer.diverged_at == 1
    assert trainer.run(10) == 0


def test_trainer_rejects_a_stack():
    with pytest.raises(ValueError, match="one unit"):
        UnitTrainer(BaselineModel("2 3:NAU 1:NAU"), np.ones((4, 2)), np.ones(4), UnitSchedule(total_steps=1), seed=0)
