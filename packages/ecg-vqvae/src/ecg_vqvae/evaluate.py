"""Evaluation on any WFDB records: reconstruction, codebook health, and forecasts against every naive method.

By default the run's own test records (patients never seen in training or validation); with `data_dir` /
`records`, any WFDB records, resampled to the model's rate when needed (noted in the results). Records the
model was trained or validated on are refused, or scored and flagged when the user insists
(`allow_training_records`). Records are read and scored one at a time (whole records by default) and
forecast examples in chunks, so memory stays bounded by one record whatever the set's length.

Forecast errors are over the first h seconds after the context ends ("horizon h"), per record and pooled,
for the latent forecaster, the naive forecasters of `baselines.py` and the RR-drawn naive ensemble, on
exactly the same examples: MAE, RMSE, PRD (`sigzoo_shared.metrics` definitions, pooled exactly from sums),
CRPS of K sampled futures, R-peak timing error and beat-aligned error (`scores.py`).
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sigzoo_shared import ConfigError, RunDir
from sigzoo_shared.bench import markdown_table
from sigzoo_shared.metrics import mae, prd, rmse, snr_db
from sigzoo_shared.runs import stored_overrides

from ecg_vqvae import plots
from ecg_vqvae.config import Config
from ecg_vqvae.data import (
    check_record,
    find_records,
    read_beats,
    read_record,
    record_segment,
    split_records,
    windows,
)
from ecg_vqvae.forecasts import (
    HISTORY,
    NAIVE,
    analogue_forecasts,
    forecast_all,
    model_forecasts,
    naive_forecasts,
    sample_futures,
    sampled_priors,
)
from ecg_vqvae.model import VQVAE, LatentForecaster
from ecg_vqvae.quantizer import perplexity
from ecg_vqvae.scores import ErrorSums, score_examples
from ecg_vqvae.train import PACKAGE, load_forecaster, load_model

log = logging.getLogger(__name__)
# Keys `evaluate` may override in the run's stored config: where the records are and which, how they
# are cut into forecast examples, batch sizes and the evaluate section; none of them changes the model.
EVALUATE_KEYS = (
    "data.data_dir",
    "data.cache_dir",
    "data.records",
    "data.leads",
    "data.signals_per_patient",
    "data.forecast_stride_s",
    "*train.device",
    "*train.num_workers",
    "*train.progress",
    "*train.batch_size",
    "evaluate.*",
)
MODEL_METHODS = ("vqvae_forecaster", "vqvae_beats")  # the point forecast and the beat head's
METHODS = (*MODEL_METHODS, *NAIVE, "rr_ensemble", *HISTORY)
CHUNK = 256  # forecast examples scored at once: bounds memory on whole records


# ------------------------------------------------------------------------------------ reconstruction


@torch.no_grad()
def reconstruct(model: VQVAE, x: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Reconstructions (n, L, T) and codes (n, N) of windows x (n, L, T)."""
    outs, codes = [], []
    for i in range(0, len(x), batch_size):
        x_hat, _, c = model(torch.from_numpy(np.ascontiguousarray(x[i : i + batch_size])))
        outs.append(x_hat.numpy())
        codes.append(c.numpy())
    return np.concatenate(outs), np.concatenate(codes)


def reconstruction_metrics(x: np.ndarray, x_hat: np.ndarray) -> dict[str, float]:
    return {
        "mse_mv2": float(np.mean((x - x_hat) ** 2)),
        "prd_pct": prd(x, x_hat),
        "prdn_pct": prd(x, x_hat, mean_removed=True),
        "snr_db": snr_db(x, x_hat),
        "n_windows": len(x),
    }


