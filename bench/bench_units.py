"""Measure one baseline unit's training steps: the numba kernel against its NumPy twin and `fit`.

Run from the repository root:

    PYTHONPATH=. python bench/bench_units.py

The unit has two inputs and one output, the batch has 128 rows, as in the NALM benchmark.
Contenders, per step:

- numba: `calu_np.baselines.unit.train_steps` with the numba kernel, many steps per call;
- twin: the same call with engine="numpy", the NumPy twin the tests hold the kernel to;
- fit: `calu_np.baselines.fit`, the general training loop that `calu-np compare` uses.

Each contender runs in several rounds, interleaved with the others, after a warm-up that
includes numba's compilation; the fastest round counts. The script prints microseconds per
step and the ratios to numba.
"""

import argparse
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from calu_np.baselines import BaselineModel, FitConfig, fit  # noqa: E402
from calu_np.baselines.unit import UnitSchedule, pack, train_steps  # noqa: E402

KINDS = ("NAU", "NMU", "NALU", "NPU")
BATCH = 128


def unit_seconds(kind, x, t, steps, engine):
    """Return the seconds of `steps` steps of the unit trainer on the chosen engine."""
    model = BaselineModel(f"2 1:{kind}")
    model.initialise(np.random.default_rng(0))
    theta = pack(kind, model.layer_params(0))
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    batches = np.random.default_rng(1).integers(0, len(x), (steps, BATCH))
    schedule = UnitSchedule(total_steps=steps, lr=1e-3)
    start = time.perf_counter()
    train_steps(kind, 2, theta, m, v, theta.copy(), x, t, batches, 0, schedule, np.zeros(steps), engine=engine)
    return time.perf_counter() - start


def fit_seconds(kind, x, t, steps):
    """Return the seconds of `steps` steps of `baselines.fit` on the same unit."""
    config = FitConfig(steps=steps, batch_size=BATCH, lr=1e-3, lr_end=1e-3, sparsity_strength=0.0)
    start = time.perf_counter()
    fit(BaselineModel(f"2 1:{kind}"), x, t[:, None], config)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per contender (default 5)")
    parser.add_argument("--steps", type=int, default=2000, help="steps per round of numba (default 2000)")
    arguments = parser.parse_args()
    if arguments.rounds < 1 or arguments.steps < 10:
        raise SystemExit("invalid --rounds or --steps: expected at least 1 round of at least 10 steps")

    rng = np.random.default_rng(0)
    x = rng.uniform(1.0, 2.0, (50_000, 2))
    t = x[:, 0] * x[:, 1]
    # The slow contenders run a tenth of the steps, so every round takes about as long.
    slow_steps = max(arguments.steps // 10, 10)

    print("| unit | numba (µs/step) | twin (µs/step) | fit (µs/step) | twin ÷ numba | fit ÷ numba |")
    print("|---|---|---|---|---|---|")
    for kind in KINDS:
        unit_seconds(kind, x, t, 20, "numba")  # compiles, or loads the cached kernel
        best = {"numba": np.inf, "twin": np.inf, "fit": np.inf}
        for _ in range(arguments.rounds):
            best["numba"] = min(best["numba"], unit_seconds(kind, x, t, arguments.steps, "numba") / arguments.steps)
            best["twin"] = min(best["twin"], unit_seconds(kind, x, t, slow_steps, "numpy") / slow_steps)
            best["fit"] = min(best["fit"], fit_seconds(kind, x, t, slow_steps) / slow_steps)
        micro = {name: 1e6 * value for name, value in best.items()}
        print(f"| {kind} | {micro['numba']:.2f} | {micro['twin']:.1f} | {micro['fit']:.1f} "
              f"| {micro['twin'] / micro['numba']:.0f} | {micro['fit'] / micro['numba']:.0f} |")


if __name__ == "__main__":
    main()
