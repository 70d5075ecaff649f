"""CALURegressor: fit an exact CALU law to a table, in the style of a scikit-learn estimator.

Fitting tries a short list of layer stacks and quantized sets (or the ones given). Each
candidate is trained with `calu_np.train.train`, snapped with `calu_np.snap.snap` and then
refined by a discrete search that keeps every weight on its quantized set:

- the last layer, when it is CALUa, is refitted by least squares on the features it receives
  and each coefficient rounded to the nearest allowed value;
- every other weight is moved, one at a time, to each allowed value, and a move is kept when
  the training MSE of the refitted model drops.

The candidate with the lowest validation MSE wins. With `scale=True` each output also gets one
free real factor s, fitted by least squares after the rounding, so the law reads s * (exact
formula): that is how a constant such as a fitted G is reported without giving up the exact
structure. Named constants (pi, e, 1/2) are instead put into Q, for example q="-2..2,pi".

The scikit-learn names are followed (fit, predict, score, get_params, set_params, trailing
underscores for fitted attributes), but scikit-learn is not imported.
"""

import inspect
import logging
from dataclasses import dataclass

import numpy as np

from .formula import network_expressions
from .losses import mse
from .network import Network
from .snap import freeze, snap
from .spec import parse_layers, parse_q
from .train import TrainConfig, train

logger = logging.getLogger(__name__)

# A training MSE below this fraction of mean |t|² is float64 round-off for an exact law.
ROUND_OFF = 1e-20
HALVES = "-2,-3/2,-1,-1/2,0,1/2,1,3/2,2"


def default_candidates(n_inputs, n_outputs):
    """Return the (layer text, Q texts) pairs searched when none are given, simplest first.

    Products and quotients of integer powers, then half-integer powers (square roots), then
    powers of sums such as (a + b)**3 through a leading CALUa layer.
    """
    units = max(4, 2 * n_inputs)
    return [
        (f"{n_inputs} {units}:CALUm {n_outputs}:CALUa", ("-3..3", "-3..3")),
        (f"{n_inputs} {units}:CALUm {n_outputs}:CALUa", (HALVES, "-3..3")),
        (f"{n_inputs} {n_inputs}:CALUa {units}:CALUm {n_outputs}:CALUa", ("-1..1", "-3..3", "-3..3")),
    ]


def count_weights(spec):
    """Return the number of quantized weights of a NetworkSpec."""
    total, n_in = 0, spec.n_inputs
    for layer in spec.layers:
        total += layer.units * n_in
        n_in = layer.units
    return total


def allowed_values(layer):
    """Return the exact values one weight of `layer` can take: Q, and also -Q with a trainable phasor."""
    values = list(layer.q)
    if layer.trainable_phasor:
        values += [-value for value in layer.q]
    return np.unique(np.array(values, dtype=np.complex128))


def _forward_hidden(network, Ms, x):
    """Return the features the last layer receives, or None when they are not finite."""
    h = x
    with np.errstate(all="ignore"):
        for layer, M in zip(network.layers[:-1], Ms):
            h = network_layer_forward(layer.kind, h, M)
    return h if np.all(np.isfinite(h)) else None


def network_layer_forward(kind, h, M):
    from . import engine

    return engine.layer_forward(kind, h, M)[0]


def _distinct_columns(F):
    """Return the indices of the columns of F that are not numerical copies of an earlier one."""
    keep = []
    for j in range(F.shape[1]):
        column = F[:, j]
        size = np.max(np.abs(column))
        if size == 0:
            continue
        if not any(np.max(np.abs(column - F[:, i])) <= 1e-12 * size for i in keep):
            keep.append(j)
    return keep


def _times(G, w):
    """Return G @ w. einsum, because threaded OpenBLAS complex matrix-vector products were
    1000x slower than single-threaded ones on a busy 2-core machine (OpenBLAS 0.3.31)."""
    return np.einsum("ij,j->i", G, w)


def _round_to(values, allowed):
    """Round each entry of `values` to the nearest element of `allowed`."""
    distance = np.abs(values[:, None] - allowed[None, :])
    return allowed[np.argmin(distance, axis=1)]


