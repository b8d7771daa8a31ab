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
    LAYOUT_2021,
    Clip,
    WindowDataset,
    common_rate,
    extract_features,
    list_clips,
    machine_dirs,
    make_bank,
)
from dcase_cae.official import (
    OFFICIAL_KEYS,
    RESULT_KEYS,
    bootstrap_intervals,
    official_score,
    partial_auc,
    roc_auc,
    section_metrics,
    section_official_score,
)
from dcase_cae.scores import (
    Reference,
    fit_reference,
    needs_training_clips,
    score_clips,
    threshold_clip_indices,
    training_scores,
)
from dcase_cae.train import PACKAGE, cache_dir_for, load_trained

log = logging.getLogger(__name__)

# per-group figures averaged over a machine type's groups (the official score is a harmonic mean instead)
AVERAGED = (
    "AUC",
    "pAUC",
    "AUC_source",
    "AUC_target",
    "AUC_source_in",
    "AUC_target_in",
    "official_score",
    "precision",
    "recall",
    "F1",
)

# --------------------------------------------------------------------------------------------- scores


def ranking_figures(
    labels: np.ndarray, domains: np.ndarray, scores: np.ndarray, max_fpr: float
) -> dict[str, float]:
    """AUC and pAUC of a group of clips; with domains (2021+ layout) also the official per-domain AUCs,
    the in-domain AUCs and the section's official score (see `official.py`)."""
    if not any(domains):
        return {"AUC": roc_auc(labels, scores), "pAUC": partial_auc(labels, scores, max_fpr)}
    figures = section_metrics(labels, domains, scores, max_fpr)
    figures["AUC"] = figures["AUC_all"]
    score = section_official_score(figures)
    if score is not None:
        figures["official_score"] = score
    return figures


def fit_decision(
    model: nn.Module,
    cfg: Config,
    train_clips: Sequence[Clip],
    cache_dir: Path | None,
    rate: int,
    device: torch.device | str = "cpu",
) -> tuple[Reference, np.ndarray]:
    """(what test clips are scored against, training clip scores for the threshold).

    Selective Mahalanobis and k-NN scores are measured against all training clips; the threshold is
    fitted on at most `decision.threshold_clips` of them (`threshold_clip_indices`), so for MSE scores
    only those are read.
    """
    keep = threshold_clip_indices(len(train_clips), cfg)
    if needs_training_clips(cfg):
        used = list(train_clips)
    else:
        used, keep = [train_clips[i] for i in keep], np.arange(len(keep))
    feats = extract_features(used, cfg.data, cache_dir, rate)
    names = [str(c.path) for c in used]
    reference = fit_reference(model, cfg, feats, [c.domain for c in used], names, device)
    return reference, training_scores(model, cfg, feats, reference, keep, names, device)


