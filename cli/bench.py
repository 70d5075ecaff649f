"""`calu-np bench`: benchmark sweeps. `bench nalm` runs the single-module arithmetic task of the
Neural Arithmetic Logic Modules benchmark over models, operations, ranges and seeds."""

import logging
import os
import sys
import time

import click

from .common import output_path_callback

OPERATIONS = ("add", "sub", "mul", "div")
MODELS = ("calu", "nau", "nmu", "nac", "nalu", "npu")
# The interpolation ranges of `calu_np.nalm.RANGES` in order, for the help text without importing
# NumPy; tests/test_nalm.py checks that the two agree.
RANGE_NUMBERS = "1=[-20,-10], 2=[-2,-1], 3=[-1.2,-1.1], 4=[-0.2,-0.1], 5=[-2,2], 6=[0.1,0.2], 7=[1,2], 8=[1.1,1.2], 9=[10,20]"


def _count(n, noun, plural=None):
    """Return "1 cell" or "3 cells" (`plural` for nouns without a plain "s")."""
    return f"{n} {noun}" if n == 1 else f"{n} {plural or noun + 's'}"


def _comma_list(allowed):
    """Return a click callback that splits "a,b" into a list and checks every item."""

    def parse(ctx, param, value):
        items = [item.strip().lower() for item in value.split(",") if item.strip()]
        if items == ["all"]:
            return list(allowed)
        if not items:
            raise click.BadParameter(f"expected a comma-separated list from {', '.join(allowed)}, or 'all'")
        for item in items:
            if item not in allowed:
                raise click.BadParameter(f"unknown value {item!r}: expected a comma-separated list from "
                                         f"{', '.join(allowed)}, or 'all'")
        return list(dict.fromkeys(items))

    return parse


def _early_stop_models(ctx, param, value):
    """Turn --early-stop into a list of models: 'none' gives an empty list."""
    items = [item.strip().lower() for item in value.split(",") if item.strip()]
    if items == ["none"]:
        return []
    if items == ["all"]:
        return list(MODELS)
    unknown = [item for item in items if item not in MODELS]
    if not items or unknown:
        found = f"unknown value {unknown[0]!r}: " if unknown else ""
        raise click.BadParameter(f"{found}expected 'none', 'all' or a comma-separated list from {', '.join(MODELS)}")
    return list(dict.fromkeys(items))


def _parse_ranges(ctx, param, value):
    """Turn --ranges into range indices: 'all', or 1-based numbers and interpolation ranges like '[1,2]'."""
    from calu_np.nalm import RANGES

    text = value.strip().lower()
    if text == "all":
        return list(range(len(RANGES)))
    names = {pair.name.replace(" ", ""): i for i, pair in enumerate(RANGES)}
    indices = []
    for item in text.replace(" ", "").split(";"):
        # The tables write a range as U[1,2], so that form is accepted too.
        item = item[1:] if item.startswith("u[") else item
        if item.isdigit() and 1 <= int(item) <= len(RANGES):
            indices.append(int(item) - 1)
        elif item in names:
            indices.append(names[item])
        else:
            known = "; ".join(f"{i + 1}={pair.name}" for i, pair in enumerate(RANGES))
            raise click.BadParameter(f"unknown range {item!r}: give 'all' or a ';'-separated list of numbers or "
                                     f"interpolation ranges ({known})")
    return list(dict.fromkeys(indices))


@click.group()
def bench():
    """Run benchmark sweeps and write their tables."""


@bench.command()
@click.option("--models", default="calu,nau,nmu,nalu,npu", show_default=True, callback=_comma_list(MODELS),
              help=f"Comma-separated models from {', '.join(MODELS)}, or 'all'.")
@click.option("--ops", default="all", show_default=True, callback=_comma_list(OPERATIONS),
              help="Comma-separated operations from add, sub, mul, div, or 'all'.")
@click.option("--ranges", default="all", show_default=True, callback=_parse_ranges,
              help=f"'all', or a ';'-separated list of range numbers or interpolation ranges such as '[1,2]' "
              f"(quote it for the shell). The numbers: {RANGE_NUMBERS}.")
@click.option("--seeds", type=click.IntRange(min=1), default=25, show_default=True,
              help="Number of seeds (runs) per model, operation and range, starting at --first-seed.")
@click.option("--first-seed", type=click.IntRange(min=0), default=0, show_default=True, help="First seed.")
@click.option("--iterations", type=click.IntRange(min=1), default=50_000, show_default=True,
              help="Training iterations (optimizer steps) per run.")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Iterations between evaluations of the interpolation and extrapolation MSE.")
@click.option("--early-stop", "early_stop_models", default="calu", show_default=True, callback=_early_stop_models,
              help="Models whose runs stop at the first checkpoint with an interpolation MSE below the success "
              "threshold simulated on the interpolation range (the MSE of the exact solution with every weight "
              "moved by 1e-5): comma-separated, 'all' or 'none'. The others run every iteration. Results "
              "made with other --early-stop, --iterations or --checkpoint-every values stay in the results "
              "file but are not used.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes on this machine.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run the cells on the Dask distributed cluster at this scheduler address, "
              "such as tcp://HOST:8786 (needs the dask extra).")
