"""Does the whole clip's magnitude spectrum lift the embedding method off chance on ToyCar?

Wilkinghoff's dual-input embedding (K. Wilkinghoff, "Design Choices for Learning Embeddings from
Auxiliary Tasks for Domain Generalization in Anomalous Sound Detection", ICASSP 2023; the DCASE 2023
top systems share it) gives the attribute classifier a second branch on the magnitude spectrum of the
whole clip, whose fine frequency resolution sees the tones a log-mel crop blurs. This script measures it
beside the package's log-mel embedding, scored with the package's official figures (no bootstrap):

- `spectrum_knn` / `spectrum_mahalanobis`: non-learned, the clip's log power spectrum pooled into
  `--bins` bands up to Nyquist, standardised per band by the training clips; k-NN cosine distance to the
  nearest training clip, and Mahalanobis distance (Ledoit-Wolf) to their mean on 256 coarser bands;
- `spectrum_branch`: a 1-D CNN on that spectrum (the paper's spectrum branch, smaller), trained like the
  package's embedding (ArcFace on the section + attribute classes, core Trainer, Adam 1e-3, batch 64)
  for `--epochs`, score = k-NN cosine distance to the training clips (source and target together);
  `--adacos` replaces ArcFace (margin 0.2, fixed scale 16) by AdaCos (no margin, adaptive scale;
  Zhang et al., CVPR 2019);
- `dual`: the spectrum branch's unit embedding concatenated with the log-mel embedding of a trained
  package run (`--mel-run`, the same seed), renormalised, k-NN: the two branches trained apart and
  fused at the score (the paper trains them jointly); beside it `mel_branch`, that run alone (the
  package's score), and `mel_branch_whole_clip`, the same model embedding each whole clip at once
  instead of averaging its 64-frame crops.

One seed per call (`--seed`); the spectra are cached under `--cache-dir`. Usage (repository root):

    OMP_NUM_THREADS=1 nice -n 10 python packages/dcase-cae/scripts/spectrum_ablation.py \
        ../shared/data/dcase2023t2-toycar/ToyCar --cache-dir runs/dcase-cae/table/cache \
        --run-dir runs/dcase-cae/ablation/spectrum-s1 --seed 1 \
        --mel-run runs/dcase-cae/table/toycar/embedding/seed-1/ToyCar
"""

from __future__ import annotations

import argparse
import hashlib
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from dcase_cae.config import Config, DataConfig
from dcase_cae.data import class_labels, list_clips, read_audio
from dcase_cae.evaluate import ranking_figures
from dcase_cae.model import SubclusterArcMargin
from dcase_cae.scores import clip_embeddings, knn_cosine_distance
from sigzoo_shared import RunDir, TrainConfig, Trainer, make_loaders, seed_everything
from sklearn.covariance import LedoitWolf
from torch import Tensor, nn


def log_spectrum(path: Path, bins: int, cache: Path | None) -> np.ndarray:
    """(bins,) log10 power of the whole clip's rFFT, averaged over `bins` equal bands up to Nyquist."""
    key = hashlib.sha1(f"{path.resolve()}|{path.stat().st_size}|{bins}".encode()).hexdigest()
    hit = cache / f"spectrum-{key}.npy" if cache else None
    if hit is not None and hit.is_file():
        return np.load(hit)
    y, _ = read_audio(path, DataConfig())
    power = np.abs(np.fft.rfft(y.astype(np.float64))) ** 2  # (S/2 + 1,)
    edges = np.linspace(0, len(power), bins + 1).astype(int)
    out = np.log10(np.add.reduceat(power, edges[:-1]) / np.diff(edges) + 1e-12).astype(np.float32)
    if hit is not None:
        hit.parent.mkdir(parents=True, exist_ok=True)
        np.save(hit, out)
    return out


class AdaCosMargin(SubclusterArcMargin):
    """Cosine logits without margin and with AdaCos's adaptive scale (Zhang et al., CVPR 2019, dynamic
    AdaCos; the scale sub-cluster AdaCos uses): each training batch sets s = log(B_avg) /
    cos(min(pi/4, theta_med)), B_avg the mean summed exp-logit of the other classes, theta_med the
    median angle to the true class; it starts at sqrt(2) log(C - 1)."""

    def __init__(self, dim: int, n_classes: int) -> None:
        super().__init__(dim, n_classes, 1, math.sqrt(2) * math.log(max(n_classes - 1, 2)), 0.0)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        cos = self.cosines(z)  # (B, C)
        if labels is not None and self.training:
            with torch.no_grad():
                one_hot = F.one_hot(labels, self.n_classes).bool()
                b_avg = torch.where(one_hot, 0.0, torch.exp(self.scale * cos)).sum(1).mean()
                theta = torch.acos(cos[one_hot].clamp(-1 + 1e-6, 1 - 1e-6))
                self.scale = float(
                    torch.log(b_avg) / torch.cos(theta.median().clamp(max=math.pi / 4))
                )
        return super().forward(z, labels)