@dataclass
class ReconSums:
    """Sums behind MSE, PRD, PRDN and SNR, so records pool exactly (PRDN: the pooled mean removed)."""

    sq_err: float = 0.0
    x_sq: float = 0.0
    x_sum: float = 0.0
    points: int = 0
    windows: int = 0

    @classmethod
    def of(cls, x: np.ndarray, x_hat: np.ndarray) -> ReconSums:
        x64 = x.astype(np.float64)
        return cls(
            float(((x64 - x_hat) ** 2).sum()),
            float((x64**2).sum()),
            float(x64.sum()),
            x.size,
            len(x),
        )

    def add(self, other: ReconSums) -> None:
        self.sq_err += other.sq_err
        self.x_sq += other.x_sq
        self.x_sum += other.x_sum
        self.points += other.points
        self.windows += other.windows

    def metrics(self) -> dict[str, float]:
        centred = self.x_sq - self.x_sum**2 / self.points
        return {
            "mse_mv2": self.sq_err / self.points,
            "prd_pct": float(100 * np.sqrt(self.sq_err / self.x_sq)),
            "prdn_pct": float(100 * np.sqrt(self.sq_err / centred)),
            "snr_db": float(10 * np.log10(self.x_sq / self.sq_err))
            if self.sq_err
            else float("inf"),
            "n_windows": self.windows,
        }


def forecast_metrics(truth: np.ndarray, pred: np.ndarray, horizon_samples: int) -> dict[str, float]:
    t, p = truth[..., :horizon_samples], pred[..., :horizon_samples]
    return {"mae_mv": mae(t, p), "rmse_mv": rmse(t, p), "prd_pct": prd(t, p)}


# ------------------------------------------------------------------------------------------ records


@dataclass
class EvalSet:
    """Which records are scored, from where, and what the user should know about them."""

    data_dir: Path
    names: list[str]
    seen: list[str] = field(default_factory=list)  # trained/validated on, scored because insisted
    excluded: list[str] = field(default_factory=list)  # trained/validated on, left out by default
    notes: list[str] = field(default_factory=list)


def training_records(run_dir: Path, cfg: Config) -> set[str]:
    """Records the model was trained or validated on: the run's split.json (else the stored split)."""
    path = run_dir / "split.json"
    if path.is_file():
        split = json.loads(path.read_text())
        return set(split.get("train", [])) | set(split.get("val", []))
    if cfg.data.data_dir is None or not Path(cfg.data.data_dir).is_dir():
        raise ConfigError(
            f"{path}: not found, and the stored data.data_dir is unavailable: cannot tell which "
            "records trained this model"
        )
    split = split_records(find_records(cfg.data.data_dir, cfg.data.records), cfg.data)
    return set(split["train"]) | set(split["val"])


def select_records(
    run_dir: Path,
    cfg: Config,
    data_dir: Path | None,
    records: Sequence[str],
    allow_training_records: bool,
) -> EvalSet:
    """The records to score (see the module docstring); raises ConfigError for refused ones."""
    trained = training_records(run_dir, cfg)
    if data_dir is None:
        if cfg.data.data_dir is None:
            raise ConfigError("no records to score: pass --data-dir (data.data_dir is not set)")
        data_dir = Path(cfg.data.data_dir)
        if not records:
            path = run_dir / "split.json"
            if path.is_file():
                records = json.loads(path.read_text())["test"]
            else:
                names = find_records(data_dir, cfg.data.records)
                records = split_records(names, cfg.data)["test"]
    explicit = bool(records)
    names = find_records(data_dir, list(records))
    seen = [n for n in names if n in trained]
    if seen and not allow_training_records:
        if explicit:
            raise ConfigError(
                f"records {', '.join(seen)} were used to train or validate this model "
                f"({run_dir / 'split.json'}); scoring them would flatter it. Drop them, or pass "
                "--allow-training-records to score them flagged"
            )
        names = [n for n in names if n not in trained]
        if not names:
            raise ConfigError(
                f"{data_dir}: every record was used to train or validate this model; pass --records "
                "of other patients (or --allow-training-records to score them flagged)"
            )
        return EvalSet(data_dir, names, excluded=seen)
    return EvalSet(data_dir, names, seen=seen if allow_training_records else [])


