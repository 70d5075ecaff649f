"""`calu-np compare`: train CALU and the baseline models on the same data and print the talk's table."""

import importlib.util
import os
import time

import click

from .common import engine_option, json_option, print_json, progress_bar

TASK_NAMES = ("const", "identity", "add", "sub", "mul", "div", "multinomial", "lorentz")
MODEL_NAMES = ("tanh", "relu", "nalu", "calu", "nac", "nau", "nmu", "npu")
DEFAULT_JOBS = min(2, os.cpu_count() or 1)


def _split_choices(ctx, param, value, choices, noun):
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise click.BadParameter(f"no {noun} given: expected 'all' or a comma-separated list of {', '.join(choices)}",
                                 ctx=ctx, param=param)
    if names == ["all"]:
        return list(choices)
    for name in names:
        if name not in choices:
            raise click.BadParameter(f"unknown {noun} {name!r}: expected 'all' or a comma-separated list of "
                                     f"{', '.join(choices)}", ctx=ctx, param=param)
    return list(dict.fromkeys(names))


def tasks_callback(ctx, param, value):
    return _split_choices(ctx, param, value, TASK_NAMES, "task")


def models_callback(ctx, param, value):
    return _split_choices(ctx, param, value, MODEL_NAMES, "model")


def plot_callback(ctx, param, value):
    """Check that the folder of --plot exists and that matplotlib can be imported, before any training."""
    if value is None:
        return None
    folder = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(folder):
        raise click.BadParameter(f"folder {folder!r} does not exist: create it or choose another path",
                                 ctx=ctx, param=param)
    if importlib.util.find_spec("matplotlib") is None:
        raise click.BadParameter("matplotlib is not installed: run pip install 'calu-np[plot]'", ctx=ctx, param=param)
    return value


@click.command()
@click.option("--task", "tasks", default="all", show_default=True, callback=tasks_callback,
              help=f"Tasks to compare: 'all' or a comma-separated list of {', '.join(TASK_NAMES)}.")
@click.option("--models", default="all", show_default=True, callback=models_callback,
              help=f"Models to compare: 'all' or a comma-separated list of {', '.join(MODEL_NAMES)}.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Number of seeds (0, 1, …) per task and model; the table shows the median and the spread.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Adam steps of every baseline run (default 3000). CALU uses its own recipe.")
@click.option("--jobs", type=click.IntRange(min=1), default=DEFAULT_JOBS, show_default=True,
              help="Worker processes (default: 2, or 1 on a single-core machine); with more than 1 the "
              "progress bar advances by whole runs.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, callback=plot_callback,
              help="Also save a PNG: the errors on a log scale and the quantizer trajectories of one CALU run "
              "(needs the plot extra).")
@click.option("--trajectory-task", type=click.Choice(TASK_NAMES), default="mul", show_default=True,
              help="Task of the CALU run whose quantizer trajectories --plot draws.")
@json_option
@engine_option
def compare(tasks, models, seeds, steps, jobs, plot_path, trajectory_task, as_json):
    """Train every model on the same data and print the interpolation and extrapolation MSE table."""
    from calu_np import compare as runner

    baseline_steps = runner.DEFAULT_BASELINE_STEPS if steps is None else steps
    runs = [runner.Run(task, model, seed) for task in tasks for model in models for seed in range(seeds)]
    total = sum(runner.planned_units(run, baseline_steps) for run in runs)

    start = time.perf_counter()
    with progress_bar(total, f"Training {len(runs)} runs") as bar:
        records = runner.run_compare(tasks, models, seeds, baseline_steps, progress=bar.update, jobs=jobs)
    seconds = time.perf_counter() - start
    summary = runner.summarise(records)

    if plot_path is not None:
        trajectory_steps = runner.planned_units(runner.Run(trajectory_task, "calu", 0), baseline_steps)
        with progress_bar(trajectory_steps, "Recording quantizer trajectories") as bar:
            trajectory = runner.record_quantizer_trajectory(trajectory_task, seed=0, progress=bar.update)
        runner.plot_comparison(summary, tasks, models, trajectory, plot_path)

    if as_json:
        print_json(runner.to_json(records, summary, tasks, models, seeds, baseline_steps, seconds))
        return
    click.echo(runner.format_table(summary, tasks, models, seeds))
    click.echo(f"\n{len(runs)} runs in {seconds:.0f} s; baselines trained for {baseline_steps} Adam steps each.")
    if plot_path is not None:
        click.echo(f"Figure written to {plot_path}")
