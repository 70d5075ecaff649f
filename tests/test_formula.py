"""Formulas printed from exact CALU weights: simplification rules, number formats, and agreement
with the network they describe."""

import math

import numpy as np
import pytest

from calu_np.formula import (
    format_number,
    formulas_of,
    network_expressions,
    network_formulas,
)
from calu_np.network import Network
from calu_np.snap import freeze
from calu_np.spec import parse_q

M_THEN_A = ["CALUm", "CALUa"]


def formula(Ms, kinds, names=None):
    lines = network_formulas([np.asarray(M, dtype=complex) for M in Ms], kinds, names)
    return [line.split(" = ", 1)[1] for line in lines]


def evaluate_text(text, names, x):
    """Evaluate a printed formula with numpy on complex inputs, principal branch like the layers."""
    namespace = {"sqrt": lambda z: np.exp(0.5 * np.log(z + 0.0)), "pi": math.pi, "e": math.e}
    namespace.update({name: x[:, i].astype(complex) for i, name in enumerate(names)})
    return eval(text, {"__builtins__": {}}, namespace) * np.ones(len(x))


def test_product_and_constant():
    assert formula([[[1, 1], [0, 0]], [[1, 0], [0, 1]]], M_THEN_A) == ["x0*x1", "1"]


def test_lorentz_square_with_names():
    M1 = 2 * np.eye(4, 8)
    M2 = [[1, -1, -1, -1]]
    names = ["E1", "px1", "py1", "pz1", "E2", "px2", "py2", "pz2"]
    lines = network_formulas([M1, np.asarray(M2, dtype=complex)], M_THEN_A, names, ["pp"])
    assert lines == ["pp = E1**2 - px1**2 - py1**2 - pz1**2"]


def test_like_terms_merge_and_cancel():
    # Two units compute x0*x1; their weights 2 and -1 merge to one term, and x0 cancels.
    M1 = [[1, 1], [1, 1], [1, 0], [1, 0]]
    M2 = [[2, -1, 1, -1]]
    assert formula([M1, M2], M_THEN_A) == ["x0*x1"]


def test_zero_output_prints_zero():
    assert formula([[[1, 0], [1, 0]], [[1, -1]]], M_THEN_A) == ["0"]


def test_negative_exponent_is_division():
    assert formula([[[1, -1]], [[1]]], M_THEN_A) == ["x0/x1"]
    assert formula([[[1, -2]], [[1]]], M_THEN_A) == ["x0/x1**2"]
    assert formula([[[0, -1]], [[-1]]], M_THEN_A) == ["-1/x1"]


def test_half_exponent_is_sqrt():
    assert formula([[[1, -0.5]], [[1]]], M_THEN_A) == ["x0/sqrt(x1)"]
    assert formula([[[1.5, 0]], [[1]]], M_THEN_A) == ["x0**(3/2)"]


def test_coefficients_fraction_and_pi():
    assert formula([[[1, 0]], [[0.5]]], M_THEN_A) == ["x0/2"]
    assert formula([[[1, 0]], [[-1.5]]], M_THEN_A) == ["-3*x0/2"]
    assert formula([[[1, -1]], [[1 / (4 * math.pi)]]], M_THEN_A) == ["x0/(4*pi*x1)"]
    assert formula([[[1, 0]], [[math.e]]], M_THEN_A) == ["e*x0"]


def test_complex_coefficient_only_when_truly_complex():
    assert formula([[[1, 0]], [[1 + 1j]]], M_THEN_A) == ["(1+1j)*x0"]
    assert formula([[[1, 0]], [[2 + 1e-18j]]], M_THEN_A) == ["2*x0"]


def test_exponents_combine_through_calum_layers():
    # (x0**2 * x1)**3 then times x0**-6: x1**3 only.
    M1 = [[2, 1], [1, 0]]
    M2 = [[3, -6]]
    assert formula([M1, M2, [[1]]], ["CALUm", "CALUm", "CALUa"]) == ["x1**3"]


