"""Two-phase training lowers the losses; detection finds planted anomalies; metrics match sklearn."""

import dataclasses
import json
from pathlib import Path

import numpy as np
from resp_mhavae.data import TEST, load_prepared
from resp_mhavae.evaluate import decide, detect
from sklearn.metrics import average_precision_score, fbeta_score, roc_auc_score


def _history(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "metrics.jsonl").read_text().splitlines()]


def test_both_phases_and_baselines_train_and_their_losses_fall(trained_run) -> None:
    _, run = trained_run
    for phase in (
        "mhavae/vae",
        "mhavae/lstm",
        "vae_lstm_no_attention/vae",
        "vae_lstm_no_attention/lstm",
        "lstm_only",
    ):
        history = _history(run / phase)
        assert history[-1]["train_loss"] < history[0]["train_loss"], phase
        assert (run / phase / "checkpoints" / "best.pt").is_file()
        assert (run / phase / "done.json").is_file()
    assert (run / "mhavae" / "vae" / "figures" / "loss_curves.png").is_file()


def test_detection_finds_planted_anomalies_and_writes_its_files(trained_run) -> None:
    cfg, run = trained_run
    summary = detect(cfg, run)
    rows = {(r["method"], r["threshold_rule"]): r for r in summary["results"]}
    assert {m for m, _ in rows} == {
        "mhavae",
        "vae_lstm_no_attention",
        "lstm_only",
        "isolation_forest",
    }
    main = rows["mhavae", "validation"]
    assert main["primary"] and main["window_roc_auc"] > 0.7
    assert main["window_auc_pr"] > main["window_prevalence"]
    assert main["event_detection_rate"] > 0.5
    for name in (
        "detection_metrics.json",
        "results.csv",
        "results.md",
        "scores.npz",
        "figures/anomaly_detection_comparison.png",
        "figures/scores.png",
    ):
        assert (run / name).is_file(), name


def test_core_summarize_reads_each_method_under_its_protocols_rule(trained_run, capsys) -> None:
    """`resp-mhavae summarize RUN --results detection_metrics.json` (the seed tables of docs/lab)."""
    from resp_mhavae.cli import main

    cfg, run = trained_run
    summary = detect(cfg, run)
    rows = {(r["method"], r["threshold_rule"]): r for r in summary["results"]}
    code = main(
        ["summarize", str(run), "--results", "detection_metrics.json", "--keys", "*window_f2"]
    )
    assert code == 0
    table = capsys.readouterr().out
    for key, row in (
        ("primary.mhavae.window_f2", rows["mhavae", "validation"]),
        ("results.mhavae.validation.window_f2", rows["mhavae", "validation"]),
        ("results.mhavae.test.window_f2", rows["mhavae", "test"]),
    ):
        assert f"| {key} | 1 | {row['window_f2']:.4g} |" in table, key


def test_window_metrics_equal_sklearn_and_the_original_rule_flags_the_top_percent(
    trained_run,
) -> None:
    cfg, run = trained_run
    prepared = load_prepared(cfg.data, run / "data")
    rng = np.random.default_rng(0)
    scores = {"score": prepared.labels * 1.0 + rng.normal(0, 0.7, len(prepared.labels))}
    scores["score"][:2] = np.nan  # no history for the first k windows
    dec = decide(scores, prepared, 80.0, "test", beta=2.0)
    test = prepared.split == TEST
    y, s = prepared.labels[test], scores["score"][test]
    flags = (s > dec.threshold).astype(int)
    assert abs(flags.mean() - 0.2) < 0.05  # the seed's rule always flags ~20 % of the test windows
    assert np.isclose(dec.metrics["window_f2"], fbeta_score(y, flags, beta=2.0))
    assert np.isclose(dec.metrics["window_auc_pr"], average_precision_score(y, s))
    assert np.isclose(dec.metrics["window_roc_auc"], roc_auc_score(y, s))