def validate_records(evalset: EvalSet, cfg: Config) -> None:
    """Header-level checks of every record before anything is written; resampling is noted."""
    fs = cfg.data.samples_per_second
    for name in evalset.names:
        header, _ = check_record(evalset.data_dir, name, cfg.data.leads, cfg.model.in_channels)
        if header.fs != fs:
            evalset.notes.append(f"record {name}: {header.fs:g} Hz, resampled to {fs} Hz")
        if cfg.evaluate.beat_metrics and not (evalset.data_dir / f"{name}.atr").is_file():
            raise ConfigError(
                f"{evalset.data_dir / name}.atr: beat annotations not found (needed for the R-peak "
                "timing error); pass evaluate.beat_metrics=false to score without it"
            )
    if evalset.seen:
        evalset.notes.append(
            f"records {', '.join(evalset.seen)} were used to train or validate the model: their "
            "scores are flagged and flatter it"
        )
    if evalset.excluded:
        evalset.notes.append(
            f"records {', '.join(evalset.excluded)} were left out: used to train or validate the model"
        )


# ------------------------------------------------------------------------------------------- scoring


@dataclass
class RecordScores:
    recon: ReconSums
    reference: ReconSums
    counts: np.ndarray
    forecast: dict[tuple[str, float], ErrorSums]
    example: dict[str, Any] | None  # the first forecast example's arrays, for the figures
    window: tuple[np.ndarray, np.ndarray]  # the first window and its reconstruction (L, W)


def example_starts(n: int, context: int, future: int, stride: int, limit: int | None) -> np.ndarray:
    starts = np.arange(0, n - context - future + 1, stride)
    if limit is not None and len(starts) > limit:
        starts = starts[np.linspace(0, len(starts) - 1, limit).round().astype(int)]
    return starts


def forecast_examples(
    segment: np.ndarray,
    starts: np.ndarray,
    context: int,
    future: int,
    beats: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray] | None]:
    """The examples starting at `starts` of a segment (L, n): contexts (m, L, context), futures
    (m, L, future) and, given the record's beat samples, each future's beats relative to its start.
    One definition of an example, for `evaluate` and the measurement scripts alike."""
    contexts = np.stack([segment[:, s : s + context] for s in starts])
    truth = np.stack([segment[:, s + context : s + context + future] for s in starts])
    rel_beats = None
    if beats is not None:
        ends = np.asarray(starts) + context
        rel_beats = [beats[(beats >= e) & (beats < e + future)] - e for e in ends]
    return contexts, truth, rel_beats


def score_record(
    segment: np.ndarray,
    beats: np.ndarray | None,
    vqvae: VQVAE,
    forecaster: LatentForecaster | None,
    cfg: Config,
    rng: np.random.Generator,
) -> RecordScores:
    """Reconstruction and forecast error sums of one record's segment (L, n)."""
    fs, w, ev = cfg.data.samples_per_second, cfg.data.window_samples, cfg.evaluate
    x = windows(segment, w)  # (n_windows, L, W)
    x_hat, codes = reconstruct(vqvae, x, ev.batch_size)
    flat = np.broadcast_to(x.mean(axis=-1, keepdims=True), x.shape)  # reference: each window's mean
    counts = np.bincount(codes.ravel(), minlength=cfg.model.n_embed)
    future = w * cfg.forecast.forecast_predictions
    stride = max(1, int(round(cfg.data.forecast_stride_s * fs)))
    starts = example_starts(segment.shape[1], w, future, stride, ev.max_examples_per_record)
    horizons = [int(round(h * fs)) for h in cfg.forecast.horizons_s]
    sums: dict[tuple[str, float], ErrorSums] = defaultdict(ErrorSums)
    example = None
    for i in range(0, len(starts), CHUNK):
        chunk = starts[i : i + CHUNK]
        contexts, truth, rel_beats = forecast_examples(segment, chunk, w, future, beats)
        # contexts (m, L, W), truth (m, L, F)
        points = naive_forecasts(contexts, future, fs)
        samples: dict[str, np.ndarray] = {}
        if ev.n_samples:
            priors = sampled_priors(contexts, future, fs, ev.n_samples, rng)  # (K, m, L, F)
            samples["rr_ensemble"] = priors
            points["rr_ensemble"] = np.median(priors, axis=0)
        analogues, ensemble = analogue_forecasts(segment, chunk + w, w, future, fs, ev.n_samples)
        points.update(analogues)  # each (m, L, F)
        if ensemble is not None:
            samples["analogue"] = ensemble  # (K, m, L, F): the K closest analogues' futures
        if forecaster is not None:
            prior = points["repeat_last_beat"] if forecaster.use_prior else None
            points.update(model_forecasts(forecaster, contexts, prior, ev.batch_size))
            if ev.n_samples:
                samples["vqvae_forecaster"] = sample_futures(
                    forecaster, contexts, priors, ev.batch_size, ev.snap_samples
                )
        for method, point in points.items():
            for h_s, h in zip(cfg.forecast.horizons_s, horizons):
                sums[(method, h_s)].add(
                    score_examples(
                        truth, point, samples.get(method), rel_beats, h, fs, ev.timing_cap_s
                    )
                )
        if example is None:
            example = {
                "context": contexts[0],
                "truth": truth[0],
                "points": {m: p[0] for m, p in points.items()},
                "samples": {m: s[:, 0] for m, s in samples.items()},
            }
    return RecordScores(
        ReconSums.of(x, x_hat), ReconSums.of(x, flat), counts, dict(sums), example, (x[0], x_hat[0])
    )