@click.option("--results", "results_path", type=click.Path(dir_okay=False), default="nalm-results.jsonl",
              callback=output_path_callback,
              show_default=True, help="JSON-lines file of finished runs; cells already in it are skipped.")
@click.option("--table", "table_path", type=click.Path(dir_okay=False), default=None,
              callback=output_path_callback, help="Markdown tables to write (default: the results path with .md).")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), default=None, callback=output_path_callback,
              help="CSV table to write (default: the results path with .csv).")
def nalm(models, ops, ranges, seeds, first_seed, iterations, checkpoint_every, early_stop_models, jobs, scheduler,
         results_path, table_path, csv_path):
    """Run the single-module arithmetic task of the Neural Arithmetic Logic Modules benchmark.

    Every (model, op, range, seed) cell trains one model on y = a ∘ b and is appended to the
    results file when it finishes, so an interrupted sweep can be rerun to complete it. The
    table lists the success rate with its 95% Wilson interval, the median iteration at which
    successful runs first met the criterion, and the median quantization error. For CALU that
    error is measured before the snap, so a solved run can show a large one.
    """
    from calu_np import nalm as benchmark
    from calu_np.io import atomic_open

    if checkpoint_every > iterations:
        raise click.BadParameter(f"{checkpoint_every} is more than --iterations {iterations}: "
                                 "give a checkpoint interval of at most the iteration count",
                                 param_hint="'--checkpoint-every'")
    if scheduler is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise click.UsageError("--scheduler needs the dask extra: pip install 'calu-np[dask]'") from None

    stem = os.path.splitext(results_path)[0]
    table_path = table_path or f"{stem}.md"
    csv_path = csv_path or f"{stem}.csv"
    protocol = benchmark.Protocol(iterations=iterations, checkpoint_every=checkpoint_every,
                                  early_stop_models=tuple(early_stop_models))
    cells = benchmark.make_cells(models, ops, ranges, range(first_seed, first_seed + seeds))
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    all_records = benchmark.read_results(results_path)
    done = benchmark.finished_records(results_path, protocol, records=all_records)
    other = sum(record.get("protocol") != protocol.as_dict() for record in all_records)
    if other:
        click.echo(f"note: {_count(other, 'run')} in {results_path} used other --iterations, --checkpoint-every or "
                   "--early-stop values and are left out", err=True)
    pending = sum(cell.key() not in done for cell in cells)
    where = f"the Dask cluster at {scheduler}" if scheduler else _count(jobs, "worker process", "worker processes")
    click.echo(f"{_count(len(cells), 'cell')}: {len(cells) - pending} already in {results_path}, "
               f"{pending} to run on {where}", err=True)

    start = time.perf_counter()
    finished_now = []

    def on_result(record):
        finished_now.append(record["key"])
        bar.update(1, record["key"])

    with click.progressbar(length=pending, label="nalm cells", file=sys.stderr, show_eta=True,
                           show_percent=True, item_show_func=lambda key: key) as bar:
        try:
            outcome = benchmark.run_sweep(cells, protocol, results_path, jobs=jobs, scheduler=scheduler,
                                          on_result=on_result, done=done)
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted: {_count(len(finished_now), 'finished cell')} of this run saved in "
                       f"{results_path}; rerun the same command to run the remaining {pending - len(finished_now)}",
                       err=True)
            sys.exit(130)
        except OSError as error:
            raise click.ClickException(f"cannot write {results_path}: {error}") from None
        except RuntimeError as error:
            raise click.ClickException(str(error)) from None
    seconds = time.perf_counter() - start

    versions = sorted({record.get("code_version", "unknown") for record in outcome.records})
    if len(versions) > 1:
        click.echo(f"warning: the table mixes runs of {len(versions)} versions of calu_np ({', '.join(versions)}); "
                   "use a new --results file to measure one version", err=True)
    rows = benchmark.summarise(outcome.records)
    early = ", ".join(protocol.early_stop_models) or "none"
    table = "\n".join([
        f"{_count(len(outcome.records), 'run')}, "
        f"{f'seed {first_seed}' if seeds == 1 else f'seeds {first_seed}–{first_seed + seeds - 1}'}, {iterations} iterations, "
        f"checkpoints every {checkpoint_every}, early stop: {early}, calu_np code version {', '.join(versions)}.\n",
        "### Successes (bold: at least 95%)\n",
        benchmark.markdown_success_matrix(rows),
        "### Speed per model\n",
        benchmark.markdown_model_times(outcome.records),
        "### Every model, operation and range\n",
        benchmark.markdown_table(rows),
    ])
    try:
        with atomic_open(table_path, "w", encoding="utf-8") as file:
            file.write(table)
        benchmark.write_csv(rows, csv_path)
    except (OSError, ValueError) as error:
        raise click.ClickException(f"cannot write the tables: {error}") from None
    click.echo(table)
    click.echo(f"ran {_count(outcome.ran, 'cell')} in {seconds:.0f} s, skipped {outcome.skipped} finished ones; "
               f"wrote {table_path} and {csv_path}", err=True)
    if outcome.failed:
        raise click.ClickException(f"{_count(len(outcome.failed), 'cell')} failed, first {outcome.failed[0][0]}: "
                                   f"{outcome.failed[0][1]}; rerun the same command to retry them")