def test_fractional_power_of_square_stays_nested():
    # sqrt(x0**2) is |x0| on the principal branch, so it must not become x0.
    assert formula([[[2, 0]], [[0.5]], [[1]]], ["CALUm", "CALUm", "CALUa"]) == ["sqrt(x0**2)"]


def test_cube_of_sum_is_expanded():
    kinds = ["CALUa", "CALUm", "CALUa"]
    assert formula([[[1, 1]], [[3]], [[1]]], kinds, ["a", "b"]) == ["a**3 + 3*a**2*b + 3*a*b**2 + b**3"]


def test_inverse_of_sum_stays_factored():
    kinds = ["CALUa", "CALUm", "CALUa"]
    assert formula([[[1, 1]], [[-1]], [[2]]], kinds, ["a", "b"]) == ["2/(a + b)"]
    assert formula([[[1, -1]], [[0.5]], [[1]]], kinds, ["a", "b"]) == ["sqrt(a - b)"]


def test_format_number_cases():
    assert format_number(3.0) == "3"
    assert format_number(-0.25) == "-1/4"
    assert format_number(math.pi / 2) == "pi/2"
    assert format_number(0) == "0"
    assert format_number(0.123456789) == "0.123456789"
    assert format_number(1 - 2j) == "(1-2j)"


def test_input_name_count_checked():
    with pytest.raises(ValueError, match="input names"):
        network_formulas([np.ones((1, 2), complex), np.ones((1, 1), complex)], M_THEN_A, ["a"])


@pytest.mark.parametrize(
    "kinds, Ms",
    [
        (M_THEN_A, [[[1, 1, 0], [0, -1, 1], [2, 0, -1]], [[1, -3, 0.5], [0, 1, 1]]]),
        (["CALUa", "CALUm", "CALUa"], [[[1, 1, 0], [0, 1, -1]], [[2, 0], [1, -1], [0.5, 0]], [[1, 2, -1]]]),
        (["CALUm", "CALUm", "CALUa"], [[[1, 0.5, 0], [0, 1, 2]], [[2, 1], [-1, 0]], [[1, 1]]]),
    ],
)
def test_printed_formula_matches_network(kinds, Ms):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 2.0, size=(50, 3)) * rng.choice([-1.0, 1.0], size=(50, 3))
    Ms = [np.asarray(M, dtype=complex) for M in Ms]
    expected = x.astype(complex)
    from calu_np.layers import FORWARD

    for kind, M in zip(kinds, Ms):
        expected = FORWARD[kind](expected, M)[0]
    names = ["a", "b", "c"]
    texts = formula(Ms, kinds, names)
    for k, text in enumerate(texts):
        got = evaluate_text(text, names, x)
        np.testing.assert_allclose(got, expected[:, k], rtol=1e-12, atol=1e-12, err_msg=text)


def test_formulas_of_uses_frozen_weights():
    network = Network("2 2:CALUm 1:CALUa", parse_q("-2..2"))
    network.params = {
        "0.logits": np.zeros((2, 2, 5)),
        "1.logits": np.zeros((1, 2, 5)),
    }
    freeze(network, [np.array([[1, 1], [0, -1]], complex), np.array([[1, 2]], complex)])
    assert formulas_of(network, ["u", "v"], ["w"]) == ["w = u*v + 2/v"]


def test_formulas_of_snaps_soft_weights():
    network = Network("2 1:CALUm 1:CALUa", parse_q("-2..2"))
    logits0 = np.zeros((1, 2, 5))
    logits0[0, 0, 3] = 5.0  # q = 1
    logits0[0, 1, 0] = 5.0  # q = -2
    logits1 = np.zeros((1, 1, 5))
    logits1[0, 0, 4] = 5.0  # q = 2
    network.params = {"0.logits": logits0, "1.logits": logits1}
    assert formulas_of(network) == ["y0 = 2*x0/x1**2"]


def test_network_expressions_checks_shapes():
    with pytest.raises(ValueError, match="takes 3 inputs"):
        network_expressions([np.ones((2, 2)), np.ones((1, 3))], M_THEN_A)
