"""The `calu-np train` and `calu-np data` commands through click's CliRunner."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from calu_np.io import load_model
from calu_np_cli.main import main

FAST = ["--steps", "300"]


@pytest.fixture
def runner():
    return CliRunner()


def test_help_lists_commands(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "train" in result.output
    assert "data" in result.output


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        (["--task", "nope"], "nope"),
        (["--task", "mul", "--layers", "2 5:CALUx 1:CALUa"], "unknown kind"),
        (["--task", "mul", "--layers", "two 5:CALUm"], "positive input size"),
        (["--task", "mul", "--layers", "3 5:CALUm 1:CALUa"], "has 3 input(s)"),
        (["--task", "mul", "--lr", "nan"], "not a finite number"),
        (["--task", "mul", "--q", ""], "invalid Q"),
        (["--task", "mul", "--q", "0,1,1"], "more than once"),
        (["--task", "mul", "--q", "0..2", "--q", "0..2", "--q", "0..1"], "one per layer"),
        (["--task", "mul", "--steps", "0"], "--steps"),
        (["--task", "mul", "--steps", "-5"], "--steps"),
        (["--task", "mul", "--lr", "0"], "--lr"),
        (["--task", "mul", "--engine", "gpu"], "unknown engine"),
    ],
)
def test_train_rejects_bad_input(runner, arguments, fragment):
    result = runner.invoke(main, ["train", *arguments])
    assert result.exit_code != 0
    assert fragment in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, (TypeError, KeyError, AttributeError))


def test_train_out_in_missing_folder(runner, tmp_path):
    out = tmp_path / "missing" / "model.npz"
    result = runner.invoke(main, ["train", "--task", "mul", *FAST, "--out", str(out)])
    assert result.exit_code != 0
    assert "does not exist" in result.output
    assert not out.exists()


def test_train_mul_json_and_model(runner, tmp_path):
    out = tmp_path / "mul.npz"
    result = runner.invoke(main, ["train", "--task", "mul", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["task"] == "mul"
    assert summary["layers"] == "2 5:CALUm 1:CALUa"
    assert summary["snap"]["kept"] is True
    assert summary["metrics"]["after_snap"]["extrapolation_mse"] <= 1e-20
    assert summary["formula"] == ["y0 = x0*x1"]

    network, metadata = load_model(out)
    assert metadata["task"] == "mul"
    assert metadata["input_names"] == ["x0", "x1"]
    x = np.array([[3.0, -7.0], [-0.5, 40.0]])
    y, _ = network.forward(x)
    np.testing.assert_allclose(y[:, 0].real, x[:, 0] * x[:, 1], rtol=1e-13)


def test_train_text_report(runner):
    result = runner.invoke(main, ["train", "--task", "add", *FAST])
    assert result.exit_code == 0, result.output
    assert "before snap" in result.output
    assert "after snap" in result.output
    assert "learned formula:" in result.output


def test_train_same_seed_same_result(runner):
    first = runner.invoke(main, ["train", "--task", "sub", *FAST, "--seed", "3", "--json"])
    second = runner.invoke(main, ["train", "--task", "sub", *FAST, "--seed", "3", "--json"])
    assert first.exit_code == 0, first.output
    metrics_first = json.loads(first.stdout)["metrics"]
    metrics_second = json.loads(second.stdout)["metrics"]
    assert metrics_first == metrics_second


def test_data_hep_rejects_missing_folder(runner, tmp_path):
    out = tmp_path / "missing" / "events.npz"
    result = runner.invoke(main, ["data", "hep", "--process", "z", "--events", "5", "--out", str(out)])
    assert result.exit_code != 0
    assert "does not exist" in result.output


def test_data_hep_rejects_bad_process(runner, tmp_path):
    result = runner.invoke(main, ["data", "hep", "--process", "w", "--out", str(tmp_path / "e.npz")])
    assert result.exit_code != 0
    assert "'w'" in result.output


def test_data_hep_generates_events(runner, tmp_path):
    pytest.importorskip("pythia8mc")
    from calu_np.hep import load_sample

    out = tmp_path / "z.npz"
    result = runner.invoke(main, ["data", "hep", "--process", "z", "--events", "20", "--seed", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    features, metadata = load_sample(out)
    assert features.shape == (20, 8)
    assert metadata["seed"] == 5


@pytest.mark.parametrize(
    "arguments, fragment",
    [
        (["--layers", "8 5:CALUm 1:CALUa"], "not used by --task hz-mumu"),
        (["--q", "0..2"], "not used by --task hz-mumu"),
        (["--plot", "/nonexistent-folder/plot.png"], "does not exist"),
    ],
)
def test_hz_mumu_rejects_options(runner, arguments, fragment):
    result = runner.invoke(main, ["train", "--task", "hz-mumu", *arguments])
    assert result.exit_code != 0
    assert fragment in result.output


def test_plot_only_for_hz_mumu(runner, tmp_path):
    result = runner.invoke(main, ["train", "--task", "mul", "--plot", str(tmp_path / "p.png")])
    assert result.exit_code != 0
    assert "only available with --task hz-mumu" in result.output


def test_hz_mumu_short_run_json(runner):
    result = runner.invoke(main, ["train", "--task", "hz-mumu", "--steps", "40", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert set(summary["accuracy"]) >= {"ReLU network", "CALU, snapped front end"}
    for row in summary["accuracy"].values():
        assert 0.0 <= row["13 TeV"] <= 1.0
        assert 0.0 <= row["100 TeV"] <= 1.0
    assert len(summary["features"]) == 3


def test_data_check_reads_bundled_sample(runner):
    from importlib.resources import files

    path = files("calu_np") / "data" / "hep" / "z_13TeV_test.npz"
    result = runner.invoke(main, ["data", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "1000 z events" in result.output
    assert "median 90." in result.output


@pytest.mark.parametrize(
    "features, fragment",
    [
        (np.ones((5, 7)), "shape"),
        (np.full((5, 8), np.nan), "finite"),
        (np.zeros((5, 8)), "missing"),
    ],
)
def test_data_check_rejects_bad_sample(runner, tmp_path, features, fragment):
    path = tmp_path / "bad.npz"
    np.savez(path, features=features, metadata=np.array("{}"))
    result = runner.invoke(main, ["data", "check", str(path)])
    assert result.exit_code == 1
    assert fragment in result.output.lower()
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
