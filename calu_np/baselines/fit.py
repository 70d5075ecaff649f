"""Training of baseline models: mini-batch Adam on mean (y − t)², the same loss as CALU."""

import logging
from dataclasses import dataclass

import numpy as np

from ..losses import mse_backward, mse_forward
from ..optim import Adam, decayed_lr

logger = logging.getLogger(__name__)


@dataclass
class FitConfig:
    """Settings of one baseline training run.

    The learning rate decays geometrically from `lr` to `lr_end`. The NAU/NMU sparsity
    regulariser is ramped linearly from 0 at `sparsity_start` to `sparsity_strength` at
    `sparsity_end` (fractions of the steps); models without NAU or NMU layers ignore it.
    """

    steps: int = 5000
    batch_size: int = 128
    lr: float = 3e-3
    lr_end: float = 3e-5
    sparsity_strength: float = 0.1
    sparsity_start: float = 0.5
    sparsity_end: float = 0.75
    seed: int = 0


@dataclass
class FitResult:
    """The loss curve of a run, and the step at which it diverged (None if it did not)."""

    loss_curve: list
    diverged_at: int = None


def sparsity_weight(step, config):
    """Return the strength of the sparsity regulariser at `step`, ramped in linearly."""
    fraction = step / max(config.steps, 1)
    span = max(config.sparsity_end - config.sparsity_start, 1e-12)
    ramp = min(max((fraction - config.sparsity_start) / span, 0.0), 1.0)
    return config.sparsity_strength * ramp


def fit(model, x, t, config, progress=None):
    """Initialise `model` from `config.seed` and train it on (x, t). Returns a FitResult.

    `progress`, if given, is called with the number of steps just completed; it receives every
    step even when the run stops early. On a NaN or inf loss the parameters go back to the last
    checkpoint with a finite loss (taken every 50 steps) and training stops there.
    """
    rng = np.random.default_rng([config.seed, 2])
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    model.initialise(rng)
    optimizer = Adam(model.params, lr=config.lr)
    n = x.shape[0]
    batch_size = min(config.batch_size, n)
    curve = []
    last_good = model.copy_params()

    for step in range(config.steps):
        batch = rng.choice(n, size=batch_size, replace=False) if batch_size < n else np.arange(n)
        with np.errstate(over="ignore", invalid="ignore"):
            y, caches = model.forward(x[batch])
            loss, residual = mse_forward(y, t[batch])
        if not np.isfinite(loss):
            model.params = last_good
            logger.info("%s diverged at step %d; kept the parameters of the last finite checkpoint", model.text, step + 1)
            if progress is not None:
                progress(config.steps - step)
            return FitResult(curve, diverged_at=step + 1)
        if step % 50 == 0:
            last_good = model.copy_params()

        with np.errstate(over="ignore", invalid="ignore"):
            grads, _ = model.backward(mse_backward(residual), caches)
        strength = sparsity_weight(step, config)
        if strength > 0:
            _, sparsity_grads = model.sparsity()
            for key, grad in sparsity_grads.items():
                grads[key] = grads[key] + strength * grad

        optimizer.step(model.params, grads, lr=decayed_lr(step, config.steps, config.lr, config.lr_end))
        model.clamp()
        curve.append(loss)
        if progress is not None:
            progress(1)
    return FitResult(curve)