def check_horizons(cfg: Config) -> None:
    fs = cfg.data.samples_per_second
    total = cfg.data.window_samples * cfg.forecast.forecast_predictions
    if any(round(h * fs) > total for h in cfg.forecast.horizons_s):
        raise ConfigError(
            f"forecast.horizons_s {cfg.forecast.horizons_s} exceed the forecast length "
            f"{total / fs:g} s (raise forecast.forecast_predictions)"
        )


# ------------------------------------------------------------------------------------------ the verb


def evaluate_run(
    run_dir: Path | str,
    data_dir: Path | str | None = None,
    records: Sequence[str] = (),
    out: Path | str | None = None,
    allow_training_records: bool = False,
    overrides: Sequence[str] = (),
    config_file: Path | None = None,
) -> dict[str, Any]:
    """Score a VQ-VAE or forecaster run on records (default: its test split); write results into `out`
    (default: the run dir): results.{json,csv,md} + figures. Returns the results dict.

    Only keys that cannot change the model may be overridden (`EVALUATE_KEYS`).
    """
    run_dir = Path(run_dir)
    loaded = load_model(run_dir)
    forecaster = loaded.model if isinstance(loaded.model, LatentForecaster) else None
    vqvae = forecaster.vqvae if forecaster is not None else loaded.model
    cfg = stored_overrides(
        Config,
        loaded.config,
        overrides,
        config_file=config_file,
        allowed=EVALUATE_KEYS,
        action="evaluate",
    )
    check_horizons(cfg)
    if data_dir is not None:
        data_dir = Path(data_dir)
        cfg.data.data_dir = data_dir
    evalset = select_records(run_dir, cfg, data_dir, records, allow_training_records)
    validate_records(evalset, cfg)
    fs = cfg.data.samples_per_second
    # the sampled futures (drawn RR intervals, dropout masks) follow the forecaster's own seed
    seed = cfg.forecast.train.seed if forecaster is not None else cfg.train.seed
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    with RunDir.created(PACKAGE, run_dir=out or run_dir, verb="evaluate", tensorboard=False) as run:
        per_record: dict[str, RecordScores] = {}
        for name in evalset.names:
            segment = record_segment(evalset.data_dir, name, cfg.data)
            beats = read_beats(evalset.data_dir, name, fs) if cfg.evaluate.beat_metrics else None
            per_record[name] = score_record(segment, beats, vqvae, forecaster, cfg, rng)
            log.info("scored %s", name)
        results = assemble(run_dir, evalset, cfg, vqvae, forecaster, per_record)
        write_outputs(run, results, per_record, evalset, fs)
    return results