def score_test_and_train(
    model: nn.Module,
    cfg: Config,
    machine_dir: Path,
    test_clips: Sequence[Clip],
    test_feats: Sequence[np.ndarray],
    train_clips: Sequence[Clip],
    cache_dir: Path,
    rate: int,
    device: torch.device,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(test clip scores, training clip scores for the threshold or None without training clips)."""
    test_names = [str(c.path) for c in test_clips]
    if not train_clips:
        if needs_training_clips(cfg):
            raise DataError(
                f"{machine_dir / 'train'}: not found; {cfg.model.name} with {cfg.model.score} "
                f"scores measures test clips against the training clips"
            )
        return score_clips(model, cfg, test_feats, Reference(), test_names, device), None
    reference, train_scores = fit_decision(model, cfg, train_clips, cache_dir, rate, device)
    return score_clips(model, cfg, test_feats, reference, test_names, device), train_scores


def _reconstruction_examples(
    model: nn.Module,
    cfg: Config,
    test_clips: Sequence[Clip],
    test_feats: Sequence[np.ndarray],
    scores: np.ndarray,
    out: RunDir,
    title: str,
    device: torch.device,
) -> None:
    """Figure: the most normal-looking and the most anomalous test clip, one window each."""
    from dcase_cae.plots import reconstruction_figure

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
    figure = reconstruction_figure(
        x.numpy(),
        x_hat.numpy(),
        cfg,
        title=title,
        labels=[
            f"lowest score {test_clips[pick[0]].path.name}",
            f"highest {test_clips[pick[1]].path.name}",
        ],
    )
    out.save_figure(figure, f"reconstruction_{test_clips[0].machine_type}")


def method_name(cfg: Config) -> str:
    """Model and score, e.g. `dense_ae/selective_mahalanobis` or `embedding/knn1`."""
    if cfg.model.name == "embedding":
        return f"embedding/knn{cfg.model.knn_k}"
    return f"{cfg.model.name}/{cfg.model.score}"


# settings that do not change what is measured: runs differing only in these are repeats
_NOT_CONFIGURATION = {
    "data": ("data_dir", "cache_dir", "feature_workers", "machine_type"),
    "train": ("seed", "device", "progress", "num_workers"),
    "figures": None,
}


def config_id(cfg: Config) -> str:
    """A short fingerprint of every setting except seed, paths, device and figures."""
    import hashlib
    import json

    d = to_dict(cfg)
    for section, keys in _NOT_CONFIGURATION.items():
        if keys is None:
            d.pop(section, None)
        else:
            for key in keys:
                d.get(section, {}).pop(key, None)
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:8]


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
    "model": ("score", "knn_k"),  # how a trained model's outputs become a clip score
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

    from dcase_cae.plots import roc_figure, score_histogram_figure

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
    scores, train_scores = score_test_and_train(
        model, cfg, machine_dir, test_clips, test_feats, train_clips, cache_dir, rate, device
    )
    threshold, threshold_source = None, None
    if train_scores is not None:
        threshold = fit_threshold(train_scores, cfg)
        threshold_source = (
            f"{cfg.decision.method} q={cfg.decision.quantile:g} on {len(train_scores)} train clips"
        )
    else:
        log.warning("%s: no train/ folder, so no decision threshold (scores only)", machine_dir)

    rows, per_id_plot, curves = [], {}, {}
    layout = test_clips[0].layout
    ids = sorted({c.machine_id for c in test_clips})
    for machine_id in ids:
        sel = np.array([c.machine_id == machine_id for c in test_clips])
        clips_id: list[Clip] = [c for c, s in zip(test_clips, sel) if s]
        s = scores[sel]
        tag = (
            f"{machine_type}_section_{machine_id}_test"
            if layout == LAYOUT_2021
            else f"{machine_type}_id_{machine_id}"
        )
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
            domains = np.array([c.domain or "" for c in clips_id], dtype=object)
            row.update(n_normal=int((labels == 0).sum()), n_anomaly=int((labels == 1).sum()))
            if row["n_normal"] and row["n_anomaly"]:
                row.update(ranking_figures(labels, domains, s, cfg.decision.max_fpr))
                if cfg.decision.n_bootstrap:
                    row["ci95"] = bootstrap_intervals(
                        labels,
                        domains,
                        s,
                        lambda y, d, x: ranking_figures(y, d, x, cfg.decision.max_fpr),
                        n_boot=cfg.decision.n_bootstrap,
                        seed=cfg.train.seed,
                    )
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
    if cfg.model.name != "embedding":
        _reconstruction_examples(model, cfg, test_clips, test_feats, scores, out, name, device)

    averages = {}
    for key in AVERAGED:
        vals = [r[key] for r in rows if key in r]
        if vals and key != "official_score":
            averages[key] = float(np.mean(vals))
    official = [r[k] for r in rows for k in OFFICIAL_KEYS if k in r]
    if official and all(all(k in r for k in OFFICIAL_KEYS) for r in rows):
        averages["official_score"] = official_score(official)
    return {
        "machine_type": machine_type,
        "model": cfg.model.name,
        "method": method_name(cfg),
        "config_id": config_id(cfg),
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


RESULT_COLUMNS = (
    "AUC",
    "pAUC",
    "precision",
    "recall",
    "F1",
    "n_normal",
    "n_anomaly",
    "AUC_source",
    "AUC_target",
    "AUC_source_in",
    "AUC_target_in",
    "official_score",
)


def result_rows(results: Sequence[dict[str, Any]]) -> list[list[str]]:
    """`result.csv`: per machine type, one row per ID or section then its average (the 2021+ columns
    stay empty for the 2020 layout; the average's official_score is the harmonic mean of the sections'
    AUC_source, AUC_target and pAUC)."""
    header = ["machine_type", "machine_id", *RESULT_COLUMNS]
    rows = [header]
    for res in results:
        for r in res["ids"]:
            rows.append([_fmt(r.get(k)) for k in header])
        avg = res["average"]
        rows.append([res["machine_type"], "average"] + [_fmt(avg.get(k)) for k in header[2:]])
    return rows


def _with_ci(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    lo_hi = (row.get("ci95") or {}).get(key)
    return f"{value:.3f}" + (f" [{lo_hi[0]:.2f}, {lo_hi[1]:.2f}]" if lo_hi else "")


def results_markdown(results: Sequence[dict[str, Any]], title: str = "Test results") -> str:
    """Per machine type, a table of every figure the groups have, each with its bootstrap 95 % interval
    over test clips in brackets."""
    lines = [f"# {title}", ""]
    for res in results:
        keys = [k for k in RESULT_KEYS if any(k in r for r in res["ids"])]
        lines += [
            f"## {res['machine_type']} ({res['model']}, {res['mode']} mode)",
            "",
            f"checkpoint `{res['checkpoint']}`; threshold "
            f"{_fmt(res['threshold'])} ({res['threshold_source'] or 'none'}); chance level 0.5 "
            f"for every AUC and pAUC; [95 % bootstrap interval over test clips]",
            "",
            "| group | " + " | ".join(keys) + " | normal score mean | anomaly score mean |",
            "|---|" + "---|" * (len(keys) + 2),
        ]
        for r in res["ids"]:
            n, a = r.get("score_normal") or {}, r.get("score_anomaly") or {}
            cells = [r["machine_id"], *(_with_ci(r, k) for k in keys)]
            cells += [_fmt(n.get("mean")), _fmt(a.get("mean"))]
            lines.append("| " + " | ".join(cells) + " |")
        avg = res["average"]
        lines.append("| **average** | " + " | ".join(_fmt(avg.get(k)) for k in keys) + " | | |")
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
    # every checkpoint is loaded (and a bad one refused) before anything is written; an input error
    # during testing removes an output folder that this call created
    loaded = [(mtype, *load_trained(source, dev)) for mtype, source in subs.items()]
    with RunDir.created(
        PACKAGE,
        run_dir=out_dir if out_dir is not None else run_dir,
        verb="test",
        tensorboard=False,
    ) as out:
        results = []
        for mtype, model, cfg, state in loaded:
            cfg = apply_test_overrides(cfg, overrides)
            root = data_dir if data_dir is not None else cfg.data.data_dir
            mtype = mtype or cfg.data.machine_type
            dirs = machine_dirs(root, mtype or None)
            if len(dirs) > 1:
                raise DataError(
                    f"{root}: several machine types ({', '.join(dirs)}); name one with "
                    f"--machine-type"
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
        out.write_json("results.json", {"results": results, "data_dir": str(root)})
        out.write_text("results.md", results_markdown(results))
    return {"results": results, "out_dir": out.path}
