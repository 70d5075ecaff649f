"""Training of one baseline unit with one output, fast enough for thousands of benchmark runs.

`calu_np.nalm` trains a single NAU, NMU, NAC, NALU or NPU on two inputs for 50,000 steps per
run. `fit` spends most of each step in Python overhead, so here the steps between two
checkpoints run in one call of a numba kernel (`unit_kernels.train_steps`). Its NumPy twin,
`train_steps_reference`, computes the same steps with the layer functions that
tests/test_baselines.py checks against finite differences, and tests/test_unit.py checks the
kernel against the twin.

The parameters of the unit live in one flat vector θ, laid out per kind as LAYOUTS gives
(each block has one entry per input). A run is: initialise the unit from
`default_rng([seed, 2])` with its layer's own init, then draw each chunk of batches from the
same generator with `integers(0, n, (steps, batch_size))`: rows are drawn with replacement.

The loss of each step is mean (y − t)² over the batch, plus the NAU/NMU sparsity regulariser
ramped in linearly between the fractions `sparsity_start` and `sparsity_end` of the run, plus
an L1 penalty β Σ|θ| whose weight starts at `l1_start` and grows by `l1_growth` every
`l1_every` steps up to `l1_end` (the benchmark's NPU schedule; 0 turns it off).
"""

from dataclasses import dataclass

import numpy as np

from . import nau
from .model import LAYER_KINDS

KIND_CODES = {"NAU": 0, "NMU": 1, "NAC": 2, "NALU": 3, "NPU": 4}
LAYOUTS = {
    "NAU": ("W",),
    "NMU": ("W",),
    "NAC": ("W_hat", "M_hat"),
    "NALU": ("W_hat", "M_hat", "G"),
    "NPU": ("W", "g"),
}
LAST_GOOD_EVERY = 50  # a step whose number is a multiple of this keeps a copy of θ before it


