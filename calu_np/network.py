"""A stack of CALU layers: parameters, forward and backward passes, and quantized snapshots.

Parameters live in one flat dict whose keys name the layer and the tensor, "0.logits" and
"0.theta" for the first layer, and gradients use exactly the same keys. Logits have shape
(n_out, n_in, len(Q)); theta has shape (n_out, n_in) and exists only for layers whose phasor
is trainable (every element of Q real and ≥ 0).
"""

import numpy as np

from . import engine
from .phasor import nearest_sign
from .regularizer import regularizer_backward, regularizer_forward
from .spec import NetworkSpec, parse_layers, phasor_is_trainable


class CALULayer:
    """Bookkeeping for one layer: its kind, sizes, quantized set Q and frozen weights.

    Frozen weights: where `frozen[k, j]` is True the total weight is `fixed_M[k, j]` instead of
    N ∘ W, and its parameters get no gradient. A fully snapped layer has every weight frozen.
    """

    def __init__(self, kind, n_in, n_out, q):
        self.kind = kind
        self.n_in = n_in
        self.n_out = n_out
        self.q = np.asarray(q, dtype=np.complex128)
        self.trainable_phasor = phasor_is_trainable(self.q)
        self.frozen = np.zeros((n_out, n_in), dtype=bool)
        self.fixed_M = np.zeros((n_out, n_in), dtype=np.complex128)

    def weights(self, logits, theta):
        """Compute M = N ∘ W (W = 1 without a trainable phasor), with frozen entries replaced.

        Returns M and the cache for `weights_backward`.
        """
        theta = theta if self.trainable_phasor else None
        return engine.weights_forward(logits, theta, self.q, self.frozen, self.fixed_M)

    def weights_backward(self, G_M, cache):
        """Return (dL/dlogits, dL/dtheta or None) given G_M = ∂L/∂M̄; see `engine.weights_backward`."""
        return engine.weights_backward(G_M, cache)


