"""`calu-np fit`, `formula` and `predict` as a new user runs them, through click's CliRunner."""

import numpy as np
import pytest
from click.testing import CliRunner

try:
    from calu_np_cli.main import main
except ImportError:  # running from a checkout without installing the package
    from cli.main import main

FAST = ["--layers", "3:CALUm 1:CALUa", "--q", "-2..2", "--steps", "400", "--restarts", "1"]


def write_csv(path, header, rows):
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def law_rows(seed, n=300, low=0.5, high=2.0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(low, high, (n, 2)) * rng.choice([-1.0, 1.0], (n, 2))
    return np.column_stack([X, X[:, 0] / X[:, 1] ** 2]).tolist()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fit")
    data = write_csv(folder / "data.csv", ["q", "r", "F"], law_rows(0))
    model = folder / "model.npz"
    result = CliRunner().invoke(main, ["fit", str(data), "--target", "F", *FAST, "--out", str(model)])
    return result, folder, model


def test_fit_prints_law_and_errors(fitted):
    result, _, model = fitted
    assert result.exit_code == 0, result.output
    assert "F = q/r**2" in result.output
    assert "held-out rows: MSE" in result.output
    assert "rows outside the training range: MSE" in result.output
    assert model.exists()


def test_formula_command_emits_each_form(fitted):
    _, _, model = fitted
    runner = CliRunner()
    assert runner.invoke(main, ["formula", str(model)]).output.strip() == "F = q/r**2"
    assert runner.invoke(main, ["formula", str(model), "--emit", "latex"]).output.strip() == "F = \\frac{q}{r^{2}}"
    assert runner.invoke(main, ["formula", str(model), "--emit", "sympy"]).output.strip() == "F = q/r**2"
    code = runner.invoke(main, ["formula", str(model), "--emit", "python"]).output
    namespace = {}
    exec(code, namespace)
    assert namespace["law"](3.0, 2.0) == 0.75


def test_predict_on_wider_range(fitted):
    _, folder, model = fitted
    wide = write_csv(folder / "wide.csv", ["q", "r", "F"], law_rows(1, low=5.0, high=20.0))
    result = CliRunner().invoke(main, ["predict", str(model), str(wide)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "q,r,F"
    assert len(lines) == 301
    relative = float(result.stderr.split("relative MSE ")[1].split()[0])
    assert relative < 1e-28


def test_predict_ignores_text_columns(fitted):
    _, folder, model = fitted
    rows = [row + ["sample"] for row in law_rows(2, n=20)]
    rows[3][2] = "unknown"  # a target cell that is not a number is left out of the error report
    data = write_csv(folder / "labelled.csv", ["q", "r", "F", "label"], rows)
    result = CliRunner().invoke(main, ["predict", str(model), str(data)])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 21
    assert "(19 rows)" in result.stderr


def test_predict_text_in_input_column_rejected(fitted):
    _, folder, model = fitted
    rows = law_rows(3, n=5)
    rows[1][0] = "n/a"
    data = write_csv(folder / "bad_input.csv", ["q", "r", "F"], rows)
    result = CliRunner().invoke(main, ["predict", str(model), str(data)])
    assert result.exit_code == 2
    assert "column 'q': 'n/a' is not a number" in result.output


def test_fit_with_inputs_ignores_other_text_columns(tmp_path):
    rows = [row + ["sample"] for row in law_rows(0)]
    data = write_csv(tmp_path / "labelled.csv", ["q", "r", "F", "label"], rows)
    result = CliRunner().invoke(main, ["fit", str(data), "--target", "F", "--inputs", "q,r", *FAST])
    assert result.exit_code == 0, result.output
    assert "F = q/r**2" in result.output


def test_predict_missing_column(fitted):
    _, folder, model = fitted
    data = write_csv(folder / "only_q.csv", ["q"], [[1.0], [2.0]])
    result = CliRunner().invoke(main, ["predict", str(model), str(data)])
    assert result.exit_code != 0
    assert "column 'r' not found" in result.output


@pytest.mark.parametrize(
    "header, rows, arguments, fragment",
    [
        (["a", "b", "y"], [[1, 2, 3], [2, 3, 4]] * 50, ["--target", "z"], "column 'z' not found"),
        (["a", "b", "y"], [[1, 2, 3], [2, "x", 4]] * 50, ["--target", "y"], "'x' is not a number"),
        (["a", "b", "y"], [[1, 2, 3], [2, "nan", 4]] * 50, ["--target", "y"], "is NaN in data row 2"),
        (["a", "b", "y"], [[1, 2, 3], [2, 3, "inf"]] * 50, ["--target", "y"], "is inf in data row 2"),
        (["a", "b", "y"], [[1, 2, 3], [2, 3, 4]] * 3, ["--target", "y"], "training rows but the smallest layer stack"),
        (["a", "b", "y"], [[1, 2, 5], [2, 3, 5]] * 50, ["--target", "y"], "constant"),
        (["a", "b", "y"], [[1, 2, 3], [2, 3, 4]] * 50, ["--target", "y", "--inputs", "a,c"], "column 'c' not found"),
        (["a", "b", "y"], [[1, 2, 3], [2, 3, 4]] * 50, ["--target", "y", "--layers", "3 2:CALUm 1:CALUa"], "maps 3 inputs"),
        (["a", "b", "y"], [[1, 2, 3], [2, 3, 4]] * 50, ["--target", "y", "--holdout", "1.5"], "not in [0, 1)"),
    ],
)
def test_fit_rejects_bad_table(tmp_path, header, rows, arguments, fragment):
    data = write_csv(tmp_path / "bad.csv", header, rows)
    result = CliRunner().invoke(main, ["fit", str(data), *arguments])
    assert result.exit_code != 0
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_fit_missing_file(tmp_path):
    result = CliRunner().invoke(main, ["fit", str(tmp_path / "none.csv"), "--target", "y"])
    assert result.exit_code != 0
    assert "no such file" in result.output


def test_fit_reads_npz(tmp_path):
    rows = np.array(law_rows(2))
    path = tmp_path / "data.npz"
    np.savez(path, q=rows[:, 0], r=rows[:, 1], F=rows[:, 2])
    result = CliRunner().invoke(main, ["fit", str(path), "--target", "F", *FAST])
    assert result.exit_code == 0, result.output
    assert "F = q/r**2" in result.output


def test_fit_rejects_repeated_target_option(tmp_path):
    from click.testing import CliRunner

    from calu_np_cli.main import main

    path = tmp_path / "table.csv"
    rows = ["a,b,y"] + [f"{a},{b},{a * b}" for a, b in [(1.0, 2.0), (2.0, 3.0), (1.5, 0.5), (0.7, 1.1)]]
    path.write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(main, ["fit", str(path), "--target", "y", "--target", "a"])
    assert result.exit_code == 2
    assert "give --target once" in result.output


def test_predict_out_in_missing_folder(tmp_path):
    from click.testing import CliRunner

    from calu_np_cli.main import main

    result = CliRunner().invoke(main, ["predict", str(tmp_path / "m.npz"), str(tmp_path / "d.csv"),
                                       "--out", str(tmp_path / "missing" / "p.csv")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