def _fit_column(F, t, allowed, fit_scale):
    """Fit t ≈ s * F @ w with w on `allowed`. Returns (w, s, MSE); s is 1 without `fit_scale`."""
    w = np.zeros(F.shape[1], dtype=np.complex128)
    columns = _distinct_columns(F)
    if not columns:
        return w, 1.0, mse(np.zeros_like(t), t)
    G = F[:, columns]
    coefficients = np.linalg.lstsq(G, t.astype(np.complex128), rcond=None)[0]

    if not fit_scale:
        trials = [(_round_to(coefficients, allowed), 1.0)]
    else:
        trials = []
        largest = coefficients[np.argmax(np.abs(coefficients))]
        for value in allowed:
            if value == 0 or largest == 0:
                continue
            scale = (largest / value).real
            if scale == 0:
                continue
            rounded = _round_to(coefficients / scale, allowed)
            prediction = _times(G, rounded)
            denominator = np.real(np.vdot(prediction, prediction))
            if denominator > 0:
                scale = np.real(np.vdot(prediction, t)) / denominator
            trials.append((rounded, scale))

    best = None
    for rounded, scale in trials:
        rounded = _polish_coefficients(G, t, rounded, scale, allowed)
        loss = mse(scale * (_times(G, rounded)), t)
        key = (loss, np.max(np.abs(rounded)), scale < 0)
        if best is None or _better(key, best[0]):
            best = (key, rounded, scale)
    (loss, _, _), rounded, scale = best
    w[columns] = rounded
    return w, float(scale), loss


def _better(key, best_key):
    """Compare (loss, max |q|, negative scale) keys, treating losses within 1e-6 as equal."""
    loss, size, negative = key
    best_loss, best_size, best_negative = best_key
    if loss < best_loss * (1 - 1e-6) - 1e-300:
        return True
    if loss > best_loss * (1 + 1e-6) + 1e-300:
        return False
    return (size, negative) < (best_size, best_negative)


def _polish_coefficients(G, t, w, scale, allowed):
    """Move single coefficients to other allowed values while that lowers the MSE.

    Changing w_j by d changes the residual r = s G w - t by s d G_j, so the new sum of squares
    is |r|² + 2 Re(s d conj(G_j)·r) + s² |d|² |G_j|², evaluated for every allowed value at once.
    """
    w = w.copy()
    residual = scale * _times(G, w) - t
    column_norms = np.sum(np.abs(G) ** 2, axis=0)
    for _ in range(3 * len(w)):
        best_gain, best_move = 0.0, None
        correlations = np.einsum("ij,i->j", G.conj(), residual)
        total = np.real(np.vdot(residual, residual))
        for j in range(len(w)):
            d = allowed - w[j]
            change = 2 * np.real(scale * d * correlations[j]) + scale**2 * np.abs(d) ** 2 * column_norms[j]
            i = int(np.argmin(change))
            if change[i] < -1e-9 * total and change[i] < best_gain:
                best_gain, best_move = change[i], (j, allowed[i])
        if best_move is None:
            break
        j, value = best_move
        residual = residual + scale * (value - w[j]) * G[:, j]
        w[j] = value
    return w


def fit_last_layer(network, hidden_Ms, x, t, fit_scale):
    """Refit the last (CALUa) layer on the features of `hidden_Ms`. Returns (M, scales, MSE)."""
    F = _forward_hidden(network, hidden_Ms, x)
    last = network.layers[-1]
    if F is None:
        return None, None, np.inf
    allowed = allowed_values(last)
    M = np.zeros((last.n_out, last.n_in), dtype=np.complex128)
    scales = np.ones(last.n_out)
    total = 0.0
    for k in range(last.n_out):
        M[k], scales[k], loss = _fit_column(F, t[:, k], allowed, fit_scale)
        total += loss
    return M, scales, total / last.n_out


