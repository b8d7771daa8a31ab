"""Testing by the DCASE protocol: per-ID files, metrics equal sklearn's, planted anomalies found."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from dcase_cae.evaluate import apply_test_overrides, fit_threshold
from dcase_cae.evaluate import test as run_test
from dcase_cae.train import train
from sigzoo_shared import ConfigError
from sklearn.metrics import roc_auc_score


@pytest.fixture(scope="module")
def trained(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory, tiny_config) -> Path:
    """A dense AE trained a few epochs on the tiny generated data."""
    return train(
        tiny_config(tiny_data, epochs=6, batch_size=128),
        run_dir=tmp_path_factory.mktemp("trained") / "run",
    )


@pytest.fixture(scope="module")
def tested(trained: Path) -> dict:
    return run_test(trained, device="cpu")


def _csv(path: Path) -> list[list[str]]:
    with path.open() as fh:
        return list(csv.reader(fh))


def test_writes_the_dcase_files(trained: Path, tested: dict) -> None:
    for machine_id in ("00", "02"):
        scores = _csv(trained / f"anomaly_score_toy_fan_id_{machine_id}.csv")
        decisions = _csv(trained / f"decision_result_toy_fan_id_{machine_id}.csv")
        assert len(scores) == len(decisions) == 10
        assert all(row[0].endswith(".wav") and float(row[1]) > 0 for row in scores)
        assert {row[1] for row in decisions} <= {"0", "1"}
    rows = _csv(trained / "result.csv")
    assert rows[0][:4] == ["machine_type", "machine_id", "AUC", "pAUC"]
    assert [r[1] for r in rows[1:]] == ["00", "02", "average"]
    for name in (
        "results.json",
        "results.md",
        "figures/roc_toy_fan.png",
        "figures/hist_toy_fan.png",
        "figures/reconstruction_toy_fan.png",
    ):
        assert (trained / name).is_file(), name


def test_metrics_equal_sklearn_on_the_written_scores(trained: Path, tested: dict) -> None:
    result = tested["results"][0]
    for row in result["ids"]:
        scores = _csv(trained / f"anomaly_score_toy_fan_id_{row['machine_id']}.csv")
        y = [int(name.startswith("anomaly")) for name, _ in scores]
        s = [float(v) for _, v in scores]
        assert row["AUC"] == pytest.approx(roc_auc_score(y, s), abs=1e-6)
        assert row["pAUC"] == pytest.approx(roc_auc_score(y, s, max_fpr=0.1), abs=1e-6)
        decisions = [
            int(d) for _, d in _csv(trained / f"decision_result_toy_fan_id_{row['machine_id']}.csv")
        ]
        tp = sum(d and t for d, t in zip(decisions, y))
        assert row["recall"] == pytest.approx(tp / sum(y))
        assert row["precision"] == pytest.approx(tp / max(sum(decisions), 1))
    assert result["average"]["AUC"] == pytest.approx(np.mean([r["AUC"] for r in result["ids"]]))


def test_planted_anomalies_are_found_and_normals_pass(tested: dict) -> None:
    result = tested["results"][0]
    assert result["average"]["AUC"] > 0.9  # clicks, shifted harmonic, AM vs a learnt hum
    # The gamma threshold (fitted on training clips) flags the anomalies and not every normal clip:
    # 4 normal + 6 anomalous clips per ID, so flagging everything has precision 0.6. Measured
    # precision 0.71 (2-3 of 4 normals flagged) with one torch thread and higher with 2 or 4: test
    # normals score above the training clips the threshold comes from, and by how much varies with
    # the run's float summation order, so the bar is "above flagging everything", not a fixed rate.
    assert result["average"]["recall"] >= 0.8
    assert result["average"]["precision"] > 0.6
    for row in result["ids"]:
        assert row["score_anomaly"]["median"] > row["score_normal"]["median"]


def test_best_checkpoint_is_used(trained: Path, tested: dict) -> None:
    history = [
        json.loads(x) for x in (trained / "toy_fan" / "metrics.jsonl").read_text().splitlines()
    ]
    best_epoch = min(history, key=lambda r: r["val_loss"])["epoch"] + 1
    assert tested["results"][0]["checkpoint"].endswith(f"best.pt (epoch {best_epoch})")


def test_eval_mode_scores_unlabelled_clips(trained: Path, tiny_data: Path, tmp_path: Path) -> None:
    eval_root = tmp_path / "eval" / "toy_fan"
    shutil.copytree(tiny_data / "toy_fan" / "train", eval_root / "train")
    (eval_root / "test").mkdir()
    for i, path in enumerate(sorted((tiny_data / "toy_fan" / "test").glob("*.wav"))[:6]):
        shutil.copyfile(path, eval_root / "test" / f"id_00_{i:08d}.wav")  # names without labels
    out = run_test(trained, data_dir=tmp_path / "eval", out_dir=tmp_path / "out", device="cpu")
    result = out["results"][0]
    assert result["mode"] == "eval" and "AUC" not in result["average"]
    assert len(_csv(tmp_path / "out" / "anomaly_score_toy_fan_id_00.csv")) == 6


def test_gamma_threshold_sits_above_most_normal_scores(tiny_config) -> None:
    rng = np.random.default_rng(0)
    normal = rng.gamma(4.0, 0.5, size=2000)
    threshold = fit_threshold(normal, tiny_config())
    assert np.mean(normal > threshold) == pytest.approx(0.1, abs=0.02)


def test_an_explicit_checkpoint_and_decision_settings(
    trained: Path, tmp_path: Path, tiny_config
) -> None:
    overrides = {"decision": {"threshold_clips": 4, "method": "percentile"}}
    last = trained / "toy_fan" / "checkpoints" / "last.pt"
    out = run_test(
        trained, checkpoint=last, out_dir=tmp_path / "out", device="cpu", overrides=overrides
    )
    result = out["results"][0]
    assert result["checkpoint"].startswith(str(last))
    assert result["threshold_source"] == "percentile q=0.9 on 4 train clips"


def test_test_time_overrides_merge_into_the_runs_own_sections(tiny_config) -> None:
    stored = tiny_config(model="cae")
    stored.decision.method, stored.decision.threshold_clips = "percentile", 4
    cfg = apply_test_overrides(stored, {"decision": {"quantile": 0.95}, "data": {"resample": True}})
    assert cfg.decision.quantile == 0.95 and cfg.data.resample
    assert cfg.decision.method == "percentile" and cfg.decision.threshold_clips == 4  # kept
    assert cfg.data.n_mels == 64 and cfg.model.name == "cae" and cfg.train.epochs == 2
    # the training YAML given again is fine; changing what the model fixes is an error naming the key
    assert apply_test_overrides(stored, {"model": {"z_dim": 40}}).model.z_dim == 40
    with pytest.raises(ConfigError, match=r"model\.z_dim=8 \(the trained run has 40\)"):
        apply_test_overrides(stored, {"model": {"z_dim": 8}})
    with pytest.raises(ConfigError, match="decision.quantile"):
        apply_test_overrides(stored, {"decision": {"quantile": 1.5}})


def test_the_2021_layout_gives_official_files_and_figures(
    tmp_path_factory: pytest.TempPathFactory, tiny_config
) -> None:
    """Sections, domains and attributes in: official result files and per-domain AUCs out."""
    from dcase_cae.generator import GeneratorConfig, generate
    from scipy.stats import hmean

    gen = GeneratorConfig(
        machine_types=("ToyThing",),
        machine_ids=("00",),
        n_train=8,
        n_train_target=2,
        n_test_normal=4,
        n_test_anomaly=4,
        duration_s=2.5,
        layout="dcase2021",
        seed=4,
    )
    data = generate(tmp_path_factory.mktemp("d2021") / "data", gen)
    cfg = tiny_config(data, epochs=3, batch_size=128)
    cfg.decision.n_bootstrap = 50
    run = train(cfg, run_dir=tmp_path_factory.mktemp("r2021") / "run")
    res = run_test(run, device="cpu")["results"][0]
    scores = _csv(run / "anomaly_score_ToyThing_section_00_test.csv")
    decisions = _csv(run / "decision_result_ToyThing_section_00_test.csv")
    assert len(scores) == len(decisions) == 16
    row = res["ids"][0]
    by_name = {name: float(v) for name, v in scores}
    y = np.array([int("_anomaly_" in n) for n in by_name])
    d = np.array(["target" if "_target_" in n else "source" for n in by_name])
    s = np.array(list(by_name.values()))
    src = (d == "source") & (y == 0) | (y == 1)
    assert row["AUC_source"] == pytest.approx(roc_auc_score(y[src], s[src]))
    tgt_in = d == "target"
    assert row["AUC_target_in"] == pytest.approx(roc_auc_score(y[tgt_in], s[tgt_in]))
    assert row["pAUC"] == pytest.approx(roc_auc_score(y, s, max_fpr=0.1))
    official = hmean([row["AUC_source"], row["AUC_target"], row["pAUC"]])
    assert res["average"]["official_score"] == pytest.approx(official)
    lo, hi = row["ci95"]["AUC_source"]
    assert lo <= row["AUC_source"] <= hi
    header = _csv(run / "result.csv")[0]
    assert {"AUC_source", "AUC_target", "AUC_source_in", "official_score"} <= set(header)


def test_threshold_fits_on_a_seeded_sample_of_200_training_clips_by_default() -> None:
    from dcase_cae.config import Config
    from dcase_cae.scores import threshold_clip_indices

    cfg = Config()
    assert cfg.decision.threshold_clips == 200
    picked = threshold_clip_indices(1000, cfg)
    assert picked.size == 200 and np.unique(picked).size == 200 and (np.diff(picked) > 0).all()
    assert (threshold_clip_indices(1000, cfg) == picked).all()  # same run, same threshold
    cfg.train.seed += 1
    assert (threshold_clip_indices(1000, cfg) != picked).any()
    assert (threshold_clip_indices(150, cfg) == np.arange(150)).all()  # fewer clips: all of them
    cfg.decision.threshold_clips = None
    assert threshold_clip_indices(1000, cfg).size == 1000
