"""Export forms of a law: the Python function and the SymPy expression evaluate to the network."""

import math

import numpy as np
import pytest

from calu_np.export import emit, latex_name, python_identifier
from calu_np.formula import network_expressions
from calu_np.layers import FORWARD

NAMES = ["a", "b", "c"]

# (layer kinds, weights): each network is exact, and together they cover integer and
# half-integer powers, a power of a sum, a nested power, pi and a complex coefficient.
NETWORKS = {
    "product and quotient": (["CALUm", "CALUa"], [[[1, 1, 1], [2, 1, -1], [0, 0, 0]], [[1, -1, 0.5], [0, 1, 3]]]),
    "sqrt": (["CALUm", "CALUa"], [[[1, -0.5, 0], [0, 0, 1.5]], [[1 / (4 * math.pi), 2]]]),
    "power of a sum": (["CALUa", "CALUm", "CALUa"], [[[1, 1, 0], [1, 0, -1]], [[3, 0], [-1, 0], [0, 0.5]], [[1, 2, -1]]]),
    "nested power": (["CALUm", "CALUm", "CALUa"], [[[2, 0, 0], [1, 1, 0]], [[0.5, 0], [0.5, -1]], [[1, 1]]]),
    "complex coefficient": (["CALUm", "CALUa"], [[[1, 0, 0]], [[1 + 2j]]]),
}


def network_output(kinds, Ms, X):
    h = X.astype(complex)
    for kind, M in zip(kinds, Ms):
        h = FORWARD[kind](h, M)[0]
    return h


@pytest.fixture(params=sorted(NETWORKS))
def law(request):
    kinds, Ms = NETWORKS[request.param]
    Ms = [np.asarray(M, dtype=complex) for M in Ms]
    rng = np.random.default_rng(1)
    X = rng.uniform(0.5, 3.0, size=(200, 3)) * rng.choice([-1.0, 1.0], size=(200, 3))
    return network_expressions(Ms, kinds), network_output(kinds, Ms, X), X


def relative_error(got, expected):
    return np.max(np.abs(got - expected)) / np.max(np.abs(expected))


def load_python(code):
    namespace = {}
    exec(compile(code, "<law>", "exec"), namespace)
    return namespace["law"]


def test_python_matches_network(law):
    expressions, expected, X = law
    outputs = [f"y{k}" for k in range(len(expressions))]
    function = load_python(emit(expressions, None, NAMES, outputs, "python"))
    got = np.reshape(function(*X.T), expected.shape)
    assert relative_error(got, np.real(expected)) <= 1e-12


def test_python_applies_scale(law):
    expressions, expected, X = law
    scales = [2.5] * len(expressions)
    outputs = [f"y{k}" for k in range(len(expressions))]
    function = load_python(emit(expressions, scales, NAMES, outputs, "python"))
    got = np.reshape(function(*X.T), expected.shape)
    assert relative_error(got, 2.5 * np.real(expected)) <= 1e-12


def test_sympy_matches_network(law):
    sympy = pytest.importorskip("sympy")
    from calu_np.export import sympy_expressions

    expressions, expected, X = law
    symbols, results = sympy_expressions(expressions, None or [1.0] * len(expressions), NAMES)
    for k, result in enumerate(results):
        function = sympy.lambdify(symbols, result, "numpy")
        got = function(*X.astype(complex).T) * np.ones(len(X))
        assert relative_error(got, expected[:, k]) <= 1e-12, str(result)


def test_sympy_text_parses_back():
    sympy = pytest.importorskip("sympy")
    Ms = [np.array([[1, -0.5]], complex), np.array([[0.5]], complex)]
    expressions = network_expressions(Ms, ["CALUm", "CALUa"])
    text = emit(expressions, None, ["m", "v"], ["E"], "sympy")
    assert text == "E = m/(2*sqrt(v))"
    m, v = sympy.symbols("m v")
    assert sympy.simplify(sympy.sympify(text.split(" = ")[1]) - m / (2 * sympy.sqrt(v))) == 0


def test_text_and_latex_forms():
    Ms = [np.array([[1, -1], [0, 2]], complex), np.array([[1 / (4 * math.pi), -1]], complex)]
    expressions = network_expressions(Ms, ["CALUm", "CALUa"])
    assert emit(expressions, None, ["q", "r"], ["F"], "text") == "F = q/(4*pi*r) - r**2"
    assert emit(expressions, None, ["q", "r"], ["F"], "latex") == "F = \\frac{q}{4 \\pi r} - r^{2}"
    assert emit(expressions, [0.5], ["q", "r"], ["F"], "text") == "F = 0.5*(q/(4*pi*r) - r**2)"


def test_python_constant_law_has_row_shape():
    expressions = network_expressions([np.zeros((1, 2), complex), np.array([[3]], complex)], ["CALUm", "CALUa"])
    function = load_python(emit(expressions, None, ["a", "b"], ["y"], "python"))
    assert function(np.ones(4), np.ones(4)).shape == (4,)


def test_names_are_made_valid():
    taken = set()
    assert python_identifier("mass (kg)", taken) == "mass__kg_"
    assert python_identifier("2x", taken) == "x_2x"
    assert python_identifier("lambda", taken) == "x_lambda"
    assert latex_name("alpha") == "\\alpha"
    assert latex_name("x1") == "x_{1}"


def test_unknown_kind_rejected():
    with pytest.raises(ValueError, match="unknown export kind"):
        emit([{}], None, ["a"], ["y"], "fortran")