class Network:
    """A CALU stack such as "8 50:CALUm 3:CALUa" with one quantized set Q per layer."""

    def __init__(self, spec, q):
        """spec: a NetworkSpec or its text. q: one set for every layer, or a list with one per layer."""
        if not isinstance(spec, NetworkSpec):
            spec = parse_layers(spec)
        self.spec = spec
        q_sets = list(q) if isinstance(q, (list, tuple)) else [q] * len(spec.layers)
        if len(q_sets) != len(spec.layers):
            raise ValueError(f"got {len(q_sets)} quantized sets for {len(spec.layers)} layers")

        self.layers = []
        n_in = spec.n_inputs
        for layer_spec, layer_q in zip(spec.layers, q_sets):
            self.layers.append(CALULayer(layer_spec.kind, n_in, layer_spec.units, layer_q))
            n_in = layer_spec.units
        self.params = {}

    @property
    def n_inputs(self):
        return self.spec.n_inputs

    @property
    def n_outputs(self):
        return self.spec.n_outputs

    def parameter_shapes(self):
        """Return {key: shape} for every trainable tensor."""
        shapes = {}
        for i, layer in enumerate(self.layers):
            shapes[f"{i}.logits"] = (layer.n_out, layer.n_in, len(layer.q))
            if layer.trainable_phasor:
                shapes[f"{i}.theta"] = (layer.n_out, layer.n_in)
        return shapes

    def weights(self, params=None):
        """Return the total weights M of every layer and the caches for `weights_backward`."""
        params = self.params if params is None else params
        Ms, caches = [], []
        for i, layer in enumerate(self.layers):
            M, cache = layer.weights(params[f"{i}.logits"], params.get(f"{i}.theta"))
            Ms.append(M)
            caches.append(cache)
        return Ms, caches

    def forward(self, x, params=None, Ms=None):
        """Compute the network output for inputs x of shape (batch, n_inputs).

        Pass `Ms` to evaluate given total weights (a snapped model) instead of the parameters.
        Returns y (batch, n_outputs) and the cache for `backward`.
        """
        weight_caches = None
        if Ms is None:
            Ms, weight_caches = self.weights(params)
        h = np.asarray(x, dtype=np.complex128)
        layer_caches, outputs = [], []
        for layer, M in zip(self.layers, Ms):
            h, cache = engine.layer_forward(layer.kind, h, M)
            layer_caches.append(cache)
            outputs.append(h)
        return h, (layer_caches, weight_caches, outputs)

    def backward(self, G_y, cache, input_grad=True):
        """Return {key: dL/dparam} for every parameter, and G_x, given G_y = ∂L/∂ȳ.

        With input_grad=False the gradient with respect to the network input is not computed
        (training never needs it) and None is returned in its place.
        """
        layer_caches, weight_caches, _ = cache
        grads = {}
        G = G_y
        G_Ms = [None] * len(self.layers)
        for i in reversed(range(len(self.layers))):
            G, G_Ms[i] = engine.layer_backward(self.layers[i].kind, G, layer_caches[i], input_grad=input_grad or i > 0)
        for i, layer in enumerate(self.layers):
            d_logits, d_theta = layer.weights_backward(G_Ms[i], weight_caches[i])
            grads[f"{i}.logits"] = d_logits
            if d_theta is not None:
                grads[f"{i}.theta"] = d_theta
        return grads, G

    def regularizer(self, params=None):
        """Return the regularization potential, the sum over layers of its mean over weights,
        and its gradient with the parameters' keys.

        Frozen weights do not depend on their logits, so they are left out of both the value
        and the gradient; the mean still divides by every weight of the layer.
        """
        params = self.params if params is None else params
        total = 0.0
        grads = {}
        for i, layer in enumerate(self.layers):
            logits = params[f"{i}.logits"]
            free = ~layer.frozen
            n_weights = layer.n_out * layer.n_in
            grad = np.zeros_like(logits)
            if np.any(free):
                value, cache = regularizer_forward(logits[free], layer.q)
                total += value / n_weights
                grad[free] = regularizer_backward(cache) / n_weights
            grads[f"{i}.logits"] = grad
        return total, grads

    def snapped_weights(self, params=None):
        """Return every layer's M with each quantizer at its most probable q and each phasor at ±1.

        Frozen weights keep their fixed values.
        """
        params = self.params if params is None else params
        Ms = []
        for i, layer in enumerate(self.layers):
            logits = params[f"{i}.logits"]
            N = layer.q[np.argmax(logits, axis=-1)]
            W = nearest_sign(params[f"{i}.theta"]) if layer.trainable_phasor else np.ones_like(N)
            Ms.append(np.where(layer.frozen, layer.fixed_M, N * W))
        return Ms

    def copy_params(self):
        return {key: value.copy() for key, value in self.params.items()}


def initialise(network, rng, logit_scale=0.1, zero_bias_calum=3.0, calum_theta=-3.0, calua_theta=2.0):
    """Set `network.params` to the initial state that trained best in our tests.

    CALUm: logits N(0, logit_scale²) with `zero_bias_calum` added to the logit of q = 0 (every
    exponent starts near 0, so each unit starts near the constant 1), and phasors near +1
    (θ = calum_theta, σ(−3) ≈ 0.05). CALUa: logits N(0, logit_scale²) and phasors near ±1 with a
    random sign (θ = ±calua_theta). A phasor starting at θ = 0 (W = i) trains far worse.
    """
    params = {}
    for i, layer in enumerate(network.layers):
        shape = (layer.n_out, layer.n_in)
        logits = rng.normal(0.0, logit_scale, size=shape + (len(layer.q),))
        if layer.kind == "CALUm":
            zero = np.flatnonzero(layer.q == 0)
            if zero.size:
                logits[..., zero[0]] += zero_bias_calum
        params[f"{i}.logits"] = logits
        if layer.trainable_phasor:
            if layer.kind == "CALUm":
                theta = np.full(shape, calum_theta) + rng.normal(0.0, logit_scale, size=shape)
            else:
                theta = calua_theta * rng.choice([-1.0, 1.0], size=shape)
            params[f"{i}.theta"] = theta
    network.params = params
    return params
