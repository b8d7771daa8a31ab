"""Testing by the DCASE 2020 Task 2 protocol, plus decisions as in the DCASE 2021-2023 baselines.

Score of a clip = mean squared reconstruction error over its windows (CAE patches or dense-AE frame
vectors), the seed's and the baseline's score. Per machine ID: AUC and pAUC (`roc_auc_score(y, s,
max_fpr=0.1)`, the official evaluator, via `sigzoo_shared.metrics`), then per machine-type averages.
Decisions: a threshold at the 90th percentile of a gamma distribution fitted to the scores of the training
(normal) clips of that machine type; precision/recall/F1 of the per-file decisions beside AUC/pAUC.

Fixes of the seed: `test` uses the best checkpoint by validation loss (the seed took the lexicographically
first file, epoch 0); a file that cannot be read stops the test with its name (the seed scored it 0.0);
paths come from the command line or config, never from the code.

Outputs in the run directory: `anomaly_score_<type>_id_<id>.csv`, `decision_result_<type>_id_<id>.csv`,
`result.csv` (rows per ID, then the type's average), `results.json`, `results.md`, and figures.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sigzoo_shared import CheckpointError, ConfigError, DataError, RunDir, resolve_device
from sigzoo_shared import metrics as M
from sigzoo_shared.config import from_dict, merge, to_dict
from torch import nn

from dcase_cae.config import Config
from dcase_cae.data import (
    Clip,
    WindowDataset,
    common_rate,
    extract_features,
    list_clips,
    machine_dirs,
    make_bank,
)
from dcase_cae.train import cache_dir_for, load_trained

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------- scores


@torch.no_grad()
def window_errors(
    model: nn.Module, dataset: WindowDataset, batch_size: int, device: torch.device | str = "cpu"
) -> np.ndarray:
    """Mean squared reconstruction error of every window, (N,), model in eval mode."""
    model.eval()
    out = np.empty(len(dataset), dtype=np.float64)
    for start in range(0, len(dataset), batch_size):
        idx = np.arange(start, min(start + batch_size, len(dataset)))
        x = dataset.gather(idx).to(device)
        out[idx] = ((model(x) - x) ** 2).flatten(1).mean(dim=1).double().cpu().numpy()
    return out


def clip_scores(
    model: nn.Module,
    features: Sequence[np.ndarray],
    cfg: Config,
    names: Sequence[str] = (),
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """Anomaly score per clip: the mean of its windows' errors, (n_clips,)."""
    bank = make_bank(features, cfg.data, cfg.model.name, names)
    errors = window_errors(
        model, WindowDataset(bank, cfg.model.name), cfg.decision.score_batch_size, device
    )
    sums = np.bincount(bank.owner, weights=errors, minlength=len(features))
    counts = np.bincount(bank.owner, minlength=len(features))
    scores = sums / np.maximum(counts, 1)
    bad = [names[i] if i < len(names) else str(i) for i in np.flatnonzero(~np.isfinite(scores))]
    if bad:
        raise DataError(f"{bad[0]}: non-finite anomaly score ({len(bad)} clips affected)")
    return scores


def fit_threshold(normal_scores: np.ndarray, cfg: Config) -> float:
    """Decision threshold from normal training scores: gamma quantile (DCASE 2023) or plain percentile."""
    if cfg.decision.method == "gamma":
        return M.gamma_threshold(normal_scores, cfg.decision.quantile)
    return M.percentile_threshold(normal_scores, 100 * cfg.decision.quantile)


# ----------------------------------------------------------------------------------------------- test

# Settings a test may change on a trained run; everything else is fixed by the model and its features.
TEST_TIME_KEYS: dict[str, tuple[str, ...] | None] = {
    "decision": None,  # every key
    "data": ("resample", "channel", "cache_dir", "min_peak", "feature_workers"),
    "train": ("device",),
}


