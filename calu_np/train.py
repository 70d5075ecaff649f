"""Training loop: mini-batch Adam on mean |y − t|² plus the ramped regularization potential."""

import logging
from dataclasses import asdict, dataclass

import numpy as np

from .losses import mse_backward, mse_forward
from .network import Network, initialise
from .optim import Adam, decayed_lr
from .regularizer import regularizer_strength

logger = logging.getLogger(__name__)


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite. The network keeps the last parameters with a finite loss."""


@dataclass
class TrainConfig:
    """Settings of one training run and of the snap search that follows it.

    The defaults are the ones that trained best on the talk's tasks (see docs/results.md).
    """

    steps: int = 3000
    batch_size: int = 128
    lr: float = 0.02
    lr_end: float = 0.002
    reg_strength: float = 1e-3
    reg_start: float = 0.6  # fraction of the steps at which the regularizer starts ramping in
    reg_end: float = 0.9  # fraction of the steps at which it reaches full strength
    restarts: int = 4  # independent initialisations tried before the main run
    restart_steps: int = 2000  # steps of each trial; the best one continues
    seed: int = 0
    snap_rounds: int = 3  # snap search: rounds of "re-initialise unused units and retrain"
    snap_retrain_steps: int = 1500  # steps of each of those rounds
    snap_search: bool = True  # snap search: try features one weight away from the used units

    def as_dict(self):
        return asdict(self)


def planned_steps(config):
    """Return the largest number of progress units `train` and `snap` report for `config`.

    Restarts, the main run and every snap retraining round count one unit per step. The snap
    retrains only when needed, so `run_regression` reports the unused rest at the end and a
    progress bar always reaches its total.
    """
    restarts = config.restarts * config.restart_steps if config.restarts > 1 else 0
    return restarts + config.steps + config.snap_rounds * config.snap_retrain_steps


def _first_nonfinite_layer(network, cache):
    _, _, outputs = cache
    for i, output in enumerate(outputs):
        if not np.all(np.isfinite(output)):
            return f"the output of layer {i} ({network.layers[i].kind})"
    return "the loss"


def run_adam(network, x, t, config, steps, rng, progress=None, step_offset=0, total_steps=None, on_step=None):
    """Train `network.params` in place for `steps` mini-batch steps. Returns the loss curve.

    The learning rate and the regularizer ramp follow step_offset + step out of `total_steps`
    (default `steps`). `progress`, if given, is called with the number of steps just completed.
    `on_step`, if given, is called after each step with the number of steps this call has taken.
    On a NaN or inf loss the parameters are restored to the last step whose loss was finite and
    TrainingDiverged is raised, naming the step and the first layer that went non-finite.
    """
    total_steps = steps if total_steps is None else total_steps
    params = network.params
    optimizer = Adam(params, lr=config.lr)
    n = x.shape[0]
    batch_size = min(config.batch_size, n)
    losses = []
    last_good = network.copy_params()
    track_regularizer = config.reg_strength > 0 and config.reg_start < 1.0

    for step in range(steps):
        global_step = step_offset + step
        batch = rng.choice(n, size=batch_size, replace=False) if batch_size < n else np.arange(n)

        # A non-finite loss is reported by TrainingDiverged below, so NumPy's warnings add nothing.
        with np.errstate(over="ignore", invalid="ignore"):
            y, cache = network.forward(x[batch])
            loss, residual = mse_forward(y, t[batch])
        if not np.isfinite(loss):
            network.params.clear()
            network.params.update(last_good)
            where = _first_nonfinite_layer(network, cache)
            raise TrainingDiverged(
                f"the loss became {loss} at step {global_step + 1}, first in {where}; "
                "the last finite parameters were kept"
            )
        # The parameters that produced this finite loss are the ones kept on a later divergence.
        last_good = {key: value.copy() for key, value in params.items()}

        grads, _ = network.backward(mse_backward(residual), cache, input_grad=False)
        if track_regularizer:
            strength = regularizer_strength(global_step, total_steps, config.reg_strength,
                                            config.reg_start, config.reg_end)
            if strength > 0:
                _, reg_grads = network.regularizer()
                for key, grad in reg_grads.items():
                    grads[key] = grads[key] + strength * grad

        lr = decayed_lr(global_step, total_steps, config.lr, config.lr_end)
        optimizer.step(params, grads, lr=lr)
        losses.append(loss)
        if progress is not None:
            progress(1)
        if on_step is not None:
            on_step(step + 1)
    return losses


def fresh_parameters(network, rng):
    """Return a new initial parameter dict for `network`'s architecture, leaving `network` alone."""
    twin = Network(network.spec, [layer.q for layer in network.layers])
    return initialise(twin, rng)


def train(network, x, t, config, progress=None, on_step=None):
    """Initialise and train `network` on (x, t) following `config`. Returns the loss curve.

    With `config.restarts` > 1, that many initialisations are each trained for
    `config.restart_steps` steps at a nearly constant learning rate, the one with the lowest
    full-batch loss is kept, and it is then trained for `config.steps` more. Seeded by
    `config.seed`: the same seed on the same machine gives bit-identical results.

    `on_step`, if given, observes the schedule: it is called as on_step(k, step) after every
    step of restart k (0-based), as on_step("kept", k) when restart k is chosen to continue, and
    as on_step("main", step) after every step of the main run.
    """
    rng = np.random.default_rng(config.seed)
    x = np.asarray(x, dtype=np.complex128)
    t = np.asarray(t, dtype=np.complex128)
    curve = []

    def observer(segment):
        if on_step is None:
            return None
        return lambda step: on_step(segment, step)

    if config.restarts > 1:
        best = None
        for trial in range(config.restarts):
            initialise(network, rng)
            trial_curve = run_adam(network, x, t, config, config.restart_steps, rng, progress,
                                   total_steps=config.restart_steps * 10, on_step=observer(trial))
            y, _ = network.forward(x)
            loss = mse_forward(y, t)[0]
            logger.info("restart %d: loss %.3e after %d steps", trial, loss, config.restart_steps)
            if best is None or loss < best[0]:
                best = (loss, network.copy_params(), trial_curve, trial)
        network.params = best[1]
        curve.extend(best[2])
        if on_step is not None:
            on_step("kept", best[3])
    else:
        initialise(network, rng)

    curve.extend(run_adam(network, x, t, config, config.steps, rng, progress, on_step=observer("main")))
    return curve
