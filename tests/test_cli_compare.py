"""The `calu-np compare` command through click's CliRunner, with small and fast settings."""

import importlib
import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

import calu_np.compare as runner_module

try:
    from calu_np_cli.main import main
except ModuleNotFoundError:  # a source checkout that is not installed: the package is the cli/ folder
    from cli.main import main

compare_cli = importlib.import_module(main.__module__.rsplit(".", 1)[0] + ".compare")

FAST = ["--models", "nau,nmu", "--steps", "50", "--jobs", "1"]


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def small_calu(monkeypatch):
    """Make every CALU run of the comparison a short one: two 20-step trials and a 40-step main run."""
    real_default_config = runner_module.default_config
    real_run_regression = runner_module.run_regression

    def small_config(task_name, seed=0, steps=None, lr=None):
        config = real_default_config(task_name, seed, steps, lr)
        return replace(config, steps=40, restarts=2, restart_steps=20, snap_rounds=0)

    def small_run_regression(task_name, seed=0, progress=None):
        return real_run_regression(task_name, seed=seed, progress=progress, config=small_config(task_name, seed))

    monkeypatch.setattr(runner_module, "default_config", small_config)
    monkeypatch.setattr(runner_module, "run_regression", small_run_regression)


def test_help_lists_compare(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "compare" in result.output


def test_table_has_rows_and_columns(runner):
    result = runner.invoke(main, ["compare", "--task", "add,mul", *FAST])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    header = next(line for line in lines if line.startswith("error"))
    assert header.split() == ["error", "task", "nau", "nmu"]
    rows = [line.split() for line in lines if line.startswith(("interpolation", "extrapolation"))]
    assert [row[:2] for row in rows] == [["interpolation", "add"], ["interpolation", "mul"],
                                          ["extrapolation", "add"], ["extrapolation", "mul"]]
    assert all(len(row) == 4 for row in rows)
    assert "4 runs" in result.output


def test_seeds_add_spread_table(runner):
    result = runner.invoke(main, ["compare", "--task", "add", *FAST, "--seeds", "2"])
    assert result.exit_code == 0, result.output
    assert "median over 2 seeds" in result.output
    assert "minimum..maximum over 2 seeds" in result.output


def test_json_output(runner):
    result = runner.invoke(main, ["compare", "--task", "sub", *FAST, "--seeds", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["models"] == ["nau", "nmu"]
    assert data["seeds"] == 2
    assert data["baseline_steps"] == 50
    assert len(data["table"]) == 2
    assert len(data["runs"]) == 4
    cell = data["table"][0]
    assert cell["interpolation"]["min"] <= cell["interpolation"]["median"] <= cell["interpolation"]["max"]
    assert len(cell["extrapolation"]["values"]) == 2


def test_jobs_give_same_errors(runner):
    settings = ["compare", "--task", "add,div", "--models", "nau,nmu", "--steps", "50", "--json"]
    serial = runner.invoke(main, [*settings, "--jobs", "1"])
    parallel = runner.invoke(main, [*settings, "--jobs", "2"])
    assert serial.exit_code == 0, serial.output
    assert parallel.exit_code == 0, parallel.output
    assert json.loads(serial.stdout)["table"] == json.loads(parallel.stdout)["table"]


def test_calu_column_uses_snapped_run(runner, small_calu):
    result = runner.invoke(main, ["compare", "--task", "mul", "--models", "calu,nau", "--steps", "20", "--jobs", "1", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    calu_run = next(run for run in data["runs"] if run["model"] == "calu")
    assert calu_run["layers"] == "2 5:CALUm 1:CALUa"
    assert "before_snap" in calu_run
    assert "snap" in calu_run["snap"]


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        (["--models", "tanh,mlp"], "'mlp'"),
        (["--task", "cube"], "'cube'"),
        (["--task", ","], "no task given"),
        (["--seeds", "0"], "--seeds"),
        (["--seeds", "-3"], "--seeds"),
        (["--steps", "0"], "--steps"),
        (["--jobs", "0"], "--jobs"),
        (["--plot", "/no/such/folder/figure.png"], "does not exist"),
    ],
)
def test_bad_option_rejected(runner, arguments, fragment):
    result = runner.invoke(main, ["compare", *arguments])
    assert result.exit_code == 2
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1
    assert fragment in error_lines[0]


def test_plot_without_matplotlib(runner, monkeypatch, tmp_path):
    real_find_spec = compare_cli.importlib.util.find_spec
    monkeypatch.setattr(compare_cli.importlib.util, "find_spec",
                        lambda name, *args: None if name == "matplotlib" else real_find_spec(name, *args))
    result = runner.invoke(main, ["compare", "--task", "add", *FAST, "--plot", str(tmp_path / "figure.png")])
    assert result.exit_code == 2
    assert "pip install 'calu-np[plot]'" in result.output


def test_plot_writes_png(runner, small_calu, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "figure.png"
    result = runner.invoke(main, ["compare", "--task", "mul", "--models", "calu,nmu", "--steps", "20",
                                  "--jobs", "1", "--plot", str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_trajectory_follows_kept_trial(small_calu):
    trajectory = runner_module.record_quantizer_trajectory("mul", seed=0, every=10)
    assert trajectory.trial_steps == 20
    # The kept 20-step trial, then the 40-step main run counted on from it.
    assert trajectory.steps == [1, 10, 20, 30, 40, 50, 60]
    assert [N.shape for N in trajectory.N] == [(7, 5, 2), (7, 1, 5)]