def apply_test_overrides(
    cfg: Config, layer: Mapping[str, Any] | None, source: str = "test overrides"
) -> Config:
    """The run's stored config with the keys given at test time merged in, key by key.

    `layer` is a nested mapping (a --config YAML and KEY=VALUE overrides); a section given in part keeps
    the run's other keys (`decision.quantile=0.95` leaves the run's `decision.threshold_clips`). A key
    outside `TEST_TIME_KEYS` is accepted only when it equals the stored value (e.g. the training YAML
    passed again); a different value is an error naming the key, since the trained model fixes it.
    """
    if not layer:
        return cfg
    stored = to_dict(cfg)
    given = to_dict(from_dict(Config, merge(stored, layer), source=source))  # checks keys and types
    problems = []
    for section, values in layer.items():
        allowed = TEST_TIME_KEYS.get(section, ())
        for key in values if isinstance(values, Mapping) else ():
            fixed = allowed is not None and key not in allowed
            if fixed and given[section][key] != stored[section][key]:
                problems.append(
                    f"{section}.{key}={given[section][key]!r} (the trained run has "
                    f"{stored[section][key]!r})"
                )
    if problems:
        keys = ", ".join(
            f"{sec}.*" if keys is None else ", ".join(f"{sec}.{k}" for k in keys)
            for sec, keys in TEST_TIME_KEYS.items()
        )
        raise ConfigError(
            f"{source}: cannot change at test time: {'; '.join(problems)}; the trained model fixes "
            f"these (test accepts {keys})"
        )
    return from_dict(Config, given, source=source)


def _subruns(run_dir: Path, machine_type: str | None) -> dict[str, Path]:
    """Machine type -> sub-run directory holding checkpoints/ (a flat run counts as its own type)."""
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir}: run directory not found")
    if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").glob("*.pt")):
        found = {run_dir.name: run_dir}
    else:
        found = {
            d.name: d
            for d in sorted(run_dir.iterdir())
            if d.is_dir() and (d / "checkpoints").is_dir() and any((d / "checkpoints").glob("*.pt"))
        }
    if not found:
        raise CheckpointError(
            f"{run_dir}: no trained model (expected <machine_type>/checkpoints/best.pt); "
            f"train first: dcase-cae train --data-dir DIR --run-dir {run_dir}"
        )
    if machine_type is not None:
        if machine_type not in found:
            raise CheckpointError(
                f"{run_dir}: no model for machine type {machine_type!r} "
                f"(trained: {', '.join(found)})"
            )
        found = {machine_type: found[machine_type]}
    return found


def _stats(x: np.ndarray) -> dict[str, float]:
    if x.size == 0:
        return {}
    return {
        "n": int(x.size),
        "mean": float(x.mean()),
        "std": float(x.std()),
        "min": float(x.min()),
        "median": float(np.median(x)),
        "max": float(x.max()),
    }