def test_clean_data_is_mostly_ignored_under_the_honest_threshold(trained_run) -> None:
    cfg, run = trained_run
    prepared = load_prepared(cfg.data, run / "data")
    scores = np.load(run / "scores.npz") if (run / "scores.npz").is_file() else None
    if scores is None:
        detect(cfg, run)
        scores = np.load(run / "scores.npz")
    s = {"score": scores["mhavae__score"]}
    dec = decide(s, prepared, 99.0, "validation", beta=2.0)
    normal_test = (prepared.split == TEST) & (prepared.labels == 0)
    assert dec.flags[normal_test].mean() < 0.35


def test_original_protocol_runs_end_to_end(recording: Path, tmp_path: Path, tiny) -> None:
    from resp_mhavae.train import train

    cfg = tiny(recording, protocol="original", train_anomalies="drop_rows")
    cfg = dataclasses.replace(
        cfg,
        detect=dataclasses.replace(
            cfg.detect, baselines=["isolation_forest"], use_deviation_gate=True
        ),
    )
    run = train(cfg, tmp_path / "orig")
    summary = detect(cfg, run)
    primary = [r for r in summary["results"] if r["primary"]]
    assert {r["threshold_rule"] for r in primary} == {"test"}
    assert not (run / "lstm_only").exists()


def test_validation_rule_falls_back_when_no_window_is_normal(trained_run) -> None:
    cfg, run = trained_run
    prepared = load_prepared(cfg.data, run / "data")
    prepared.labels = np.ones_like(prepared.labels)  # long windows: every one holds some anomaly
    scores = {"score": np.linspace(0, 1, len(prepared.labels))}
    dec = decide(scores, prepared, 80.0, "validation", beta=2.0)
    assert dec.metrics["threshold_reference"].startswith("train + validation")
    assert dec.metrics["window_roc_auc"] is None  # one class only: not defined, not an error


def test_five_channels_at_50_hz_train_and_detect(tmp_path: Path, tiny) -> None:
    """Any number of modalities and any sample rate: a 5-channel NPZ recording at 50 Hz end to end."""
    from resp_mhavae.config import resolved_modality_weights
    from resp_mhavae.generator import breathing
    from resp_mhavae.train import train

    syn = breathing(3000, fs=50.0, n_anomalies=4, seed=3)
    rng = np.random.default_rng(0)
    extra = syn.values[:, 1:] + rng.normal(0, 0.05, (3000, 2))  # two more correlated sensors
    labels = np.zeros(3000, np.int8)
    for s, e, _ in syn.intervals:
        labels[s : e + 1] = 1
    path = tmp_path / "five.npz"
    np.savez(path, values=np.hstack([syn.values, extra]), labels=labels, sample_rate_hz=50.0)
    cfg = tiny(path, format="npz")
    cfg = dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, l_win=50),
        train=dataclasses.replace(cfg.train, epochs=1),
        lstm=dataclasses.replace(cfg.lstm, epochs=1),
        detect=dataclasses.replace(cfg.detect, baselines=["lstm_only"]),
    )
    run = train(cfg, tmp_path / "run")
    prepared = load_prepared(cfg.data, run / "data")
    assert prepared.windows.shape[1:] == (5, 50) and prepared.sample_rate_hz == 50.0
    assert prepared.channels == [f"ch{i}" for i in range(5)]
    assert resolved_modality_weights(cfg.model, 5) == [0.2] * 5
    summary = detect(cfg, run)
    assert {r["method"] for r in summary["results"]} == {"mhavae", "lstm_only"}
    assert all(r["n_test_windows"] > 0 for r in summary["results"])


def test_a_test_part_without_anomalies_is_not_scorable_never_zero(
    recording: Path, tiny, caplog
) -> None:
    import logging

    p = load_prepared(tiny(recording).data)
    test = p.split == 2
    p.labels[test] = 0
    L = p.windows.shape[-1]
    p.row_labels.reshape(-1, L)[test] = 0
    scores = {"score": np.random.default_rng(0).random(len(p.labels))}
    with caplog.at_level(logging.WARNING):
        dec = decide(scores, p, 80.0, "validation", 2.0)
    assert "not scorable" in caplog.text
    m = dec.metrics
    assert m["scorable"] is False
    assert m["event_detection_rate"] is None and m["window_f2"] is None
    assert m["window_roc_auc"] is None and m["n_test_windows"] == int(test.sum())
