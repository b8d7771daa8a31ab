"""Score a multi-channel series from Python with a trained MHA-VAE-LSTM: a run of `resp-mhavae
train`/`run`, a model the leaderboard trained, or a pretrained model shipped with the package.

    import resp_mhavae
    detector = resp_mhavae.load_pretrained()          # NAB ec2_request_latency, see its card
    scores = detector.score(values)                   # values (T, C) -> (T,) anomaly scores
    scores = detector.score_csv("series.csv")         # the CSV's data.channels columns

Every time step gets a score exactly as `resp-mhavae leaderboard` scores it (`pointwise.step_scores`):
z-score with the training part's statistics (`data.zscore`), windows of `l_win` samples sliding by
`score.stride`, each window scored by reconstruction + `detect.prediction_weight` x prediction error
(the run's own config: 0 by default, the seed's 0.5 for models made before that default), a step's
score the mean of the windows covering it. Inputs are checked as the CLI checks a recording (`data.check_values`,
`data.check_series`, `data.read_values`). Higher = more anomalous; the scale is the model's own.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sigzoo_shared.errors import CheckpointError, DataError

from resp_mhavae.config import Config, resolved_modality_weights
from resp_mhavae.data import (
    NORMALISATION,
    Prepared,
    Recording,
    check_series,
    check_values,
    read_values,
    zscore,
)
from resp_mhavae.model import MHAVAE, SequenceLSTM, WindowScorer
from resp_mhavae.pointwise import resolve_stride, step_scores

MODULE = "resp_mhavae"
DEFAULT_PRETRAINED = "nab-ec2-latency"
MAIN = "mhavae"  # the model a run's API scores with (the baselines stay CLI-only)


@dataclass
class Detector:
    """A trained MHA-VAE-LSTM with the normalisation its inputs need.

    `mean`/`std` (C,) are the training part's per-channel statistics; `channels` the column names
    (and order) the model was trained on; `sample_rate_hz` that of its training series.
    """

    vae: MHAVAE
    lstm: SequenceLSTM
    config: Config
    channels: list[str]
    mean: np.ndarray  # (C,)
    std: np.ndarray  # (C,)
    sample_rate_hz: float
    source: str
    card: dict[str, Any] | None = None
    device: str = "cpu"

    @property
    def min_length(self) -> int:
        """The fewest time steps `score` accepts: one window plus the look-back."""
        return (self.config.data.look_back_num + 1) * self.config.data.l_win

    def check(self, series: np.ndarray, source: str = "array") -> np.ndarray:
        """`series` (T, C) (or (T,) for a one-channel model) as float64, checked as the CLI checks
        a recording: channel count, finite values, at least `min_length` rows, no constant channel."""
        x = np.asarray(series, dtype=np.float64)
        if x.ndim == 1 and len(self.channels) == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != len(self.channels):
            raise DataError(
                f"{source}: shape {x.shape}, expected (T, {len(self.channels)}) with channels "
                f"{self.channels} in that order (time along the first axis)"
            )
        check_values(x, source, first_line=None)
        rec = Recording(source, x, np.zeros(len(x), np.int8), self.channels, 1.0, source)
        check_series(rec, self.config.data)
        return x

    def score(self, series: np.ndarray) -> np.ndarray:
        """Point-wise anomaly scores (T,) float64 of a (T, C) series in the training data's units.

        Steps after the last full window take the nearest scored step's value; the first
        `look_back_num` windows have no LSTM history, so they too take their nearest scored step's.
        """
        x = self.check(series)
        z = zscore(x, self.mean, self.std)  # (T, C)
        return step_scores(self.vae, self.lstm, z, self.config, torch.device(self.device))

    def score_csv(self, path: Path | str) -> np.ndarray:
        """Point-wise scores (rows,) of a CSV's `config.data.channels` columns, read and checked
        as the CLI reads a recording (numbers, NaN, timestamps); labels are not needed."""
        values, _ = read_values(self.config.data, Path(path))
        x = self.check(values, str(path))
        z = zscore(x, self.mean, self.std)  # (T, C)
        return step_scores(self.vae, self.lstm, z, self.config, torch.device(self.device))

    def scorer(self) -> WindowScorer:
        """The window scorer as one module (runs of k + 1 z-scored windows -> score), for export."""
        weights = torch.tensor(
            resolved_modality_weights(self.config.model, len(self.channels)), dtype=torch.float32
        )
        return WindowScorer(
            self.vae, self.lstm, weights, self.config.detect.prediction_weight
        ).eval()

    def extra(self) -> dict[str, Any]:
        """What a shipped checkpoint stores beside the weights (`pack_pretrained` extras)."""
        return {
            "channels": list(self.channels),
            "mean": torch.tensor(self.mean, dtype=torch.float64),
            "std": torch.tensor(self.std, dtype=torch.float64),
            "sample_rate_hz": float(self.sample_rate_hz),
        }


# ------------------------------------------------------------------------------------------ loading


def _stats_of_run(folder: Path, cfg: Config) -> dict[str, Any]:
    """The normalisation a run's model was trained with: normalisation.json, else the data cache."""
    path = folder / NORMALISATION
    if path.is_file():
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise CheckpointError(f"{path}: not valid JSON ({err.msg})") from err
    from resp_mhavae.data import cache_key

    cache = folder / "data" / f"prepared-{cache_key(cfg.data)}.npz"
    if not cache.is_file():
        raise CheckpointError(
            f"{folder}: neither {NORMALISATION} nor the data cache {cache.name}; the model's input "
            "normalisation is unknown (retrain, or point at the run folder holding mhavae/)"
        )
    prepared = Prepared.load(cache)
    return {
        "channels": prepared.channels,
        "mean": prepared.mean.tolist(),
        "std": prepared.std.tolist(),
        "sample_rate_hz": prepared.sample_rate_hz,
    }