def test_machine(
    model: nn.Module,
    cfg: Config,
    machine_type: str,
    machine_dir: Path,
    out: RunDir,
    cache_dir: Path,
    device: torch.device,
    mode: str = "auto",
    checkpoint: str = "",
) -> dict[str, Any]:
    """Score one machine type's test clips; write per-ID CSVs and figures; return per-ID results."""
    from sklearn.metrics import roc_curve

    from dcase_cae.plots import reconstruction_figure, roc_figure, score_histogram_figure

    train_clips = (
        list_clips(machine_dir, "train", machine_type) if (machine_dir / "train").is_dir() else []
    )
    test_clips = list_clips(machine_dir, "test", machine_type)
    rate = common_rate(list(train_clips) + list(test_clips), cfg.data)
    labelled = all(c.label is not None for c in test_clips)
    if mode == "dev" and not labelled:
        first = next(c for c in test_clips if c.label is None)
        raise DataError(
            f"{first.path}: dev mode needs labels in file names (normal_*/anomaly_*); "
            f"use --mode eval to score without labels"
        )
    dev = labelled if mode == "auto" else mode == "dev"
    test_feats = extract_features(test_clips, cfg.data, cache_dir, rate)
    scores = clip_scores(model, test_feats, cfg, [str(c.path) for c in test_clips], device)

    threshold, threshold_source = None, None
    if (
        train_clips
        and cfg.decision.threshold_clips
        and len(train_clips) > cfg.decision.threshold_clips
    ):
        keep = (
            np.linspace(0, len(train_clips) - 1, cfg.decision.threshold_clips).round().astype(int)
        )
        train_clips = [train_clips[i] for i in keep]
    if train_clips:
        train_feats = extract_features(train_clips, cfg.data, cache_dir, rate)
        train_scores = clip_scores(
            model, train_feats, cfg, [str(c.path) for c in train_clips], device
        )
        threshold = fit_threshold(train_scores, cfg)
        threshold_source = (
            f"{cfg.decision.method} q={cfg.decision.quantile:g} on {len(train_clips)} train clips"
        )
    else:
        log.warning("%s: no train/ folder, so no decision threshold (scores only)", machine_dir)

    rows, per_id_plot, curves = [], {}, {}
    ids = sorted({c.machine_id for c in test_clips})
    for machine_id in ids:
        sel = np.array([c.machine_id == machine_id for c in test_clips])
        clips_id: list[Clip] = [c for c, s in zip(test_clips, sel) if s]
        s = scores[sel]
        tag = f"{machine_type}_id_{machine_id}"
        out.write_csv(
            f"anomaly_score_{tag}.csv", [[c.path.name, f"{v:.8g}"] for c, v in zip(clips_id, s)]
        )
        decisions = (s > threshold).astype(int) if threshold is not None else None
        if decisions is not None:
            out.write_csv(
                f"decision_result_{tag}.csv",
                [[c.path.name, int(d)] for c, d in zip(clips_id, decisions)],
            )
        row: dict[str, Any] = {
            "machine_type": machine_type,
            "machine_id": machine_id,
            "n_clips": int(sel.sum()),
        }
        labels = np.array([c.label for c in clips_id]) if dev else None
        if dev:
            row.update(n_normal=int((labels == 0).sum()), n_anomaly=int((labels == 1).sum()))
            if row["n_normal"] and row["n_anomaly"]:
                row["AUC"] = M.roc_auc(labels, s)
                row["pAUC"] = M.pauc(labels, s, cfg.decision.max_fpr)
                fpr, tpr, _ = roc_curve(labels, s)
                curves[machine_id] = (fpr, tpr, row["AUC"])
            else:
                log.warning("%s id %s: only one class in test/, no AUC", machine_type, machine_id)
            if decisions is not None:
                prf = M.precision_recall_fbeta(labels, decisions, beta=1.0)
                row.update(precision=prf["precision"], recall=prf["recall"], F1=prf["fbeta"])
            row["score_normal"] = _stats(s[labels == 0])
            row["score_anomaly"] = _stats(s[labels == 1])
        else:
            row["score_all"] = _stats(s)
        rows.append(row)
        per_id_plot[machine_id] = {"scores": s, "labels": labels}

    name = f"{machine_type} ({cfg.model.name})"
    out.save_figure(
        score_histogram_figure(per_id_plot, threshold, title=name), f"hist_{machine_type}"
    )
    if curves:
        out.save_figure(roc_figure(curves, cfg.decision.max_fpr, title=name), f"roc_{machine_type}")
    # the most normal-looking and most anomalous test clip, one window each
    pick = [int(np.argmin(scores)), int(np.argmax(scores))]
    bank = make_bank([test_feats[i] for i in pick], cfg.data, cfg.model.name)
    ds = WindowDataset(bank, cfg.model.name)
    first = [
        int(np.flatnonzero(bank.owner == k)[len(np.flatnonzero(bank.owner == k)) // 2])
        for k in (0, 1)
    ]
    with torch.no_grad():
        x = ds.gather(np.array(first))
        x_hat = model(x.to(device)).cpu()
    out.save_figure(
        reconstruction_figure(
            x.numpy(),
            x_hat.numpy(),
            cfg,
            title=name,
            labels=[
                f"lowest score {test_clips[pick[0]].path.name}",
                f"highest {test_clips[pick[1]].path.name}",
            ],
        ),
        f"reconstruction_{machine_type}",
    )

    averages = {}
    for key in ("AUC", "pAUC", "precision", "recall", "F1"):
        vals = [r[key] for r in rows if key in r]
        if vals:
            averages[key] = float(np.mean(vals))
    return {
        "machine_type": machine_type,
        "model": cfg.model.name,
        "mode": "dev" if dev else "eval",
        "checkpoint": checkpoint,
        "sample_rate_hz": rate,
        "threshold": threshold,
        "threshold_source": threshold_source,
        "ids": rows,
        "average": averages,
    }


def _fmt(v: Any) -> str:
    return f"{v:.4f}" if isinstance(v, float) else ("" if v is None else str(v))


def result_rows(results: Sequence[dict[str, Any]]) -> list[list[str]]:
    """`result.csv`: per machine type, one row per ID then its average (DCASE 2020 evaluator style)."""
    header = [
        "machine_type",
        "machine_id",
        "AUC",
        "pAUC",
        "precision",
        "recall",
        "F1",
        "n_normal",
        "n_anomaly",
    ]
    rows = [header]
    for res in results:
        for r in res["ids"]:
            rows.append([_fmt(r.get(k)) for k in header])
        avg = res["average"]
        rows.append(
            [res["machine_type"], "average"] + [_fmt(avg.get(k)) for k in header[2:7]] + ["", ""]
        )
    return rows


def results_markdown(results: Sequence[dict[str, Any]], title: str = "Test results") -> str:
    lines = [f"# {title}", ""]
    for res in results:
        lines += [
            f"## {res['machine_type']} ({res['model']}, {res['mode']} mode)",
            "",
            f"checkpoint `{res['checkpoint']}`; threshold "
            f"{_fmt(res['threshold'])} ({res['threshold_source'] or 'none'})",
            "",
            "| id | AUC | pAUC | precision | recall | F1 | normal score mean | anomaly score mean |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in res["ids"]:
            n, a = r.get("score_normal") or {}, r.get("score_anomaly") or {}
            lines.append(
                "| "
                + " | ".join(
                    _fmt(x)
                    for x in (
                        r["machine_id"],
                        r.get("AUC"),
                        r.get("pAUC"),
                        r.get("precision"),
                        r.get("recall"),
                        r.get("F1"),
                        n.get("mean"),
                        a.get("mean"),
                    )
                )
                + " |"
            )
        avg = res["average"]
        lines.append(
            "| **average** | "
            + " | ".join(_fmt(avg.get(k)) for k in ("AUC", "pAUC", "precision", "recall", "F1"))
            + " | | |"
        )
        lines.append("")
        t = res["machine_type"]
        lines += [f"![ROC](figures/roc_{t}.png) ![scores](figures/hist_{t}.png)", ""]
    return "\n".join(lines) + "\n"


def test(
    run_dir: Path | str,
    *,
    data_dir: Path | str | None = None,
    machine_type: str | None = None,
    checkpoint: Path | str | None = None,
    mode: str = "auto",
    out_dir: Path | str | None = None,
    device: str = "auto",
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Test the model(s) of a training run on the test clips; returns {'results': [...], 'out_dir': Path}.

    `checkpoint` picks a file instead of each type's best.pt (then `machine_type` must name one type when
    the run has several). `data_dir` replaces the training data location (e.g. an evaluation set).
    `overrides` (optional, a nested mapping) is merged key by key into each run's stored config, see
    `apply_test_overrides` (e.g. `{"decision": {"quantile": 0.95}}` keeps the run's other decision keys).
    """
    run_dir = Path(run_dir)
    dev = resolve_device(device)
    if checkpoint is not None and not (run_dir / "checkpoints").is_dir():
        subs = {machine_type or "": Path(checkpoint)}
    else:
        subs = _subruns(run_dir, machine_type)
        if checkpoint is not None:
            if len(subs) > 1:
                raise CheckpointError(
                    f"{run_dir}: --checkpoint with a run of {len(subs)} machine types; "
                    f"name one with --machine-type"
                )
            subs = {k: Path(checkpoint) for k in subs}
    out = RunDir(out_dir if out_dir is not None else run_dir, tensorboard=False)
    results = []
    for mtype, source in subs.items():
        model, cfg, state = load_trained(source, dev)
        cfg = apply_test_overrides(cfg, overrides)
        root = data_dir if data_dir is not None else cfg.data.data_dir
        mtype = mtype or cfg.data.machine_type
        dirs = machine_dirs(root, mtype or None)
        if len(dirs) > 1:
            raise DataError(
                f"{root}: several machine types ({', '.join(dirs)}); name one with --machine-type"
            )
        ((mtype, mdir),) = dirs.items()
        log.info(
            "%s: testing %s (epoch %d) on %s",
            mtype,
            state["path"],
            state["epoch"] + 1,
            mdir / "test",
        )
        res = test_machine(
            model,
            cfg,
            mtype,
            mdir,
            out,
            cache_dir_for(cfg, run_dir),
            dev,
            mode,
            checkpoint=f"{state['path']} (epoch {state['epoch'] + 1})",
        )
        results.append(res)
    out.write_csv("result.csv", result_rows(results)[1:], header=result_rows(results)[0])
    out.write_json("results.json", {"results": results})
    out.write_text("results.md", results_markdown(results))
    return {"results": results, "out_dir": out.path}
