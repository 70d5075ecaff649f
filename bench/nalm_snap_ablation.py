"""Run CALU's cells of the NALM benchmark with parts of its snap turned off, to see what each part does.

Usage (from the repository root):

    PYTHONPATH=. python bench/nalm_snap_ablation.py --set snap_search=false --seeds 1 --jobs 2 \
        --results /tmp/nalm-no-search.jsonl

Every cell runs as in `calu-np bench nalm --models calu --early-stop none` (same protocol, data
and thresholds, and no early stop unless `--early-stop calu`), except that each
`--set name=value` overrides a field of CALU's TrainConfig, for example `snap_search=false`
(no feature search) or `snap_rounds=0` (no retraining rounds).
Give each set of overrides its own results file, which the script checks. It prints the
success matrix and the per-model times.
"""

import argparse
import os
import sys
from dataclasses import fields, replace

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

from calu_np import nalm  # noqa: E402
from calu_np.train import TrainConfig  # noqa: E402

_OVERRIDES = {}
_original_config = nalm._calu_config


def _config_with_overrides(cell, protocol, task):
    return replace(_original_config(cell, protocol, task), **_OVERRIDES)


def _parse_value(name, text):
    kinds = {field.name: field.type for field in fields(TrainConfig)}
    if name not in kinds:
        raise SystemExit(f"unknown TrainConfig field {name!r}: expected one of {', '.join(kinds)}")
    kind = kinds[name] if isinstance(kinds[name], type) else type(getattr(TrainConfig(), name))
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise SystemExit(f"invalid value {text!r} for {name}: expected true or false")
        return text.lower() == "true"
    try:
        return kind(text)
    except ValueError:
        raise SystemExit(f"invalid value {text!r} for {name}: expected a {kind.__name__}") from None


def _run_cell_with_overrides(job):
    # Each worker sets the overrides itself, because a worker started by spawn imports a fresh module.
    overrides, cell_job = job
    _OVERRIDES.clear()
    _OVERRIDES.update(overrides)
    nalm._calu_config = _config_with_overrides
    return nalm.run_cell(*cell_job)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="a TrainConfig field to override for every CALU run")
    parser.add_argument("--ops", default="add,sub,mul,div")
    parser.add_argument("--seeds", type=int, default=1, help="number of seeds, from --first-seed on, as in calu-np bench")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--early-stop", choices=["none", "calu"], default="none",
                        help="'calu' stops each run at its first checkpoint below the interpolation threshold")
    parser.add_argument("--results", required=True, help="JSON-lines file of finished runs")
    arguments = parser.parse_args()

    overrides = {}
    for pair in arguments.overrides:
        name, separator, text = pair.partition("=")
        if not separator:
            raise SystemExit(f"invalid --set {pair!r}: expected NAME=VALUE")
        overrides[name] = _parse_value(name, text)
    protocol = nalm.Protocol(early_stop_models=() if arguments.early_stop == "none" else ("calu",))
    unknown = [op for op in arguments.ops.split(",") if op not in nalm.OPERATIONS]
    if unknown:
        raise SystemExit(f"unknown operation {unknown[0]!r} in --ops: expected names from {', '.join(nalm.OPERATIONS)}")
    if arguments.seeds < 1 or arguments.first_seed < 0:
        raise SystemExit("invalid --seeds or --first-seed: expected at least 1 seed, starting at 0 or more")
    seeds = range(arguments.first_seed, arguments.first_seed + arguments.seeds)
    cells = nalm.make_cells(["calu"], arguments.ops.split(","), range(len(nalm.RANGES)), seeds)
    done = nalm.finished_records(arguments.results, protocol)
    other = next((record for record in done.values() if record["detail"].get("overrides") != overrides), None)
    if other is not None:
        raise SystemExit(f"{arguments.results} contains runs with other overrides ({other['detail'].get('overrides')}): "
                         "give a new --results file for each set of overrides")
    pending = [cell for cell in cells if cell.key() not in done]
    thresholds = nalm.thresholds_for(pending, protocol)
    jobs = [(overrides, (cell, protocol) + thresholds[(cell.op, cell.range_index)]) for cell in pending]
    print(f"{len(cells)} cells, {len(pending)} to run with {overrides}", file=sys.stderr)

    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=max(arguments.jobs, 1)) as executor:
        futures = [executor.submit(_run_cell_with_overrides, job) for job in jobs]
        for count, future in enumerate(as_completed(futures), 1):
            try:
                record = future.result()
            except Exception as error:  # noqa: BLE001 - one failed cell must not stop the others
                print(f"{count}/{len(jobs)} failed: {type(error).__name__}: {error}; rerun to retry it", file=sys.stderr)
                continue
            record["detail"]["overrides"] = overrides
            nalm.append_result(arguments.results, record)
            print(f"{count}/{len(jobs)} {record['key']} solved={record['solved']}", file=sys.stderr)

    records = [record for record in nalm.finished_records(arguments.results, protocol).values()
               if record["key"] in {cell.key() for cell in cells}]
    print(nalm.markdown_success_matrix(nalm.summarise(records)))
    print(nalm.markdown_model_times(records))


if __name__ == "__main__":
    main()