class SpectrumEmbedder(nn.Module):
    """1-D CNN on a standardised log spectrum (B, L) -> (B, D) embedding, with a margin head."""

    def __init__(self, n_bins: int, n_classes: int, dim: int = 128, adacos: bool = False) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_bins))
        self.register_buffer("std", torch.ones(n_bins))

        def block(c_in: int, c_out: int, k: int, stride: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv1d(c_in, c_out, k, stride, padding=k // 2, bias=False),
                nn.BatchNorm1d(c_out),
                nn.ReLU(),
            )

        self.features = nn.Sequential(
            block(1, 16, 64, 8),  # (B, 16, L/8)
            block(16, 32, 8, 4),  # (B, 32, L/32)
            block(32, 64, 8, 4),  # (B, 64, L/128)
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(2, 1, n_bins)).flatten(1).shape[1]
        self.project = nn.Sequential(nn.Dropout(0.2), nn.Linear(flat, dim))
        head = AdaCosMargin(dim, n_classes) if adacos else SubclusterArcMargin(dim, n_classes)
        self.head = head

    def embed(self, x: Tensor) -> Tensor:
        x = ((x - self.mean) / self.std)[:, None]  # (B, 1, L)
        return self.project(self.features(x).flatten(1))  # (B, D)

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        return self.head(self.embed(x), labels)  # (B, C)


def margin_step(model: SpectrumEmbedder, batch: tuple[Tensor, Tensor]):
    x, labels = batch
    return F.cross_entropy(model(x, labels), labels), {}


class Spectra(torch.utils.data.Dataset):
    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = torch.from_numpy(x), torch.from_numpy(y)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i], self.y[i]


@torch.no_grad()
def unit_embeddings(model: SpectrumEmbedder, x: np.ndarray) -> np.ndarray:
    model.eval()
    z = F.normalize(model.embed(torch.from_numpy(x)), dim=1).double().numpy()
    return z


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("machine_dir", type=Path)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bins", type=int, default=8192)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--adacos", action="store_true")
    parser.add_argument(
        "--mel-run", type=Path, default=None, help="trained embedding run (TYPE dir)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    machine = args.machine_dir.name
    train_clips = list_clips(args.machine_dir, "train", machine)
    test_clips = list_clips(args.machine_dir, "test", machine)
    t0 = time.process_time()
    train_x = np.stack([log_spectrum(c.path, args.bins, args.cache_dir) for c in train_clips])
    test_x = np.stack([log_spectrum(c.path, args.bins, args.cache_dir) for c in test_clips])
    spectrum_cpu = time.process_time() - t0
    labels = np.array([c.label for c in test_clips])
    domains = np.array([c.domain or "" for c in test_clips], dtype=object)
    mu, sd = train_x.mean(0), train_x.std(0) + 1e-6
    scores: dict[str, np.ndarray] = {}

    def unit(x: np.ndarray) -> np.ndarray:
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    train_z, test_z = (train_x - mu) / sd, (test_x - mu) / sd
    scores["spectrum_knn"] = knn_cosine_distance(unit(test_z), unit(train_z), 1)
    # Mahalanobis on 256 coarser bands: a covariance of thousands of bands from 410 clips is slow to
    # invert and no better determined
    coarse = [z.reshape(len(z), 256, -1).mean(axis=2) for z in (train_z, test_z)]
    scores["spectrum_mahalanobis"] = LedoitWolf().fit(coarse[0]).mahalanobis(coarse[1])

    y, classes = class_labels(train_clips, "auto")
    seed_everything(args.seed)
    model = SpectrumEmbedder(args.bins, len(classes), adacos=args.adacos)
    model.mean.copy_(torch.from_numpy(mu))
    model.std.copy_(torch.from_numpy(sd))
    tcfg = TrainConfig(
        epochs=args.epochs, batch_size=64, lr=1e-3, seed=args.seed, progress=False,
        device="cpu", num_workers=0, save_top_k=0, monitor="train_loss",
    )  # fmt: skip
    run = RunDir.create("dcase-cae", run_dir=args.run_dir, verb="spectrum", tensorboard=False)
    loader, _ = make_loaders(Spectra(train_x, y), None, tcfg, torch.device("cpu"))
    t0 = time.process_time()
    Trainer(tcfg, run, device=torch.device("cpu")).fit(model, margin_step, loader)
    train_cpu = time.process_time() - t0
    train_e, test_e = unit_embeddings(model, train_x), unit_embeddings(model, test_x)
    scores["spectrum_branch"] = knn_cosine_distance(test_e, train_e, 1)
    if args.mel_run is not None:
        from dcase_cae.data import extract_features
        from dcase_cae.train import load_trained

        mel_model, cfg, _ = load_trained(args.mel_run)
        assert isinstance(cfg, Config)
        feats = [extract_features(c, cfg.data, args.cache_dir) for c in (train_clips, test_clips)]
        mel_train = clip_embeddings(mel_model, feats[0], cfg)
        mel_test = clip_embeddings(mel_model, feats[1], cfg)
        scores["mel_branch"] = knn_cosine_distance(mel_test, mel_train, 1)
        # the same model on each whole clip at once (its time average makes any length valid)
        n = min(f.shape[1] for f in (*feats[0], *feats[1]))
        whole = replace(cfg, data=replace(cfg.data, crop_frames=n, crop_hop_frames=n))
        scores["mel_branch_whole_clip"] = knn_cosine_distance(
            clip_embeddings(mel_model, feats[1], whole),
            clip_embeddings(mel_model, feats[0], whole),
            1,
        )
        dual_train = unit(np.concatenate([mel_train, train_e], axis=1))
        dual_test = unit(np.concatenate([mel_test, test_e], axis=1))
        scores["dual"] = knn_cosine_distance(dual_test, dual_train, 1)
    out = {
        "seed": args.seed,
        "bins": args.bins,
        "epochs": args.epochs,
        "adacos": args.adacos,
        "spectrum_cpu_s": round(spectrum_cpu, 1),
        "train_cpu_s": round(train_cpu, 1),
        "figures": {},
    }
    for name, s in scores.items():
        figures = ranking_figures(labels, domains, s, 0.1)
        out["figures"][name] = {k: round(v, 4) for k, v in figures.items() if isinstance(v, float)}
        shown = {k: out["figures"][name][k] for k in ("official_score", "AUC_source_in")}
        print(name, shown, flush=True)
    run.write_json("spectrum_ablation.json", out)


if __name__ == "__main__":
    main()
