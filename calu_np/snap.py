"""Snap: replace every soft weight by an exact element of Q (times ±1) and keep it if it helps.

After training, each softmax is close to one-hot but never exactly, so the model carries
errors of the order of the leftover probabilities. A snap sets every weight to an exact value,
which makes the network an exact formula whose error is float64 round-off when the snap is
right. Several candidates are built from the training set alone, and the one with the lowest
training loss wins. It is kept only if that loss is not above the soft model's:

- "argmax": each quantizer at its most probable q and each phasor at the nearer of ±1.
- "nearest": each soft total weight N ∘ W rounded to the nearest allowed value. A softmax that
  spreads evenly around its mean (P = 0.33, 0.35, 0.32 over {0, 1, 2} has N ≈ 1) snaps right
  here and arbitrarily under the argmax.
- "argmax+refit", "nearest+refit": every layer but the last taken from that snap; the last
  layer, when it is a CALUa layer, refitted by least squares on the features it receives and
  rounded onto the values its weights can take. Units of the layer before that compute the same
  function (identical weight rows) are merged first, so two exact units can never leave a
  cancelling round-off error.
- "refit+search": when the best refit is above round-off, features one weight away from the
  used units are added one at a time, each the one that best matches the residual, refitting and
  rounding after each addition (orthogonal matching pursuit over exact monomials). This finds a
  pure cube x³ next to a unit that computes x². Where the greedy pursuit misses and the library
  is small, every support of one, two or more features (as many as MAX_SUPPORTS allows) is
  fitted and rounded in turn. On a narrow input range such as [1.1, 1.2] every monomial is
  nearly collinear with every other. There the pursuit that picked x0 for x0 + x1 then picks
  x1²/x0² for the residual x1 − x0 rather than x1, and only the exhaustive search finds the law.
- "refit+retrain×k": while the best refit is above round-off, the units that it leaves unused
  are re-initialised, everything else is frozen at its exact value, the network is retrained
  briefly and refitted again; k is the round that produced the weights (at most
  `config.snap_rounds`).

Exactness: every final weight is an element of Q times ±1 (±1 only where the phasor is
trainable). A rounded coefficient larger than max |Q| is spread over several copies of the same
unit, each carrying an element of Q·{±1}, and the copies compute the same feature from the same
weights. Only when no unused unit is left to copy into does a weight hold the plain sum of such
elements, which is still an exact small number (an integer for integer Q); the report then says
"merged sum".
"""

import itertools
import logging
import math
from dataclasses import dataclass, field

import numpy as np

from . import engine
from .losses import mse

logger = logging.getLogger(__name__)

# A training MSE below this fraction of mean |t|² counts as float64 round-off: exact formulas
# reach about 1e-30 relative, while a single wrong weight costs far more than 1e-20.
ROUND_OFF = 1e-20
# The feature search tries every row of the feeding layer when there are at most this many
# (5 values on 4 inputs is 625); above it, only rows near the used units.
MAX_FULL_LIBRARY = 729
# The exhaustive support search fits every support of k library features while there are at
# most this many of them. That allows k ≤ 3 up to 32 rows (the 25 monomials of two inputs) and
# k ≤ 2 up to 100 rows. Above 100 rows even the pairs exceed it, so the search is skipped.
MAX_SUPPORTS = 5000
# Supports of the exhaustive search, best first by their rounded fit, that are built into
# exact weights and evaluated through the network.
SUPPORTS_EVALUATED = 4


