"""Run `run_regression` over several seeds for each of the talk's tasks and print the table.

Usage (from the repository root):

    PYTHONPATH=. python bench/regression_seeds.py --tasks all --seeds 0-9 --jobs 2

Each row is one (task, seed): interpolation and extrapolation MSE before and after the snap,
the snap method, and the wall-clock seconds of training plus snap. The summary counts the seeds
whose extrapolation MSE after the snap is at most --threshold. `--set name=value` overrides a
TrainConfig field for every run, for example `--set restarts=1 --set steps=2000`.
"""

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

# One BLAS thread per worker: the jobs already use the cores, and more threads only contend.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")


def parse_seeds(text):
    """Parse "0-9" or "0,3,5" into a list of ints."""
    seeds = []
    for part in text.split(","):
        if "-" in part:
            low, high = part.split("-")
            seeds.extend(range(int(low), int(high) + 1))
        else:
            seeds.append(int(part))
    return seeds


def parse_overrides(pairs):
    """Parse ["restarts=1", "lr=0.01"] into {"restarts": 1, "lr": 0.01}."""
    overrides = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        number = float(value)
        overrides[name] = int(number) if number.is_integer() and "." not in value and "e" not in value else number
    return overrides


def run_one(task, seed, overrides):
    from calu_np.experiment import default_config, run_regression
    from calu_np.train import TrainingDiverged

    config = default_config(task, seed)
    for name, value in overrides.items():
        if not hasattr(config, name):
            raise ValueError(f"unknown TrainConfig field {name!r} in --set")
        setattr(config, name, value)
    start = time.perf_counter()
    try:
        result = run_regression(task, seed=seed, config=config)
    except TrainingDiverged as error:
        nan = float("nan")
        return dict(task=task, seed=seed, before=(nan, nan), after=(nan, nan),
                    method=f"diverged: {error}", seconds=time.perf_counter() - start)
    before, after = result.metrics["before_snap"], result.metrics["after_snap"]
    method = result.snap_report.method if result.snap_report.kept else "rejected"
    return dict(
        task=task,
        seed=seed,
        before=(before["interpolation_mse"], before["extrapolation_mse"]),
        after=(after["interpolation_mse"], after["extrapolation_mse"]),
        method=method,
        seconds=time.perf_counter() - start,
    )


def format_row(row):
    b_in, b_out = row["before"]
    a_in, a_out = row["after"]
    return (f"| {row['task']} | {row['seed']} | {b_in:.1e} | {b_out:.1e} | {a_in:.1e} | {a_out:.1e} "
            f"| {row['method']} | {row['seconds']:.0f} |")


def main(argv=None):
    from calu_np.tasks import TASKS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="all", help="comma-separated task names, or 'all'")
    parser.add_argument("--seeds", default="0-9", help="seeds as 0-9 or 0,3,5")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--threshold", type=float, default=1e-20, help="extrapolation MSE that counts as solved")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a TrainConfig field for every run")
    args = parser.parse_args(argv)

    tasks = list(TASKS) if args.tasks == "all" else args.tasks.split(",")
    seeds = parse_seeds(args.seeds)
    overrides = parse_overrides(args.set)
    jobs = [(task, seed) for task in tasks for seed in seeds]

    print("| task | seed | interp. before | extrap. before | interp. after | extrap. after | snap method | s |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(run_one, task, seed, overrides) for task, seed in jobs]
        for future in futures:
            row = future.result()
            rows.append(row)
            print(format_row(row), flush=True)

    print()
    print(f"| task | extrap. MSE after snap ≤ {args.threshold:g} | median s |")
    print("|---|---|---|")
    for task in tasks:
        task_rows = [row for row in rows if row["task"] == task]
        solved = sum(1 for row in task_rows if row["after"][1] <= args.threshold)
        seconds = sorted(row["seconds"] for row in task_rows)
        print(f"| {task} | {solved}/{len(task_rows)} | {seconds[len(seconds) // 2]:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
