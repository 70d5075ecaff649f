"""Measure training steps per second of `CALUm → CALUa` for each engine, PyTorch and the BLAS floor.

Run from the repository root:

    python bench/bench_engines.py --threads 1 --output docs/benchmark-engines.md

One training step is what `calu_np.train.run_adam` does per mini-batch without the
regularizer: the total weights from logits and phasors, the forward pass, mean |y − t|², the
backward pass and one Adam update. Contenders, all in complex128 on the CPU:

- numba, numpy: `calu_np.network.Network` with that engine and `calu_np.optim.Adam`;
- torch: the same model written with PyTorch autograd and `torch.optim.Adam` (needs torch);
- floor: only the five complex matrix products of the step, through NumPy's BLAS (the forward
  products L M₁ᵀ and h M₂ᵀ, and the backward products G_y M₂, G_yᵀ h and G_sᵀ L; the first
  layer's input gradient is not needed for training).

Each contender runs in several rounds, interleaved with the others, after warm-up steps that
include numba's compilation; the fastest round counts, because other processes on the machine
only ever slow a round down. The script prints a Markdown table and writes it to --output, keeping the notes below the
marker line of an existing file.
"""

import argparse
import copy
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = [(128, 8, 50, 3), (1024, 8, 100, 4), (4096, 64, 512, 64)]  # (batch, inputs, width, outputs)
Q = (0.0, 1.0, 2.0)
LEARNING_RATE = 0.01
REPOSITORY = Path(__file__).resolve().parent.parent
NOTES_MARKER = "<!-- notes: kept by bench_engines.py -->"


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for BLAS, numba and torch (default: each library's own default)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per contender and size (default 5)")
    parser.add_argument("--seconds", type=float, default=0.5,
                        help="target duration of one round in seconds (default 0.5)")
    parser.add_argument("--output", type=Path, default=REPOSITORY / "docs" / "benchmark-engines.md",
                        help="Markdown file to write the table to (default docs/benchmark-engines.md)")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch contender")
    parser.add_argument("--no-cold-start", action="store_true", help="skip the cold-start measurement")
    return parser.parse_args()


ARGUMENTS = parse_arguments()
if ARGUMENTS.threads is not None:
    # Thread pools read these when the libraries load, so they are set before the imports below.
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[variable] = str(ARGUMENTS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(REPOSITORY))
from calu_np import engine  # noqa: E402
from calu_np.losses import mse_backward, mse_forward  # noqa: E402
from calu_np.network import Network, initialise  # noqa: E402
from calu_np.optim import Adam  # noqa: E402


def make_problem(batch, n_in, width, n_out, seed=0):
    """Return a network with initialised parameters, inputs x (nonzero, both signs) and targets t."""
    rng = np.random.default_rng(seed)
    network = Network(f"{n_in} {width}:CALUm {n_out}:CALUa", np.array(Q))
    initialise(network, rng)
    magnitude = rng.uniform(0.5, 2.0, size=(batch, n_in))
    x = (magnitude * rng.choice([-1.0, 1.0], size=(batch, n_in))).astype(np.complex128)
    t = rng.normal(size=(batch, n_out)).astype(np.complex128)
    return network, x, t


def calu_step_function(engine_name, network, x, t):
    """Return a function running one training step of `network` with the given engine."""
    network = copy.deepcopy(network)
    params = network.params
    optimizer = Adam(params, lr=LEARNING_RATE)

    def step():
        engine.set_engine(engine_name)
        y, cache = network.forward(x)
        _, residual = mse_forward(y, t)
        grads, _ = network.backward(mse_backward(residual), cache, input_grad=False)
        optimizer.step(params, grads, lr=LEARNING_RATE)

    return step


def torch_step_function(network, x, t):
    """Return a function running one training step of the same model written with PyTorch autograd."""
    import torch

    params = [torch.tensor(network.params[key], dtype=torch.float64, requires_grad=True)
              for key in ("0.logits", "0.theta", "1.logits", "1.theta")]
    q = torch.tensor(Q, dtype=torch.complex128)
    x_torch = torch.from_numpy(x)
    t_torch = torch.from_numpy(t)
    optimizer = torch.optim.Adam(params, lr=LEARNING_RATE)

    def total_weight(logits, theta):
        N = torch.softmax(logits, dim=-1).to(torch.complex128) @ q
        W = torch.polar(torch.ones_like(theta), torch.pi * torch.sigmoid(theta))
        return N * W

    def step():
        optimizer.zero_grad()
        M1 = total_weight(params[0], params[1])
        M2 = total_weight(params[2], params[3])
        # The inputs need no gradient, so autograd skips the input gradient of the first layer.
        h = torch.exp(torch.log(x_torch) @ M1.T)
        y = h @ M2.T
        loss = torch.view_as_real(y - t_torch).square().sum(dim=-1).mean()
        loss.backward()
        optimizer.step()

    return step


def floor_function(batch, n_in, width, n_out, seed=0):
    """Return a function running the step's five complex matrix products through NumPy's BLAS."""
    rng = np.random.default_rng(seed)

    def random_complex(*shape):
        return rng.normal(size=shape) + 1j * rng.normal(size=shape)

    L, M1 = random_complex(batch, n_in), random_complex(width, n_in)
    h, M2 = random_complex(batch, width), random_complex(n_out, width)
    G_y, G_s = random_complex(batch, n_out), random_complex(batch, width)

    def products():
        L @ M1.T
        h @ M2.T
        G_y @ M2
        G_y.T @ h
        G_s.T @ L

    return products


def time_rounds(functions, rounds, seconds):
    """Return {name: fastest seconds per call} over interleaved rounds of each function."""
    calls = {}
    for name, function in functions.items():
        for _ in range(2):
            function()
        start = time.perf_counter()
        function()
        calls[name] = max(1, int(seconds / max(time.perf_counter() - start, 1e-9)))

    best = {name: float("inf") for name in functions}
    for _ in range(rounds):
        for name, function in functions.items():
            start = time.perf_counter()
            for _ in range(calls[name]):
                function()
            best[name] = min(best[name], (time.perf_counter() - start) / calls[name])
    return best


COLD_START_SCRIPT = """
import time
start = time.perf_counter()
import numpy as np
from calu_np import engine
from calu_np.losses import mse_backward, mse_forward
from calu_np.network import Network, initialise
from calu_np.optim import Adam
engine.set_engine("numba")
rng = np.random.default_rng(0)
network = Network("8 50:CALUm 8:CALUa", np.array([0.0, 1.0, 2.0]))
initialise(network, rng)
x = rng.uniform(-2.0, 2.0, size=(128, 8)).astype(np.complex128)
optimizer = Adam(network.params)
y, cache = network.forward(x)
_, residual = mse_forward(y, x)
grads, _ = network.backward(mse_backward(residual), cache)
optimizer.step(network.params, grads)
print(time.perf_counter() - start)
"""


def measure_cold_start():
    """Return (seconds with an empty numba cache, seconds with that cache filled) to the first step.

    Each run is a fresh Python process training the identity task's network `8 50:CALUm 8:CALUa`
    for one step, with NUMBA_CACHE_DIR pointing at a new directory.
    """
    with tempfile.TemporaryDirectory() as cache_dir:
        environment = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, PYTHONPATH=str(REPOSITORY))
        times = []
        for _ in range(2):
            output = subprocess.run([sys.executable, "-c", COLD_START_SCRIPT], env=environment,
                                    capture_output=True, text=True, check=True).stdout
            times.append(float(output.strip().splitlines()[-1]))
    return times[0], times[1]