@dataclass
class SnapReport:
    """Outcome of a snap: whether it was kept, the training loss before and after, and how.

    `candidates` maps every method tried to its training loss; `method` is the one chosen.
    """

    kept: bool
    loss_before: float
    loss_after: float
    method: str = "argmax"
    candidates: dict = field(default_factory=dict)
    exact: bool = False  # kept, with a training MSE at float64 round-off (ROUND_OFF · mean |t|²)

    def describe(self):
        tried = ", ".join(f"{name} {loss:.1e}" for name, loss in self.candidates.items())
        tried = f" [tried: {tried}]" if tried else ""
        if self.kept:
            return f"snap kept ({self.method}): training MSE {self.loss_before:.3e} -> {self.loss_after:.3e}{tried}"
        return (
            f"snap rejected ({self.method}): training MSE would rise from {self.loss_before:.3e} "
            f"to {self.loss_after:.3e}; the soft weights were kept{tried}"
        )


def freeze(network, Ms):
    """Fix every weight of `network` to the given total weights Ms (one array per layer)."""
    for layer, M in zip(network.layers, Ms):
        layer.frozen[...] = True
        layer.fixed_M[...] = M


def allowed_values(layer):
    """Return the exact values one weight of `layer` can take: Q, and −Q where the phasor is trainable."""
    values = list(layer.q)
    if layer.trainable_phasor:
        values += [-value for value in layer.q]
    unique = []
    for value in values:
        if not any(value == seen for seen in unique):
            unique.append(value)
    return np.array(unique, dtype=np.complex128)


def snapped_loss(network, x, t, Ms):
    """Return the training MSE of the network with total weights Ms, or inf if any output is not finite."""
    with np.errstate(all="ignore"):
        y = network.forward(x, Ms=Ms)[0]
    if not np.all(np.isfinite(y)):
        return float("inf")
    return mse(y, t)


def decompose(value, values, max_terms):
    """Write `value` as a sum of at most `max_terms` elements of `values`, nearest first.

    Each term is the element closest to what is left, taken only while it brings the sum
    closer, so 2.6 over {−2, …, 2} gives [2, 1] and 0.4 gives [].
    """
    terms = []
    rest = value
    while len(terms) < max_terms:
        term = values[np.argmin(np.abs(rest - values))]
        if term == 0 or abs(rest - term) >= abs(rest):
            break
        terms.append(term)
        rest = rest - term
    return terms


def nearest_weights(network):
    """Return every layer's M with each soft total weight N ∘ W rounded to the nearest allowed value.

    This differs from the argmax where a softmax spreads evenly around its mean: P = (0.33,
    0.35, 0.32) over Q = {0, 1, 2} has N ≈ 1 but a nearly arbitrary argmax. Frozen weights keep
    their fixed values.
    """
    soft_Ms, _ = network.weights()
    Ms = []
    for layer, M in zip(network.layers, soft_Ms):
        values = allowed_values(layer)
        nearest = values[np.argmin(np.abs(M[..., None] - values), axis=-1)]
        Ms.append(np.where(layer.frozen, layer.fixed_M, nearest))
    return Ms


def _features(network, x, Ms):
    """Return the input of the last layer for the weights Ms."""
    h = x
    with np.errstate(all="ignore"):
        for layer, M in zip(network.layers[:-1], Ms[:-1]):
            h = engine.layer_forward(layer.kind, h, M)[0]
    return h


def _unit_groups(M_feeding, usable):
    """Group the usable units of the feeding layer by identical weight rows. Returns lists of unit indices."""
    groups = {}
    for unit in np.flatnonzero(usable):
        groups.setdefault(M_feeding[unit].tobytes(), []).append(unit)
    return list(groups.values())