def load_run(path: Path | str, *, device: str = "cpu") -> Detector:
    """The MHA-VAE-LSTM of a run folder (`resp-mhavae train`/`run --run-dir`, or a leaderboard model
    folder `RUN/models/<series>_<split>_s<seed>`): its best VAE and LSTM checkpoints, offline."""
    from sigzoo_shared.runs import load_run as load_core

    from resp_mhavae.factory import build_stored

    folder = Path(path)
    if not (folder / MAIN / "vae").is_dir():
        raise CheckpointError(
            f"{folder}: no {MAIN}/vae folder; not a resp-mhavae run (train one with "
            "`resp-mhavae run --run-dir DIR ...` or use load_pretrained())"
        )
    models = []
    for phase in ("vae", "lstm"):
        ckpt = folder / MAIN / phase
        build = functools.partial(build_stored, path=ckpt)
        models.append(load_core(Config, ckpt, build, needs_state=True, map_location=device))
    vae, lstm = models
    stats = _stats_of_run(folder, vae.config)
    return Detector(
        vae.model.to(device),
        lstm.model.to(device),
        vae.config,
        list(stats["channels"]),
        np.asarray(stats["mean"], dtype=np.float64),
        np.asarray(stats["std"], dtype=np.float64),
        float(stats["sample_rate_hz"]),
        str(folder),
        device=device,
    )


def build_scorer(cfg: Config, state: dict[str, Any]) -> WindowScorer:
    """`build_model` for a shipped checkpoint: a WindowScorer whose sizes come from its weights."""
    from resp_mhavae.factory import build_stored

    weights = state["model_state"]
    parts = {}
    for part in ("vae", "lstm"):
        own = {
            k.removeprefix(f"{part}."): v for k, v in weights.items() if k.startswith(f"{part}.")
        }
        parts[part] = build_stored(cfg, {"model_state": own})
    n_channels = parts["vae"].n_channels
    modality = torch.tensor(resolved_modality_weights(cfg.model, n_channels), dtype=torch.float32)
    return WindowScorer(parts["vae"], parts["lstm"], modality, cfg.detect.prediction_weight)


