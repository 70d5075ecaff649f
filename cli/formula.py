"""`calu-np formula`: print the law stored in a saved model."""

import click


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--emit", type=click.Choice(["text", "latex", "python", "sympy"]), default="text", show_default=True,
              help="Form in which the law is printed.")
def formula(model, emit):
    """Print the law of a model saved by `calu-np fit --out` or `calu-np train --out`."""
    from calu_np.export import emit as emit_law
    from calu_np.regressor import CALURegressor

    try:
        regressor, _ = CALURegressor.load(model)
        text = emit_law(regressor.expressions(), regressor.scale_, regressor.input_names(),
                        regressor.output_names(), emit)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    click.echo(text)
