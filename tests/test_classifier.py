"""Tests of the Higgs-versus-Z classifier: softmax cross-entropy, Re(·), the CALU → dense chain,
the front-end snap and a short end-to-end run."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from calu_np.hep.classifier import Classifier, fit, pair_initialise, parse_classifier, sparsity_gradient
from calu_np.hep.front_snap import cut_errors, polish_coefficients
from calu_np.hep.hz_mumu import HZConfig, is_invariant, load_data, run_hz_mumu
from calu_np.quantizer import quantizer_forward
from calu_np.softmax import (
    real_part_backward,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
)

seeds = st.integers(min_value=0, max_value=2**32 - 1)
batch_sizes = st.integers(min_value=1, max_value=6)
class_counts = st.integers(min_value=2, max_value=5)
logit_scales = st.sampled_from([0.1, 1.0, 30.0])

STEP = 1e-6


def central_difference(f, x, direction):
    return (f(x + STEP * direction) - f(x - STEP * direction)) / (2 * STEP)


# ---------------------------------------------------------------- softmax cross-entropy


@settings(max_examples=40, deadline=None)
@given(seeds, batch_sizes, class_counts, logit_scales)
def test_cross_entropy_gradient_matches_differences(seed, batch, n_classes, scale):
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, scale, size=(batch, n_classes))
    labels = rng.integers(0, n_classes, size=batch)
    direction = rng.normal(size=z.shape)

    _, cache = softmax_cross_entropy_forward(z, labels)
    G_z = softmax_cross_entropy_backward(cache)
    analytic = float(np.sum(2.0 * G_z * direction))  # dL/dz = 2 G_z for real logits
    numeric = central_difference(lambda v: softmax_cross_entropy_forward(v, labels)[0], z, direction)

    assert np.isrealobj(G_z)
    assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-8), (analytic, numeric)


def test_cross_entropy_stable_for_huge_logits():
    z = np.array([[1e4, -1e4], [-1e4, 1e4]])
    loss, cache = softmax_cross_entropy_forward(z, np.array([0, 0]))
    G_z = softmax_cross_entropy_backward(cache)
    assert loss == pytest.approx(1e4)
    assert np.all(np.isfinite(G_z))


def test_cross_entropy_matches_log_of_probability():
    z = np.array([[0.3, -1.2, 2.0]])
    p = np.exp(z) / np.sum(np.exp(z))
    assert softmax_cross_entropy_forward(z, np.array([1]))[0] == pytest.approx(-np.log(p[0, 1]))


@pytest.mark.parametrize(
    "z, labels",
    [
        (np.zeros((2, 2)), np.array([0, 2])),
        (np.zeros((2, 2)), np.array([0.0, 1.0])),
        (np.zeros((2, 2), dtype=complex), np.array([0, 1])),
        (np.zeros(2), np.array([0, 1])),
    ],
)
def test_cross_entropy_rejects_invalid_input(z, labels):
    with pytest.raises(ValueError):
        softmax_cross_entropy_forward(z, labels)


# ---------------------------------------------------------------- Re(·)


@settings(max_examples=20, deadline=None)
@given(seeds)
def test_real_part_gradient_in_both_directions(seed):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=4) + 1j * rng.normal(size=4)
    w = rng.normal(size=4)

    def loss(v):
        return float(np.sum(w * np.real(v) ** 2))

    G_r = 0.5 * 2.0 * w * np.real(z)  # ½ dL/dr
    G_z = real_part_backward(G_r)
    for unit in (1.0, 1j):
        direction = unit * rng.normal(size=4)
        analytic = 2.0 * np.real(np.sum(np.conj(G_z) * direction))
        numeric = central_difference(loss, z, direction)
        assert analytic == pytest.approx(numeric, rel=1e-6, abs=1e-9), (unit, analytic, numeric)
    assert np.all(np.imag(G_z) == 0)


# ---------------------------------------------------------------- CALU → Re → dense chain


def small_classifier(seed):
    rng = np.random.default_rng(seed)
    model = Classifier("3 4:CALUm 2:CALUa 5:ReLU 2:softmax", rng)
    pair_initialise(model.front, rng, bias=1.0)
    model.params["front.0.logits"] = model.front.params["0.logits"]
    for key in model.params:
        if key.endswith("theta"):
            model.params[key] = rng.normal(0.0, 1.0, size=model.params[key].shape)
    # Spread the pre-activations away from the ReLU kink at 0.
    model.params["dense.0.b"] = rng.choice([-1.0, 1.0], size=5) * rng.uniform(0.5, 1.0, size=5)
    x = rng.uniform(0.5, 2.0, size=(6, 3)) * rng.choice([-1.0, 1.0], size=(6, 3))
    y = rng.integers(0, 2, size=6)
    return model, x, y


def pre_activations(model, x):
    h = model.features(x)
    return h @ model.params["dense.0.W"].T + model.params["dense.0.b"]


@settings(max_examples=25, deadline=None)
@given(seeds)
def test_chain_gradient_matches_differences(seed):
    model, x, y = small_classifier(seed)
    # A central difference across a ReLU kink measures neither side's slope.
    assume(np.min(np.abs(pre_activations(model, x))) > 1e-4)

    logits, cache = model.forward(x)
    _, loss_cache = softmax_cross_entropy_forward(logits, y)
    grads = model.backward(softmax_cross_entropy_backward(loss_cache), cache)
    assert set(grads) == set(model.params)

    rng = np.random.default_rng(seed + 1)
    for key, value in model.params.items():
        direction = rng.normal(size=value.shape)
        analytic = float(np.sum(grads[key] * direction))

        def loss_along(t, key=key, value=value, direction=direction):
            model.params[key] = value + t * direction
            return model.loss(x, y)

        numeric = (loss_along(STEP) - loss_along(-STEP)) / (2 * STEP)
        model.params[key] = value
        assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-7), (key, analytic, numeric)


@settings(max_examples=20, deadline=None)
@given(seeds, st.floats(min_value=1e-4, max_value=1.0))
def test_sparsity_gradient_matches_differences(seed, strength):
    rng = np.random.default_rng(seed)
    q = np.array([0.0, 1.0, 2.0], dtype=np.complex128)
    logits = rng.normal(size=(2, 3, 3))
    direction = rng.normal(size=logits.shape)

    def penalty(v):
        return strength * float(np.sum(np.real(quantizer_forward(v, q)[0])))

    analytic = float(np.sum(sparsity_gradient(logits, q, strength) * direction))
    assert analytic == pytest.approx(central_difference(penalty, logits, direction), rel=1e-5, abs=1e-10)


# ---------------------------------------------------------------- specs


def test_parse_classifier_reads_both_models():
    calu = parse_classifier("8 100:CALUm 3:CALUa 50:ReLU 2:softmax")
    assert calu.calu == (("CALUm", 100), ("CALUa", 3))
    assert calu.hidden == (50,)
    assert str(parse_classifier("8 200:relu 2:softmax")) == "8 200:ReLU 2:softmax"


@pytest.mark.parametrize(
    "text",
    ["8", "8 50:ReLU", "8 50:ReLU 3:CALUa 2:softmax", "8 2:softmax 50:ReLU", "8 0:ReLU 2:softmax",
     "8 50:tanh 2:softmax", "8 1:softmax"],
)
def test_parse_classifier_rejects_invalid_spec(text):
    with pytest.raises(ValueError):
        parse_classifier(text)


# ---------------------------------------------------------------- front-end snap


def brute_force_cut_errors(values, labels):
    best = len(labels)
    for cut in np.concatenate([[-np.inf], np.sort(values)]):
        above = values > cut
        errors = int(np.sum(above != (labels == 1)))
        best = min(best, errors, len(labels) - errors)
    return best


@settings(max_examples=30, deadline=None)
@given(seeds, st.integers(min_value=1, max_value=30))
def test_cut_errors_matches_brute_force(seed, n):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=n)  # distinct almost surely, so ties cannot matter
    labels = rng.integers(0, 2, size=n)
    assert cut_errors(values, labels) == brute_force_cut_errors(values, labels)


def test_polish_removes_junk_and_completes_invariant():
    (x, y), _, _ = load_data()
    monomials = np.column_stack([
        x[:, 0] * x[:, 4], x[:, 1] * x[:, 5], x[:, 2] * x[:, 6], x[:, 3] * x[:, 7],
        x[:, 0] * x[:, 3], x[:, 1] ** 2 * x[:, 4],
    ])
    start = np.array([1.0, 0.0, -1.0, -1.0, 1.0, -1.0])  # Px1*Px2 missing, two junk terms
    c, _ = polish_coefficients(monomials, y, start, margin=6)
    assert c[4] == 0
    assert c[5] == 0
    assert abs(c[0]) == 1
    assert list(c[:4] * c[0]) == [1.0, -1.0, -1.0, -1.0]


def test_is_invariant_up_to_factor_only():
    invariant = {(1, 0, 0, 0, 1, 0, 0, 0): -2.0, (0, 1, 0, 0, 0, 1, 0, 0): 2.0,
                 (0, 0, 1, 0, 0, 0, 1, 0): 2.0, (0, 0, 0, 1, 0, 0, 0, 1): 2.0}
    assert is_invariant(invariant)
    assert not is_invariant({**invariant, (0,) * 8: 1.0})
    assert not is_invariant({**invariant, (0, 0, 0, 1, 0, 0, 0, 1): -2.0})


# ---------------------------------------------------------------- end to end


def small_data():
    sets = load_data()
    rng = np.random.default_rng(0)
    picked = []
    for features, labels in sets:
        rows = rng.choice(len(labels), size=300, replace=False)
        picked.append((features[rows], labels[rows]))
    return picked


def test_run_hz_mumu_short_and_reproducible():
    config = HZConfig(dnn_steps=20, soft_steps=20, coefficient_steps=20, head_steps=20)
    ticks = []
    first = run_hz_mumu(seed=3, config=config, data=small_data(), progress=ticks.append)
    second = run_hz_mumu(seed=3, config=config, data=small_data())

    assert sum(ticks) == config.total_steps
    assert first.accuracy == second.accuracy
    assert first.formulas() == second.formulas()
    assert len(first.formulas()) == 3
    assert all(line.startswith(f"f{i} = ") for i, line in enumerate(first.formulas()))
    assert "| ReLU network |" in first.table()
    for row in first.accuracy.values():
        assert 0.0 <= row["13 TeV"] <= 1.0
        assert 0.0 <= row["100 TeV"] <= 1.0


def test_fit_reduces_loss_of_dense_model():
    (x, y), _, _ = small_data()
    rng = np.random.default_rng(0)
    model = Classifier("8 20:ReLU 2:softmax", rng)
    before = model.loss(x, y)
    fit(model, x, y, 200, rng, 0.01, 0.001)
    assert model.loss(x, y) < before
