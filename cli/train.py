"""`calu-np train`: train a CALU network on one of the talk's tasks, snap it and print its formula."""

import time

import click

from .common import (
    engine_option,
    finite_callback,
    format_mse,
    json_option,
    layers_callback,
    output_path_callback,
    print_json,
    progress_bar,
    q_callback,
    seed_option,
)

REGRESSION_TASKS = ("const", "identity", "add", "sub", "mul", "div", "multinomial", "lorentz")


@click.command()
@click.option("--task", required=True, type=click.Choice(REGRESSION_TASKS + ("hz-mumu",)),
              help="Which of the talk's experiments to train; hz-mumu is the Higgs vs Z → μμ classifier.")
@seed_option
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Adam steps of the main run (default: the task's own).")
@click.option("--layers", callback=layers_callback, default=None,
              help="Layer stack written as in the talk, for example '2 5:CALUm 1:CALUa' (default: the task's own).")
@click.option("--q", "q", multiple=True, callback=q_callback,
              help="Quantized set such as 0..2, -2..2 or e,pi; give it once for every layer or once per layer.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, callback=finite_callback,
              help="Initial Adam learning rate; it decays geometrically to a tenth (default 0.02).")
@click.option("--out", type=click.Path(dir_okay=False), default=None, callback=output_path_callback,
              help="Write the trained model to this .npz file.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, callback=output_path_callback,
              help="hz-mumu only: write a plot of the learned invariant feature against the muon-pair mass "
              "(needs the [plot] extra).")
@json_option
@engine_option
def train(task, seed, steps, layers, q, lr, out, plot_path, as_json):
    """Train a CALU network on one of the talk's tasks and print the learned formula.

    hz-mumu trains the talk's two classifiers on 13 TeV Higgs and Z → μμ events and tests them
    at 13 and 100 TeV.
    """
    if task == "hz-mumu":
        for name, value in (("--layers", layers), ("--q", q), ("--lr", lr), ("--out", out)):
            if value is not None:
                raise click.BadParameter(f"{name} is not used by --task hz-mumu", param_hint=name)
        _train_hz_mumu(seed, steps, plot_path, as_json)
        return
    if plot_path is not None:
        raise click.BadParameter("--plot is only available with --task hz-mumu", param_hint="--plot")
    _train_regression(task, seed, steps, layers, q, lr, out, as_json)


def _train_regression(task, seed, steps, layers, q, lr, out, as_json):
    """Train, snap and report one of the regression tasks; see `train`."""
    from calu_np.experiment import default_config, run_regression
    from calu_np.formula import formulas_of
    from calu_np.io import save_model
    from calu_np.tasks import get_task
    from calu_np.train import TrainingDiverged, planned_steps

    task_info = get_task(task)
    spec_text = str(layers) if layers is not None else None
    if spec_text is not None:
        if layers.n_inputs != task_info.n_inputs or layers.n_outputs != len(task_info.output_names):
            raise click.BadParameter(
                f"'{spec_text}' has {layers.n_inputs} input(s) and {layers.n_outputs} output(s), "
                f"but task {task} has {task_info.n_inputs} and {len(task_info.output_names)}",
                param_hint="--layers",
            )
    n_layers = len(layers.layers) if layers is not None else len(task_info.q)
    if q is not None and len(q) not in (1, n_layers):
        raise click.BadParameter(f"got {len(q)} sets for {n_layers} layers: give one for all layers or one per layer",
                                 param_hint="--q")

    start = time.perf_counter()
    total = planned_steps(default_config(task, seed=seed, steps=steps, lr=lr))
    try:
        with progress_bar(total, f"training {task}") as bar:
            result = run_regression(task, seed=seed, steps=steps, layers=spec_text, q=q, lr=lr, progress=bar.update)
    except TrainingDiverged as error:
        raise click.ClickException(f"training stopped: {error}") from None
    seconds = time.perf_counter() - start

    network = result.network
    formulas = formulas_of(network, task_info.input_names, task_info.output_names)
    summary = {
        "task": task,
        "layers": str(network.spec),
        "q": q if q is not None else list(task_info.q),
        "seed": seed,
        "steps": result.config.steps,
        "metrics": result.metrics,
        "snap": {
            "kept": result.snap_report.kept,
            "method": result.snap_report.method,
            "training_mse_before": result.snap_report.loss_before,
            "training_mse_after": result.snap_report.loss_after,
            "exact": result.snap_report.exact,
        },
        "formula": formulas,
        "seconds": round(seconds, 2),
    }

    if out is not None:
        metadata = {
            "task": task,
            "seed": seed,
            "input_names": list(task_info.input_names),
            "output_names": list(task_info.output_names),
            "metrics": result.metrics,
            "train_config": result.config.as_dict(),
        }
        try:
            save_model(out, network, metadata)
        except (ValueError, OSError) as error:
            raise click.ClickException(str(error)) from None
        summary["model"] = out

    if as_json:
        print_json(summary)
        return

    before, after = result.metrics["before_snap"], result.metrics["after_snap"]
    click.echo(f"task {task}: {task_info.description}")
    click.echo(f"layers {network.spec}, seed {seed}, {seconds:.1f} s")
    click.echo(f"{'':14}{'interpolation MSE':>20}{'extrapolation MSE':>20}")
    click.echo(f"{'before snap':14}{format_mse(before['interpolation_mse']):>20}{format_mse(before['extrapolation_mse']):>20}")
    click.echo(f"{'after snap':14}{format_mse(after['interpolation_mse']):>20}{format_mse(after['extrapolation_mse']):>20}")
    click.echo(result.snap_report.describe())
    if not result.snap_report.exact:
        click.echo("warning: the training error did not reach float64 round-off, so the formula below is "
                   "not exact; try another --seed or more --steps", err=True)
    click.echo("learned formula:")
    for line in formulas:
        click.echo(f"  {line}")
    if out is not None:
        click.echo(f"model written to {out}")


def _train_hz_mumu(seed, steps, plot_path, as_json):
    """Run the Higgs vs Z → μμ experiment and print its accuracy table and CALUa features."""
    from calu_np.hep.hz_mumu import HZConfig, load_data, run_hz_mumu

    config = HZConfig() if steps is None else HZConfig.from_steps(steps)
    data = load_data()
    with progress_bar(config.total_steps, "training hz-mumu") as bar:
        result = run_hz_mumu(seed=seed, config=config, progress=bar.update, data=data)

    if as_json:
        print_json({
            "task": "hz-mumu",
            "seed": seed,
            "accuracy": result.accuracy,
            "features": result.formulas(),
            "invariant_features": result.invariant_features,
            "seconds": round(result.seconds, 2),
        })
    else:
        _print_hz_mumu(result)
    if plot_path is not None:
        _plot_invariant(result, data, plot_path)


def _print_hz_mumu(result):
    click.echo(result.table())
    click.echo("snapped CALUa features (inputs in units of 100 GeV):")
    for line in result.formulas():
        click.echo(f"  {line}")
    if result.invariant_features:
        names = ", ".join(f"f{i}" for i in result.invariant_features)
        click.echo(f"{names}: a multiple of the Lorentz invariant p1·p2 = E1*E2 - Px1*Px2 - Py1*Py2 - Pz1*Pz2")
    else:
        click.echo("no feature equals a multiple of p1·p2 in this run")


def _plot_invariant(result, data, plot_path):
    """Plot the first feature equal to p1·p2 against the muon-pair mass, or report that there is none."""
    from calu_np.hep.plot import plot_feature_vs_mass

    if not result.invariant_features:
        click.echo("no plot written: no feature equals a multiple of p1·p2", err=True)
        return
    _, (x13, y13), (x100, y100) = data
    samples = {"13 TeV": (x13, y13), "100 TeV": (x100, y100)}
    try:
        plot_feature_vs_mass(result.models["calu"], samples, result.invariant_features[0], plot_path)
    except ImportError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"plot written to {plot_path}", err=True)
