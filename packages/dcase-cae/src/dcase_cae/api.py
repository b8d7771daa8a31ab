"""Score machine sounds from Python with a trained model: a run of `dcase-cae train`, or a pretrained
model shipped with the package.

    from dcase_cae import load_pretrained
    detector = load_pretrained("toycar-embedding")
    scores = detector.score(["clip.wav", waveform], sr=16000)  # (2,) anomaly scores
    flags = detector.decide(["clip.wav", waveform], sr=16000)  # (2,) 1 = anomalous

Inputs go through the same checks, log-mel features and scores as `dcase-cae test` (`data.check_waveform`,
`data.log_mel`, `scores.score_clips`), and the threshold is the one `test` fits on the training clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sigzoo_shared import CheckpointError, DataError
from torch import nn

from dcase_cae.config import Config
from dcase_cae.data import (
    check_waveform,
    common_rate,
    list_clips,
    log_mel,
    machine_dirs,
    read_audio,
)
from dcase_cae.scores import Reference, score_clips

MODULE = "dcase_cae"
DEFAULT_PRETRAINED = "toycar-embedding"

# one clip: a WAV/FLAC path, or samples as a (S,) mono or (S, channels) array
Clip = str | Path | np.ndarray


@dataclass
class Detector:
    """A trained model with what its scores need: the training clips' reference (k-NN embeddings or
    error Gaussians), the decision threshold fitted on training-clip scores, and the sample rate."""

    model: nn.Module
    config: Config
    reference: Reference
    threshold: float | None
    sample_rate_hz: int
    machine_type: str
    source: str
    device: str = "cpu"

    def features(self, clips: Clip | Sequence[Clip], sr: int = 16000) -> list[np.ndarray]:
        """Validated log-mel features, one (n_mels, T) dB array per clip.

        `clips`: a path, a (S,) array, a (n_clips, S) array of equal-length mono clips, or a list of
        paths and arrays. `sr` is the arrays' sample rate in Hz (files carry their own); it must equal
        the model's `sample_rate_hz` unless `config.data.resample` is set.
        """
        if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
            raise DataError(f"sr={sr!r}: expected the waveforms' sample rate in Hz, e.g. 16000")
        out = []
        for i, clip in enumerate(_as_list(clips)):
            if isinstance(clip, (str, Path)):
                path = Path(clip)
                if not path.is_file():
                    raise DataError(f"{path}: audio file not found")
                y, rate = read_audio(path, self.config.data, self.sample_rate_hz)
            else:
                y, rate = check_waveform(
                    clip, int(sr), self.config.data, f"waveform {i}", self.sample_rate_hz
                )
            out.append(log_mel(y, rate, self.config.data))
        return out

    def score(self, clips: Clip | Sequence[Clip], sr: int = 16000) -> np.ndarray:
        """(n_clips,) anomaly scores, higher = more anomalous (see `features` for the inputs).

        k-NN models: cosine distance to the nearest training clip; autoencoders: mean squared
        reconstruction error (or its selective Mahalanobis distance) over the clip's windows.
        """
        feats = self.features(clips, sr)
        names = [_name(c, i) for i, c in enumerate(_as_list(clips))]
        with torch.no_grad():
            return score_clips(self.model, self.config, feats, self.reference, names, self.device)

    def decide(self, clips: Clip | Sequence[Clip], sr: int = 16000) -> np.ndarray:
        """(n_clips,) int decisions, 1 = anomalous: score above the fitted `threshold`."""
        if self.threshold is None:
            raise DataError(
                f"{self.source}: holds no decision threshold; use score() and a threshold of "
                "your own"
            )
        return (self.score(clips, sr) > self.threshold).astype(int)

    def extra(self) -> dict[str, Any]:
        """What a pretrained checkpoint stores beside the weights (`dcase-cae pack`)."""
        out: dict[str, Any] = {
            "machine_type": self.machine_type,
            "sample_rate_hz": int(self.sample_rate_hz),
            "threshold": None if self.threshold is None else float(self.threshold),
        }
        if self.reference.embeddings is not None:
            out["knn_bank"] = torch.from_numpy(self.reference.embeddings.astype(np.float32))
        if self.reference.gaussians is not None:
            out["error_gaussians"] = [
                [torch.from_numpy(mu), torch.from_numpy(inv)]
                for mu, inv in self.reference.gaussians
            ]
        return out


def _as_list(clips: Clip | Sequence[Clip]) -> list[Clip]:
    if isinstance(clips, (str, Path)):
        return [clips]
    if isinstance(clips, np.ndarray):
        return [clips] if clips.ndim == 1 else list(clips)
    if isinstance(clips, torch.Tensor):
        raise DataError("clips: a torch tensor; pass a NumPy array (tensor.numpy())")
    out = list(clips)
    if not out:
        raise DataError("clips: empty; pass a path, a waveform or a list of them")
    return out


def _name(clip: Clip, index: int) -> str:
    return str(clip) if isinstance(clip, (str, Path)) else f"waveform {index}"


def _reference_from_state(state: dict[str, Any]) -> Reference:
    bank = state.get("knn_bank")
    gaussians = state.get("error_gaussians")
    return Reference(
        embeddings=None if bank is None else bank.double().numpy(),
        gaussians=None
        if gaussians is None
        else [(mu.double().numpy(), inv.double().numpy()) for mu, inv in gaussians],
    )


def load_run(
    run_dir: Path | str,
    *,
    data_dir: Path | str | None = None,
    machine_type: str | None = None,
    device: str = "cpu",
) -> Detector:
    """A `Detector` from a training run (its best checkpoint), fitted as `dcase-cae test` fits it.

    The training clips (under `data_dir`, default the run's `data.data_dir`; required) give the k-NN
    bank or error Gaussians and the decision threshold; a run of several machine types needs
    `machine_type`.
    """
    from dcase_cae.evaluate import _subruns, fit_decision, fit_threshold
    from dcase_cae.train import cache_dir_for, load_trained

    run = Path(run_dir)
    subs = _subruns(run, machine_type)
    if len(subs) > 1:
        raise CheckpointError(
            f"{run}: models of {len(subs)} machine types ({', '.join(subs)}); name one with "
            "machine_type="
        )
    ((mtype, sub),) = subs.items()
    model, cfg, state = load_trained(sub, device)
    (mtype, machine_dir), *_ = machine_dirs(data_dir or cfg.data.data_dir, mtype).items()
    clips = list_clips(machine_dir, "train", mtype)
    rate = common_rate(clips, cfg.data)
    reference, train_scores = fit_decision(model, cfg, clips, cache_dir_for(cfg, run), rate, device)
    return Detector(
        model, cfg, reference, fit_threshold(train_scores, cfg), rate, mtype, state["path"], device
    )


def load_pretrained(name: str = DEFAULT_PRETRAINED, *, device: str = "cpu") -> Detector:
    """A `Detector` shipped with the package (`dcase-cae pretrained list` names them), offline."""
    from sigzoo_shared.pretrained import load_pretrained as load_shipped

    from dcase_cae.train import build_for_weights

    loaded = load_shipped(
        MODULE, name, Config, build_for_weights, needs_state=True, map_location=device
    )
    state = loaded.state
    for key in ("sample_rate_hz", "threshold", "machine_type"):
        if key not in state:
            raise CheckpointError(f"{loaded.checkpoint}: no {key!r} entry; repack it with `pack`")
    model = loaded.model.to(device)
    return Detector(
        model,
        loaded.config,
        _reference_from_state(state),
        state["threshold"],
        int(state["sample_rate_hz"]),
        state["machine_type"],
        f"pretrained {name}",
        device,
    )


def pack(
    run_dir: Path | str,
    name: str,
    card: Path | str,
    meta: Path | str,
    *,
    out: Path | str | None = None,
    data_dir: Path | str | None = None,
) -> Path:
    """Ship a run's best checkpoint as pretrained model `name` (the maintainer's step).

    The run is loaded as `load_run` loads it, so the shipped k-NN bank (or error Gaussians), sample
    rate and threshold are those `dcase-cae test` uses; `card` is the markdown model card, `meta` a
    JSON file of its facts (`sigzoo_shared.pretrained.REQUIRED_META`).
    """
    import json

    from sigzoo_shared import ConfigError
    from sigzoo_shared.pretrained import pack_pretrained, pretrained_root

    try:
        facts = json.loads(Path(meta).read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ConfigError(f"{meta}: not valid JSON ({err.msg}, line {err.lineno})") from err
    detector = load_run(run_dir, data_dir=data_dir)
    dest = Path(out) if out is not None else pretrained_root(MODULE) / name
    return pack_pretrained(
        detector.source,
        dest,
        card_md=Path(card).read_text(encoding="utf-8"),
        meta=facts,
        extra=detector.extra(),
        package=MODULE,
    )


def export_spec(model: nn.Module, cfg: Config, sample_rate_hz: int | None = None) -> Any:
    """The `ExportSpec` of a model's window scorer (`model.WindowScorer`) for `dcase-cae export`.

    Input: windows of log-mel features in dB (`data.log_mel`), batch dynamic; the embedding model's
    crops are dynamic in time too. Output: the reconstruction (autoencoders) or unit-norm crop
    embeddings (embedding model); a clip's score is built from them as `notes` say.
    """
    from sigzoo_shared.export import ExportSpec

    from dcase_cae.model import WindowScorer

    d, kind = cfg.data, cfg.model.name
    features = {
        "log_mel": f"20/{d.power:g}*log10(mel power + eps), librosa conventions (centred frames, "
        f"periodic Hann, Slaney mel), n_fft {d.n_fft}, hop {d.hop_length}, {d.n_mels} mels",
        "sample_rate_hz": sample_rate_hz,
    }
    if kind == "embedding":
        example = torch.randn(2, 1, d.n_mels, d.crop_frames) * 10 - 40  # (B, 1, M, T) dB
        checks = [(torch.randn(3, 1, d.n_mels, d.crop_frames + 16) * 10 - 40,)]
        checks.append((torch.randn(1, 1, d.n_mels, 2 * d.crop_frames) * 10 - 40,))
        axes = {"crops": {0: "batch", 3: "frames"}}
        notes = {
            **features,
            "input": f"crops (B, 1, {d.n_mels}, T) dB, T frames (trained on {d.crop_frames}, a crop "
            f"every {d.crop_hop_frames} frames)",
            "output": "unit-norm crop embeddings (B, D)",
            "clip_score": f"normalise the mean of a clip's crop embeddings; the score is the mean "
            f"cosine distance to the {cfg.model.knn_k} nearest training-clip embeddings (the "
            "pretrained checkpoint's knn_bank)",
        }
        return ExportSpec(
            WindowScorer(model), (example,), ["crops"], ["embeddings"], axes, checks, notes
        )
    if kind == "cae":
        example = torch.rand(2, 1, d.n_mels, d.n_mels)  # (B, 1, M, M) in [0, 1]
        checks = [(torch.rand(5, 1, d.n_mels, d.n_mels),)]
        shape = f"patches (B, 1, {d.n_mels}, {d.n_mels}): dB scaled by clip((x + {d.db_offset:g}) / {d.db_range:g}, 0, 1), a patch every {d.patch_hop_frames} frames"
    else:
        width = d.frames * d.n_mels
        example = torch.randn(2, width) * 10 - 40  # (B, P * M) dB
        checks = [(torch.randn(7, width) * 10 - 40,)]
        shape = f"vectors (B, {width}): {d.frames} consecutive frames of {d.n_mels} mels, frame-major, every frame"
    notes = {
        **features,
        "input": shape,
        "output": "the reconstruction of each window, shaped as the input",
        "clip_score": "the mean over a clip's windows of the mean squared error (output - input)"
        if cfg.model.score == "mse"
        else "selective Mahalanobis distance of the error vectors (output - input) to the "
        "training clips' error Gaussians (pretrained checkpoint: error_gaussians), mean over windows",
    }
    return ExportSpec(
        WindowScorer(model),
        (example,),
        ["windows"],
        ["reconstruction"],
        {"windows": {0: "batch"}},
        checks,
        notes,
    )


__all__ = ["DEFAULT_PRETRAINED", "Detector", "export_spec", "load_pretrained", "load_run", "pack"]
