"""The talk's comparison: CALU against the models a user would pick instead, on the same data.

Every model is trained on the training set of `calu_np.experiment.make_data(task, seed)` and
measured by the mean |y − t|² on the interpolation and extrapolation test sets of the same
call. CALU runs through `calu_np.experiment.run_regression` with its own recipe and snap, and its
error is measured after the snap. Each baseline is the stack in `calu_np.baselines.BASELINES`,
trained by `calu_np.baselines.fit` for a fixed number of Adam steps.

A prediction that is not finite (overflow in NALU's or NPU's exponential) counts as an
infinite error, so medians over seeds stay defined.
"""

import math
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass

import numpy as np

from .baselines import BASELINES, BaselineModel, FitConfig, baseline_stack, fit
from .experiment import default_config, make_data, run_regression
from .spec import parse_layers
from .tasks import TASKS, get_task
from .io import save_figure
from .train import planned_steps

# The talk's four models first, in the order of its table, then the other published units.
MODELS = ("tanh", "relu", "nalu", "calu", "nac", "nau", "nmu", "npu")
TASK_NAMES = tuple(TASKS)
ERROR_KINDS = ("interpolation", "extrapolation")

DEFAULT_BASELINE_STEPS = 3000

# Initial Adam learning rate of each baseline; it decays geometrically to a hundredth. Chosen
# by a short sweep over {3e-3, 1e-2, 3e-2} on add, mul and div at seed 0.
BASELINE_LR = {"tanh": 3e-3, "relu": 3e-3, "nac": 1e-2, "nalu": 1e-2, "nau": 3e-2, "nmu": 3e-2, "npu": 3e-2}


@dataclass(frozen=True)
class Run:
    """One cell of the comparison: a model trained on a task from one seed."""

    task: str
    model: str
    seed: int


def check_models(models):
    """Raise ValueError naming the first unknown model in `models`."""
    for model in models:
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}: expected one of {', '.join(MODELS)}")


def baseline_layers(model, task):
    """Return the layer stack of baseline `model` for `task`, shaped like the task's CALU network."""
    hidden = parse_layers(task.layers).layers[0].units
    return baseline_stack(model, task.n_inputs, hidden, len(task.output_names))


def baseline_config(model, seed, steps):
    lr = BASELINE_LR[model]
    return FitConfig(steps=steps, lr=lr, lr_end=lr / 100, seed=seed)


def planned_units(run, baseline_steps):
    """Return the number of progress units `run_one` reports for `run`."""
    if run.model == "calu":
        return planned_steps(default_config(run.task, run.seed))
    return baseline_steps


def _mse_or_inf(y, t):
    with np.errstate(all="ignore"):
        value = float(np.mean(np.abs(y - t) ** 2))
    return value if math.isfinite(value) else math.inf


def run_one(run, baseline_steps=DEFAULT_BASELINE_STEPS, progress=None):
    """Train `run.model` on `run.task` from `run.seed` and return a JSON-ready record of its errors.

    `progress`, if given, is called with the number of training steps just completed; the
    total is `planned_units(run, baseline_steps)`.
    """
    task = get_task(run.task)
    record = {"task": run.task, "model": run.model, "seed": run.seed}
    start = time.perf_counter()

    if run.model == "calu":
        result = run_regression(run.task, seed=run.seed, progress=progress)
        after = result.metrics["after_snap"]
        record["layers"] = str(result.network.spec)
        record["interpolation_mse"] = _finite_or_inf(after["interpolation_mse"])
        record["extrapolation_mse"] = _finite_or_inf(after["extrapolation_mse"])
        record["before_snap"] = {key: _finite_or_inf(value) for key, value in result.metrics["before_snap"].items()}
        record["snap"] = result.snap_report.describe()
    else:
        (x, t), (x_in, t_in), (x_out, t_out) = make_data(task, run.seed)
        model = BaselineModel(baseline_layers(run.model, task))
        config = baseline_config(run.model, run.seed, baseline_steps)
        outcome = fit(model, x, t, config, progress=progress)
        with np.errstate(all="ignore"):
            record["interpolation_mse"] = _mse_or_inf(model.forward(x_in)[0], t_in)
            record["extrapolation_mse"] = _mse_or_inf(model.forward(x_out)[0], t_out)
        record["layers"] = model.text
        record["fit_config"] = asdict(config)
        record["diverged_at"] = outcome.diverged_at

    record["seconds"] = time.perf_counter() - start
    return record


def _finite_or_inf(value):
    value = float(value)
    return value if math.isfinite(value) else math.inf


def _run_in_worker(run, baseline_steps):
    return run_one(run, baseline_steps)


