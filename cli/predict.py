"""`calu-np predict`: evaluate a saved model on the rows of a CSV or .npz table."""

import csv
import sys

import click

from .common import output_path_callback


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), default=None, callback=output_path_callback,
              help="Write the predictions to this CSV file instead of stdout.")
def predict(model, data, out):
    """Print the model's predictions for every row of DATA as CSV.

    DATA must contain every input column the model was fitted on; other columns are ignored. When
    it also contains the target columns, the MSE against them is printed on stderr.
    """
    import numpy as np

    from calu_np.regressor import CALURegressor
    from calu_np.tabular import read_columns

    try:
        regressor, _ = CALURegressor.load(model)
        input_names = regressor.input_names()
        output_names = regressor.output_names()
        names, values = read_columns(data, needed=input_names)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    missing = [name for name in input_names if name not in names]
    if missing:
        raise click.UsageError(f"column {missing[0]!r} not found in {data}: the model needs {', '.join(input_names)}")

    index = {name: i for i, name in enumerate(names)}
    X = values[:, [index[name] for name in input_names]]
    bad = ~np.isfinite(X)
    if np.any(bad):
        row, column = np.argwhere(bad)[0]
        raise click.UsageError(f"invalid {data}: column {input_names[column]!r} is not finite in data row {row + 1}")
    Y = np.real(regressor.predict_complex(X))

    def write_rows(stream):
        writer = csv.writer(stream)
        writer.writerow(input_names + output_names)
        for x_row, y_row in zip(X, Y):
            writer.writerow([repr(float(v)) for v in x_row] + [repr(float(v)) for v in y_row])

    if out is None:
        write_rows(sys.stdout)
    else:
        from calu_np.io import atomic_open

        with atomic_open(out, "w", newline="") as stream:
            write_rows(stream)

    for k, name in enumerate(output_names):
        if name not in index:
            continue
        truth = values[:, index[name]]
        finite = np.isfinite(truth)
        if finite.any():
            error = float(np.mean((Y[finite, k] - truth[finite]) ** 2))
            relative = error / float(np.mean(truth[finite] ** 2))
            click.echo(f"{name}: MSE {error:.3e}, relative MSE {relative:.3e} ({int(finite.sum())} rows)", err=True)