COLUMNS = (
    "n_examples",
    "mae_mv",
    "rmse_mv",
    "prd_pct",
    "crps_mv",
    "timing_error_s",
    "beat_aligned_mae_mv",
    "sample_timing_error_s",
)
COMPARED = {
    "mae_mv": "MAE",
    "crps_mv": "CRPS",
    "timing_error_s": "R-peak timing error",
    "beat_aligned_mae_mv": "beat-aligned MAE",
}


def row_name(method: str, horizon_s: float) -> str:
    """A forecast row's label, unique per method and horizon: `summarize` names list items by it."""
    return f"{method}@{horizon_s:g}s"


def assemble(
    run_dir: Path,
    evalset: EvalSet,
    cfg: Config,
    vqvae: VQVAE,
    forecaster: LatentForecaster | None,
    per_record: dict[str, RecordScores],
) -> dict[str, Any]:
    """Pool the per-record sums into the results dict (JSON-ready)."""
    recon, reference = ReconSums(), ReconSums()
    counts = np.zeros(cfg.model.n_embed, dtype=np.int64)
    pooled: dict[tuple[str, float], ErrorSums] = defaultdict(ErrorSums)
    rows = []
    for name, rs in per_record.items():
        recon.add(rs.recon)
        reference.add(rs.reference)
        counts += rs.counts
        for (method, h), sums in sorted(rs.forecast.items(), key=lambda kv: kv[0][1]):
            pooled[(method, h)].add(sums)
            rows.append(
                {
                    "name": f"{name}/{row_name(method, h)}",
                    "record": name,
                    "seen_in_training": name in evalset.seen,
                    "method": method,
                    "horizon_s": h,
                    **sums.metrics(),
                }
            )
    horizons = list(cfg.forecast.horizons_s)
    pooled_rows = [
        {
            "name": row_name(m, h),
            "record": "pooled",
            "method": m,
            "horizon_s": h,
            **pooled[(m, h)].metrics(),
        }
        for h in horizons
        for m in METHODS
        if (m, h) in pooled
    ]
    forecast: dict[str, Any] = {
        "pooled": pooled_rows,
        "per_record": rows,
        "horizons_s": horizons,
        "context_s": cfg.data.input_signal_duration,
        "stride_s": cfg.data.forecast_stride_s,
        "n_samples": cfg.evaluate.n_samples,
        "best_naive": best_naive(pooled_rows, horizons),
        # the simple methods that read the record before the context, compared apart
        "vs_analogue": best_naive(pooled_rows, horizons, among=HISTORY),
    }
    if forecaster is not None:
        value = {(r["method"], r["horizon_s"]): r["mae_mv"] for r in pooled_rows}
        forecast["mae_gain_vs_repeat_last_beat"] = {
            h: 1 - value[("vqvae_forecaster", h)] / value[("repeat_last_beat", h)] for h in horizons
        }
    return {
        "run_dir": str(run_dir),
        "data_dir": str(evalset.data_dir),
        "test_records": evalset.names,
        "seen_in_training": evalset.seen,
        "excluded_training_records": evalset.excluded,
        "notes": evalset.notes,
        "whole_records": cfg.data.signals_per_patient is None,
        "signals_per_patient": cfg.data.signals_per_patient,
        "variant": cfg.model.variant,
        "parameters": sum(p.numel() for p in vqvae.parameters()),
        "reconstruction": {
            "pooled": recon.metrics(),
            "per_record": {name: rs.recon.metrics() for name, rs in per_record.items()},
            "window_mean_reference": reference.metrics(),
        },
        "codebook": {
            "codes_used": int((counts > 0).sum()),
            "n_embed": cfg.model.n_embed,
            "perplexity": perplexity(torch.from_numpy(counts)),
            "counts": counts.tolist(),
        },
        "forecast": forecast,
    }