def describe_machine():
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.machine()}"


def describe_versions():
    import numba

    blas = "unknown BLAS"
    try:
        config = np.show_config(mode="dicts")
        blas_info = config["Build Dependencies"]["blas"]
        blas = f"{blas_info['name']} {blas_info['version']}"
    except (TypeError, KeyError):
        pass
    versions = f"Python {platform.python_version()}, NumPy {np.__version__} ({blas}), numba {numba.__version__}"
    if not ARGUMENTS.no_torch:
        import torch

        versions += f", PyTorch {torch.__version__}"
    return versions


def main():
    if importlib.util.find_spec("torch") is None:
        sys.exit("bench_engines.py compares against PyTorch, which is not installed: "
                 "pip install '.[bench]' (or torch==2.13.0 for the CPU build)")
    load_before = os.getloadavg()[0]
    rows = []
    for size in SIZES:
        network, x, t = make_problem(*size)
        functions = {
            "numba": calu_step_function("numba", network, x, t),
            "numpy": calu_step_function("numpy", network, x, t),
        }
        if not ARGUMENTS.no_torch:
            functions["torch"] = torch_step_function(network, x, t)
        functions["floor"] = floor_function(*size)
        # A step of the large size takes hundreds of times longer, so it gets fewer rounds.
        rounds = ARGUMENTS.rounds if size[0] * size[2] < 10**6 else max(2, ARGUMENTS.rounds // 2)
        seconds = time_rounds(functions, rounds, ARGUMENTS.seconds)
        rows.append((size, seconds))
        print(f"measured {size}: " + ", ".join(f"{k} {1e3 * v:.3f} ms" for k, v in seconds.items()), flush=True)
    load_after = os.getloadavg()[0]

    cold = None if ARGUMENTS.no_cold_start else measure_cold_start()

    threads = "each library's default" if ARGUMENTS.threads is None else str(ARGUMENTS.threads)
    command = "python bench/bench_engines.py " + " ".join(sys.argv[1:])
    lines = [
        "# Training speed of the engines",
        "",
        f"Machine: {describe_machine()}. Threads: {threads}. "
        f"Load average (1 min) {load_before:.2f} before and {load_after:.2f} after the run.",
        f"Versions: {describe_versions()}.",
        f"Command: `{command}`.",
        "",
        "One step: total weights, forward, mean |y − t|², backward and one Adam update of "
        "`CALUm → CALUa` with Q = {0, 1, 2}, complex128. The floor is the step's five complex "
        "matrix products alone (NumPy BLAS). Times are the fastest of several interleaved rounds.",
        "",
        "| batch, inputs, width, outputs | numba steps/s | numpy steps/s | torch steps/s "
        "| numba / numpy | numba / torch | numba time / floor time |",
        "|---|---|---|---|---|---|---|",
    ]
    for size, seconds in rows:
        torch_rate = f"{1 / seconds['torch']:.1f}" if "torch" in seconds else "n/a"
        torch_ratio = f"{seconds['torch'] / seconds['numba']:.2f}×" if "torch" in seconds else "n/a"
        lines.append(
            f"| {', '.join(map(str, size))} | {1 / seconds['numba']:.1f} | {1 / seconds['numpy']:.1f} "
            f"| {torch_rate} | {seconds['numpy'] / seconds['numba']:.2f}× faster "
            f"| {torch_ratio} faster | {seconds['numba'] / seconds['floor']:.2f} |"
        )
    if cold is not None:
        lines += [
            "",
            f"Cold start, time from `python` to the end of the first training step of "
            f"`8 50:CALUm 8:CALUa` with the numba engine: {cold[0]:.2f} s with an empty numba "
            f"cache (every kernel compiled), {cold[1]:.2f} s with the cache that run wrote.",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    ARGUMENTS.output.parent.mkdir(parents=True, exist_ok=True)
    # Hand-written analysis below the marker survives a new run.
    if ARGUMENTS.output.exists():
        previous = ARGUMENTS.output.read_text()
        if NOTES_MARKER in previous:
            text += "\n" + previous[previous.index(NOTES_MARKER):]
    ARGUMENTS.output.write_text(text)


if __name__ == "__main__":
    main()
