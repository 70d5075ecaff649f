"""The single-module arithmetic task of the Neural Arithmetic Logic Modules benchmark.

Mistry, Farrahi and Hare ("A Primer for Neural Arithmetic Logic Modules", JMLR 2022) train one
arithmetic unit on y = a ∘ b for ∘ in {+, −, ×, ÷}, with a and b drawn uniformly from an
interpolation range, and test it on an extrapolation range, over nine range pairs and 25
seeds. The success criterion comes from Madsen and Johansen ("Neural Arithmetic Units", ICLR
2020): a run succeeds when its extrapolation MSE is below the MSE of the exact solution with
every weight perturbed by ε = 1e-5, a threshold found by simulation for each operation and
range. Their analysis scripts evaluate every `checkpoint_every` iterations, select the
checkpoint with the lowest interpolation validation MSE, and report:

- the success rate with a 95% Wilson score interval;
- the median iteration at which a successful run first met the criterion on extrapolation;
- the sparsity error max min(|W|, |1 − |W||) of the selected checkpoint (for CALU: the largest
  distance of a total weight from its nearest exactly representable value, before the snap).

One sweep is a set of cells (model, operation, range, seed). Each finished cell is appended to
a JSON-lines results file, flushed and fsynced, by the one process that gathers the results,
so an interrupted sweep keeps every finished cell and a rerun skips them. Cells run in worker
processes (`jobs`) or on a Dask distributed cluster (`scheduler`, needs the `dask` extra).

Differences from the published protocol, also recorded in every result line:

- Training batches are drawn from a fixed pool of `n_train` interpolation samples instead of a
  fresh sample per iteration, because the CALU and baseline training loops take a data set.
  The baselines draw each batch's rows with replacement, CALU without.
- A run of a model in `early_stop_models` (CALU by default) stops at the first checkpoint whose
  interpolation validation MSE is below the ε threshold simulated on the interpolation range.
  Only interpolation data decide the stop, as they decide the selected checkpoint, and
  extrapolation data are only measured. The other models run every iteration, as published.
  The stop saves CALU most of its run, and it can cost a run its success: it stops runs that
  are close but not exact on the interpolation range, which the full run might have improved.
- CALU counts every optimizer step towards `iterations`: its restarts, its main run and the
  retraining rounds its snap may use. Its checkpoints are evaluated on a copy snapped without
  the retraining rounds (argmax, least-squares refit and feature search, on the first
  CHECKPOINT_SNAP_POINTS pool samples). The last checkpoint of a run that did not stop early
  uses the full snap on the whole pool.
"""

import copy
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

logger = logging.getLogger(__name__)

RESULTS_FORMAT = 1
_code_version = None
CHECKPOINT_SNAP_POINTS = 4096


@dataclass(frozen=True)
class RangePair:
    """An interpolation range and its extrapolation range, each a union of closed intervals."""

    interpolation: tuple
    extrapolation: tuple

    @property
    def name(self):
        """Return the interpolation intervals as text, e.g. "[1,2]", which identifies the pair."""
        return _intervals_text(self.interpolation)

    @property
    def label(self):
        return f"U{_intervals_text(self.interpolation)} → U{_intervals_text(self.extrapolation)}"


def _number_text(value):
    return f"{value:g}"


def _intervals_text(intervals):
    return " ∪ ".join(f"[{_number_text(low)},{_number_text(high)}]" for low, high in intervals)


# The nine range pairs of the benchmark, in its order.
RANGES = (
    RangePair(((-20.0, -10.0),), ((-40.0, -20.0),)),
    RangePair(((-2.0, -1.0),), ((-6.0, -2.0),)),
    RangePair(((-1.2, -1.1),), ((-6.1, -1.2),)),
    RangePair(((-0.2, -0.1),), ((-2.0, -0.2),)),
    RangePair(((-2.0, 2.0),), ((-6.0, -2.0), (2.0, 6.0))),
    RangePair(((0.1, 0.2),), ((0.2, 2.0),)),
    RangePair(((1.0, 2.0),), ((2.0, 6.0),)),
    RangePair(((1.1, 1.2),), ((1.2, 6.0),)),
    RangePair(((10.0, 20.0),), ((20.0, 40.0),)),
)

