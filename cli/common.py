"""Options and helpers shared by the calu-np commands."""

import json
import math
import os
import sys

import click


def seed_option(function):
    return click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
                        help="Random seed; the same seed on the same machine gives identical results.")(function)


def json_option(function):
    return click.option("--json", "as_json", is_flag=True,
                        help="Print a machine-readable JSON summary on stdout instead of the text report.")(function)


def engine_option(function):
    def select(ctx, param, value):
        if value is not None:
            from calu_np import engine

            try:
                engine.set_engine(value)
            except ValueError as error:
                raise click.BadParameter(str(error), ctx=ctx, param=param) from None
        return value

    return click.option("--engine", default=None, expose_value=False, callback=select, is_eager=True,
                        help="Implementation of the layer kernels (numpy or numba); "
                        "default: the CALU_NP_ENGINE environment variable, else the fastest available.")(function)


def layers_callback(ctx, param, value):
    """Parse --layers into a NetworkSpec, or raise click.BadParameter."""
    if value is None:
        return None
    from calu_np.spec import parse_layers

    try:
        return parse_layers(value)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx=ctx, param=param) from None


def q_callback(ctx, param, value):
    """Check each --q text; returns the texts (one for every layer, or one per layer)."""
    if not value:
        return None
    from calu_np.spec import parse_q

    for text in value:
        try:
            parse_q(text)
        except ValueError as error:
            raise click.BadParameter(str(error), ctx=ctx, param=param) from None
    return list(value)


def output_path_callback(ctx, param, value):
    """Check that the folder of an output file exists, so a long run does not fail at the end."""
    if value is None:
        return None
    folder = os.path.dirname(os.path.abspath(value))
    if not os.path.isdir(folder):
        raise click.BadParameter(f"the folder {folder} does not exist", ctx=ctx, param=param)
    return value


def finite_callback(ctx, param, value):
    """Reject NaN and infinite numbers, which click's FloatRange lets through."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number", ctx=ctx, param=param)
    return value


def progress_bar(length, label):
    """Return a click progress bar on stderr, hidden when stderr is not a terminal."""
    return click.progressbar(length=length, label=label, file=sys.stderr, show_eta=True, show_percent=True)


def print_json(data):
    click.echo(json.dumps(data, indent=2, default=_to_json))


def _to_json(value):
    if isinstance(value, complex):
        return [value.real, value.imag]
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def format_mse(value):
    return f"{value:.3e}"
