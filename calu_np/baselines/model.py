"""Stacks of baseline layers written like CALU specs, e.g. "2 100:TANH 100:TANH 1:IDENTITY".

Parameters live in one flat dict whose keys name the layer and the tensor ("0.W", "1.W_hat"),
and gradients use exactly the same keys, as in `calu_np.network`. Everything is real.
"""

from dataclasses import dataclass
from functools import partial

import numpy as np

from . import dense, nalu, nau, npu


@dataclass(frozen=True)
class LayerKind:
    """The pure functions behind one kind of layer.

    `clamp` projects the parameters onto their allowed set after each step (None when
    unbounded); `sparse` is True where the NAU/NMU sparsity regulariser applies to "W".
    """

    init: object
    forward: object
    backward: object
    clamp: object = None
    sparse: bool = False


LAYER_KINDS = {
    "TANH": LayerKind(dense.init_dense, partial(dense.dense_forward, activation="tanh"), dense.dense_backward),
    "RELU": LayerKind(dense.init_dense, partial(dense.dense_forward, activation="relu"), dense.dense_backward),
    "IDENTITY": LayerKind(dense.init_dense, partial(dense.dense_forward, activation="identity"), dense.dense_backward),
    "NAC": LayerKind(nalu.init_nac, nalu.nac_forward, nalu.nac_backward),
    "NALU": LayerKind(nalu.init_nalu, nalu.nalu_forward, nalu.nalu_backward),
    "NAU": LayerKind(nau.init_nau, nau.nau_forward, nau.nau_backward, nau.clamp_nau, sparse=True),
    "NMU": LayerKind(nau.init_nmu, nau.nmu_forward, nau.nmu_backward, nau.clamp_nmu, sparse=True),
    "NPU": LayerKind(npu.init_npu, npu.npu_forward, npu.npu_backward, npu.clamp_npu),
}


@dataclass(frozen=True)
class BaselineLayer:
    """One layer of a stack: its kind (a key of LAYER_KINDS) and its sizes."""

    kind: str
    n_in: int
    n_out: int


def parse_stack(text):
    """Parse "DIM units:KIND units:KIND ..." into a list of BaselineLayer.

    Raises ValueError naming the bad token.
    """
    tokens = str(text).split()
    if len(tokens) < 2:
        raise ValueError(f"invalid layer stack {text!r}: expected 'DIM units:KIND ...', e.g. '2 5:NMU 1:NAU'")
    try:
        n_in = int(tokens[0])
    except ValueError:
        raise ValueError(f"invalid input size {tokens[0]!r} in {text!r}: expected a positive integer") from None
    if n_in < 1:
        raise ValueError(f"invalid input size {n_in} in {text!r}: expected a positive integer")

    layers = []
    for token in tokens[1:]:
        units, _, kind = token.partition(":")
        kind = kind.upper()
        if kind not in LAYER_KINDS:
            raise ValueError(f"unknown layer kind in {token!r}: expected one of {', '.join(LAYER_KINDS)}")
        if not units.isdigit() or int(units) < 1:
            raise ValueError(f"invalid unit count in {token!r}: expected a positive integer before ':'")
        layers.append(BaselineLayer(kind, n_in, int(units)))
        n_in = int(units)
    return layers


class BaselineModel:
    """A stack of baseline layers with the parameters in one flat dict, `params`."""

    def __init__(self, text):
        self.text = " ".join(str(text).split())
        self.layers = parse_stack(text)
        self.params = {}

    @property
    def n_inputs(self):
        return self.layers[0].n_in

    @property
    def n_outputs(self):
        return self.layers[-1].n_out

    def initialise(self, rng):
        """Draw fresh parameters for every layer from `rng`. Returns the parameter dict."""
        self.params = {}
        for i, layer in enumerate(self.layers):
            for name, value in LAYER_KINDS[layer.kind].init(rng, layer.n_in, layer.n_out).items():
                self.params[f"{i}.{name}"] = value
        return self.params

    def layer_params(self, i, params=None):
        params = self.params if params is None else params
        prefix = f"{i}."
        return {key[len(prefix):]: value for key, value in params.items() if key.startswith(prefix)}

    def forward(self, x, params=None):
        """Compute the output for real inputs x of shape (batch, n_inputs). Returns y and the cache."""
        h = np.asarray(x, dtype=np.float64)
        caches = []
        for i, layer in enumerate(self.layers):
            h, cache = LAYER_KINDS[layer.kind].forward(h, self.layer_params(i, params))
            caches.append(cache)
        return h, caches

    def backward(self, G_y, caches):
        """Return ({key: dL/dparam}, G_x) given G_y = ∂L/∂ȳ (½ dL/dy for the real output)."""
        grads = {}
        G = G_y
        for i in reversed(range(len(self.layers))):
            layer_grads = LAYER_KINDS[self.layers[i].kind].backward(G, caches[i])
            G = layer_grads.pop("x")
            for name, value in layer_grads.items():
                grads[f"{i}.{name}"] = value
        return grads, G

    def sparsity(self, params=None):
        """Return the sum over NAU and NMU layers of their sparsity regulariser and its gradient."""
        params = self.params if params is None else params
        total, grads = 0.0, {}
        for i, layer in enumerate(self.layers):
            if LAYER_KINDS[layer.kind].sparse:
                value, cache = nau.sparsity_forward(params[f"{i}.W"])
                total += value
                grads[f"{i}.W"] = nau.sparsity_backward(cache)
        return total, grads

    def clamp(self, params=None):
        """Project every bounded parameter onto its allowed set in place."""
        params = self.params if params is None else params
        for i, layer in enumerate(self.layers):
            clamp = LAYER_KINDS[layer.kind].clamp
            if clamp is not None:
                clamp(self.layer_params(i, params))

    def copy_params(self):
        return {key: value.copy() for key, value in self.params.items()}
