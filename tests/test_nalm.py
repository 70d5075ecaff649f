"""Tests of the NALM single-module benchmark: statistics, thresholds, cells, resume and Dask."""

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from calu_np import nalm
from calu_np_cli.main import main

# A protocol small enough that one baseline cell takes a fraction of a second.
TINY = nalm.Protocol(iterations=200, checkpoint_every=100, n_train=512, n_valid=256, n_test=256,
                     threshold_samples=20_000)
RANGE_1_2 = 6  # U[1,2] → U[2,6]


def test_wilson_interval_no_successes():
    low, high = nalm.wilson_interval(0, 25)
    assert low == 0.0
    # With no successes the upper end is z² / (n + z²).
    assert high == pytest.approx(1.959964**2 / (25 + 1.959964**2), rel=1e-6)


def test_wilson_interval_all_successes():
    low, high = nalm.wilson_interval(25, 25)
    assert low == pytest.approx(25 / (25 + 1.959964**2), rel=1e-6)
    assert high == 1.0


def test_wilson_interval_half():
    low, high = nalm.wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4)
    assert high == pytest.approx(0.7634, abs=1e-4)


def test_wilson_interval_rejects_bad_counts():
    with pytest.raises(ValueError, match="successes"):
        nalm.wilson_interval(3, 2)
    with pytest.raises(ValueError, match="trials"):
        nalm.wilson_interval(0, 0)


def test_ranges_are_the_benchmarks_nine():
    assert len(nalm.RANGES) == 9
    assert nalm.RANGES[RANGE_1_2].label == "U[1,2] → U[2,6]"
    for pair in nalm.RANGES:
        for intervals in (pair.interpolation, pair.extrapolation):
            assert all(low < high for low, high in intervals)


def test_union_range_draws_both_sides():
    rng = np.random.default_rng(0)
    values = nalm.sample_intervals(rng, nalm.RANGES[4].extrapolation, 10_000)
    assert np.all((np.abs(values) >= 2.0) & (np.abs(values) <= 6.0))
    assert 0.45 < np.mean(values > 0) < 0.55


# Closed forms on U[2,6]: E[a²] = 52/3 and E[1/b²] = 1/12, with ε = 1e-5.
EPSILON = 1e-5
MEAN_SQUARE = 52.0 / 3.0
THRESHOLD_CASES = {
    "add": EPSILON**2 * (2 * MEAN_SQUARE + 2 * 16.0),
    "sub": EPSILON**2 * (2 * MEAN_SQUARE + 2 * 16.0),
    "mul": ((1 - EPSILON) ** 2 - 1) ** 2 * MEAN_SQUARE**2,
    "div": ((1 - EPSILON) / (1 + EPSILON) - 1) ** 2 * MEAN_SQUARE / 12.0,
}


@pytest.mark.parametrize("op", sorted(THRESHOLD_CASES))
def test_threshold_matches_closed_form(op):
    simulated = nalm.simulate_threshold(op, ((2.0, 6.0),), EPSILON, samples=200_000)
    assert simulated == pytest.approx(THRESHOLD_CASES[op], rel=0.02)


def test_threshold_is_reproducible():
    first = nalm.simulate_threshold("mul", ((2.0, 6.0),), samples=10_000)
    assert nalm.simulate_threshold("mul", ((2.0, 6.0),), samples=10_000) == first


def test_exact_solution_passes_and_perturbed_fails():
    rng = np.random.default_rng(1)
    a = nalm.sample_intervals(rng, ((2.0, 6.0),), 100_000)
    b = nalm.sample_intervals(rng, ((2.0, 6.0),), 100_000)
    threshold = nalm.simulate_threshold("div", ((2.0, 6.0),))
    exact = a / b
    ten_epsilon = nalm.perturbed_operation("div", a, b, 1e-4)
    assert np.mean((exact - a / b) ** 2) < threshold
    assert np.mean((ten_epsilon - exact) ** 2) > threshold


def _cell_record(model, op="mul", seed=0, protocol=TINY):
    cell = nalm.Cell(model, op, RANGE_1_2, seed)
    thresholds = nalm.thresholds_for([cell], protocol)[(op, RANGE_1_2)]
    return nalm.run_cell(cell, protocol, *thresholds)


def test_baseline_cell_record():
    record = _cell_record("nmu")
    assert record["key"] == "nmu/mul/[1,2]/0"
    assert record["protocol"] == TINY.as_dict()
    assert [step for step, _, _ in record["checkpoints"]][0] == 100
    assert 0.0 <= record["quantization_error"] <= 0.5
    if record["solved"]:
        assert record["extrapolation_mse"] < record["threshold"]
        assert record["solved_at"] <= record["selected_step"]
    json.dumps(record)


