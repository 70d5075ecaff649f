"""Parsing of layer specs such as "8 50:CALUm 3:CALUa" and of quantized sets such as "0..2"."""

import math
import re
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

LAYER_KINDS = ("CALUa", "CALUm")

_NAMED_CONSTANTS = {"pi": math.pi, "e": math.e, "i": 1j, "j": 1j}


@dataclass(frozen=True)
class LayerSpec:
    """One layer of a stack: its kind (CALUa or CALUm) and its number of output units."""

    kind: str
    units: int


@dataclass(frozen=True)
class NetworkSpec:
    """A stack of CALU layers on `n_inputs` inputs, written as in the talk: "8 50:CALUm 3:CALUa"."""

    n_inputs: int
    layers: tuple

    @property
    def n_outputs(self):
        return self.layers[-1].units

    def __str__(self):
        return " ".join([str(self.n_inputs)] + [f"{layer.units}:{layer.kind}" for layer in self.layers])


def parse_layers(text):
    """Parse "DIM 50:CALUm 3:CALUa" into a NetworkSpec. Raises ValueError naming the bad token."""
    tokens = str(text).split()
    if len(tokens) < 2:
        raise ValueError(
            f"invalid layer spec {text!r}: expected the input size and at least one layer, "
            "for example '8 50:CALUm 3:CALUa'"
        )
    if not tokens[0].isdigit() or int(tokens[0]) < 1:
        raise ValueError(f"invalid layer spec {text!r}: the first token {tokens[0]!r} must be a positive input size")

    kinds = {kind.lower(): kind for kind in LAYER_KINDS}
    layers = []
    for token in tokens[1:]:
        match = re.fullmatch(r"(\d+):(\w+)", token)
        if match is None:
            raise ValueError(f"invalid layer {token!r} in {text!r}: expected UNITS:KIND, for example 50:CALUm")
        units, kind = int(match.group(1)), match.group(2)
        if units < 1:
            raise ValueError(f"invalid layer {token!r} in {text!r}: the number of units must be positive")
        if kind.lower() not in kinds:
            raise ValueError(f"invalid layer {token!r} in {text!r}: unknown kind {kind!r}, expected one of {', '.join(LAYER_KINDS)}")
        layers.append(LayerSpec(kinds[kind.lower()], units))
    return NetworkSpec(int(tokens[0]), tuple(layers))


def _parse_number(token):
    """Parse one element of Q: an integer, a fraction "1/2", a float, a named constant (pi, e),
    a multiple or fraction of one ("2pi", "-pi/2"), or a complex literal such as "1+2j"."""
    token = token.strip().lower().replace(" ", "")
    if not token:
        raise ValueError("empty element")
    sign = 1.0
    if token[0] in "+-" and token[1:] in _NAMED_CONSTANTS:
        sign = -1.0 if token[0] == "-" else 1.0
        token = token[1:]
    if token in _NAMED_CONSTANTS:
        return sign * _NAMED_CONSTANTS[token]
    try:
        return float(Fraction(token))
    except (ValueError, ZeroDivisionError):
        pass
    match = re.fullmatch(r"([+-]?[\d.]*)\*?(pi|e)(?:/([\d.]+))?", token)
    if match:
        coefficient = match.group(1)
        coefficient = float(coefficient + "1") if coefficient in ("", "+", "-") else float(coefficient)
        divisor = float(match.group(3)) if match.group(3) else 1.0
        return coefficient * _NAMED_CONSTANTS[match.group(2)] / divisor
    try:
        value = complex(token)
    except ValueError:
        raise ValueError(f"cannot read {token!r} as a number") from None
    return value.real if value.imag == 0 else value


def parse_q(text):
    """Parse a quantized set: "-2..2", "0..3", "0,1,2", "e,pi", "0,1/2,1", "1,1j".

    Returns a sorted complex128 array (sorted by real then imaginary part). Raises ValueError
    for an empty set, a single element, a malformed element or a duplicated value.
    """
    text = str(text).strip()
    if not text:
        raise ValueError("invalid Q '': expected a range such as 0..2 or a list such as 0,1,2")
    values = []
    for part in text.split(","):
        part = part.strip()
        range_match = re.fullmatch(r"([+-]?\d+)\.\.([+-]?\d+)", part)
        if range_match:
            low, high = int(range_match.group(1)), int(range_match.group(2))
            if low > high:
                raise ValueError(f"invalid Q {text!r}: the range {part!r} is empty")
            values.extend(range(low, high + 1))
            continue
        try:
            values.append(_parse_number(part))
        except ValueError as error:
            raise ValueError(f"invalid Q {text!r}: element {part!r}: {error}") from None

    q = np.array(values, dtype=np.complex128)
    if not np.all(np.isfinite(q)):
        raise ValueError(f"invalid Q {text!r}: elements must be finite")
    order = np.lexsort((q.imag, q.real))
    q = q[order]
    if len(q) < 2:
        raise ValueError(f"invalid Q {text!r}: needs at least two elements")
    duplicated = np.isclose(q[1:], q[:-1], rtol=0, atol=1e-12)
    if np.any(duplicated):
        value = format_q_value(q[1:][duplicated][0])
        raise ValueError(f"invalid Q {text!r}: the value {value} appears more than once")
    return q


def format_q_value(value):
    """Format an element of Q compactly: integers without a decimal point, pi and e by name."""
    value = complex(value)
    if value.imag != 0:
        return f"({value.real:g}{value.imag:+g}j)"
    real = value.real
    if real == int(real) and abs(real) < 1e15:
        return str(int(real))
    for name, constant in (("pi", math.pi), ("e", math.e)):
        if math.isclose(real, constant, rel_tol=1e-14):
            return name
        if math.isclose(real, -constant, rel_tol=1e-14):
            return "-" + name
    fraction = Fraction(real).limit_denominator(64)
    if math.isclose(float(fraction), real, rel_tol=1e-14):
        return f"{fraction.numerator}/{fraction.denominator}"
    return repr(real)


def format_q(q):
    """Format a whole set, for example "{0, 1, 2}"."""
    return "{" + ", ".join(format_q_value(v) for v in q) + "}"


def phasor_is_trainable(q):
    """The phasor supplies the sign only where every element of Q is real and ≥ 0."""
    q = np.asarray(q)
    return bool(np.all(q.imag == 0) and np.all(q.real >= 0))