def best_naive(
    rows: list[dict[str, Any]], horizons: list[float], among: Sequence[str] | None = None
) -> dict[str, Any]:
    """Per horizon and compared metric: the best (lowest) of the methods `among` (default: the naive
    ones, which read the context window only), its value and the model's (`model`, `ratio`; the beat
    forecast's as `beats_model`, `beats_ratio`)."""
    out: dict[str, Any] = {}
    for h in horizons:
        here = {r["method"]: r for r in rows if r["horizon_s"] == h}
        out[h] = {}
        for key in COMPARED:
            if among is None:
                naive = {m: here[m][key] for m in here if m not in (*MODEL_METHODS, *HISTORY)}
            else:
                naive = {m: here[m][key] for m in among if m in here}
            naive = {m: v for m, v in naive.items() if v is not None}
            if not naive:
                continue
            method = min(naive, key=naive.get)
            entry = {"method": method, "value": naive[method]}
            for model_method, prefix in zip(MODEL_METHODS, ("", "beats_")):
                model = here.get(model_method, {}).get(key)
                if model is not None:
                    entry[f"{prefix}model"] = model
                    entry[f"{prefix}ratio"] = model / naive[method] if naive[method] else None
            out[h][key] = entry
    return out


def write_outputs(
    run: RunDir,
    results: dict[str, Any],
    per_record: dict[str, RecordScores],
    evalset: EvalSet,
    fs: float,
) -> None:
    """Figures, then results.{json,csv,md}, each written atomically by the core's RunDir."""
    first = evalset.names[0]
    counts = np.asarray(results["codebook"]["counts"])
    run.save_figure(plots.codebook_usage_figure(counts), "test_codebook_usage")
    x, x_hat = per_record[first].window
    run.save_figure(
        plots.reconstruction_figure(x, x_hat, fs, f"record {first}"), "test_reconstruction"
    )
    example = next((rs.example for rs in per_record.values() if rs.example is not None), None)
    if example is not None:
        shown = {
            m: example["points"][m]
            for m in ("vqvae_forecaster", "vqvae_beats", *NAIVE)
            if m in example["points"]
        }
        run.save_figure(
            plots.forecast_figure(
                example["context"], example["truth"], shown, fs, f"record {first}"
            ),
            "test_forecast",
        )
        if example["samples"]:
            run.save_figure(
                plots.spread_figure(
                    example["context"],
                    example["truth"],
                    example["points"],
                    example["samples"],
                    fs,
                    f"record {first}: {len(next(iter(example['samples'].values())))} sampled futures",
                ),
                "test_forecast_spread",
            )
    run.save_figure(
        plots.horizon_figure(results["forecast"]["pooled"]), "test_forecast_mae_vs_horizon"
    )
    run.write_json("results.json", results)
    header = ["record", "seen_in_training", "method", "horizon_s", *COLUMNS]
    rows = [
        [r.get(k, "") if r.get(k) is not None else "" for k in header]
        for r in results["forecast"]["pooled"] + results["forecast"]["per_record"]
    ]
    run.write_csv("results.csv", rows, header=header)
    run.write_text("results.md", results_markdown(results))