@pytest.mark.parametrize("model", ["nalu", "npu"])
def test_baseline_cell_same_on_both_engines(model):
    from calu_np import engine

    previous = engine.get_engine()
    records = {}
    try:
        for name in ("numpy", "numba"):
            engine.set_engine(name)
            records[name] = _cell_record(model, op="div")
    finally:
        engine.set_engine(previous)
    assert records["numpy"]["detail"]["engine"] == "numpy"
    assert records["numba"]["detail"]["engine"] == "numba"
    numpy_checkpoints = np.array(records["numpy"]["checkpoints"])
    numba_checkpoints = np.array(records["numba"]["checkpoints"])
    np.testing.assert_allclose(numba_checkpoints, numpy_checkpoints, rtol=1e-9)


def test_calu_cell_record():
    record = _cell_record("calu", protocol=nalm.Protocol(iterations=400, checkpoint_every=200, n_train=512,
                                                         n_valid=256, n_test=256, threshold_samples=20_000))
    assert record["model"] == "calu"
    assert record["steps_run"] <= 400
    assert record["detail"]["layers"]
    assert math.isfinite(record["quantization_error"])
    json.dumps(record)


def test_results_file_skips_torn_line(tmp_path):
    path = tmp_path / "results.jsonl"
    nalm.append_result(path, {"key": "a", "value": 1})
    with open(path, "a", encoding="utf-8") as file:
        file.write('{"key": "b", "val')  # a write cut short by a kill
    nalm.append_result(path, {"key": "c", "value": 3})
    assert [record["key"] for record in nalm.read_results(path)] == ["a", "c"]


class _Interrupt(Exception):
    pass


def test_sweep_resumes_after_kill(tmp_path):
    path = tmp_path / "results.jsonl"
    cells = nalm.make_cells(["nau", "nmu"], ["add", "mul"], [RANGE_1_2], [0])
    finished = []

    def kill_after_two(record):
        finished.append(record["key"])
        if len(finished) == 2:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        nalm.run_sweep(cells, TINY, path, on_result=kill_after_two)
    first_lines = path.read_text().splitlines()
    assert len(first_lines) == 2
    with open(path, "a", encoding="utf-8") as file:
        file.write('{"key": "nau/mul/[1,2]/0", "trunc')

    rerun = []
    outcome = nalm.run_sweep(cells, TINY, path, on_result=lambda record: rerun.append(record["key"]))
    assert sorted(finished + rerun) == sorted(cell.key() for cell in cells)
    assert not set(finished) & set(rerun)
    assert (outcome.ran, outcome.skipped) == (2, 2)
    assert path.read_text().splitlines()[:2] == first_lines
    assert len(nalm.read_results(path)) == 4

    again = nalm.run_sweep(cells, TINY, path)
    assert (again.ran, again.skipped) == (0, 4)


def test_sweep_ignores_other_protocol(tmp_path):
    path = tmp_path / "results.jsonl"
    cells = nalm.make_cells(["nau"], ["add"], [RANGE_1_2], [0])
    nalm.run_sweep(cells, TINY, path)
    longer = nalm.Protocol(**{**TINY.as_dict(), "iterations": 300})
    outcome = nalm.run_sweep(cells, longer, path)
    assert (outcome.ran, outcome.skipped) == (1, 0)


def test_sweep_in_worker_processes(tmp_path):
    path = tmp_path / "results.jsonl"
    cells = nalm.make_cells(["nau", "nmu"], ["mul"], [RANGE_1_2], [0])
    outcome = nalm.run_sweep(cells, TINY, path, jobs=2)
    assert sorted(record["key"] for record in outcome.records) == sorted(cell.key() for cell in cells)
    assert len(nalm.read_results(path)) == 2


def test_sweep_on_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    path = tmp_path / "results.jsonl"
    cells = nalm.make_cells(["nau", "nmu"], ["add"], [RANGE_1_2], [0])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        outcome = nalm.run_sweep(cells, TINY, path, scheduler=cluster.scheduler_address)
    assert outcome.failed == []
    assert sorted(record["key"] for record in outcome.records) == sorted(cell.key() for cell in cells)
    local = nalm.run_cell(cells[0], TINY, outcome.records[0]["threshold"], outcome.records[0]["interpolation_threshold"])
    on_cluster = next(record for record in outcome.records if record["key"] == cells[0].key())
    assert on_cluster["checkpoints"] == local["checkpoints"]


def test_summary_counts_and_medians():
    records = [
        {"model": "nmu", "op": "mul", "range_index": RANGE_1_2, "solved": solved, "solved_at": at,
         "quantization_error": 0.1, "seconds_to_solve": 1.0, "seconds": 2.0, "threshold": 1e-7}
        for solved, at in [(True, 1000), (True, 3000), (False, None)]
    ]
    (row,) = nalm.summarise(records)
    assert (row["runs"], row["successes"]) == (3, 2)
    assert row["median_solved_at"] == 2000
    assert "2/3 (67%)" in nalm.markdown_table([row])