def _least_squares(H, t):
    """Solve min ‖H c − t‖ with every column scaled to unit norm first. Returns c."""
    scale = np.linalg.norm(H, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    c, *_ = np.linalg.lstsq(H / scale, t, rcond=None)
    return c / scale[:, None]


def _assign(network, Ms, groups, coefficients, rows=None):
    """Build the last two layers' exact weights from rounded per-group coefficients.

    `groups` lists, for every feature, the units of the feeding layer that already compute it.
    A feature with an empty list is new: its feeding-layer weights are in `rows`, and it is
    placed on unused units. Returns (Ms, merged): `merged` is True when some weight had to
    hold a sum of allowed values, or None when a new feature found no unused unit.
    """
    last = network.layers[-1]
    feeding = network.layers[-2]
    values = allowed_values(last)
    n_units = last.n_in
    M_last = np.zeros((last.n_out, n_units), dtype=np.complex128)
    M_feeding = Ms[-2].copy()

    plans = []  # (index of the feature, terms per output)
    for index, row in enumerate(coefficients):
        terms = [decompose(c, values, n_units) for c in row]
        if any(terms):
            plans.append((index, terms))
    used = set()
    for index, _ in plans:
        used.update(groups[index])
    spare = [unit for unit in range(n_units) if unit not in used]

    merged = False
    for index, terms in plans:
        needed = max(len(output_terms) for output_terms in terms)
        units = list(groups[index])
        weights = M_feeding[units[0]].copy() if units else rows[index]
        while len(units) < max(needed, 1) and spare:
            copy = spare.pop(0)
            M_feeding[copy] = weights
            units.append(copy)
        if not units:
            return None
        for output, output_terms in enumerate(terms):
            for i, term in enumerate(output_terms):
                # Without enough copies the surplus terms pile onto the last unit: a merged sum.
                slot = min(i, len(units) - 1)
                merged |= slot != i
                M_last[output, units[slot]] += term

    # Unused units lose their output weight. Where 0 is allowed in the feeding layer they also
    # get all-zero weights, so the formula shows only what is used and an unused unit cannot
    # turn into inf or NaN on new inputs.
    unused = ~np.any(M_last != 0, axis=0)
    if np.any(allowed_values(feeding) == 0):
        M_feeding[unused] = 0.0

    Ms = list(Ms)
    Ms[-2] = M_feeding
    Ms[-1] = M_last
    return Ms, merged


def _neighbour_rows(row, values):
    """Return every row that differs from `row` in one entry, that entry set to another allowed value."""
    neighbours = []
    for j in range(row.size):
        for value in values:
            if value != row[j]:
                changed = row.copy()
                changed[j] = value
                neighbours.append(changed)
    return neighbours


def _pursue(network, x, t, Ms, rows, groups, F, norms, support, tolerance, max_added):
    """Add library features to `support` one at a time by orthogonal matching pursuit.

    After each addition the last layer is refitted and rounded onto Q. Returns (Ms, loss,
    merged) for the best rounding seen, or None when no rounding was possible.
    """
    support = list(support)
    best = None
    for _ in range(max_added + 1):
        coefficients = np.zeros((len(rows), t.shape[1]), dtype=np.complex128)
        if support:
            coefficients[support] = _least_squares(F[:, support], t)
        assigned = _assign(network, Ms, groups, coefficients, rows)
        if assigned is not None:
            loss = snapped_loss(network, x, t, assigned[0])
            if best is None or loss < best[1]:
                best = (assigned[0], loss, assigned[1])
            if loss <= tolerance:
                break
        residual = t - F[:, support] @ coefficients[support] if support else t
        score = np.sum(np.abs(np.conj(F).T @ residual) ** 2, axis=1) / norms**2
        score[support] = -1.0
        candidate = int(np.argmax(score))
        if score[candidate] <= 0:
            break
        support.append(candidate)
    return best


def search_features(network, x, t, Ms, max_added=12):
    """Refit the last layer on the units' features plus one-step neighbours, added one at a time.

    The library contains the feeding-layer rows of the features with a non-zero weight in Ms (a
    refit), the all-zero row where 0 is allowed, and every row that differs from one of these
    in a single weight. Orthogonal matching pursuit then adds the library feature that best
    matches the residual, refitting and rounding after each addition, until round-off or
    `max_added` additions. Where that misses and there are at most MAX_FULL_LIBRARY possible
    rows, the pursuit is repeated over all of them, and where that misses too, every small
    support of that library is tried (`_search_supports`). Returns (Ms, loss, merged) for the
    best rounding seen, or None when not applicable.
    """
    if len(network.layers) < 2 or network.layers[-1].kind != "CALUa":
        return None
    feeding = network.layers[-2]
    values = allowed_values(feeding)
    h = x
    with np.errstate(all="ignore"):
        for layer, M in zip(network.layers[:-2], Ms[:-2]):
            h = engine.layer_forward(layer.kind, h, M)[0]

    used = np.any(Ms[-1] != 0, axis=0)
    starts = [Ms[-2][unit] for unit in np.flatnonzero(used)]
    if np.any(values == 0):
        # The all-zero row's neighbours are the single powers x_j^q, which no used unit may be near.
        starts.append(np.zeros(feeding.n_in, dtype=np.complex128))
    library = {}
    for start in starts:
        for row in [start] + _neighbour_rows(start, values):
            library.setdefault(row.tobytes(), row)
    tolerance = ROUND_OFF * max(float(np.mean(np.abs(t) ** 2)), 1e-300)
    features = _library_features(network, Ms, h, list(library.values()), used)
    best = _search_library(network, x, t, Ms, features, tolerance, max_added, from_empty=False)
    if best is not None and best[1] <= tolerance:
        return best
    if len(values) ** feeding.n_in > MAX_FULL_LIBRARY:
        return best

    # Few inputs: every row of allowed values fits, so no feature is out of reach, such as
    # x0 / x1, two steps away from the constant unit. The wider library is tried second
    # because more strongly correlated features can lead the greedy pursuit astray where the
    # neighbours alone suffice (x0 + x1 over [1.1, 1.2]).
    for combination in itertools.product(values, repeat=feeding.n_in):
        row = np.array(combination, dtype=np.complex128)
        library.setdefault(row.tobytes(), row)
    features = _library_features(network, Ms, h, list(library.values()), used)
    wide = _search_library(network, x, t, Ms, features, tolerance, max_added, from_empty=True)
    if wide is not None and (best is None or wide[1] < best[1]):
        best = wide
    if best is not None and best[1] <= tolerance:
        return best

    # The pursuit is greedy and never drops a feature, so nearly collinear features can still
    # lead it astray from every start. Small supports are then tried one by one.
    exhaustive = _search_supports(network, x, t, Ms, features, tolerance)
    if exhaustive is not None and (best is None or exhaustive[1] < best[1]):
        best = exhaustive
    return best


def _library_features(network, Ms, h, rows, used):
    """Evaluate the feeding-layer `rows` on its input h, dropping rows with a non-finite value.

    Returns (rows, F, groups) with F of shape (n_samples, n_rows), where groups[i] lists the
    used units whose weights are rows[i], or None when no row is left.
    """
    feeding = network.layers[-2]
    if not rows:
        return None
    with np.errstate(all="ignore"):
        F = engine.layer_forward(feeding.kind, h, np.array(rows))[0]
    finite = np.all(np.isfinite(F), axis=0)
    rows = [row for row, ok in zip(rows, finite) if ok]
    F = F[:, finite]
    if not rows:
        return None

    # Units that carry an output weight keep their place; the others are free for new rows.
    existing = {}
    for unit in np.flatnonzero(used):
        existing.setdefault(Ms[-2][unit].tobytes(), []).append(unit)
    groups = [existing.get(row.tobytes(), []) for row in rows]
    return rows, F, groups


def _search_library(network, x, t, Ms, features, tolerance, max_added, from_empty):
    """Run the pursuit of `search_features` over the library `features` (from
    `_library_features`), starting from the used units and, with `from_empty`, also from no
    feature at all. Returns the best rounding."""
    if features is None:
        return None
    rows, F, groups = features
    norms = np.linalg.norm(F, axis=0)
    norms = np.where(norms > 0, norms, 1.0)

    initial_supports = [[i for i, row in enumerate(rows) if groups[i]]]
    if from_empty:
        # Greedy pursuit never drops a feature, so wrong units kept from training can block the
        # exact one when features correlate strongly (x0/x1 and x0²/x1² over [10, 20]). From an
        # empty start, a target that is itself a library feature is the first one picked.
        initial_supports.append([])
    best = None
    for support in initial_supports:
        found = _pursue(network, x, t, Ms, rows, groups, F, norms, support, tolerance, max_added)
        if found is not None and (best is None or found[1] < best[1]):
            best = found
        if best is not None and best[1] <= tolerance:
            break
    return best


def round_onto_sums(c, values, max_terms):
    """Return, for every entry of the array c, the sum of the terms `decompose` writes it as."""
    rest = np.array(c, dtype=np.complex128)
    total = np.zeros_like(rest)
    active = np.ones(rest.shape, dtype=bool)
    for _ in range(max_terms):
        term = values[np.argmin(np.abs(rest[..., None] - values), axis=-1)]
        # As in `decompose`, an entry stops at its first term that is 0 or does not bring it closer.
        active &= (term != 0) & (np.abs(rest - term) < np.abs(rest))
        if not np.any(active):
            break
        total = np.where(active, total + term, total)
        rest = np.where(active, rest - term, rest)
    return total


def _search_supports(network, x, t, Ms, features, tolerance):
    """Fit the last layer on every small support of the library and round each fit onto Q.

    Supports of k = 1, 2, … library features are enumerated while there are at most
    MAX_SUPPORTS of that size. Each is fitted by least squares and its coefficients rounded as
    `_assign` rounds them. The squared residual of every rounded fit comes from the library's
    Gram matrix, so one pass over the data serves all supports. Each output ranks the supports on
    its own residual, and the SUPPORTS_EVALUATED best (the i-th best of every output combined)
    are built into exact weights and evaluated through the network. Correlated features cannot
    lead this search astray as they do the pursuit, because a law of k enumerated library
    features with coefficients in Q·{±1} fits its own support to round-off and ranks first.
    Returns (Ms, loss, merged) for the best rounding, or None when the library has too many rows
    for even the pairs.
    """
    if features is None:
        return None
    rows, F, groups = features
    n_rows = len(rows)
    if math.comb(n_rows, 2) > MAX_SUPPORTS:
        return None
    last = network.layers[-1]
    values = allowed_values(last)

    # Unit-norm columns keep the Gram matrix as well conditioned as the features allow.
    scale = np.linalg.norm(F, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    F_unit = F / scale
    gram = np.conj(F_unit).T @ F_unit
    correlation = np.conj(F_unit).T @ t
    energy = np.sum(np.abs(t) ** 2, axis=0)

    all_supports, all_coefficients, all_residuals = [], [], []
    for size in range(1, n_rows + 1):
        if math.comb(n_rows, size) > MAX_SUPPORTS:
            break
        supports = np.array(list(itertools.combinations(range(n_rows), size)))
        gram_s = gram[supports[:, :, None], supports[:, None, :]]
        correlation_s = correlation[supports]
        unit_c = np.linalg.pinv(gram_s, hermitian=True) @ correlation_s
        c = unit_c / scale[supports][..., None]
        rounded = round_onto_sums(c, values, last.n_in) * scale[supports][..., None]
        # ‖t − F_S a‖² = ‖t‖² − 2 Re(aᴴ F_Sᴴ t) + aᴴ F_Sᴴ F_S a, per output, for unit-norm columns.
        residual = (
            energy
            - 2.0 * np.real(np.sum(np.conj(rounded) * correlation_s, axis=1))
            + np.real(np.einsum("nko,nkl,nlo->no", np.conj(rounded), gram_s, rounded))
        )
        all_supports.extend(supports)
        all_coefficients.extend(c)
        all_residuals.append(residual)
    residuals = np.concatenate(all_residuals)
    ranking = np.argsort(residuals, axis=0, kind="stable")

    best = None
    for rank in range(min(SUPPORTS_EVALUATED, len(residuals))):
        coefficients = np.zeros((n_rows, t.shape[1]), dtype=np.complex128)
        for output in range(t.shape[1]):
            chosen = ranking[rank, output]
            coefficients[all_supports[chosen], output] = all_coefficients[chosen][:, output]
        assigned = _assign(network, Ms, groups, coefficients, rows)
        if assigned is None:
            continue
        loss = snapped_loss(network, x, t, assigned[0])
        if best is None or loss < best[1]:
            best = (assigned[0], loss, assigned[1])
        if loss <= tolerance:
            break
    return best


def refit_last_layer(network, x, t, Ms):
    """Refit the last (CALUa) layer exactly on top of the weights Ms of the other layers.

    Fits by least squares on every distinct feature, rounds onto the allowed values, then
    refits once on the features that kept a non-zero coefficient (fewer columns, better
    conditioned) and keeps whichever rounding has the lower training loss. Returns
    (Ms, loss, merged), or None when the last layer is not a CALUa layer after another layer.
    """
    if len(network.layers) < 2 or network.layers[-1].kind != "CALUa":
        return None
    H = _features(network, x, Ms)
    usable = np.all(np.isfinite(H), axis=0)
    groups = _unit_groups(Ms[-2], usable)
    if not groups:
        return None
    values = allowed_values(network.layers[-1])

    best = None
    columns = list(range(len(groups)))
    smallest = np.min(np.abs(values[values != 0]))
    for _ in range(2):
        c = _least_squares(H[:, [groups[i][0] for i in columns]], t)
        rounded = np.zeros((len(groups), t.shape[1]), dtype=np.complex128)
        rounded[columns] = c
        candidate_Ms, merged = _assign(network, Ms, groups, rounded)
        loss = snapped_loss(network, x, t, candidate_Ms)
        if best is None or loss < best[1]:
            best = (candidate_Ms, loss, merged)
        # The second fit keeps only the columns whose coefficient rounds to a non-zero value.
        support = [i for i, row in zip(columns, c) if np.any(np.abs(row) >= 0.5 * smallest)]
        if not support or support == columns:
            break
        columns = support
    return best


def _freeze_used_units(network, Ms):
    """Freeze the units the exact weights Ms use, and every layer before the feeding one.

    Returns the boolean mask of free units of the feeding layer.
    """
    last, feeding = network.layers[-1], network.layers[-2]
    used = np.any(Ms[-1] != 0, axis=0)
    for layer, M in zip(network.layers[:-2], Ms[:-2]):
        layer.frozen[...] = True
        layer.fixed_M[...] = M
    feeding.frozen[used] = True
    feeding.fixed_M[used] = Ms[-2][used]
    last.frozen[:, used] = True
    last.fixed_M[:, used] = Ms[-1][:, used]
    return ~used


def _reinitialise_units(network, free, rng):
    """Give the free units of the feeding layer, and their output weights, fresh initial parameters."""
    from .train import fresh_parameters

    fresh = fresh_parameters(network, rng)
    i_feeding, i_last = len(network.layers) - 2, len(network.layers) - 1
    for key in (f"{i_feeding}.logits", f"{i_feeding}.theta"):
        if key in network.params:
            network.params[key][free] = fresh[key][free]
    for key in (f"{i_last}.logits", f"{i_last}.theta"):
        if key in network.params:
            network.params[key][:, free] = fresh[key][:, free]


def _refit_and_retrain(network, x, t, config, best, tolerance, progress):
    """Run the retraining rounds on top of the refit candidate `best` = (Ms, loss, merged).

    Returns the best (Ms, loss, merged, rounds) found. The network's parameters and frozen masks
    are restored afterwards.
    """
    from .train import TrainingDiverged, run_adam

    saved_params = network.copy_params()
    saved_frozen = [(layer.frozen.copy(), layer.fixed_M.copy()) for layer in network.layers]
    rng = np.random.default_rng([config.seed, 2])
    best = best + (0,)
    try:
        for round_index in range(1, config.snap_rounds + 1):
            if best[1] <= tolerance:
                break
            for layer, (frozen, fixed_M) in zip(network.layers, saved_frozen):
                layer.frozen[...] = frozen
                layer.fixed_M[...] = fixed_M
            free = _freeze_used_units(network, best[0])
            if not np.any(free):
                break
            _reinitialise_units(network, free, rng)
            try:
                run_adam(network, x, t, config, config.snap_retrain_steps, rng, progress)
            except TrainingDiverged as error:
                logger.info("snap retraining round %d stopped: %s", round_index, error)
                break
            candidate = min(
                (refit_last_layer(network, x, t, Ms) for Ms in (network.snapped_weights(), nearest_weights(network))),
                key=lambda result: result[1],
            )
            if config.snap_search and candidate[1] > tolerance:
                searched = search_features(network, x, t, candidate[0])
                if searched is not None and searched[1] < candidate[1]:
                    candidate = searched
            logger.info("snap retraining round %d: refit loss %.3e", round_index, candidate[1])
            if candidate[1] < best[1]:
                best = candidate + (round_index,)
    finally:
        network.params = saved_params
        for layer, (frozen, fixed_M) in zip(network.layers, saved_frozen):
            layer.frozen[...] = frozen
            layer.fixed_M[...] = fixed_M
    return best


def snap(network, x, t, config=None, progress=None):
    """Snap `network` in place to exact weights if that does not raise the training loss.

    Tries the candidates described in the module docstring on the training set (x, t) only and
    keeps the one with the lowest training loss. `config` (a TrainConfig) sets the retraining
    rounds and whether the feature search runs; without it the search runs and no retraining is
    tried. `progress` is called with the
    number of retraining steps done. Returns a SnapReport saying what happened.
    """
    x = np.asarray(x, dtype=np.complex128)
    t = np.asarray(t, dtype=np.complex128)
    if t.ndim == 1:
        t = t[:, None]
    loss_before = mse(network.forward(x)[0], t)
    tolerance = ROUND_OFF * max(float(np.mean(np.abs(t) ** 2)), 1e-300)

    starts = {"argmax": network.snapped_weights(), "nearest": nearest_weights(network)}
    candidates = {name: (Ms, snapped_loss(network, x, t, Ms)) for name, Ms in starts.items()}

    refit = None
    for start_name, start_Ms in starts.items():
        result = refit_last_layer(network, x, t, start_Ms)
        if result is None:
            continue
        name = f"{start_name}+refit" + (" (merged sum)" if result[2] else "")
        candidates[name] = result[:2]
        if refit is None or result[1] < refit[1]:
            refit = result
    search = config is None or config.snap_search
    if search and refit is not None and refit[1] > tolerance:
        searched = search_features(network, x, t, refit[0])
        if searched is not None:
            candidates["refit+search" + (" (merged sum)" if searched[2] else "")] = searched[:2]
            if searched[1] < refit[1]:
                refit = searched
    if refit is not None:
        refit_loss = refit[1]
        if refit_loss > tolerance and config is not None and config.snap_rounds > 0:
            retrained = _refit_and_retrain(network, x, t, config, refit, tolerance, progress)
            if retrained[3] > 0:
                name = f"refit+retrain×{retrained[3]}" + (" (merged sum)" if retrained[2] else "")
                candidates[name] = (retrained[0], retrained[1])

    method = min(candidates, key=lambda name: candidates[name][1])
    Ms, loss_after = candidates[method]
    kept = loss_after <= loss_before
    if kept:
        freeze(network, Ms)
    losses = {name: loss for name, (_, loss) in candidates.items()}
    exact = kept and loss_after <= tolerance
    return SnapReport(kept, loss_before, loss_after, method, losses, exact)