def refine(network, x, t, Ms, fit_scale=False, max_sweeps=8):
    """Search for exact weights near `Ms` that lower the training MSE. Returns (Ms, scales, MSE).

    Each sweep moves single weights of the hidden layers to every allowed value. When no single
    move helps, pairs of weights in the same row are moved together: a unit computing b must
    pass through a copy of another unit to become a, and that copy alone lowers nothing. Only
    networks whose last layer is CALUa are refined; others are returned unchanged with their MSE.
    """
    x = np.asarray(x, dtype=np.complex128)
    t = np.asarray(t, dtype=np.complex128)
    if network.layers[-1].kind != "CALUa":
        y = network.forward(x, Ms=Ms)[0]
        loss = mse(y, t) if np.all(np.isfinite(y)) else np.inf
        return Ms, np.ones(network.n_outputs), loss

    hidden = [M.copy() for M in Ms[:-1]]
    target = ROUND_OFF * float(np.mean(np.abs(t) ** 2))
    state = {}
    state["last"], state["scales"], state["loss"] = fit_last_layer(network, hidden, x, t, fit_scale)

    def try_move(M, cells, values):
        """Set M at `cells` to `values`; keep the change if the refitted MSE drops."""
        old = [M[cell] for cell in cells]
        if all(o == v for o, v in zip(old, values)):
            return False
        for cell, value in zip(cells, values):
            M[cell] = value
        last, scales, loss = fit_last_layer(network, hidden, x, t, fit_scale)
        if loss < state["loss"] * (1 - 1e-9):
            state["last"], state["scales"], state["loss"] = last, scales, loss
            return True
        for cell, value in zip(cells, old):
            M[cell] = value
        return False

    for sweep in range(max_sweeps):
        if state["loss"] <= target:
            break
        improved = False
        for layer, M in zip(network.layers, hidden):
            allowed = allowed_values(layer)
            for k in range(M.shape[0]):
                for j in range(M.shape[1]):
                    for value in allowed:
                        improved |= try_move(M, [(k, j)], [value])
        if not improved:
            for layer, M in zip(network.layers, hidden):
                allowed = allowed_values(layer)
                for k in range(M.shape[0]):
                    for j1 in range(M.shape[1]):
                        for j2 in range(j1 + 1, M.shape[1]):
                            for v1 in allowed:
                                for v2 in allowed:
                                    improved |= try_move(M, [(k, j1), (k, j2)], [v1, v2])
        logger.info("refine sweep %d: training MSE %.3e", sweep, state["loss"])
        if not improved:
            break
    return hidden + [state["last"]], state["scales"], state["loss"]


@dataclass
class Candidate:
    """One searched (layers, Q) pair and how its exact model did."""

    layers: str
    q: tuple
    train_mse: float
    validation_mse: float
    snap_method: str
    seconds: float = 0.0


def _as_2d(y):
    y = np.asarray(y, dtype=np.float64)
    return y[:, None] if y.ndim == 1 else y


