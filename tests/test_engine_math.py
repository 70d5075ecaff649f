"""Unit tests of the engine's forward math: stable functions, quantizer, phasor, regularizer,
regularizer schedule, spec parsing and Adam."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from calu_np.optim import Adam, decayed_lr
from calu_np.phasor import nearest_sign, phasor_forward
from calu_np.quantizer import quantizer_forward, quantizer_probabilities
from calu_np.regularizer import regularizer_forward, regularizer_strength
from calu_np.spec import LayerSpec, format_q, parse_layers, parse_q, phasor_is_trainable
from calu_np.stable import log_one_minus_softmax, logsumexp, sigmoid, softmax
from tests.strategies import Q_SETS, logits, q_sets, widths

PROPERTY = settings(max_examples=50, deadline=None)

# Logits up to ±1000, where a naive exp overflows; moderate values are drawn too.
extreme_logits = st.floats(-1000.0, 1000.0, allow_nan=False, allow_infinity=False)


# ---------------------------------------------------------------- stable functions


def test_softmax_at_extreme_logits():
    P = softmax(np.array([1000.0, -1000.0, 0.0]))
    np.testing.assert_array_equal(P, [1.0, 0.0, 0.0])

    P = softmax(np.array([1000.0, 999.0]))
    expected_first = 1.0 / (1.0 + math.exp(-1.0))
    np.testing.assert_allclose(P, [expected_first, 1.0 - expected_first], rtol=1e-15)


@PROPERTY
@given(a=arrays(np.float64, (4, 5), elements=extreme_logits))
def test_softmax_finite_and_normalised(a):
    P = softmax(a)
    assert np.all(np.isfinite(P))
    assert np.all(P >= 0)
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=1e-14)


def test_logsumexp_at_extreme_logits():
    assert logsumexp(np.array([1000.0, 1000.0])) == pytest.approx(1000.0 + math.log(2.0), rel=1e-15)
    assert logsumexp(np.array([-1000.0, -1000.0])) == pytest.approx(-1000.0 + math.log(2.0), rel=1e-15)


def test_sigmoid_at_extreme_logits():
    s = sigmoid(np.array([1000.0, -1000.0, 0.0]))
    np.testing.assert_array_equal(s, [1.0, 0.0, 0.5])


@PROPERTY
@given(a=arrays(np.float64, (6,), elements=extreme_logits))
def test_sigmoid_finite_and_symmetric(a):
    s = sigmoid(a)
    assert np.all(np.isfinite(s))
    assert np.all((0 <= s) & (s <= 1))
    np.testing.assert_allclose(s + sigmoid(-a), 1.0, rtol=1e-15)


def test_sigmoid_matches_definition():
    a = np.linspace(-30.0, 30.0, 121)
    np.testing.assert_allclose(sigmoid(a), 1.0 / (1.0 + np.exp(-a)), rtol=1e-14)


def test_log_one_minus_softmax_at_extreme_logits():
    # P_0 = 1 in float64, but 1 − P_0 = exp(−2000) / (1 + exp(−2000)) has the log −2000.
    np.testing.assert_allclose(log_one_minus_softmax(np.array([1000.0, -1000.0])), [-2000.0, 0.0], rtol=1e-15)

    # 1 − P_0 = e^−1 / (1 + e^−1) and 1 − P_1 = 1 / (1 + e^−1); the third term underflows.
    expected = [-1.0 - math.log1p(math.exp(-1.0)), -math.log1p(math.exp(-1.0)), 0.0]
    np.testing.assert_allclose(log_one_minus_softmax(np.array([1000.0, 999.0, -1000.0])), expected, rtol=1e-15)


def test_log_one_minus_softmax_small_probabilities():
    # P_1 = P_2 ≈ 9.4e−14: log(1 − P_n) ≈ −P_n must keep its relative accuracy.
    a = np.array([30.0, 0.0, 0.0])
    P_small = math.exp(-30.0) / (1.0 + 2.0 * math.exp(-30.0))
    result = log_one_minus_softmax(a)
    assert result[1] == pytest.approx(math.log1p(-P_small), rel=1e-13)
    assert result[0] == pytest.approx(math.log(2.0 * P_small), rel=1e-14)


@PROPERTY
@given(a=arrays(np.float64, (3, 4), elements=extreme_logits))
def test_log_one_minus_softmax_finite_and_accurate(a):
    result = log_one_minus_softmax(a)
    assert np.all(np.isfinite(result)), result
    assert np.all(result <= 0)

    # Where neither P_n nor 1 − P_n is tiny, log1p(−P_n) is an accurate reference.
    P = softmax(a)
    moderate = (P > 1e-3) & (P < 0.999)
    np.testing.assert_allclose(result[moderate], np.log1p(-P[moderate]), rtol=1e-12)


def test_log_one_minus_softmax_single_element():
    # 1 − P = 0 exactly, so the log is −inf.
    np.testing.assert_array_equal(log_one_minus_softmax(np.array([3.0])), [-np.inf])


# ---------------------------------------------------------------- quantizer and phasor


@PROPERTY
@given(data=st.data(), q=q_sets, n_out=widths, n_in=widths)
def test_quantizer_value_is_expected_q(data, q, n_out, n_in):
    N_logits = data.draw(logits((n_out, n_in), len(q)))
    N, _ = quantizer_forward(N_logits, q)
    P = quantizer_probabilities(N_logits)

    expected = np.zeros((n_out, n_in), dtype=np.complex128)
    for n, q_n in enumerate(q):
        expected += q_n * P[..., n]
    np.testing.assert_allclose(N, expected, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(P.sum(axis=-1), 1.0, rtol=1e-14)


def test_quantizer_saturated_logits_give_exact_q():
    q = Q_SETS["e,pi"]
    N, _ = quantizer_forward(np.array([[1000.0, -1000.0], [-1000.0, 1000.0]]), q)
    np.testing.assert_array_equal(N, [math.e, math.pi])


def test_phasor_limits():
    W, _ = phasor_forward(np.array([-1000.0, 1000.0, 0.0]))
    assert W[0] == 1.0
    assert W[1] == pytest.approx(-1.0, abs=1e-15)
    assert W[2] == pytest.approx(1j, abs=1e-15)


@PROPERTY
@given(theta=arrays(np.float64, (5,), elements=extreme_logits))
def test_phasor_has_unit_modulus(theta):
    W, _ = phasor_forward(theta)
    np.testing.assert_allclose(np.abs(W), 1.0, rtol=1e-15)


def test_nearest_sign_follows_theta():
    np.testing.assert_array_equal(nearest_sign(np.array([-2.0, 0.0, 3.0])), [1.0, 1.0, -1.0])


# ---------------------------------------------------------------- regularizer


@PROPERTY
@given(data=st.data(), q=q_sets, n_out=widths, n_in=widths)
def test_regularizer_nonnegative(data, q, n_out, n_in):
    N_logits = data.draw(arrays(np.float64, (n_out, n_in, len(q)), elements=extreme_logits))
    R, _ = regularizer_forward(N_logits, q)
    assert np.isfinite(R)
    assert R >= 0


@pytest.mark.parametrize("name", sorted(Q_SETS))
def test_regularizer_zero_at_one_hot(name):
    q = Q_SETS[name]
    # One weight per element of Q, each saturated on that element.
    N_logits = np.full((len(q), len(q)), -1000.0)
    np.fill_diagonal(N_logits, 1000.0)
    R, _ = regularizer_forward(N_logits[None], q)
    assert R == 0.0


@PROPERTY
@given(data=st.data(), q=q_sets)
def test_regularizer_positive_off_one_hot(data, q):
    # With logits within ±20 every P_n ≥ e^−40 / len(Q), far from one-hot in float64.
    N_logits = data.draw(arrays(np.float64, (1, 1, len(q)), elements=st.floats(-20.0, 20.0)))
    R, _ = regularizer_forward(N_logits, q)
    assert R > 0


def test_regularizer_value_two_elements():
    # For Q = {0, 1}: d_0 = P_1, d_1 = P_0, so R = −P_1 log P_1 − P_0 log P_0, the entropy of P.
    q = np.array([0.0, 1.0], dtype=np.complex128)
    N_logits = np.array([[[0.3, -0.4]]])
    P = softmax(N_logits)[0, 0]
    R, _ = regularizer_forward(N_logits, q)
    assert R == pytest.approx(-np.sum(P * np.log(P)), rel=1e-14)


def test_regularizer_strength_schedule():
    total = 1000
    assert regularizer_strength(0, total, 1e-3) == 0.0
    assert regularizer_strength(600, total, 1e-3) == 0.0
    assert regularizer_strength(750, total, 1e-3) == pytest.approx(0.5e-3, rel=1e-12)
    assert regularizer_strength(900, total, 1e-3) == 1e-3
    assert regularizer_strength(1000, total, 1e-3) == 1e-3


def test_regularizer_strength_custom_window():
    assert regularizer_strength(10, 100, 2.0, start=0.0, end=0.5) == pytest.approx(0.4)
    assert regularizer_strength(0, 0, 2.0) == 0.0


def test_regularizer_strength_monotone():
    values = [regularizer_strength(step, 200, 1e-3) for step in range(201)]
    assert all(b >= a for a, b in zip(values, values[1:]))


# ---------------------------------------------------------------- spec parsing


def test_parse_layers_talk_spec():
    spec = parse_layers("8 50:CALUm 3:CALUa")
    assert spec.n_inputs == 8
    assert spec.layers == (LayerSpec("CALUm", 50), LayerSpec("CALUa", 3))
    assert spec.n_outputs == 3
    assert str(spec) == "8 50:CALUm 3:CALUa"


def test_parse_layers_case_insensitive_kind():
    assert parse_layers("2 5:calum 1:CALUA").layers == (LayerSpec("CALUm", 5), LayerSpec("CALUa", 1))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "at least one layer"),
        ("8", "at least one layer"),
        ("0 3:CALUa", "positive input size"),
        ("x 3:CALUa", "positive input size"),
        ("8 3CALUa", "expected UNITS:KIND"),
        ("8 0:CALUa", "must be positive"),
        ("8 3:RELU", "unknown kind"),
        ("8 -3:CALUa", "expected UNITS:KIND"),
    ],
)
def test_parse_layers_rejects(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_layers(text)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("-2..2", [-2, -1, 0, 1, 2]),
        ("0..2", [0, 1, 2]),
        ("0,1,2", [0, 1, 2]),
        ("e,pi", [math.e, math.pi]),
        ("pi, e", [math.e, math.pi]),
        ("0,1/2,1", [0, 0.5, 1]),
        ("1,1j", [1j, 1]),
        ("-pi/2, 2pi", [-math.pi / 2, 2 * math.pi]),
        ("-1..1, 1/2", [-1, 0, 0.5, 1]),
    ],
)
def test_parse_q_accepts(text, expected):
    q = parse_q(text)
    assert q.dtype == np.complex128
    np.testing.assert_allclose(q, np.array(expected, dtype=np.complex128), rtol=1e-15)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "expected a range"),
        ("   ", "expected a range"),
        ("1", "at least two elements"),
        ("0..0", "at least two elements"),
        ("1,1", "appears more than once"),
        ("0,1,1.0", "appears more than once"),
        ("0..2, 2", "appears more than once"),
        ("1,,2", "empty element"),
        ("1,abc", "cannot read 'abc'"),
        ("2..1", "is empty"),
        ("1,nan", "must be finite"),
    ],
)
def test_parse_q_rejects(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_q(text)


def test_format_q_round_trip():
    for text in ("-2..2", "e,pi", "0,1/2,1", "1,1j"):
        q = parse_q(text)
        formatted = format_q(q)
        np.testing.assert_allclose(parse_q(formatted.strip("{}")), q, rtol=1e-15)


def test_phasor_trainable_only_for_nonnegative_real_q():
    assert phasor_is_trainable(parse_q("0..2"))
    assert phasor_is_trainable(parse_q("e,pi"))
    assert not phasor_is_trainable(parse_q("-2..2"))
    assert not phasor_is_trainable(parse_q("1,1j"))


# ---------------------------------------------------------------- Adam


def test_adam_reduces_quadratic():
    rng = np.random.default_rng(0)
    target = rng.normal(size=(3, 4))
    params = {"p": np.zeros((3, 4))}
    optimizer = Adam(params, lr=0.05)

    def loss():
        return float(np.sum((params["p"] - target) ** 2))

    initial = loss()
    for _ in range(500):
        optimizer.step(params, {"p": 2.0 * (params["p"] - target)})
    assert loss() < 1e-4 * initial


def test_adam_first_step_moves_by_lr():
    # With bias correction the first update is lr · g / (|g| + eps) ≈ lr · sign(g).
    params = {"p": np.array([1.0, -2.0])}
    optimizer = Adam(params, lr=0.1)
    optimizer.step(params, {"p": np.array([4.0, -0.5])})
    np.testing.assert_allclose(params["p"], [0.9, -1.9], rtol=1e-7)


def test_decayed_lr_endpoints():
    assert decayed_lr(0, 100, 0.02, 0.002) == pytest.approx(0.02)
    assert decayed_lr(50, 100, 0.02, 0.002) == pytest.approx(math.sqrt(0.02 * 0.002))
    assert decayed_lr(100, 100, 0.02, 0.002) == pytest.approx(0.002)
    assert decayed_lr(200, 100, 0.02, 0.002) == pytest.approx(0.002)
