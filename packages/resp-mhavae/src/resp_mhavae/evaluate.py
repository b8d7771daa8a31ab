"""Detection: window scores -> thresholds -> point-wise, event-wise and ranking metrics for every method.

Seed system: MHA-VAE-LSTM (see model.py). The score of a window is its modality-weighted reconstruction
error plus `prediction_weight` times the error of the LSTM's autoregressive prediction decoded to signal
space (default 0: the reconstruction error alone; the seed's 0.5 is in configs/seed.yaml). Two protocols:

- `original` (the seed's): z-score with statistics of the whole recording (done in data.py) and threshold =
  the `threshold_percent` percentile of the *test* scores, so the top 20 % of test windows are always flagged.
- `honest` (default): statistics of the training part, threshold = that percentile of the *validation*
  (normal) scores. Every run also reports the other threshold rule, and the threshold-free AUC-PR and
  ROC-AUC of the raw scores, window-level and row-level.

Baselines on the same windows: the VAE-LSTM without attention, an LSTM-only predictor (one-step-ahead
error, as LSTM-AD by Malhotra et al. 2015) and IsolationForest on per-window statistics. Point-adjusted
figures are labelled `point_adjusted_*`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sigzoo_shared import RunDir, resolve_device
from sigzoo_shared import metrics as M

from resp_mhavae.config import Config, resolved_modality_weights
from resp_mhavae.data import TEST, TRAIN, VAL, Prepared, load_prepared
from resp_mhavae.detectors import isolation_forest
from resp_mhavae.factory import load_model
from resp_mhavae.model import MHAVAE, SequenceLSTM, weighted_squared_error

log = logging.getLogger(__name__)

METHOD_NAMES = {
    "mhavae": "MHA-VAE-LSTM",
    "vae_lstm_no_attention": "VAE-LSTM (no attention)",
    "lstm_only": "LSTM only",
    "isolation_forest": "IsolationForest",
}


# ---------------------------------------------------------------------------------------- scoring


@torch.no_grad()
def vae_lstm_scores(
    vae: MHAVAE,
    lstm: SequenceLSTM,
    windows: np.ndarray,
    k: int,
    weights: torch.Tensor,
    prediction_weight: float,
    device: torch.device,
    batch_size: int = 64,
) -> dict[str, np.ndarray]:
    """Per-window reconstruction and prediction errors (W,); the first k windows have no prediction (NaN)."""
    vae.eval(), lstm.eval()
    w = weights.to(device)
    x_all = torch.from_numpy(windows).to(device)
    mus, recon = [], []
    for i in range(0, len(x_all), batch_size):
        x = x_all[i : i + batch_size]
        mu, _ = vae.encode(x)
        mus.append(mu)
        recon.append(weighted_squared_error(x, vae.decode(mu), w))
    mu = torch.cat(mus)  # (W, D, L)
    rec = torch.cat(recon)
    pred = torch.full_like(rec, float("nan"))
    targets = torch.arange(k, len(windows), device=device)
    for i in range(0, len(targets), batch_size):
        t = targets[i : i + batch_size]
        history = torch.stack([mu[j - k : j] for j in t.tolist()])  # (B, k, D, L)
        z_hat = lstm.generate(history)
        pred[t] = weighted_squared_error(x_all[t], vae.decode(z_hat), w)
    score = rec + prediction_weight * pred
    return {
        "score": score.cpu().numpy(),
        "recon_error": rec.cpu().numpy(),
        "pred_error": pred.cpu().numpy(),
    }


@torch.no_grad()
def lstm_only_scores(
    lstm: SequenceLSTM,
    windows: np.ndarray,
    k: int,
    weights: torch.Tensor,
    device: torch.device,
    batch_size: int = 64,
) -> dict[str, np.ndarray]:
    """One-step-ahead prediction error of each window from its true past (W,); NaN for the first k."""
    lstm.eval()
    x_all = torch.from_numpy(windows).to(device)
    out = np.full(len(windows), np.nan)
    targets = list(range(k, len(windows)))
    for i in range(0, len(targets), batch_size):
        t = targets[i : i + batch_size]
        seq = torch.stack([x_all[j - k : j + 1] for j in t])  # (B, k + 1, C, L)
        out[t] = weighted_squared_error(seq[:, -1], lstm(seq), weights.to(device)).cpu().numpy()
    return {"score": out}


def isolation_forest_scores(prepared: Prepared, seed: int) -> dict[str, np.ndarray]:
    """IsolationForest on the statistics of the normal training windows (detectors.py)."""
    return {"score": isolation_forest(prepared.train_windows, prepared.windows, seed)}


# ---------------------------------------------------------------------------------------- metrics


def _safe(fn: Any, y: np.ndarray, s: np.ndarray) -> float | None:
    try:
        return fn(y, s)
    except ValueError:  # one class only
        return None


@dataclass
class Decision:
    threshold: float
    flags: np.ndarray  # (W,) over all windows
    metrics: dict[str, Any] = field(default_factory=dict)


def decide(
    scores: dict[str, np.ndarray],
    prepared: Prepared,
    threshold_percent: float,
    rule: str,
    beta: float,
    gate_ratio: float | None = None,
) -> Decision:
    """Threshold the scores by `rule` ('validation' or 'test'), then score the test part."""
    s = scores["score"]
    scorable = np.isfinite(s)
    ref_mask = scorable & (
        (prepared.split == VAL) & (prepared.labels == 0)
        if rule == "validation"
        else prepared.split == TEST
    )
    reference = rule
    if (
        not ref_mask.any()
    ):  # no normal validation window: normal training windows, then any before test
        reference = "train (no normal validation window)"
        ref_mask = scorable & (prepared.split == TRAIN) & (prepared.labels == 0)
    if not ref_mask.any():
        reference = "train + validation, labels ignored (no normal window)"
        ref_mask = scorable & (prepared.split != TEST)
    if reference != rule:
        log.warning("%s: threshold rule %r fitted on %s", prepared.name, rule, reference)
    threshold = M.percentile_threshold(s[ref_mask], threshold_percent)
    flags = scorable & (s > threshold)
    if gate_ratio is not None and "pred_error" in scores:
        p = scores["pred_error"]
        p_thr = M.percentile_threshold(p[ref_mask], threshold_percent)
        flags &= p >= gate_ratio * p_thr
    test = (prepared.split == TEST) & scorable
    y, f, st = prepared.labels[test], flags[test].astype(int), s[test]
    L = prepared.windows.shape[-1]
    rows_y = prepared.row_labels.reshape(-1, L)[test].ravel()
    rows_f = np.repeat(f, L)
    rows_s = np.repeat(st, L)
    window = M.precision_recall_fbeta(y, f, beta)
    point = M.precision_recall_fbeta(rows_y, rows_f, beta)
    event = M.event_wise_fbeta(rows_y, rows_f, beta)
    adjusted = M.precision_recall_fbeta(rows_y, M.point_adjust(rows_y, rows_f), beta)
    metrics = {
        "threshold_rule": rule,
        "threshold_reference": reference,
        "threshold": threshold,
        "n_test_windows": int(test.sum()),
        "n_anomalous_test_windows": int(y.sum()),
        "flagged_fraction": float(f.mean()) if f.size else 0.0,
        "window_precision": window["precision"],
        "window_recall": window["recall"],
        "window_f2": window["fbeta"],
        "point_precision": point["precision"],
        "point_recall": point["recall"],
        "point_f2": point["fbeta"],
        "event_detection_rate": event["recall"],
        "event_precision": event["precision"],
        "event_f2": event["fbeta"],
        "n_events": event["n_true_events"],
        "point_adjusted_f2": adjusted["fbeta"],
        "window_auc_pr": _safe(M.auc_pr, y, st),
        "window_roc_auc": _safe(M.roc_auc, y, st),
        "point_auc_pr": _safe(M.auc_pr, rows_y, rows_s),
        "point_roc_auc": _safe(M.roc_auc, rows_y, rows_s),
        "window_prevalence": float(y.mean()) if y.size else None,
        "point_prevalence": float(rows_y.mean()) if rows_y.size else None,
    }
    if not rows_y.any():  # nothing to find: recall-based figures are undefined, not 0
        log.warning(
            "%s: the test part holds no labelled anomaly; not scorable (recall, F2 and AUCs left "
            "empty). Use data.split=nab (NAB's protocol) for series whose anomalies come early",
            prepared.name,
        )
        kept = ("threshold", "n_test_windows", "n_anomalous_test_windows", "flagged_fraction")
        metrics = {
            k: (v if k in kept or k.startswith("threshold") else None) for k, v in metrics.items()
        }
    metrics["scorable"] = bool(rows_y.any())
    return Decision(threshold, flags, metrics)


def compute_scores(
    cfg: Config, run_path: Path, prepared: Prepared, device: torch.device
) -> dict[str, dict[str, np.ndarray]]:
    """Scores of every trained method on every window of the recording."""
    weights = torch.tensor(
        resolved_modality_weights(cfg.model, len(prepared.channels)), dtype=torch.float32
    )
    k = cfg.data.look_back_num
    out: dict[str, dict[str, np.ndarray]] = {}
    for name in ("mhavae", "vae_lstm_no_attention"):
        if name != "mhavae" and name not in cfg.detect.baselines:
            continue
        vae = load_model(run_path / name / "vae", device)
        lstm = load_model(run_path / name / "lstm", device)
        out[name] = vae_lstm_scores(
            vae, lstm, prepared.windows, k, weights, cfg.detect.prediction_weight, device
        )
    if "lstm_only" in cfg.detect.baselines:
        out["lstm_only"] = lstm_only_scores(
            load_model(run_path / "lstm_only", device), prepared.windows, k, weights, device
        )
    if "isolation_forest" in cfg.detect.baselines:
        s = isolation_forest_scores(prepared, cfg.train.seed)["score"]
        s[:k] = np.nan  # same windows as the predictors
        out["isolation_forest"] = {"score": s}
    return out


def evaluate_scores(
    cfg: Config,
    scores: dict[str, dict[str, np.ndarray]],
    prepared: Prepared,
    threshold_percent: float | None = None,
) -> list[dict[str, Any]]:
    """One row per method and threshold rule; the protocol's own rule is marked `primary`."""
    d = cfg.detect
    pct = d.threshold_percent if threshold_percent is None else threshold_percent
    primary = "test" if cfg.data.protocol == "original" else "validation"
    gate = d.deviation_ratio if d.use_deviation_gate else None
    rows = []
    for name, sc in scores.items():
        for rule in ("validation", "test"):
            dec = decide(sc, prepared, pct, rule, d.beta, gate)
            rows.append(
                {
                    # names the row in `resp-mhavae summarize` keys: results.<method>.<rule>.<metric>
                    "name": f"{name}.{rule}",
                    "method": name,
                    "protocol": cfg.data.protocol,
                    "primary": rule == primary,
                    "threshold_percent": pct,
                    **dec.metrics,
                }
            )
    return rows