def run_compare(tasks, models, seeds, baseline_steps=DEFAULT_BASELINE_STEPS, progress=None, jobs=1):
    """Run every (task, model, seed) cell and return the list of records from `run_one`.

    `seeds` is the number of seeds (0 … seeds − 1). With `jobs` > 1 the cells run in that many
    worker processes and `progress` advances by a whole cell when it finishes; with `jobs` = 1
    it advances every training step.
    """
    for name in tasks:
        get_task(name)
    check_models(models)
    if seeds < 1:
        raise ValueError(f"invalid number of seeds {seeds}: expected a positive integer")
    if baseline_steps < 1:
        raise ValueError(f"invalid number of baseline steps {baseline_steps}: expected a positive integer")
    if jobs < 1:
        raise ValueError(f"invalid number of jobs {jobs}: expected a positive integer")

    runs = [Run(task, model, seed) for task in tasks for model in models for seed in range(seeds)]
    if jobs == 1:
        return [run_one(run, baseline_steps, progress) for run in runs]

    records = [None] * len(runs)
    # The longest runs go first, so no worker is left with a long one at the end.
    order = sorted(range(len(runs)), key=lambda i: -planned_units(runs[i], baseline_steps))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_run_in_worker, runs[i], baseline_steps): i for i in order}
        for future in as_completed(futures):
            i = futures[future]
            records[i] = future.result()
            if progress is not None:
                progress(planned_units(runs[i], baseline_steps))
    return records


def summarise(records):
    """Group records by (task, model) and return the median, minimum and maximum of each error.

    Returns {(task, model): {"interpolation": {"median", "min", "max", "values"}, "extrapolation": …}}.
    """
    grouped = {}
    for record in records:
        grouped.setdefault((record["task"], record["model"]), []).append(record)
    summary = {}
    for key, group in grouped.items():
        cell = {}
        for kind in ERROR_KINDS:
            values = [record[f"{kind}_mse"] for record in group]
            cell[kind] = {
                "median": float(np.median(values)),
                "min": float(np.min(values)),
                "max": float(np.max(values)),
                "values": values,
            }
        summary[key] = cell
    return summary


def format_error(value, digits=1):
    """Format an MSE like the talk's orders of magnitude: 3e-06, 0, inf."""
    if value == 0:
        return "0"
    if math.isinf(value):
        return "inf"
    return f"{value:.{digits}e}"


def format_table(summary, tasks, models, seeds):
    """Return the comparison as text: rows error kind × task, one column per model.

    Each cell is the median over seeds; with more than one seed a second table gives the
    minimum and maximum.
    """
    lines = [_table(summary, tasks, models, lambda cell: format_error(cell["median"]),
                    f"MSE, median over {seeds} seed{'s' if seeds > 1 else ''}")]
    if seeds > 1:
        lines.append("")
        lines.append(_table(summary, tasks, models,
                            lambda cell: f"{format_error(cell['min'], 0)}..{format_error(cell['max'], 0)}",
                            f"MSE, minimum..maximum over {seeds} seeds"))
    return "\n".join(lines)


def _table(summary, tasks, models, cell_text, title):
    header = ["error", "task"] + list(models)
    rows = []
    for kind in ERROR_KINDS:
        for task in tasks:
            rows.append([kind, task] + [cell_text(summary[(task, model)][kind]) for model in models])
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "  ".join(cell.ljust(width) if i < 2 else cell.rjust(width) for i, (cell, width) in enumerate(zip(cells, widths)))

    out = [title, line(header), line(["-" * width for width in widths])]
    out += [line(row) for row in rows]
    return "\n".join(out)


def _json_number(value):
    # JSON has no infinity: an infinite error is written as the string "inf".
    return value if math.isfinite(value) else "inf"


def to_json(records, summary, tasks, models, seeds, baseline_steps, seconds):
    """Return the comparison as a JSON-ready dict: settings, the summary table and every run."""

    def clean(value):
        if isinstance(value, float):
            return _json_number(value)
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        if isinstance(value, list):
            return [clean(item) for item in value]
        return value

    table = [
        {"task": task, "model": model, **{kind: clean(summary[(task, model)][kind]) for kind in ERROR_KINDS}}
        for task in tasks
        for model in models
    ]
    return {
        "tasks": list(tasks),
        "models": list(models),
        "seeds": seeds,
        "baseline_steps": baseline_steps,
        "baseline_layers": {model: BASELINES[model] for model in models if model in BASELINES},
        "seconds": seconds,
        "table": table,
        "runs": clean(records),
    }


# ---------------------------------------------------------------- figures


@dataclass
class QuantizerTrajectory:
    """The expected quantized values N of every layer of one CALU run, recorded during training.

    `steps[i]` counts the Adam steps the kept model had taken when `N[layer][i]` (shape
    (n_out, n_in)) was recorded, `q[layer]` is the layer's quantized set and `trial_steps` the
    length of the trial run that the main run continued (0 without restarts). `snapped[layer]`
    is N after the snap that `run_regression` also applies: |M| where the layer has a trainable
    phasor (the snap sets it to ±1), else M.
    """

    task: str
    seed: int
    layers: str
    steps: list
    N: list
    q: list
    trial_steps: int = 0
    snapped: list = None