OPERATIONS = ("add", "sub", "mul", "div")
OPERATION_SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷"}


def apply_operation(op, a, b):
    """Return a ∘ b for op in OPERATIONS."""
    if op == "add":
        return a + b
    if op == "sub":
        return a - b
    if op == "mul":
        return a * b
    if op == "div":
        return a / b
    raise ValueError(f"unknown operation {op!r}: expected one of {', '.join(OPERATIONS)}")


def perturbed_operation(op, a, b, epsilon):
    """Return the output of the exact single-unit solution with every weight moved by ε.

    The moves are the benchmark's: for + and −, a linear unit whose weights each lose ε in the
    direction that lowers the output, a ∘ b − ε(|a| + |b|); for ×, two exponents of 1 − ε on a
    product unit, (1 − ε)² a b; for ÷, (1 − ε)/(1 + ε) · a / b.
    """
    if op in ("add", "sub"):
        return apply_operation(op, a, b) - epsilon * (np.abs(a) + np.abs(b))
    if op == "mul":
        return (1.0 - epsilon) ** 2 * a * b
    if op == "div":
        return (1.0 - epsilon) / (1.0 + epsilon) * a / b
    raise ValueError(f"unknown operation {op!r}: expected one of {', '.join(OPERATIONS)}")


def sample_intervals(rng, intervals, size):
    """Draw values uniformly from the union of `intervals` (disjoint (low, high) pairs)."""
    intervals = np.asarray(intervals, dtype=np.float64)
    lengths = intervals[:, 1] - intervals[:, 0]
    which = rng.choice(len(intervals), size=size, p=lengths / lengths.sum())
    return rng.uniform(intervals[which, 0], intervals[which, 1])


def simulate_threshold(op, intervals, epsilon=1e-5, samples=1_000_000, seed=0):
    """Estimate the success threshold: the MSE of the ε-perturbed exact solution on `intervals`.

    Monte Carlo over `samples` draws of (a, b), as the benchmark does, from a fixed seed so
    that every process computes the same threshold.
    """
    rng = np.random.default_rng([seed, OPERATIONS.index(op)])
    a = sample_intervals(rng, intervals, samples)
    b = sample_intervals(rng, intervals, samples)
    error = perturbed_operation(op, a, b, epsilon) - apply_operation(op, a, b)
    return float(np.mean(error**2))


