"""Higgs-versus-Z classifiers on dimuon four-momenta: a plain ReLU network and a CALU front end.

The two models of the universality experiment, trained on 13 TeV events and tested at 13 and
100 TeV:

- ``8 200:ReLU 200:ReLU 200:ReLU 2:softmax``, a plain dense network;
- ``8 100:CALUm 3:CALUa 50:ReLU 2:softmax``, a CALU front end whose three complex features go
  through Re(·) into a dense ReLU head.

Inputs are the features of ``calu_np.hep`` divided by the fixed unit ``SCALE_GEV`` (100 GeV).
The unit is a constant, not a statistic of the 13 TeV sample, so the 100 TeV events are scaled
exactly as the training events are and nothing about their energy range leaks into training.
"""

from dataclasses import dataclass

import numpy as np

from calu_np.baselines.dense import dense_backward, dense_forward, init_dense
from calu_np.network import Network, initialise
from calu_np.optim import Adam, decayed_lr
from calu_np.quantizer import quantizer_backward, quantizer_forward
from calu_np.softmax import (
    real_part_backward,
    real_part_forward,
    softmax_cross_entropy_backward,
    softmax_cross_entropy_forward,
)
from calu_np.spec import parse_layers, parse_q

SCALE_GEV = 100.0  # inputs are four-momenta in units of 100 GeV
DNN_LAYERS = "8 200:ReLU 200:ReLU 200:ReLU 2:softmax"
CALU_LAYERS = "8 100:CALUm 3:CALUa 50:ReLU 2:softmax"

# CALUm exponents in {0, 1, 2} with a trainable sign, so {−2, …, 2}: enough for the products of
# two momentum components that a two-particle invariant needs. CALUa coefficients in {0, 1}
# with a trainable sign: the invariant p1·p2 has coefficients ±1, and any overall factor is
# absorbed by the dense layer that follows.
CALUM_Q = "0..2"
CALUA_Q = "0,1"


# ---------------------------------------------------------------- model specs


@dataclass(frozen=True)
class ClassifierSpec:
    """A classifier written as in the talk: CALU layers, then ReLU layers, then ``C:softmax``."""

    n_inputs: int
    calu: tuple  # ((kind, units), ...) for the CALU front end, possibly empty
    hidden: tuple  # units of each dense ReLU layer
    n_classes: int

    def __str__(self):
        parts = [str(self.n_inputs)] + [f"{units}:{kind}" for kind, units in self.calu]
        parts += [f"{units}:ReLU" for units in self.hidden] + [f"{self.n_classes}:softmax"]
        return " ".join(parts)


def parse_classifier(text):
    """Parse "8 100:CALUm 3:CALUa 50:ReLU 2:softmax". Raises ValueError naming the bad token."""
    tokens = str(text).split()
    if len(tokens) < 2 or not tokens[0].isdigit() or int(tokens[0]) < 1:
        raise ValueError(f"invalid classifier spec {text!r}: expected the input size first, for example '8 50:ReLU 2:softmax'")
    calu, hidden, n_classes = [], [], None
    for token in tokens[1:]:
        units_text, _, kind = token.partition(":")
        if not units_text.isdigit() or int(units_text) < 1:
            raise ValueError(f"invalid layer {token!r} in {text!r}: expected UNITS:KIND with a positive number of units")
        units = int(units_text)
        if n_classes is not None:
            raise ValueError(f"invalid classifier spec {text!r}: the softmax layer must come last")
        if kind.lower() in ("calum", "calua"):
            if hidden:
                raise ValueError(f"invalid classifier spec {text!r}: CALU layers must come before the ReLU layers")
            calu.append(("CALUm" if kind.lower() == "calum" else "CALUa", units))
        elif kind.lower() == "relu":
            hidden.append(units)
        elif kind.lower() == "softmax":
            if units < 2:
                raise ValueError(f"invalid layer {token!r} in {text!r}: softmax needs at least 2 classes")
            n_classes = units
        else:
            raise ValueError(f"invalid layer {token!r} in {text!r}: unknown kind {kind!r}, expected CALUm, CALUa, ReLU or softmax")
    if n_classes is None:
        raise ValueError(f"invalid classifier spec {text!r}: the last layer must be C:softmax")
    return ClassifierSpec(int(tokens[0]), tuple(calu), tuple(hidden), n_classes)


# ---------------------------------------------------------------- models