def record_quantizer_trajectory(task_name="mul", seed=0, every=10, progress=None):
    """Train a CALU network on `task_name` with its default recipe and record N every `every` steps.

    With restarts, the recipe trains several trial runs and continues the one with the lowest
    training loss. The trajectory returned is that trial followed by the main run: the whole
    history of the model that was kept. The network is then snapped as `run_regression` does.
    Returns a QuantizerTrajectory.
    """
    from .network import Network
    from .quantizer import quantizer_forward
    from .snap import snap
    from .spec import parse_q
    from .train import train

    task = get_task(task_name)
    network = Network(parse_layers(task.layers), [parse_q(text) for text in task.q])
    config = default_config(task_name, seed)
    (x, t), _, _ = make_data(task, seed)
    trial_steps = config.restart_steps if config.restarts > 1 else 0
    segments = {}
    kept = []

    def record(segment, step):
        if segment == "kept":
            kept.append(step)
            return
        history = segments.setdefault(segment, {"steps": [], "N": []})
        # The main run continues the kept trial, so its steps count on from the trial's.
        step += trial_steps if segment == "main" else 0
        if step % every == 0 or step == 1:
            history["steps"].append(step)
            history["N"].append([quantizer_forward(network.params[f"{i}.logits"], layer.q)[0]
                                 for i, layer in enumerate(network.layers)])

    done = 0

    def count(n):
        nonlocal done
        done += n
        if progress is not None:
            progress(n)

    train(network, x, t, config, progress=count, on_step=record)
    snap(network, x, t, config, progress=count)
    # The snap retrains only when it must; report its unused steps so a progress bar completes.
    if progress is not None and done < planned_steps(config):
        progress(planned_steps(config) - done)
    snapped = []
    for layer, M in zip(network.layers, network.weights()[0]):
        snapped.append(np.abs(M) if layer.trainable_phasor else M)

    history = [segments[kept[0]], segments["main"]] if kept else [segments["main"]]
    steps = [step for segment in history for step in segment["steps"]]
    N = [np.array([snapshot[i] for segment in history for snapshot in segment["N"]]) for i in range(len(network.layers))]
    return QuantizerTrajectory(task_name, seed, task.layers, steps, N, [layer.q for layer in network.layers],
                               trial_steps, snapped)


def plot_comparison(summary, tasks, models, trajectory, path):
    """Draw the error table as bar charts on a log scale and the quantizer trajectories; save to `path`.

    Needs matplotlib (the `plot` extra). Errors below 1e-35, exact zeros included, are drawn at
    1e-35; infinite errors are drawn as hatched bars reaching the top of the axis.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = 1e-35
    figure, axes = plt.subplots(2, 2, figsize=(15, 10), constrained_layout=True)
    finite = [summary[(task, model)][kind]["median"] for task in tasks for model in models for kind in ERROR_KINDS]
    finite = [value for value in finite if math.isfinite(value)]
    ceiling = max(max(finite, default=1.0) * 1e3, 1.0)
    colours = plt.get_cmap("tab10")
    width = 0.8 / len(models)

    for axis, kind in zip(axes[0], ERROR_KINDS):
        positions = np.arange(len(tasks))
        for m, model in enumerate(models):
            values = np.array([summary[(task, model)][kind]["median"] for task in tasks])
            infinite = np.isinf(values)
            heights = np.where(infinite, ceiling, np.maximum(values, floor))
            bars = axis.bar(positions + (m - (len(models) - 1) / 2) * width, heights, width,
                            bottom=floor, label=model, color=colours(m % 10))
            for bar, is_infinite in zip(bars, infinite):
                if is_infinite:
                    bar.set_hatch("//")
        axis.set_yscale("log")
        axis.set_ylim(floor, ceiling)
        axis.set_xticks(positions, tasks)
        axis.set_ylabel("test MSE (median over seeds)")
        axis.set_title(f"{kind.capitalize()} error")
        axis.grid(axis="y", which="major", alpha=0.3)
    axes[0][0].legend(ncol=4, fontsize="small")

    for i, axis in enumerate(axes[1][:len(trajectory.N)]):
        N = np.real(trajectory.N[i])
        curves = N.reshape(N.shape[0], -1)
        for q in np.real(trajectory.q[i]):
            axis.axhline(q, color="grey", linestyle="--", linewidth=0.8)
        lines = axis.plot(trajectory.steps, curves, linewidth=1.0)
        if trajectory.snapped is not None:
            end = trajectory.steps[-1] * 1.03
            for line, value in zip(lines, np.real(trajectory.snapped[i]).ravel()):
                axis.plot([end], [value], marker="o", color=line.get_color(), clip_on=False)
        if trajectory.trial_steps:
            axis.axvline(trajectory.trial_steps, color="black", linewidth=0.8)
        axis.set_xlabel("Adam step (solid line: end of the kept trial run, start of the main run)"
                        if trajectory.trial_steps else "Adam step")
        axis.set_ylabel("N_kj = Σ_n q_n P_kj,n")
        kind = trajectory.layers.split()[i + 1]
        axis.set_title(f"N_kj of layer {i} ({kind}) of '{trajectory.layers}', {trajectory.task}, seed {trajectory.seed}\n"
                       "dashed: Q, dots: after the snap", fontsize="medium")
    for axis in axes[1][len(trajectory.N):]:
        axis.set_visible(False)

    save_figure(figure, path)
    plt.close(figure)