def detect(cfg: Config, run_dir: Path, device_name: str | None = None) -> dict[str, Any]:
    """Score the test part with every trained method; write detection_metrics.json, results.* and figures."""
    from resp_mhavae import plots

    run = RunDir(run_dir)
    device = resolve_device(device_name or cfg.train.device)
    prepared = load_prepared(cfg.data, run.path / "data")
    scores = compute_scores(cfg, run.path, prepared, device)
    rows = evaluate_scores(cfg, scores, prepared)
    primary = [r for r in rows if r["primary"]]
    main = next(r for r in primary if r["method"] == "mhavae")
    dec = decide(
        scores["mhavae"],
        prepared,
        cfg.detect.threshold_percent,
        main["threshold_rule"],
        cfg.detect.beta,
        cfg.detect.deviation_ratio if cfg.detect.use_deviation_gate else None,
    )
    np.savez_compressed(
        run.path / "scores.npz",
        **{f"{m}__{k}": v for m, s in scores.items() for k, v in s.items()},
        labels=prepared.labels,
        split=prepared.split,
    )
    summary = {
        "recording": prepared.name,
        "protocol": cfg.data.protocol,
        "l_win": cfg.data.l_win,
        "look_back_num": cfg.data.look_back_num,
        "threshold_percent": cfg.detect.threshold_percent,
        "beta": cfg.detect.beta,
        "seed": cfg.train.seed,
        # each method under its protocol's own threshold rule: primary.<method>.<metric>
        "primary": {r["method"]: r for r in primary},
        "results": rows,
    }
    run.write_json("detection_metrics.json", summary)
    columns = [
        "method",
        "protocol",
        "threshold_rule",
        "primary",
        "threshold_percent",
        "window_f2",
        "event_detection_rate",
        "point_f2",
        "event_f2",
        "point_adjusted_f2",
        "window_auc_pr",
        "window_roc_auc",
        "point_auc_pr",
        "point_roc_auc",
        "window_prevalence",
        "point_prevalence",
        "flagged_fraction",
        "n_test_windows",
        "n_anomalous_test_windows",
        "n_events",
    ]
    run.write_csv("results.csv", [[r.get(c) for c in columns] for r in rows], header=columns)
    run.write_text("results.md", results_markdown(summary))
    plots.comparison_figure(
        run,
        prepared,
        dec.flags,
        f"{METHOD_NAMES['mhavae']} ({main['threshold_rule']} "
        f"threshold, {cfg.detect.threshold_percent:g}th percentile)",
    )
    plots.score_figure(run, prepared, scores, {r["method"]: r["threshold"] for r in primary})
    return summary