@dataclass(frozen=True)
class UnitSchedule:
    """Adam's step size and the regularisers' schedules of one run of `total_steps` steps."""

    total_steps: int
    lr: float = 1e-3
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    sparsity_strength: float = 0.0
    sparsity_start: float = 0.4
    sparsity_end: float = 0.7
    l1_start: float = 0.0
    l1_end: float = 0.0
    l1_growth: float = 10.0
    l1_every: int = 10_000

    def sparsity_weight(self, step):
        """Return the sparsity regulariser's weight at `step`, ramped in linearly."""
        fraction = step / max(self.total_steps, 1)
        span = max(self.sparsity_end - self.sparsity_start, 1e-12)
        return self.sparsity_strength * min(max((fraction - self.sparsity_start) / span, 0.0), 1.0)

    def l1_weight(self, step):
        """Return β(step) = min(l1_start · l1_growth^⌊step / l1_every⌋, l1_end), or 0 when off."""
        if self.l1_start <= 0.0:
            return 0.0
        return min(self.l1_start * self.l1_growth ** (step // self.l1_every), self.l1_end)


def pack(kind, params):
    """Return θ: the unit's parameters (each of shape (1, n) or (n,)) concatenated in the order of LAYOUTS."""
    return np.concatenate([np.ravel(params[name]) for name in LAYOUTS[kind]]).astype(np.float64)


def unpack(kind, theta, n_inputs):
    """Return the parameter dict of the unit from θ, shaped as its layer functions expect."""
    params = {}
    for i, name in enumerate(LAYOUTS[kind]):
        block = theta[i * n_inputs:(i + 1) * n_inputs].copy()
        params[name] = block if name == "g" else block.reshape(1, n_inputs)
    return params


def _reference_loss_and_gradient(kind, params, x, t):
    """Return the batch MSE and {name: dL/dparam} from the layer functions of the unit's module."""
    layer = LAYER_KINDS[kind]
    with np.errstate(over="ignore", invalid="ignore"):
        y, cache = layer.forward(x, params)
        r = y[:, 0] - t
        loss = float(np.mean(r * r))
        if not np.isfinite(loss):
            return loss, None
        grads = layer.backward((r / r.size)[:, None], cache)
    grads.pop("x")
    return loss, grads


def train_steps_reference(kind, n_inputs, theta, m, v, last_good, x, t, batches, first_step, schedule, losses):
    """The NumPy twin of `unit_kernels.train_steps`: same arguments (the schedule as one object),
    same effect on θ, m, v, last_good and losses, same return value.
    """
    for i, rows in enumerate(batches):
        step = first_step + i
        params = unpack(kind, theta, n_inputs)
        loss, grads = _reference_loss_and_gradient(kind, params, x[rows], t[rows])
        if grads is None:
            theta[:] = last_good
            return i
        if step % LAST_GOOD_EVERY == 0:
            last_good[:] = theta
        losses[i] = loss

        strength = schedule.sparsity_weight(step) if kind in ("NAU", "NMU") else 0.0
        if strength > 0.0:
            _, cache = nau.sparsity_forward(params["W"])
            grads["W"] = grads["W"] + strength * nau.sparsity_backward(cache)
        grad = pack(kind, grads)
        beta = schedule.l1_weight(step)
        if beta > 0.0:
            grad = grad + beta * np.sign(theta)

        correction1 = 1.0 - schedule.beta1 ** (step + 1)
        correction2 = 1.0 - schedule.beta2 ** (step + 1)
        m *= schedule.beta1
        m += (1.0 - schedule.beta1) * grad
        v *= schedule.beta2
        v += (1.0 - schedule.beta2) * grad * grad
        theta -= schedule.lr * (m / correction1) / (np.sqrt(v / correction2) + schedule.eps)

        clamped = unpack(kind, theta, n_inputs)
        if LAYER_KINDS[kind].clamp is not None:
            LAYER_KINDS[kind].clamp(clamped)
        theta[:] = pack(kind, clamped)
    return len(batches)


def train_steps(kind, n_inputs, theta, m, v, last_good, x, t, batches, first_step, schedule, losses, engine="numba"):
    """Run one step per row of `batches` with the chosen engine ("numba" or "numpy").

    See `unit_kernels.train_steps` for the arguments and the return value.
    """
    if engine == "numpy":
        return train_steps_reference(kind, n_inputs, theta, m, v, last_good, x, t, batches, first_step, schedule,
                                     losses)
    if engine != "numba":
        raise ValueError(f"unknown engine {engine!r}: expected 'numba' or 'numpy'")
    from . import unit_kernels

    return int(unit_kernels.train_steps(
        KIND_CODES[kind], n_inputs, theta, m, v, last_good, np.ascontiguousarray(x, dtype=np.float64),
        np.ascontiguousarray(t, dtype=np.float64), np.ascontiguousarray(batches, dtype=np.int64), first_step,
        schedule.total_steps, schedule.lr, schedule.beta1, schedule.beta2, schedule.eps,
        schedule.sparsity_strength, schedule.sparsity_start, schedule.sparsity_end,
        schedule.l1_start, schedule.l1_end, schedule.l1_growth, schedule.l1_every, losses))


class UnitTrainer:
    """A training run of one unit on (x, t), in chunks of steps, with θ and Adam's state kept between them.

    x is (n, n_inputs) and t is (n,) or (n, 1), both real. `model` is a BaselineModel "n 1:KIND"
    whose parameters follow θ after every chunk, so it can be evaluated between chunks.
    """

    def __init__(self, model, x, t, schedule, seed, batch_size=128, engine="numba"):
        if len(model.layers) != 1 or model.n_outputs != 1:
            raise ValueError(f"UnitTrainer trains one unit with one output, not {model.text!r}")
        self.model = model
        self.kind = model.layers[0].kind
        if self.kind not in KIND_CODES:
            raise ValueError(f"unknown unit kind {self.kind!r}: expected one of {', '.join(KIND_CODES)}")
        self.n_inputs = model.n_inputs
        self.x = np.ascontiguousarray(x, dtype=np.float64)
        self.t = np.ascontiguousarray(np.reshape(t, -1), dtype=np.float64)
        self.schedule = schedule
        self.batch_size = min(batch_size, len(self.x))
        self.engine = engine
        self.rng = np.random.default_rng([seed, 2])
        model.initialise(self.rng)
        self.theta = pack(self.kind, model.layer_params(0))
        self.m = np.zeros_like(self.theta)
        self.v = np.zeros_like(self.theta)
        self.last_good = self.theta.copy()
        self.steps = 0
        self.diverged_at = None

    def run(self, count):
        """Run up to `count` more steps and return how many ran, fewer when the loss diverged.

        After a divergence, θ is the last copy kept before it, and `diverged_at` is the 1-based
        number of the step whose loss was not finite. Later calls run nothing.
        """
        if self.diverged_at is not None:
            return 0
        batches = self.rng.integers(0, len(self.x), size=(count, self.batch_size))
        losses = np.zeros(count)
        done = train_steps(self.kind, self.n_inputs, self.theta, self.m, self.v, self.last_good, self.x, self.t,
                           batches, self.steps, self.schedule, losses, engine=self.engine)
        self.steps += done
        if done < count:
            self.diverged_at = self.steps + 1
        self._update_model()
        return done

    def _update_model(self):
        for name, value in unpack(self.kind, self.theta, self.n_inputs).items():
            self.model.params[f"0.{name}"] = value