def test_success_matrix_and_model_times():
    records = [
        {"model": model, "op": "div", "range_index": RANGE_1_2, "solved": solved, "solved_at": 1000 if solved else None,
         "quantization_error": 0.1, "seconds_to_solve": 0.5 if solved else None, "seconds": seconds,
         "threshold": 1e-9}
        for model, solved, seconds in [("calu", True, 0.5), ("calu", True, 0.7), ("npu", False, 3.0),
                                       ("npu", True, 4.0)]
    ]
    matrix = nalm.markdown_success_matrix(nalm.summarise(records))
    assert matrix.splitlines()[0] == "| op | range | CALU | NPU |"
    assert matrix.splitlines()[2] == "| ÷ | U[1,2] → U[2,6] | **2/2** | 1/2 |"
    times = nalm.markdown_model_times(records).splitlines()
    assert times[2] == "| CALU | 2 | 2 | 1000 | 0.50 | 0.60 |"
    assert times[3] == "| NPU | 2 | 1 | 1000 | 0.50 | 3.50 |"


def test_cli_nalm_writes_and_resumes(tmp_path):
    results = tmp_path / "run.jsonl"
    arguments = ["bench", "nalm", "--models", "nmu", "--ops", "mul", "--ranges", "[1,2]", "--seeds", "1",
                 "--iterations", "200", "--checkpoint-every", "100", "--results", str(results)]
    first = CliRunner().invoke(main, arguments)
    assert first.exit_code == 0, first.output
    assert (tmp_path / "run.md").exists()
    assert "NMU" in (tmp_path / "run.csv").read_text().upper()

    second = CliRunner().invoke(main, arguments)
    assert second.exit_code == 0, second.output
    assert "1 already in" in second.output
    assert len(nalm.read_results(results)) == 1


def test_cli_nalm_rejects_unknown_model(tmp_path):
    result = CliRunner().invoke(main, ["bench", "nalm", "--models", "calu,foo", "--results", str(tmp_path / "r.jsonl")])
    assert result.exit_code == 2
    assert "unknown value 'foo'" in result.output


def test_cli_nalm_rejects_unknown_range(tmp_path):
    result = CliRunner().invoke(main, ["bench", "nalm", "--ranges", "[3,4]", "--results", str(tmp_path / "r.jsonl")])
    assert result.exit_code == 2
    assert "unknown range" in result.output


def test_cli_nalm_rejects_unknown_early_stop_model(tmp_path):
    result = CliRunner().invoke(main, ["bench", "nalm", "--early-stop", "calu,mlp", "--results", str(tmp_path / "r.jsonl")])
    assert result.exit_code == 2
    assert "unknown value 'mlp'" in result.output
    assert "'none'" in result.output


def test_cli_range_numbers_match_ranges():
    from calu_np_cli.bench import RANGE_NUMBERS

    expected = ", ".join(f"{i + 1}={pair.name}" for i, pair in enumerate(nalm.RANGES))
    assert RANGE_NUMBERS == expected


def test_cli_nalm_interrupt_says_how_to_resume(tmp_path, monkeypatch):
    def interrupted_sweep(cells, protocol, results_path, on_result=None, **options):
        record = _cell_record("nau", op="add")
        nalm.append_result(results_path, record)
        on_result(record)
        raise KeyboardInterrupt

    monkeypatch.setattr(nalm, "run_sweep", interrupted_sweep)
    results = tmp_path / "r.jsonl"
    result = CliRunner().invoke(main, ["bench", "nalm", "--models", "nau", "--ops", "add", "--ranges", "U[1,2]",
                                       "--seeds", "2", "--results", str(results)])
    assert result.exit_code == 130
    assert "interrupted: 1 finished cell of this run saved" in result.output
    assert "rerun the same command to run the remaining 1" in result.output
    assert not (tmp_path / "r.md").exists()


def test_cli_nalm_table_folder_checked_first(tmp_path):
    result = CliRunner().invoke(main, ["bench", "nalm", "--results", str(tmp_path / "r.jsonl"),
                                       "--table", str(tmp_path / "missing" / "t.md")])
    assert result.exit_code == 2
    assert "does not exist" in result.output
    assert not (tmp_path / "r.jsonl").exists()


def test_protocol_early_stop_models_canonical():
    protocol = nalm.Protocol(early_stop_models=("npu", "calu", "npu"))
    assert protocol.early_stop_models == ("calu", "npu")
    stored = json.loads(json.dumps(protocol.as_dict()))
    assert stored == protocol.as_dict()
    assert stored["early_stop_models"] == ["calu", "npu"]
    with pytest.raises(ValueError, match="unknown model 'mlp'"):
        nalm.Protocol(early_stop_models=("mlp",))


def test_early_stop_only_for_listed_models():
    # The NAU solves + on U[1,2] in about 6,000 iterations, so only the listed run stops before 10,000.
    protocol = nalm.Protocol(iterations=10_000, checkpoint_every=500, n_train=2048, n_valid=512, n_test=512,
                             threshold_samples=20_000, early_stop_models=("nau",))
    stopping = _cell_record("nau", op="add", protocol=protocol)
    running = _cell_record("nau", op="add", protocol=nalm.Protocol(**{**protocol.as_dict(), "early_stop_models": ()}))
    assert stopping["detail"].get("stopped_early") is True
    assert stopping["steps_run"] < 10_000
    assert running["steps_run"] == 10_000
    assert "stopped_early" not in running["detail"]
