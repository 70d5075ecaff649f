"""Hypothesis strategies shared by the engine tests, each defined once by name.

Inputs have moduli in [MIN_MODULUS, MAX_MODULUS], so finite differences with a step of about
1e-6 are well conditioned. Complex inputs stay at least ARG_MARGIN radians away from the
negative real axis, where the principal logarithm has its branch cut. Negative real inputs lie
exactly on the cut and come from `real_inputs`.
"""

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

MIN_MODULUS = 0.25
MAX_MODULUS = 3.0
ARG_MARGIN = 0.3

# The quantized sets the talk and the notes use, real and complex. The phasor is trainable
# only for the sets whose elements are all real and ≥ 0 ({0,1,2}, {e, π}, {0, ½, 1}).
Q_SETS = {
    "0..2": np.array([0, 1, 2], dtype=np.complex128),
    "-2..2": np.array([-2, -1, 0, 1, 2], dtype=np.complex128),
    "e,pi": np.array([math.e, math.pi], dtype=np.complex128),
    "0,1/2,1": np.array([0, 0.5, 1], dtype=np.complex128),
    "1,1j": np.array([1, 1j], dtype=np.complex128),
}

q_sets = st.sampled_from(sorted(Q_SETS)).map(Q_SETS.__getitem__)

batch_sizes = st.integers(1, 3)
widths = st.integers(1, 3)
layer_kinds = st.sampled_from(["CALUa", "CALUm"])

logit_values = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False)
theta_values = st.floats(-4.0, 4.0, allow_nan=False, allow_infinity=False)
moduli = st.floats(MIN_MODULUS, MAX_MODULUS, allow_nan=False, allow_infinity=False)
arguments = st.floats(-math.pi + ARG_MARGIN, math.pi - ARG_MARGIN, allow_nan=False, allow_infinity=False)
signs = st.sampled_from([-1.0, 1.0])
seeds = st.integers(0, 2**32 - 1)


def logits(shape, n_q):
    """Real logits of shape `shape + (n_q,)`."""
    return arrays(np.float64, tuple(shape) + (n_q,), elements=logit_values)


def thetas(shape):
    """Real phasor parameters θ of the given shape."""
    return arrays(np.float64, tuple(shape), elements=theta_values)


@st.composite
def real_inputs(draw, shape):
    """Real inputs of both signs, stored as complex128 with +0.0 imaginary parts.

    The negative entries lie on the branch cut of the principal logarithm.
    """
    magnitude = draw(arrays(np.float64, tuple(shape), elements=moduli))
    sign = draw(arrays(np.float64, tuple(shape), elements=signs))
    return (sign * magnitude).astype(np.complex128)


@st.composite
def complex_inputs(draw, shape):
    """Complex inputs at moduli in [MIN_MODULUS, MAX_MODULUS] and arguments at least ARG_MARGIN
    away from ±π, so a small step in any direction stays on one side of the branch cut."""
    modulus = draw(arrays(np.float64, tuple(shape), elements=moduli))
    argument = draw(arrays(np.float64, tuple(shape), elements=arguments))
    return modulus * np.exp(1j * argument)


def inputs(shape):
    """Real inputs of both signs or complex inputs off the branch cut."""
    return st.one_of(real_inputs(shape), complex_inputs(shape))


@st.composite
def complex_matrices(draw, shape, max_modulus=2.0):
    """Complex weights M of the given shape with moduli up to `max_modulus`, for layer tests that
    take M directly instead of building it from a quantizer and a phasor."""
    real = draw(arrays(np.float64, tuple(shape), elements=st.floats(-max_modulus, max_modulus)))
    imag = draw(arrays(np.float64, tuple(shape), elements=st.floats(-max_modulus, max_modulus)))
    return real + 1j * imag


@st.composite
def real_matrices(draw, shape, max_modulus=2.0):
    """Real weights M of the given shape (stored as complex128), the case of a Q without phasor."""
    real = draw(arrays(np.float64, tuple(shape), elements=st.floats(-max_modulus, max_modulus)))
    return real.astype(np.complex128)


def weight_matrices(shape):
    """Real or complex weights M of the given shape."""
    return st.one_of(real_matrices(shape), complex_matrices(shape))


@st.composite
def layer_stacks(draw):
    """A spec text such as "2 3:CALUm 1:CALUa": 1 to 3 layers of CALUa and CALUm in any order."""
    n_layers = draw(st.integers(1, 3))
    n_inputs = draw(widths)
    tokens = [str(n_inputs)]
    for _ in range(n_layers):
        tokens.append(f"{draw(widths)}:{draw(layer_kinds)}")
    return " ".join(tokens)