def wilson_interval(successes, n, z=1.959963984540054):
    """Return the Wilson score interval (low, high) for a binomial proportion, 95% by default."""
    if n <= 0:
        raise ValueError(f"invalid number of trials {n}: expected a positive count")
    if not 0 <= successes <= n:
        raise ValueError(f"invalid number of successes {successes}: expected 0 to {n}")
    p = successes / n
    denominator = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half_width = z * math.sqrt(p * (1.0 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0 or n successes the bound is exactly 0 or 1; the formula leaves round-off there.
    low = 0.0 if successes == 0 else max(0.0, centre - half_width)
    high = 1.0 if successes == n else min(1.0, centre + half_width)
    return low, high


@dataclass(frozen=True)
class Protocol:
    """Settings shared by every cell of a sweep; a result counts only for an identical protocol."""

    iterations: int = 50_000
    batch_size: int = 128
    checkpoint_every: int = 1000
    n_train: int = 50_000
    n_valid: int = 10_000
    n_test: int = 10_000
    epsilon: float = 1e-5
    threshold_samples: int = 1_000_000
    early_stop_models: tuple = ("calu",)

    def __post_init__(self):
        unknown = sorted(set(self.early_stop_models) - set(MODELS))
        if unknown:
            raise ValueError(f"unknown model {unknown[0]!r} in early_stop_models: expected names from {', '.join(MODELS)}")
        # A tuple in a canonical order, so equal settings compare and serialise the same.
        object.__setattr__(self, "early_stop_models", tuple(model for model in MODELS if model in self.early_stop_models))

    def as_dict(self):
        """Return the settings as a JSON-ready dict, the form stored in every result line."""
        settings = asdict(self)
        settings["early_stop_models"] = list(self.early_stop_models)
        return settings


@dataclass(frozen=True)
class Cell:
    """One training run of the sweep: a model on one operation, range pair and seed."""

    model: str
    op: str
    range_index: int
    seed: int

    @property
    def range(self):
        return RANGES[self.range_index]

    def key(self):
        return f"{self.model}/{self.op}/{self.range.name}/{self.seed}"


@dataclass
class CellData:
    """The data of one (operation, range, seed): training pool, validation and test sets."""

    x_train: np.ndarray
    t_train: np.ndarray
    x_valid: np.ndarray
    t_valid: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray


def make_cell_data(cell, protocol):
    """Draw the data of `cell`. Every model gets the same data for the same op, range and seed."""
    rng = np.random.default_rng([cell.seed, cell.range_index, OPERATIONS.index(cell.op), 7])

    def draw(intervals, n):
        x = sample_intervals(rng, intervals, (n, 2))
        return x, apply_operation(cell.op, x[:, :1], x[:, 1:2])

    x_train, t_train = draw(cell.range.interpolation, protocol.n_train)
    x_valid, t_valid = draw(cell.range.interpolation, protocol.n_valid)
    x_test, t_test = draw(cell.range.extrapolation, protocol.n_test)
    return CellData(x_train, t_train, x_valid, t_valid, x_test, t_test)


class StopTraining(Exception):
    """Raised from a progress callback to end a training run at a checkpoint."""


@dataclass
class Checkpoint:
    step: int
    interpolation_mse: float
    extrapolation_mse: float
    quantization_error: float
    seconds: float
    detail: dict = field(default_factory=dict)


class CheckpointTracker:
    """Count training steps through the progress callback and evaluate every `every` steps.

    `evaluate()` returns a Checkpoint without its step and time. With `stop_below`, a checkpoint
    whose interpolation MSE is below it raises StopTraining, but only while `armed`.
    """

    def __init__(self, evaluate, every, stop_below=None):
        self.evaluate = evaluate
        self.every = every
        self.stop_below = stop_below
        self.armed = True
        self.steps = 0
        self.checkpoints = []
        self.start = time.perf_counter()

    def count(self, n=1):
        """Count steps without evaluating, for training that happens outside the checkpoints."""
        self.steps += n

    def __call__(self, n=1):
        before = self.steps
        self.steps += n
        if self.steps // self.every > before // self.every:
            self.record()
            if self.armed and self.stop_below is not None and self.checkpoints[-1].interpolation_mse < self.stop_below:
                raise StopTraining

    def record(self):
        """Evaluate the model now, unless this step already has a checkpoint."""
        if self.checkpoints and self.checkpoints[-1].step == self.steps:
            return self.checkpoints[-1]
        checkpoint = self.evaluate()
        checkpoint.step = self.steps
        checkpoint.seconds = time.perf_counter() - self.start
        self.checkpoints.append(checkpoint)
        return checkpoint


def _mse(y, t):
    with np.errstate(all="ignore"):
        value = float(np.mean(np.abs(np.asarray(y) - t) ** 2))
    return value if np.isfinite(value) else float("inf")


# ---------------------------------------------------------------- CALU


def calu_quantization_error(network):
    """Return the largest distance of a soft total weight M from its nearest exact value.

    A weight's exact values are Q, and also −Q where the phasor is trainable.
    """
    from .snap import allowed_values

    Ms, _ = network.weights()
    worst = 0.0
    for layer, M in zip(network.layers, Ms):
        values = allowed_values(layer)
        distance = np.min(np.abs(M[..., None] - values), axis=-1)
        worst = max(worst, float(np.max(distance)))
    return worst


def _calu_config(cell, protocol, task):
    """Return the CALU TrainConfig whose restarts, main run and snap rounds add up to `iterations`."""
    from .train import TrainConfig

    config = TrainConfig(seed=cell.seed, batch_size=protocol.batch_size, **task.extra)
    total = protocol.iterations
    restart_steps = min(config.restart_steps, total // 10) if config.restarts > 1 else 0
    snap_steps = min(config.snap_retrain_steps, total // 20)
    steps = total - config.restarts * restart_steps * (config.restarts > 1) - config.snap_rounds * snap_steps
    return replace(config, steps=max(steps, 1), restart_steps=max(restart_steps, 1), snap_retrain_steps=max(snap_steps, 1))


def run_calu(cell, protocol, data, stop_below):
    """Train and snap the CALU network of the task `cell.op` and return its checkpoints and details."""
    from .network import Network
    from .snap import snap
    from .spec import parse_layers, parse_q
    from .tasks import get_task
    from .train import TrainingDiverged, train

    task = get_task(cell.op)
    network = Network(parse_layers(task.layers), [parse_q(text) for text in task.q])
    config = _calu_config(cell, protocol, task)
    x = data.x_train.astype(np.complex128)
    t = data.t_train.astype(np.complex128)
    checkpoint_config = replace(config, snap_rounds=0)
    # Checkpoints snap on the start of the pool: an exact law is found as well on a few
    # thousand points, and the snap's least-squares fit costs time proportional to the points.
    n_snap = min(len(x), CHECKPOINT_SNAP_POINTS)

    def evaluate(snap_config=checkpoint_config, progress=None, n_points=n_snap):
        quantization_error = calu_quantization_error(network)
        snapped = copy.deepcopy(network)
        report = snap(snapped, x[:n_points], t[:n_points], snap_config, progress=progress)
        with np.errstate(all="ignore"):
            y_valid = snapped.forward(data.x_valid)[0]
            y_test = snapped.forward(data.x_test)[0]
        return Checkpoint(0, _mse(y_valid, data.t_valid), _mse(y_test, data.t_test), quantization_error, 0.0,
                          {"snap": report.method, "snap_kept": bool(report.kept)})

    tracker = CheckpointTracker(evaluate, protocol.checkpoint_every, stop_below)
    detail = {"layers": task.layers, "q": list(task.q), "train_config": config.as_dict()}
    try:
        train(network, x, t, config, progress=tracker)
    except StopTraining:
        detail["stopped_early"] = True
    except TrainingDiverged as error:
        detail["diverged"] = str(error)
    tracker.armed = False

    if not detail.get("stopped_early"):
        # The full snap may retrain; its steps count towards the iterations.
        final = evaluate(snap_config=config, progress=tracker.count, n_points=len(x))
        final.step = tracker.steps
        final.seconds = time.perf_counter() - tracker.start
        if tracker.checkpoints and tracker.checkpoints[-1].step == final.step:
            tracker.checkpoints[-1] = final
        else:
            tracker.checkpoints.append(final)
    return tracker, detail


# ---------------------------------------------------------------- baselines


@dataclass(frozen=True)
class BaselineRecipe:
    """Training settings of one baseline unit in the benchmark: layer kind, Adam step size, regularisers.

    The sparsity regulariser (NAU and NMU only) ramps in linearly between the fractions
    `sparsity_start` and `sparsity_end` of the iterations, 20,000 → 35,000 of 50,000 in the
    benchmark's scripts. The L1 penalty β Σ|θ| (NPU only) has β = `l1_start` at first, ten
    times more every 10,000 iterations, and at most `l1_end`.
    """

    kind: str
    lr: float
    sparsity_strength: float = 0.0
    sparsity_start: float = 0.4
    sparsity_end: float = 0.7
    l1_start: float = 0.0
    l1_end: float = 0.0


# The benchmark's settings. Adam's step is 1e-3, except 5e-3 for the NPU. The sparsity strength
# is 0.01 for the NAU and 10 for the NMU, and the NPU's L1 weight goes from 1e-9 to 1e-7.
BASELINE_RECIPES = {
    "nau": BaselineRecipe("NAU", lr=1e-3, sparsity_strength=0.01),
    "nmu": BaselineRecipe("NMU", lr=1e-3, sparsity_strength=10.0),
    "nac": BaselineRecipe("NAC", lr=1e-3),
    "nalu": BaselineRecipe("NALU", lr=1e-3),
    "npu": BaselineRecipe("NPU", lr=5e-3, l1_start=1e-9, l1_end=1e-7),
}

MODELS = ("calu",) + tuple(BASELINE_RECIPES)


def baseline_sparsity_error(model):
    """Return max min(|W|, |1 − |W||) over the effective weights of every layer of `model`.

    Effective weights: W for NAU, NMU and NPU (with the NPU's gate g), tanh(Ŵ) ∘ σ(M̂) for NAC
    and NALU.
    """
    from .baselines.nalu import nac_weight_forward

    worst = 0.0
    for i, layer in enumerate(model.layers):
        params = model.layer_params(i)
        if layer.kind in ("NAC", "NALU"):
            weights = [nac_weight_forward(params["W_hat"], params["M_hat"])[0]]
        else:
            weights = [params["W"]] + ([params["g"]] if "g" in params else [])
        for W in weights:
            magnitude = np.abs(W)
            worst = max(worst, float(np.max(np.minimum(magnitude, np.abs(1.0 - magnitude)))))
    return worst


def run_baseline(cell, protocol, data, stop_below):
    """Train the single baseline unit `cell.model` and return its checkpoints and details.

    The steps between two checkpoints run in one call of `baselines.unit`, on the engine that
    `calu_np.engine` selects (numba unless CALU_NP_ENGINE=numpy).
    """
    from . import engine
    from .baselines import BaselineModel
    from .baselines.unit import UnitSchedule, UnitTrainer

    recipe = BASELINE_RECIPES[cell.model]
    model = BaselineModel(f"2 1:{recipe.kind}")
    schedule = UnitSchedule(total_steps=protocol.iterations, lr=recipe.lr, sparsity_strength=recipe.sparsity_strength,
                            sparsity_start=recipe.sparsity_start, sparsity_end=recipe.sparsity_end,
                            l1_start=recipe.l1_start, l1_end=recipe.l1_end)
    trainer = UnitTrainer(model, data.x_train, data.t_train, schedule, seed=cell.seed,
                          batch_size=protocol.batch_size, engine=engine.get_engine())

    def evaluate():
        with np.errstate(all="ignore"):
            y_valid = model.forward(data.x_valid)[0]
            y_test = model.forward(data.x_test)[0]
        return Checkpoint(0, _mse(y_valid, data.t_valid), _mse(y_test, data.t_test), baseline_sparsity_error(model), 0.0)

    tracker = CheckpointTracker(evaluate, protocol.checkpoint_every, stop_below)
    detail = {"layers": model.text, "schedule": asdict(schedule), "engine": trainer.engine}
    try:
        while tracker.steps < protocol.iterations:
            # Run up to the next checkpoint, so that the tracker evaluates every `checkpoint_every` steps.
            count = min(protocol.checkpoint_every - tracker.steps % protocol.checkpoint_every,
                        protocol.iterations - tracker.steps)
            done = trainer.run(count)
            if done < count:
                detail["diverged"] = f"the loss became non-finite at step {trainer.diverged_at}"
                # The rest of the budget counts as spent, as in `fit`, and the model keeps its last finite state.
                tracker.count(protocol.iterations - tracker.steps)
                break
            tracker(done)
    except StopTraining:
        detail["stopped_early"] = True
    tracker.armed = False
    tracker.record()
    return tracker, detail


# ---------------------------------------------------------------- one cell


def code_version():
    """Return a short SHA-256 of every calu_np source file, read once per process.

    Stored with each result so that a table built from one results file can tell when its
    runs came from different code.
    """
    global _code_version
    if _code_version is None:
        import hashlib

        digest = hashlib.sha256()
        root = os.path.dirname(os.path.abspath(__file__))
        for directory, subdirectories, files in os.walk(root):
            subdirectories.sort()
            for name in sorted(files):
                if name.endswith(".py"):
                    path = os.path.join(directory, name)
                    digest.update(os.path.relpath(path, root).encode("utf-8"))
                    with open(path, "rb") as file:
                        digest.update(file.read())
        _code_version = digest.hexdigest()[:12]
    return _code_version



def run_cell(cell, protocol, threshold, interpolation_threshold):
    """Run one cell and return its result record (a JSON-ready dict).

    `threshold` is the success threshold on the extrapolation range; `interpolation_threshold`
    the same simulation on the interpolation range, used by the early stop.
    """
    if cell.model not in MODELS:
        raise ValueError(f"unknown model {cell.model!r}: expected one of {', '.join(MODELS)}")
    version = code_version()
    start = time.perf_counter()
    data = make_cell_data(cell, protocol)
    stop_below = interpolation_threshold if cell.model in protocol.early_stop_models else None
    runner = run_calu if cell.model == "calu" else run_baseline
    tracker, detail = runner(cell, protocol, data, stop_below)
    seconds = time.perf_counter() - start

    checkpoints = tracker.checkpoints
    # The analysis scripts select the checkpoint with the lowest interpolation validation MSE
    # (the latest one on ties) and judge success by its extrapolation MSE.
    selected = min(reversed(checkpoints), key=lambda c: c.interpolation_mse)
    first_solved = next((c for c in checkpoints if c.extrapolation_mse < threshold), None)
    solved = selected.extrapolation_mse < threshold
    return {
        "format": RESULTS_FORMAT,
        "key": cell.key(),
        "model": cell.model,
        "op": cell.op,
        "range": cell.range.name,
        "range_label": cell.range.label,
        "range_index": cell.range_index,
        "seed": cell.seed,
        "protocol": protocol.as_dict(),
        "code_version": version,
        "threshold": threshold,
        "interpolation_threshold": interpolation_threshold,
        "solved": bool(solved),
        "solved_at": first_solved.step if solved and first_solved is not None else None,
        "seconds_to_solve": first_solved.seconds if solved and first_solved is not None else None,
        "selected_step": selected.step,
        "interpolation_mse": selected.interpolation_mse,
        "extrapolation_mse": selected.extrapolation_mse,
        "quantization_error": selected.quantization_error,
        "steps_run": tracker.steps,
        "seconds": seconds,
        "checkpoints": [[c.step, c.interpolation_mse, c.extrapolation_mse] for c in checkpoints],
        "detail": {**detail, **selected.detail},
    }


_warmed_up = set()


def warm_up(model):
    """Run a two-iteration cell of `model` once per process, so that numba compiles or loads its
    kernels before any timed run. Later calls for the same model return at once."""
    if model in _warmed_up:
        return
    protocol = Protocol(iterations=2, checkpoint_every=1, n_train=64, n_valid=16, n_test=16, early_stop_models=())
    run_cell(Cell(model, "mul", 6, 0), protocol, 1.0, 1.0)
    _warmed_up.add(model)


def _run_cell_job(job):
    """Worker entry point: `job` is (cell, protocol, threshold, interpolation_threshold).

    The model is warmed up first, so that no cell's time includes numba's compilation.
    """
    warm_up(job[0].model)
    return run_cell(*job)


# ---------------------------------------------------------------- results file


def _json_default(value):
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, complex):
        return [value.real, value.imag]
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def read_results(path):
    """Return every complete record in the JSON-lines file `path` ([] if it does not exist).

    A line that does not parse, such as the torn last line of a killed sweep, is skipped with a
    warning: records are only ever appended, so the lines before it are intact.
    """
    if not os.path.exists(path):
        return []
    records, skipped = [], 0
    with open(path, "r", encoding="utf-8") as file:
        for line in file:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                skipped += 1
                continue
            if isinstance(record, dict) and "key" in record:
                records.append(record)
            else:
                skipped += 1
    if skipped:
        logger.warning("%s: skipped %d unreadable line(s); their cells will run again", path, skipped)
    return records


def append_result(path, record):
    """Append `record` as one JSON line, flushed and fsynced before returning.

    If the file ends in a torn line, a newline is written first so the new record stays whole.
    """
    line = json.dumps(record, default=_json_default, allow_nan=True) + "\n"
    with open(path, "a+b") as file:
        file.seek(0, os.SEEK_END)
        if file.tell() > 0:
            file.seek(-1, os.SEEK_END)
            if file.read(1) != b"\n":
                line = "\n" + line
        file.write(line.encode("utf-8"))
        file.flush()
        os.fsync(file.fileno())


def finished_records(path, protocol, records=None):
    """Return {key: record} of the records in `path` made with exactly `protocol` (the last wins).

    `records`, if given, are the records of `path` already read by `read_results`.
    """
    wanted = protocol.as_dict()
    records = read_results(path) if records is None else records
    return {record["key"]: record for record in records
            if record.get("format") == RESULTS_FORMAT and record.get("protocol") == wanted}


# ---------------------------------------------------------------- sweep


def make_cells(models, ops, range_indices, seeds):
    """Return every (model, op, range, seed) cell with seeds outermost, so a stopped sweep has whole seeds."""
    return [Cell(model, op, range_index, seed)
            for seed in seeds for op in ops for range_index in range_indices for model in models]


def thresholds_for(cells, protocol):
    """Return {(op, range_index): (extrapolation threshold, interpolation threshold)} for `cells`."""
    table = {}
    for cell in cells:
        pair = (cell.op, cell.range_index)
        if pair not in table:
            table[pair] = tuple(
                simulate_threshold(cell.op, intervals, protocol.epsilon, protocol.threshold_samples)
                for intervals in (cell.range.extrapolation, cell.range.interpolation))
    return table


@dataclass
class SweepOutcome:
    """Outcome of a sweep: the records of every requested cell that is finished, and the failures."""

    records: list
    ran: int
    skipped: int
    failed: list


def run_sweep(cells, protocol, results_path, jobs=1, scheduler=None, on_result=None, done=None):
    """Run every cell of `cells` not yet in `results_path` and append each result as it finishes.

    jobs: worker processes on this machine (1 runs in this process). scheduler: the address of
    a Dask distributed scheduler; when given, cells run on its cluster and `jobs` is ignored.
    on_result(record), if given, is called after each record is written. A cell that raises is
    logged and left out of the file, so a rerun tries it again. `done`, if given, is the result of
    `finished_records(results_path, protocol)` read by the caller, so the file is read once.
    Returns a SweepOutcome.
    """
    done = dict(finished_records(results_path, protocol) if done is None else done)
    pending = [cell for cell in cells if cell.key() not in done]
    skipped = len(cells) - len(pending)
    thresholds = thresholds_for(pending, protocol)
    jobs_list = [(cell, protocol) + thresholds[(cell.op, cell.range_index)] for cell in pending]
    failed = []

    def finish(record):
        append_result(results_path, record)
        done[record["key"]] = record
        if on_result is not None:
            on_result(record)

    def fail(cell, error):
        logger.error("cell %s failed: %s: %s", cell.key(), type(error).__name__, error)
        failed.append((cell.key(), f"{type(error).__name__}: {error}"))

    if scheduler is not None:
        _run_on_dask(scheduler, jobs_list, finish, fail)
    elif jobs <= 1:
        for job in jobs_list:
            try:
                record = _run_cell_job(job)
            except Exception as error:  # noqa: BLE001 - one failed cell must not stop the sweep
                fail(job[0], error)
                continue
            finish(record)
    else:
        _run_in_processes(jobs, jobs_list, finish, fail)

    records = [done[cell.key()] for cell in cells if cell.key() in done]
    return SweepOutcome(records, ran=len(pending) - len(failed), skipped=skipped, failed=failed)


def _run_in_processes(jobs, jobs_list, finish, fail):
    from concurrent.futures import ProcessPoolExecutor, as_completed

    executor = ProcessPoolExecutor(max_workers=jobs)
    try:
        futures = {executor.submit(_run_cell_job, job): job[0] for job in jobs_list}
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception as error:  # noqa: BLE001 - one failed cell must not stop the sweep
                fail(futures[future], error)
                continue
            finish(record)
    finally:
        # On Ctrl-C the queued cells are dropped and the running ones are awaited but not
        # written, so the next run repeats only those.
        executor.shutdown(wait=True, cancel_futures=True)


def _run_on_dask(address, jobs_list, finish, fail):
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise RuntimeError("running on a Dask cluster needs the dask extra: pip install 'calu-np[dask]'") from None

    client = Client(address)
    try:
        futures = client.map(_run_cell_job, jobs_list, pure=False)
        cells = {future.key: job[0] for future, job in zip(futures, jobs_list)}
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception as error:  # noqa: BLE001 - one failed cell must not stop the sweep
                fail(cells[future.key], error)
                continue
            finish(record)
    finally:
        client.close()


# ---------------------------------------------------------------- summary


SUMMARY_FIELDS = ("model", "op", "range", "runs", "successes", "success_rate", "wilson_low", "wilson_high",
                  "median_solved_at", "median_quantization_error", "median_seconds_to_solve", "median_seconds",
                  "threshold")


def _median(values):
    """Return the median of the values that are not None, or None when there are none."""
    values = [value for value in values if value is not None]
    return float(np.median(values)) if values else None


def summarise(records):
    """Group records by (model, op, range) and return one summary dict per group.

    The solved-at iteration, quantization error and time to solve are medians over the
    successful runs only, as in the benchmark's analysis.
    """
    groups = {}
    for record in records:
        groups.setdefault((record["model"], record["op"], record["range_index"]), []).append(record)

    rows = []
    order = {name: i for i, name in enumerate(MODELS)}
    for (model, op, range_index), group in sorted(
            groups.items(), key=lambda item: (OPERATIONS.index(item[0][1]), item[0][2], order.get(item[0][0], 99))):
        solved = [record for record in group if record["solved"]]
        low, high = wilson_interval(len(solved), len(group))
        rows.append({
            "model": model,
            "op": op,
            "range": RANGES[range_index].label,
            "runs": len(group),
            "successes": len(solved),
            "success_rate": len(solved) / len(group),
            "wilson_low": low,
            "wilson_high": high,
            "median_solved_at": _median([record["solved_at"] for record in solved]),
            "median_quantization_error": _median([record["quantization_error"] for record in solved]),
            "median_seconds_to_solve": _median([record["seconds_to_solve"] for record in solved]),
            "median_seconds": _median([record["seconds"] for record in group]),
            "threshold": group[0]["threshold"],
        })
    return rows


def _format_optional(value, spec):
    return "–" if value is None else format(value, spec)


def markdown_table(rows):
    """Return the summary rows as a Markdown table."""
    lines = [
        "| op | range | model | success | 95% Wilson | solved at (median) | quantization error (median) "
        "| time to solve (median s) | time per run (median s) | threshold |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {OPERATION_SYMBOLS[row['op']]} | {row['range']} | {row['model'].upper()} "
            f"| {row['successes']}/{row['runs']} ({100 * row['success_rate']:.0f}%) "
            f"| {100 * row['wilson_low']:.0f}–{100 * row['wilson_high']:.0f}% "
            f"| {_format_optional(row['median_solved_at'], '.0f')} "
            f"| {_format_optional(row['median_quantization_error'], '.1e')} "
            f"| {_format_optional(row['median_seconds_to_solve'], '.2f')} "
            f"| {_format_optional(row['median_seconds'], '.2f')} "
            f"| {row['threshold']:.2e} |"
        )
    return "\n".join(lines) + "\n"


def markdown_success_matrix(rows):
    """Return the successes of every model as a Markdown table: one line per operation and range.

    A cell reads "successes/runs", with the success rate in bold where it is at least 95%.
    """
    models = [model for model in MODELS if any(row["model"] == model for row in rows)]
    lines_by_pair = {}
    for row in rows:
        lines_by_pair.setdefault((row["op"], row["range"]), {})[row["model"]] = row
    lines = ["| op | range | " + " | ".join(model.upper() for model in models) + " |",
             "|---|---|" + "---|" * len(models)]
    for (op, label), by_model in lines_by_pair.items():
        cells = []
        for model in models:
            row = by_model.get(model)
            if row is None:
                cells.append("–")
                continue
            text = f"{row['successes']}/{row['runs']}"
            cells.append(f"**{text}**" if row["success_rate"] >= 0.95 else text)
        lines.append(f"| {OPERATION_SYMBOLS[op]} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def markdown_model_times(records):
    """Return a Markdown table of every model's speed over all the runs in `records`.

    Per model: runs, successes, and the medians over its successful runs of the iteration and
    the time at which they first met the criterion, then the median time per run over all runs.
    Times are comparable between models only when their runs shared a machine and a sweep.
    """
    lines = ["| model | runs | solved | solved at (median) | time to solve (median s) | time per run (median s) |",
             "|---|---|---|---|---|---|"]
    for model in MODELS:
        group = [record for record in records if record["model"] == model]
        if not group:
            continue
        solved = [record for record in group if record["solved"]]
        lines.append(
            f"| {model.upper()} | {len(group)} | {len(solved)} "
            f"| {_format_optional(_median([record['solved_at'] for record in solved]), '.0f')} "
            f"| {_format_optional(_median([record['seconds_to_solve'] for record in solved]), '.2f')} "
            f"| {_format_optional(_median([record['seconds'] for record in group]), '.2f')} |"
        )
    return "\n".join(lines) + "\n"


def write_csv(rows, path):
    """Write the summary rows to `path` as CSV with a header line, atomically."""
    import csv

    from .io import atomic_open

    with atomic_open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=SUMMARY_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({name: ("" if row[name] is None else row[name]) for name in SUMMARY_FIELDS})