class Classifier:
    """An optional CALU front end, Re(·), dense ReLU layers and a linear layer to the logits.

    Parameters live in ``params``: the front end's under "front.0.logits", "front.1.theta", …
    (the keys of ``calu_np.network.Network`` with a "front." prefix) and the dense layers'
    under "dense.0.W", "dense.0.b", …; gradients use the same keys.
    """

    def __init__(self, spec, rng, q_sets=None):
        self.spec = parse_classifier(spec) if isinstance(spec, str) else spec
        self.front = None
        n_features = self.spec.n_inputs
        if self.spec.calu:
            calu_text = " ".join([str(self.spec.n_inputs)] + [f"{units}:{kind}" for kind, units in self.spec.calu])
            if q_sets is None:
                q_sets = [parse_q(CALUM_Q if kind == "CALUm" else CALUA_Q) for kind, _ in self.spec.calu]
            self.front = Network(parse_layers(calu_text), q_sets)
            n_features = self.spec.calu[-1][1]

        self.activations = ["relu"] * len(self.spec.hidden) + ["identity"]
        sizes = [n_features, *self.spec.hidden, self.spec.n_classes]
        self.params = {}
        if self.front is not None:
            initialise(self.front, rng)
            self.params.update({f"front.{key}": value for key, value in self.front.params.items()})
        self.init_dense(rng, sizes)

    def init_dense(self, rng, sizes=None):
        """Draw fresh dense-layer parameters (Glorot uniform weights, zero biases)."""
        if sizes is None:
            sizes = [self.params["dense.0.W"].shape[1], *self.spec.hidden, self.spec.n_classes]
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            for name, value in init_dense(rng, n_in, n_out).items():
                self.params[f"dense.{i}.{name}"] = value

    def front_params(self):
        return {key[len("front."):]: value for key, value in self.params.items() if key.startswith("front.")}

    def trainable_keys(self, front=True):
        """Return the keys that training updates: dense layers always, front-end tensors when
        `front` is true and some of their weights are not frozen."""
        keys = [key for key in self.params if key.startswith("dense.")]
        if front and self.front is not None:
            for i, layer in enumerate(self.front.layers):
                if not layer.frozen.all():
                    keys += [key for key in self.params if key.startswith(f"front.{i}.")]
        return keys

    def features(self, x):
        """Return the real features the dense layers see: Re of the CALU output, or x itself."""
        if self.front is None:
            return np.asarray(x, dtype=np.float64)
        z, _ = self.front.forward(x, self.front_params())
        return real_part_forward(z)[0]

    def forward(self, x):
        """Compute the logits (batch, n_classes) for inputs x (batch, n_inputs) in SCALE_GEV units."""
        front_cache = None
        if self.front is None:
            h = np.asarray(x, dtype=np.float64)
        else:
            z, front_cache = self.front.forward(x, self.front_params())
            h, _ = real_part_forward(z)
        dense_caches = []
        for i, activation in enumerate(self.activations):
            layer = {"W": self.params[f"dense.{i}.W"], "b": self.params[f"dense.{i}.b"]}
            h, cache = dense_forward(h, layer, activation)
            dense_caches.append(cache)
        return h, (front_cache, dense_caches)

    def backward(self, G_logits, cache, front=True):
        """Return {key: dL/dparam} given G_logits = ∂L/∂(logits)‾ = ½ dL/dlogits.

        The dense layers pass real gradients down; Re(·) hands them to the CALU output as
        complex numbers with a zero imaginary part (see `real_part_backward`).
        """
        front_cache, dense_caches = cache
        grads = {}
        G = G_logits
        for i in reversed(range(len(self.activations))):
            layer_grads = dense_backward(G, dense_caches[i])
            grads[f"dense.{i}.W"] = layer_grads["W"]
            grads[f"dense.{i}.b"] = layer_grads["b"]
            G = layer_grads["x"]
        if front and self.front is not None:
            front_grads, _ = self.front.backward(real_part_backward(G), front_cache)
            grads.update({f"front.{key}": value for key, value in front_grads.items()})
        return grads

    def accuracy(self, x, y):
        logits, _ = self.forward(x)
        return float(np.mean(np.argmax(logits, axis=1) == y))

    def loss(self, x, y):
        logits, _ = self.forward(x)
        return softmax_cross_entropy_forward(logits, y)[0]


def sparsity_gradient(logits, q, strength):
    """Return d(strength · Σ N)/dlogits for a quantizer whose elements are all ≥ 0.

    N = Σ_n q_n P_n is the expected magnitude of the weight, so the penalty pulls unused
    CALUa coefficients to 0. It reuses `quantizer_backward` with G_N = ½ strength, the
    conjugate derivative of the real function strength · N.
    """
    _, cache = quantizer_forward(logits, q)
    G_N = np.full(logits.shape[:-1], 0.5 * strength, dtype=np.complex128)
    return quantizer_backward(G_N, cache)


def fit(model, x, y, steps, rng, lr, lr_end, batch_size=128, front=True, sparsity=0.0, progress=None):
    """Train `model` with mini-batch Adam on the softmax cross-entropy. Returns the loss curve.

    `sparsity` adds strength · Σ N over the CALUa coefficients of the front end's last layer.
    `progress`, if given, is called with 1 after every step.
    """
    keys = model.trainable_keys(front)
    optimizer = Adam({key: model.params[key] for key in keys}, lr=lr)
    last = None if model.front is None else len(model.front.layers) - 1
    n = x.shape[0]
    batch_size = min(batch_size, n)
    curve = []

    for step in range(steps):
        batch = rng.choice(n, size=batch_size, replace=False)
        logits, cache = model.forward(x[batch])
        loss, loss_cache = softmax_cross_entropy_forward(logits, y[batch])
        grads = model.backward(softmax_cross_entropy_backward(loss_cache), cache, front=front)
        grads = {key: grads[key] for key in keys}

        key = f"front.{last}.logits"
        if sparsity > 0 and key in grads:
            grads[key] = grads[key] + sparsity_gradient(model.params[key], model.front.layers[last].q, sparsity)

        optimizer.step(model.params, grads, lr=decayed_lr(step, steps, lr, lr_end))
        curve.append(loss)
        if progress is not None:
            progress(1)
    return curve


def pair_initialise(network, rng, bias=3.0):
    """Start every CALUm unit near the product of two distinct inputs chosen at random.

    The logits of exponent 1 on the two chosen inputs, and of exponent 0 on the others, get
    `bias` added. The front end still learns which products to keep, their signs and how to
    combine them. Without this start, the units stayed near constants in our runs (docs/hep.md).
    """
    layer = network.layers[0]
    logits = network.params["0.logits"]
    zero = int(np.flatnonzero(layer.q == 0)[0])
    one = int(np.flatnonzero(layer.q == 1)[0])
    logits[...] = rng.normal(0.0, 0.1, size=logits.shape)
    logits[..., zero] += bias
    for k in range(layer.n_out):
        chosen = rng.choice(layer.n_in, size=2, replace=False)
        logits[k, chosen, zero] -= bias
        logits[k, chosen, one] += bias