def load_pretrained(name: str = DEFAULT_PRETRAINED, *, device: str = "cpu") -> Detector:
    """A Detector shipped with the package (`resp-mhavae pretrained list` names them), offline."""
    from sigzoo_shared.pretrained import load_pretrained as load_shipped

    loaded = load_shipped(MODULE, name, Config, build_scorer, needs_state=True, map_location=device)
    state = loaded.state
    for key in ("channels", "mean", "std", "sample_rate_hz"):
        if key not in state:
            raise CheckpointError(f"{loaded.checkpoint}: no {key!r} entry; repack it")
    scorer: WindowScorer = loaded.model.to(device)
    return Detector(
        scorer.vae,
        scorer.lstm,
        loaded.config,
        list(state["channels"]),
        np.asarray(state["mean"], dtype=np.float64),
        np.asarray(state["std"], dtype=np.float64),
        float(state["sample_rate_hz"]),
        f"pretrained {name}",
        loaded.card,
        device,
    )


# ------------------------------------------------------------------------------ shipping, export


def scorer_checkpoint(detector: Detector, path: Path) -> Path:
    """One checkpoint holding the VAE and LSTM as a WindowScorer (`vae.*`, `lstm.*`), with the
    run's config, for `pack_pretrained`."""
    from sigzoo_shared.checkpoint import save_checkpoint
    from sigzoo_shared.config import to_dict

    state = detector.scorer().state_dict()
    return save_checkpoint(path, {"model_state": state, "config": to_dict(detector.config)})


def pack(
    run: Path | str,
    name: str,
    *,
    card_md: str,
    meta: dict[str, Any],
    out: Path | str | None = None,
    half: bool = False,
) -> Path:
    """Ship a run's MHA-VAE-LSTM as pretrained model `name` (the maintainer's step; atomic files)."""
    import tempfile

    from sigzoo_shared.pretrained import pack_pretrained, pretrained_root

    detector = load_run(run)
    dest = Path(out) if out is not None else pretrained_root(MODULE) / name
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = scorer_checkpoint(detector, Path(tmp) / "scorer.pt")
        return pack_pretrained(
            ckpt,
            dest,
            card_md=card_md,
            meta=meta,
            extra=detector.extra(),
            half=half,
            package=MODULE,
        )


def export_spec(detector: Detector) -> Any:
    """The `ExportSpec` of the window scorer for `resp-mhavae export`: input runs of k + 1
    consecutive z-scored windows (B, k + 1, C, L), batch dynamic; output the last window's score."""
    from sigzoo_shared.export import ExportSpec

    d = detector.config.data
    k, C, L = d.look_back_num, len(detector.channels), d.l_win
    gen = torch.Generator().manual_seed(0)
    example = torch.randn(2, k + 1, C, L, generator=gen)  # (B, k + 1, C, L)
    checks = [
        (torch.randn(5, k + 1, C, L, generator=gen),),
        (torch.randn(1, k + 1, C, L, generator=gen),),
    ]
    stride = resolve_stride(L, detector.config.score.stride)
    notes = {
        "input": f"runs (B, {k + 1}, {C}, {L}): {k + 1} windows of {L} samples, each starting "
        f"{L} samples after the previous; the score is the last window's",
        "normalisation": f"z = (x - mean) / std per channel, mean {detector.mean.tolist()}, std "
        f"{detector.std.tolist()}, channels {detector.channels}"
        + (", then each window's per-channel mean removed" if d.center_windows else ""),
        "output": "score (B,): modality-weighted reconstruction error + "
        f"{detector.config.detect.prediction_weight:g} x prediction error of the last window",
        "point_wise": f"slide windows by {stride} samples, score each from its own {k} predecessors, a step's score = "
        f"{detector.config.score.spread} of the windows covering it (resp_mhavae.pointwise)",
        "sample_rate_hz": detector.sample_rate_hz,
    }
    # the LSTM's step-by-step prediction unrolls into a long graph, which the exporter's
    # optimisation pass spends minutes on for little gain at run time
    return ExportSpec(
        detector.scorer(),
        (example,),
        ["runs"],
        ["score"],
        {"runs": {0: "batch"}},
        checks,
        notes,
        optimize=False,
    )


__all__ = ["DEFAULT_PRETRAINED", "Detector", "export_spec", "load_pretrained", "load_run", "pack"]
