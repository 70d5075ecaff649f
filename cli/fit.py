"""`calu-np fit`: discover an exact law in a user's table and print it.

The law goes to stdout in the form chosen by --emit, so `calu-np fit data.csv --target y
--emit python > law.py` writes a usable module. The report (chosen stack, errors) goes to stderr.
"""

import click

from .common import output_path_callback, progress_bar, q_callback, seed_option


def _fraction(ctx, param, value):
    if not 0 <= value < 1:
        raise click.BadParameter(f"{value} is not in [0, 1): give a fraction of the rows such as 0.2", ctx=ctx, param=param)
    return value


def resolve_layers(text, n_inputs, n_outputs):
    """Parse --layers, adding the input size when the text starts with a layer ("6:CALUm 1:CALUa")."""
    from calu_np.spec import parse_layers

    tokens = text.split()
    if tokens and ":" in tokens[0]:
        text = f"{n_inputs} {text}"
    spec = parse_layers(text)
    if spec.n_inputs != n_inputs or spec.n_outputs != n_outputs:
        raise click.BadParameter(
            f"'{spec}' maps {spec.n_inputs} inputs to {spec.n_outputs} outputs, "
            f"but the table gives {n_inputs} inputs and {n_outputs} targets",
            param_hint="--layers",
        )
    return str(spec)


def report_error(label, Y_true, Y_pred, rows):
    """Format one line of errors: MSE and MSE relative to the mean square of the target."""
    import numpy as np

    if rows == 0:
        return f"{label}: no rows"
    Y_pred = np.reshape(Y_pred, Y_true.shape)
    with np.errstate(all="ignore"):
        error = float(np.mean((Y_true - Y_pred) ** 2))
        relative = error / float(np.mean(Y_true**2))
    return f"{label}: MSE {error:.3e}, relative MSE {relative:.3e} ({rows} rows)"


def _single_target(values):
    """Return the one --target text, rejecting a repeated option that click would silently drop."""
    if len(values) > 1:
        raise click.BadParameter("give --target once; separate several targets with commas, as in y1,y2",
                                 param_hint="--target")
    return values[0]


@click.command()
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--target", required=True, multiple=True, callback=lambda ctx, param, value: _single_target(value),
              help="Target column, or several separated by commas (y1,y2).")
@click.option("--inputs", default=None, help="Input columns separated by commas (default: every other column).")
@click.option("--layers", default=None,
              help="Pin the layer stack, for example '6:CALUm 1:CALUa' (default: search a few stacks).")
@click.option("--q", "q", multiple=True, callback=q_callback,
              help="Pin the quantized set, such as -2..2 or '-2..2,pi'; once for every layer or once per layer.")
@click.option("--scale", is_flag=True,
              help="Fit one free real factor per output, reported as a number: y = s * (exact law).")
@click.option("--steps", type=click.IntRange(min=1), default=2000, show_default=True,
              help="Adam steps of each candidate's main run.")
@click.option("--restarts", type=click.IntRange(min=1), default=2, show_default=True,
              help="Initialisations tried before each main run.")
@click.option("--holdout", type=float, default=0.2, show_default=True, callback=_fraction,
              help="Fraction of the in-range rows held out to measure the error.")
@click.option("--outer", type=float, default=0.1, show_default=True, callback=_fraction,
              help="Fraction of rows, the most extreme ones, kept out of training to measure extrapolation.")
@click.option("--emit", type=click.Choice(["text", "latex", "python", "sympy"]), default="text", show_default=True,
              help="Form in which the law is printed.")
@click.option("--out", type=click.Path(dir_okay=False), default=None, callback=output_path_callback,
              help="Write the fitted model to this .npz file.")
@seed_option
def fit(data, target, inputs, layers, q, scale, steps, restarts, holdout, outer, emit, out, seed):
    """Discover an exact law in a CSV or .npz table and print it with the column names."""
    from calu_np.export import emit as emit_law
    from calu_np.regressor import CALURegressor, count_weights
    from calu_np.spec import parse_layers
    from calu_np.tabular import load_table, split_rows
    from calu_np.train import TrainingDiverged

    try:
        table = load_table(data, target, inputs)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    n_inputs, n_outputs = table.X.shape[1], table.Y.shape[1]

    layer_text = resolve_layers(layers, n_inputs, n_outputs) if layers is not None else None
    model = CALURegressor(layers=layer_text, q=q, steps=steps, restarts=restarts, scale=scale, random_state=seed)
    try:
        candidates = model.candidates(n_inputs, n_outputs)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--q") from None

    split = split_rows(table.X, holdout, outer, seed)
    smallest = min(count_weights(parse_layers(text)) for text, _ in candidates)
    if len(split.train) < smallest:
        raise click.UsageError(
            f"{data} leaves {len(split.train)} training rows but the smallest layer stack has {smallest} weights: "
            "give more rows or a smaller --layers"
        )

    model.feature_names_in_ = table.input_names
    model.output_names_ = table.output_names
    total = len(candidates) * (steps + (restarts * max(1, steps // 2) if restarts > 1 else 0))
    try:
        with progress_bar(total, "fitting") as bar:
            y = table.Y[split.train, 0] if n_outputs == 1 else table.Y[split.train]
            model.fit(table.X[split.train], y, progress=bar.update)
    except TrainingDiverged as error:
        raise click.ClickException(f"training stopped: {error}") from None
    except ValueError as error:
        raise click.UsageError(str(error)) from None

    chosen = model.best_candidate_
    click.echo(f"layers {chosen.layers}, Q {' / '.join(chosen.q)}, {len(model.candidates_)} of {len(candidates)} "
               "candidates tried", err=True)
    click.echo(report_error("training rows", table.Y[split.train], model.predict(table.X[split.train]), len(split.train)), err=True)
    click.echo(report_error("held-out rows", table.Y[split.holdout], model.predict(table.X[split.holdout]), len(split.holdout)), err=True)
    if len(split.outer):
        click.echo(report_error("rows outside the training range", table.Y[split.outer],
                                model.predict(table.X[split.outer]), len(split.outer)), err=True)
    if scale:
        click.echo("scale: " + ", ".join(f"{name} {s!r}" for name, s in zip(table.output_names, model.scale_)), err=True)
    if out is not None:
        try:
            model.save(out, {"source": str(data)})
        except (ValueError, OSError) as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"model written to {out}", err=True)

    click.echo(emit_law(model.expressions(), model.scale_, table.input_names, table.output_names, emit))