def fmt(v: Any) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def results_markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"# Detection on {summary['recording']} (protocol {summary['protocol']}, l_win "
        f"{summary['l_win']}, look_back_num {summary['look_back_num']}, threshold "
        f"{summary['threshold_percent']:g}th percentile)",
        "",
        "| method | threshold on | window F2 | event det. rate | point F2 | event F2 | window AUC-PR | "
        "window ROC-AUC | point AUC-PR | point-adjusted F2 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in summary["results"]:
        lines.append(
            f"| {METHOD_NAMES.get(r['method'], r['method'])} | {r['threshold_rule']}"
            f"{' (protocol)' if r['primary'] else ''} | {fmt(r['window_f2'])} | "
            f"{fmt(r['event_detection_rate'])} | {fmt(r['point_f2'])} | {fmt(r['event_f2'])} | "
            f"{fmt(r['window_auc_pr'])} | {fmt(r['window_roc_auc'])} | {fmt(r['point_auc_pr'])} | "
            f"{fmt(r['point_adjusted_f2'])} |"
        )
    r0 = summary["results"][0]
    lines += [
        "",
        f"Chance: window AUC-PR = prevalence {fmt(r0['window_prevalence'])}, point AUC-PR = "
        f"{fmt(r0['point_prevalence'])}, ROC-AUC 0.5. Point-adjusted F2 marks a whole labelled "
        "interval as found when any of its rows is flagged (inflated; for comparison only).",
        "",
    ]
    return "\n".join(lines)