class CALURegressor:
    """Fit an exact law y = f(X) with a CALU network; scikit-learn style, without scikit-learn.

    Parameters: `layers` a layer text such as "3 6:CALUm 1:CALUa" (None searches the defaults of
    `default_candidates`); `q` one Q text for every layer or a list with one per layer (None:
    the candidate's own); `steps` Adam steps of the main run; `restarts` initialisations tried
    first; `scale` fits one free real factor per output; `validation_fraction` of the rows picks
    the candidate; `random_state` seeds training and the split.
    """

    def __init__(self, layers=None, q=None, steps=2000, restarts=2, scale=False,
                 validation_fraction=0.2, random_state=0):
        self.layers = layers
        self.q = q
        self.steps = steps
        self.restarts = restarts
        self.scale = scale
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    # ------------------------------------------------------------ parameters

    @classmethod
    def _parameter_names(cls):
        signature = inspect.signature(cls.__init__)
        return [name for name in signature.parameters if name != "self"]

    def get_params(self, deep=True):
        """Return the constructor parameters as a dict."""
        return {name: getattr(self, name) for name in self._parameter_names()}

    def set_params(self, **params):
        """Set constructor parameters; raises ValueError for an unknown name. Returns self."""
        valid = self._parameter_names()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"invalid parameter {name!r} for CALURegressor: expected one of {', '.join(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self):
        changed = [f"{name}={value!r}" for name, value in self.get_params().items()
                   if value != inspect.signature(type(self).__init__).parameters[name].default]
        return f"CALURegressor({', '.join(changed)})"

    # ------------------------------------------------------------ fitting

    def candidates(self, n_inputs, n_outputs):
        """Return the (layer text, Q texts) pairs that `fit` will try."""
        if self.layers is None and self.q is None:
            return default_candidates(n_inputs, n_outputs)
        pairs = []
        layer_texts = [self.layers] if self.layers is not None else [text for text, _ in default_candidates(n_inputs, n_outputs)]
        for text in layer_texts:
            n_layers = len(parse_layers(text).layers)
            if self.q is None:
                defaults = dict(default_candidates(n_inputs, n_outputs))
                q_texts = defaults.get(text, ("-3..3",) * n_layers)
            else:
                q_texts = (self.q,) if isinstance(self.q, str) else tuple(self.q)
            if len(q_texts) == 1:
                q_texts = q_texts * n_layers
            if len(q_texts) != n_layers:
                raise ValueError(f"got {len(q_texts)} Q sets for the {n_layers} layers of {text!r}: give one for all or one per layer")
            pairs.append((text, tuple(q_texts)))
        return pairs

    def _check_data(self, X, y):
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (rows, features), got shape {X.shape}")
        Y = _as_2d(y)
        if Y.ndim != 2 or Y.shape[0] != X.shape[0]:
            raise ValueError(f"y has {Y.shape[0]} rows but X has {X.shape[0]}")
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(Y))):
            raise ValueError("X and y must be finite: remove the rows with NaN or inf")
        return X, Y

    def fit(self, X, y, progress=None):
        """Search the candidates on (X, y) and keep the best exact model. Returns self.

        `progress`, if given, is called with the number of training steps just done.
        """
        import time

        X, Y = self._check_data(X, y)
        self.n_features_in_ = X.shape[1]
        self._y_is_1d = np.asarray(y).ndim == 1

        rng = np.random.default_rng([self.random_state, 7])
        order = rng.permutation(len(X))
        n_validation = int(round(self.validation_fraction * len(X)))
        n_validation = min(n_validation, len(X) - 1)
        fit_rows, validation_rows = order[n_validation:], order[:n_validation]
        if n_validation == 0:
            validation_rows = fit_rows

        self.candidates_ = []
        best = None
        for text, q_texts in self.candidates(X.shape[1], Y.shape[1]):
            spec = parse_layers(text)
            if spec.n_inputs != X.shape[1] or spec.n_outputs != Y.shape[1]:
                raise ValueError(f"the layer stack {text!r} maps {spec.n_inputs} inputs to {spec.n_outputs} outputs, "
                                 f"but the data has {X.shape[1]} inputs and {Y.shape[1]} outputs")
            start = time.perf_counter()
            network = Network(spec, [parse_q(q_text) for q_text in q_texts])
            config = TrainConfig(steps=self.steps, seed=self.random_state, restarts=self.restarts,
                                 restart_steps=max(1, self.steps // 2))
            train(network, X[fit_rows], Y[fit_rows], config, progress=progress)
            report = snap(network, X[fit_rows], Y[fit_rows])
            start_Ms = [layer.fixed_M.copy() for layer in network.layers] if report.kept else network.snapped_weights()
            Ms, scales, train_loss = refine(network, X[fit_rows], Y[fit_rows], start_Ms, self.scale)
            validation_loss = self._mse(network, Ms, scales, X[validation_rows], Y[validation_rows])
            candidate = Candidate(text, q_texts, train_loss, validation_loss, report.method, time.perf_counter() - start)
            self.candidates_.append(candidate)
            logger.info("candidate %s Q %s: validation MSE %.3e", text, q_texts, validation_loss)
            if best is None or validation_loss < best[0].validation_mse * (1 - 1e-6):
                best = (candidate, network, Ms, scales)
            if validation_loss <= ROUND_OFF * float(np.mean(Y[validation_rows] ** 2)):
                break

        candidate, network, Ms, scales = best
        freeze(network, Ms)
        self.network_ = network
        self.scale_ = np.asarray(scales, dtype=np.float64)
        self.best_candidate_ = candidate
        return self

    @staticmethod
    def _mse(network, Ms, scales, X, Y):
        with np.errstate(all="ignore"):
            y = network.forward(np.asarray(X, dtype=np.complex128), Ms=Ms)[0] * scales
        if not np.all(np.isfinite(y)):
            return np.inf
        return mse(y, Y)

    # ------------------------------------------------------------ using the model

    def _check_fitted(self):
        if not hasattr(self, "network_"):
            raise ValueError("this CALURegressor is not fitted yet: call fit(X, y) first")

    def predict_complex(self, X):
        """Return the model's complex output s * network(X), shape (rows, outputs)."""
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"X must have shape (rows, {self.n_features_in_}), got {X.shape}")
        with np.errstate(all="ignore"):
            return self.network_.forward(X.astype(np.complex128))[0] * self.scale_

    def predict(self, X):
        """Return the real part of the model's output, 1-D when y was 1-D at fit time."""
        y = np.real(self.predict_complex(X))
        return y[:, 0] if getattr(self, "_y_is_1d", False) else y

    def score(self, X, y):
        """Return the coefficient of determination R² of predict(X) against y (averaged over outputs)."""
        prediction = _as_2d(self.predict(X))
        Y = _as_2d(y)
        residual = np.sum((Y - prediction) ** 2, axis=0)
        total = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)
        r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), np.where(residual == 0, 1.0, 0.0))
        return float(np.mean(r2))

    def exact_weights(self):
        """Return the exact total weights of every layer (the scale is not folded in)."""
        self._check_fitted()
        return [layer.fixed_M.copy() for layer in self.network_.layers]

    def expressions(self):
        """Return the symbolic expression of each output, without the scale (see `calu_np.formula`)."""
        kinds = [layer.kind for layer in self.network_.layers]
        return network_expressions(self.exact_weights(), kinds)

    def formula(self, names=None, output_names=None):
        """Return the law as text, one line `y = ...` per output, with `names` for the inputs."""
        from .export import emit

        self._check_fitted()
        return emit(self.expressions(), self.scale_, self.input_names(names), self.output_names(output_names), "text")

    def input_names(self, names=None):
        """Return the input names: `names` checked against the input count, or the names seen by
        `fit` (`feature_names_in_`), or x0, x1, …"""
        if names is not None:
            names = list(names)
            if len(names) != self.n_features_in_:
                raise ValueError(f"got {len(names)} names for {self.n_features_in_} inputs")
            return names
        return list(getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)]))

    def output_names(self, names=None):
        """Return the output names: `names`, or the names seen by `fit`, or y (y0, y1, … for several)."""
        n_outputs = self.network_.n_outputs
        if names is not None:
            return list(names)
        default = ["y"] if n_outputs == 1 else [f"y{k}" for k in range(n_outputs)]
        return list(getattr(self, "output_names_", default))

    def save(self, path, metadata=None):
        """Write the fitted model to an .npz file with its names and scale."""
        from .io import save_model

        self._check_fitted()
        data = {
            "input_names": self.input_names(None),
            "output_names": self.output_names(None),
            "output_scale": [float(s) for s in self.scale_],
            "regressor": {key: (list(value) if isinstance(value, tuple) else value)
                          for key, value in self.get_params().items()},
            "y_is_1d": bool(self._y_is_1d),
        }
        data.update(metadata or {})
        save_model(path, self.network_, data)

    @classmethod
    def load(cls, path):
        """Read a model written by `save` (or by `calu-np train --out`). Returns (regressor, metadata)."""
        from .io import load_model

        network, metadata = load_model(path)
        parameters = metadata.get("regressor", {})
        model = cls(**{key: value for key, value in parameters.items() if key in cls._parameter_names()})
        if not all(layer.frozen.all() for layer in network.layers):
            freeze(network, network.snapped_weights())
        model.network_ = network
        model.n_features_in_ = network.n_inputs
        model.scale_ = np.asarray(metadata.get("output_scale", [1.0] * network.n_outputs), dtype=np.float64)
        model._y_is_1d = bool(metadata.get("y_is_1d", False))
        if "input_names" in metadata:
            model.feature_names_in_ = list(metadata["input_names"])
        if "output_names" in metadata:
            model.output_names_ = list(metadata["output_names"])
        return model, metadata
