"""One regression experiment end to end: data, training, snap and evaluation on both ranges."""

import time
from dataclasses import dataclass, field

import numpy as np

from .losses import mse
from .network import Network
from .snap import snap
from .spec import parse_layers, parse_q
from .tasks import get_task
from .train import TrainConfig, planned_steps, train

N_TRAIN = 2000
N_TEST = 2000


@dataclass
class RegressionResult:
    """Result of one run: the trained network, its snap report and the errors on both ranges."""

    task: object
    network: object
    config: object
    snap_report: object
    metrics: dict
    loss_curve: list = field(default_factory=list)
    seconds: float = 0.0


def make_data(task, seed, n_train=N_TRAIN, n_test=N_TEST):
    """Draw the training set, an interpolation test set and an extrapolation test set.

    The data seed is offset from the training seed so that changing one leaves the other alone
    only when asked: both come from `seed`.
    """
    rng = np.random.default_rng([seed, 1])
    train_set = task.sample(rng, n_train, "interpolation")
    interpolation = task.sample(rng, n_test, "interpolation")
    extrapolation = task.sample(rng, n_test, "extrapolation")
    return train_set, interpolation, extrapolation


def default_config(task_name, seed=0, steps=None, lr=None):
    """Return the TrainConfig `run_regression` uses for `task_name` when given no config.

    `planned_steps(default_config(...))` is the total a progress bar for that run should show.
    """
    task = get_task(task_name)
    config = TrainConfig(steps=task.steps if steps is None else steps, seed=seed, **task.extra)
    if lr is not None:
        config.lr = lr
        config.lr_end = lr / 10
    return config


class _CountingProgress:
    """Forward progress units to a callback and count them."""

    def __init__(self, callback):
        self.callback = callback
        self.done = 0

    def __call__(self, n):
        self.done += n
        if self.callback is not None:
            self.callback(n)

    def finish(self, total):
        if self.done < total:
            self(total - self.done)


def run_regression(task_name, seed=0, steps=None, layers=None, q=None, lr=None, progress=None, config=None):
    """Train the CALU network for `task_name`, snap it and measure it.

    `layers` (text such as "2 5:CALUm 1:CALUa") and `q` (one Q text, or one per layer) override
    the task's defaults. Returns a RegressionResult whose metrics hold the interpolation and
    extrapolation MSE before and after the snap.
    """
    task = get_task(task_name)
    spec = parse_layers(layers or task.layers)
    if spec.n_inputs != task.n_inputs:
        raise ValueError(f"the layer spec {str(spec)!r} takes {spec.n_inputs} inputs but task {task.name!r} has {task.n_inputs}")
    if spec.n_outputs != len(task.output_names):
        raise ValueError(f"the layer spec {str(spec)!r} gives {spec.n_outputs} outputs but task {task.name!r} has {len(task.output_names)}")
    if q is None:
        q_texts = list(task.q)
    elif isinstance(q, str):
        q_texts = [q] * len(spec.layers)
    else:
        q_texts = list(q)
    if len(q_texts) == 1 and len(spec.layers) > 1:
        q_texts = q_texts * len(spec.layers)
    if len(q_texts) != len(spec.layers):
        raise ValueError(f"got {len(q_texts)} Q sets for {len(spec.layers)} layers: give one for all or one per layer")
    network = Network(spec, [parse_q(text) for text in q_texts])

    if config is None:
        config = default_config(task.name, seed, steps, lr)

    (x, t), (x_in, t_in), (x_out, t_out) = make_data(task, seed)
    reported = _CountingProgress(progress)
    start = time.perf_counter()
    curve = train(network, x, t, config, progress=reported)
    soft = {
        "interpolation_mse": mse(network.forward(x_in)[0], t_in),
        "extrapolation_mse": mse(network.forward(x_out)[0], t_out),
    }
    report = snap(network, x, t, config, progress=reported)
    seconds = time.perf_counter() - start
    # The snap retrains only when it must: report the unused units so a progress bar completes.
    reported.finish(planned_steps(config))

    snapped = {
        "interpolation_mse": mse(network.forward(x_in)[0], t_in),
        "extrapolation_mse": mse(network.forward(x_out)[0], t_out),
    }
    metrics = {"before_snap": soft, "after_snap": snapped}
    return RegressionResult(task, network, config, report, metrics, curve, seconds)