def _fmt(value: Any, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def results_markdown(results: dict[str, Any]) -> str:
    rec = results["reconstruction"]["pooled"]
    cb = results["codebook"]
    seen = set(results.get("seen_in_training", []))
    lines = [
        f"# ecg-vqvae evaluation ({results['variant']}, {results['parameters']:,} parameters)",
        "",
        f"Records ({results['data_dir']}): "
        + ", ".join(f"{n} (seen in training)" if n in seen else n for n in results["test_records"]),
        "",
        *[f"- note: {note}" for note in results.get("notes", [])],
        "",
        "## Reconstruction (pooled over windows)",
        "",
        markdown_table(
            [
                {
                    "MSE [mV^2]": rec["mse_mv2"],
                    "PRD [%]": rec["prd_pct"],
                    "PRDN [%]": rec["prdn_pct"],
                    "SNR [dB]": rec["snr_db"],
                    "codes used": f"{cb['codes_used']}/{cb['n_embed']}",
                    "perplexity": cb["perplexity"],
                    "windows": rec["n_windows"],
                }
            ]
        ),
        "| record | PRD [%] |",
        "|---|---|",
        *[
            f"| {n}{' (seen)' if n in seen else ''} | {m['prd_pct']:.2f} |"
            for n, m in results["reconstruction"]["per_record"].items()
        ],
        "",
        "## Forecast errors (pooled; error over the first h seconds after the context)",
        "",
        f"CRPS from {results['forecast']['n_samples']} sampled futures (deterministic methods: CRPS = "
        "MAE); R-peak timing error in s against the .atr beats (capped at evaluate.timing_cap_s) "
        "of the point forecast and averaged over the sampled futures; beat-aligned MAE over the QRS.",
        "",
        "| method | horizon [s] | examples | MAE [mV] | RMSE [mV] | PRD [%] | CRPS [mV] | "
        "timing [s] | beat-aligned MAE [mV] | timing of samples [s] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["forecast"]["pooled"]:
        lines.append(
            f"| {r['method']} | {r['horizon_s']:g} | {r['n_examples']} | {_fmt(r['mae_mv'])} | "
            f"{_fmt(r['rmse_mv'])} | {_fmt(r['prd_pct'], 1)} | {_fmt(r['crps_mv'])} | "
            f"{_fmt(r['timing_error_s'], 3)} | {_fmt(r['beat_aligned_mae_mv'])} | "
            f"{_fmt(r['sample_timing_error_s'], 3)} |"
        )
    lines.append("")
    compared = [("best naive", results["forecast"]["best_naive"])]
    compared.append(("with the record's past,", results["forecast"].get("vs_analogue", {})))
    for label, table in compared:
        for h, entries in table.items():
            for key, e in entries.items():
                lines.append(_ratio_text(f"{COMPARED[key]} at {float(h):g} s: {label}", e))
    return "\n".join(lines) + "\n"


def _ratio_text(what: str, e: dict[str, Any]) -> str:
    text = f"- {what} {e['method']} {_fmt(e['value'])}"
    if e.get("ratio") is not None:
        text += f"; forecaster {_fmt(e['model'])} ({e['ratio']:.3f}x)"
    if e.get("beats_ratio") is not None:
        text += f"; beat forecast {_fmt(e['beats_model'])} ({e['beats_ratio']:.3f}x)"
    return text


def forecast_record(
    run_dir: Path | str, record: Path | str, start_s: float, out_dir: Path | str | None = None
) -> tuple[Path, Path]:
    """Forecast one record from `start_s` (the end of the context) on; write a figure and a CSV."""
    forecaster, cfg = load_forecaster(run_dir)
    record = Path(record)
    fs = cfg.data.samples_per_second
    signal = read_record(
        record.parent, record.name.removesuffix(".hea"), fs, cfg.data.leads, cfg.model.in_channels
    ).T  # (L, n)
    w = cfg.data.window_samples
    horizon = w * cfg.forecast.forecast_predictions
    start = int(round(start_s * fs))
    if start < w or start > signal.shape[1]:
        raise ConfigError(
            f"--start {start_s:g} s: must be between {w / fs:g} s (one context window) and the "
            f"record's end ({signal.shape[1] / fs:.1f} s)"
        )
    context = signal[:, start - w : start]
    truth = signal[:, start : start + horizon]
    made = forecast_all(forecaster, signal, np.asarray([start]), w, horizon, fs)
    preds = {m: p[0] for m, p in made.items()}
    out = RunDir(Path(out_dir) if out_dir is not None else Path(run_dir), tensorboard=False)
    stem = f"forecast_{record.name.removesuffix('.hea')}_{start_s:g}s"
    fig_path = out.save_figure(
        plots.forecast_figure(context, truth, preds, fs, f"{record.name} from {start_s:g} s"),
        stem,
    )
    t = start_s + np.arange(horizon) / fs
    header = (
        ["time_s"]
        + [f"truth_lead{i + 1}" for i in range(2)]
        + [f"{m}_lead{i + 1}" for m in preds for i in range(2)]
    )
    rows = []
    for k in range(horizon):
        row = [round(float(t[k]), 6)]
        row += [float(truth[i, k]) if k < truth.shape[1] else "" for i in range(2)]
        row += [float(p[i, k]) for p in preds.values() for i in range(2)]
        rows.append(row)
    csv_path = out.write_csv(f"{stem}.csv", rows, header=header)
    return fig_path, csv_path
