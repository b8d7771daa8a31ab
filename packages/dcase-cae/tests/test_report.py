"""`report` groups runs by data set and configuration; seed spread and clip intervals stay apart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from dcase_cae.report import aggregate, compare_runs
from sigzoo_shared import DataError


def _run(tmp_path: Path, name: str, data: str, config_id: str, auc: float) -> Path:
    run = tmp_path / name
    run.mkdir()
    row = {"machine_id": "00", "AUC_source": auc, "ci95": {"AUC_source": [auc - 0.1, auc + 0.05]}}
    res = {
        "machine_type": "ToyCar",
        "model": "embedding",
        "method": "embedding/knn1",
        "config_id": config_id,
        "ids": [row],
        "average": {"AUC_source": auc},
    }
    (run / "results.json").write_text(json.dumps({"results": [res], "data_dir": f"/d/{data}"}))
    return run


def test_runs_group_by_data_set_and_configuration(tmp_path: Path) -> None:
    runs = [
        _run(tmp_path, "a1", "toycar", "cfgA", 0.70),
        _run(tmp_path, "a2", "toycar", "cfgA", 0.80),
        _run(tmp_path, "b1", "toycar", "cfgB", 0.60),
        _run(tmp_path, "c1", "fan", "cfgA", 0.90),
    ]
    agg = {(r["data"], r["config_id"]): r for r in aggregate(runs)}
    assert set(agg) == {("toycar", "cfgA"), ("toycar", "cfgB"), ("fan", "cfgA")}
    a = agg[("toycar", "cfgA")]
    assert a["n_runs"] == 2 and a["AUC_source_mean"] == pytest.approx(0.75)
    assert a["AUC_source_std"] == pytest.approx(np.std([0.7, 0.8]))  # seed spread
    assert a["AUC_source_ci95"] == pytest.approx([0.65, 0.80])  # mean of the runs' clip intervals
    report = compare_runs(runs, tmp_path / "cmp").read_text()
    assert (
        "| toycar | ToyCar | embedding/knn1 | cfgA | 00 | 2 | 0.750 ± 0.050 [0.65, 0.80] |"
        in report
    )


def test_a_run_without_results_is_named_and_nothing_is_written(tmp_path: Path) -> None:
    good = _run(tmp_path, "a1", "toycar", "cfgA", 0.7)
    (tmp_path / "untested").mkdir()
    with pytest.raises(DataError, match="untested/results.json: not found"):
        compare_runs([good, tmp_path / "untested"], tmp_path / "cmp")
    assert not (tmp_path / "cmp").exists()


def test_a_2020_layout_report_shows_auc_and_f1(tmp_path: Path) -> None:
    """MIMII-style runs carry AUC, pAUC and F1 but no official figures: the table shows all three."""
    runs = []
    for name, auc in (("f1", 0.70), ("f2", 0.80)):
        run = tmp_path / name
        run.mkdir()
        row = {"machine_id": "00", "AUC": auc, "pAUC": 0.55, "F1": 0.6, "ci95": {"AUC": [0.5, 0.9]}}
        res = {"machine_type": "fan", "model": "dense_ae", "ids": [row], "average": row}
        (run / "results.json").write_text(json.dumps({"results": [res], "data_dir": "/d/fan"}))
        runs.append(run)
    report = compare_runs(runs, tmp_path / "cmp").read_text()
    assert "| runs | pAUC | AUC | F1 |" in report
    assert "| 2 | 0.550 ± 0.000 | 0.750 ± 0.050 [0.50, 0.90] | 0.600 ± 0.000 |" in report
