"""The universality experiment: Higgs vs Z → μμ, trained at 13 TeV, tested at 13 and 100 TeV."""

import time
from dataclasses import dataclass, field

import numpy as np

from calu_np.formula import network_formulas
from calu_np.hep.classifier import CALU_LAYERS, DNN_LAYERS, SCALE_GEV, Classifier, fit, pair_initialise
from calu_np.hep.front_snap import snap_coefficients, snap_exponents
from calu_np.hep.physics import FEATURE_NAMES
from calu_np.hep.samples import load_bundled_classification

# The Minkowski product p1·p2 as {monomial: coefficient}, a monomial being a tuple of 8 exponents.
_INVARIANT = {
    (1, 0, 0, 0, 1, 0, 0, 0): 1.0,
    (0, 1, 0, 0, 0, 1, 0, 0): -1.0,
    (0, 0, 1, 0, 0, 0, 1, 0): -1.0,
    (0, 0, 0, 1, 0, 0, 0, 1): -1.0,
}


@dataclass
class HZConfig:
    """Step counts and learning rates of the experiment."""

    dnn_steps: int = 3000
    soft_steps: int = 2000  # whole CALU model, soft weights
    coefficient_steps: int = 2000  # CALUa and head after the exponents are snapped
    head_steps: int = 1500  # head alone after the whole front end is snapped
    lr: float = 0.01
    dnn_lr: float = 0.001
    sparsity: float = 1e-3
    margin: float = 0.001  # fraction of training events a polish change must win by

    @classmethod
    def from_steps(cls, steps):
        """Scale every phase from one number, the steps of the soft CALU phase."""
        if steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps}")
        return cls(dnn_steps=int(1.5 * steps), soft_steps=steps, coefficient_steps=steps, head_steps=max(1, int(0.75 * steps)))

    @property
    def total_steps(self):
        return self.dnn_steps + self.soft_steps + self.coefficient_steps + self.head_steps


@dataclass
class HZResult:
    """Accuracies of both models at both energies, and the snapped CALU features."""

    seed: int
    config: HZConfig
    accuracy: dict  # model name -> {"13 TeV": float, "100 TeV": float}
    feature_formulas: list
    invariant_features: list  # indices of features equal to a multiple of p1·p2, term for term
    seconds: float
    models: dict = field(default_factory=dict, repr=False)

    def table(self):
        """Return the accuracy table as Markdown text."""
        lines = ["| model | 13 TeV | 100 TeV | change |", "|---|---|---|---|"]
        for name, row in self.accuracy.items():
            low, high = row["13 TeV"], row["100 TeV"]
            lines.append(f"| {name} | {100 * low:.1f}% | {100 * high:.1f}% | {100 * (high - low):+.1f} |")
        return "\n".join(lines)

    def formulas(self):
        """Return one line per CALUa feature, `f0 = E1*E2 - …`, in the physics names."""
        return list(self.feature_formulas)


def load_data():
    """Return (x_train, y_train), (x_13, y_13), (x_100, y_100) in SCALE_GEV units."""
    sets = [load_bundled_classification(13000, "train"), load_bundled_classification(13000, "test"),
            load_bundled_classification(100000, "test")]
    return [(features / SCALE_GEV, labels) for features, labels in sets]


def feature_terms(Ms):
    """Return each CALUa feature as {exponent tuple: coefficient}, like terms merged."""
    exponents, coefficients = np.real(Ms[0]), np.real(Ms[1])
    features = []
    for row in coefficients:
        terms = {}
        for unit in np.flatnonzero(row):
            key = tuple(int(e) for e in exponents[unit])
            terms[key] = terms.get(key, 0.0) + row[unit]
        features.append({key: value for key, value in terms.items() if value != 0})
    return features


def is_invariant(terms):
    """Return True when `terms` is a nonzero multiple of p1·p2 with no other term."""
    if set(terms) != set(_INVARIANT):
        return False
    ratios = {terms[key] / _INVARIANT[key] for key in _INVARIANT}
    return len(ratios) == 1


def run_hz_mumu(seed=0, steps=None, progress=None, config=None, data=None):
    """Train both models on 13 TeV events, snap the CALU front end and test at 13 and 100 TeV.

    `steps` scales every phase (see `HZConfig.from_steps`); `config` sets them one by one.
    `progress`, if given, is called with 1 after every training step, `config.total_steps`
    times in all. `data` replaces the bundled samples with three (features, labels) pairs
    already in SCALE_GEV units (train, 13 TeV test, 100 TeV test). Seeded: the same seed gives
    the same result on the same machine.
    """
    if config is None:
        config = HZConfig() if steps is None else HZConfig.from_steps(steps)
    (x, y), (x13, y13), (x100, y100) = load_data() if data is None else data
    start = time.perf_counter()
    accuracy = {}

    rng = np.random.default_rng([seed, 0])
    dnn = Classifier(DNN_LAYERS, rng)
    fit(dnn, x, y, config.dnn_steps, rng, config.dnn_lr, config.dnn_lr / 10, progress=progress)
    accuracy["ReLU network"] = {"13 TeV": dnn.accuracy(x13, y13), "100 TeV": dnn.accuracy(x100, y100)}

    rng = np.random.default_rng([seed, 1])
    calu = Classifier(CALU_LAYERS, rng)
    pair_initialise(calu.front, rng)
    calu.params["front.0.logits"] = calu.front.params["0.logits"]
    fit(calu, x, y, config.soft_steps, rng, config.lr, config.lr / 10, sparsity=config.sparsity, progress=progress)
    accuracy["CALU, soft weights"] = {"13 TeV": calu.accuracy(x13, y13), "100 TeV": calu.accuracy(x100, y100)}

    calu.front.params = calu.front_params()
    snap_exponents(calu.front)
    fit(calu, x, y, config.coefficient_steps, rng, config.lr, config.lr / 10, sparsity=config.sparsity, progress=progress)

    calu.front.params = calu.front_params()
    soft_M = calu.front.weights()[0][1]
    snap = snap_coefficients(calu.front, x, y, soft_M, margin=int(config.margin * len(y)))
    calu.init_dense(rng)
    fit(calu, x, y, config.head_steps, rng, config.lr, config.lr / 10, front=False, progress=progress)
    accuracy["CALU, snapped front end"] = {"13 TeV": calu.accuracy(x13, y13), "100 TeV": calu.accuracy(x100, y100)}

    Ms = [layer.fixed_M.copy() for layer in calu.front.layers]
    names = [f"f{i}" for i in range(Ms[1].shape[0])]
    formulas = network_formulas(Ms, ["CALUm", "CALUa"], FEATURE_NAMES, names)
    invariant = [i for i, terms in enumerate(feature_terms(Ms)) if is_invariant(terms)]
    seconds = time.perf_counter() - start
    return HZResult(seed, config, accuracy, formulas, invariant, seconds, {"dnn": dnn, "calu": calu, "snap": snap})
