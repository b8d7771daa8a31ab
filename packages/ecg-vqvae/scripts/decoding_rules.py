"""Screen decoding choices of a trained forecaster, needing no training: every score of each choice.

    python packages/ecg-vqvae/scripts/decoding_rules.py --run-dir runs/ecg-vqvae/whole-fc-s0 \
        --data-dir path/to/mitdb --stride-s 20 --out decoding_rules.json

The forecaster predicts continuous latents (`LatentForecaster`: the encoded repeat-last-beat prior plus
a learned correction) that the frozen decoder turns into mV. Choices, each scored on the same examples
(context window -> next window, one every --stride-s seconds of the run's validation and test records)
with `evaluate`'s scores (MAE, CRPS, R-peak timing, beat-aligned MAE):

- `point`: the forecaster's output as `evaluate` scores it; its samples are the K futures of
  `forecasts.sample_futures` (RR drawn from the context + dropout, the same draws as `evaluate`);
- `snap`: the point latents snapped to their nearest codebook entries before decoding (the decoder then
  sees latents like those it was trained on: sharp beats instead of damped ones); samples snapped alike;
- `snap_half`: halfway between the point latents and their snapped codes;
- `agree_sample`, `agree_snap_sample`: of the K (snapped) sampled futures, the one whose R peaks agree
  best with the other samples' (least mean timing distance to them): one plausible future;
- `prior_recon`: the prior's own latents decoded (the untrained forecaster), for reference.

Prints pooled scores per split and horizon and writes every figure (also per record) to --out.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

HORIZONS_S = (1.0, 3.0)


@torch.no_grad()
def latents(model, context: torch.Tensor, prior: torch.Tensor):  # noqa: ANN001, ANN201
    """`LatentForecaster.forward` up to the future latents: (z_future, z_prior (B, D, N), RevIN stats)."""
    vq = model.vqvae
    z_q, _, _, stats = vq.encode(context)
    z_prior = vq.encode(prior, stats)[0]
    queries = model.query.expand(len(context), -1, -1) + model.patch_in(z_prior).transpose(1, 2)
    h = torch.cat([model.patch_in(z_q).transpose(1, 2), queries], dim=1) + model.pos
    h = model.norm(model.transformer(h)[:, model.tokens :])
    return model.patch_out(h.transpose(1, 2)) + z_prior, z_prior, stats


@torch.no_grad()
def snap(vqvae, z: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    """Latents (B, D, N) replaced by their nearest codebook entries."""
    B, D, N = z.shape
    codes = vqvae.quantizer.nearest(z.transpose(1, 2).reshape(-1, D))
    return vqvae.quantizer.embed_code(codes).view(B, N, D).transpose(1, 2)


@torch.no_grad()
def decodings(model, contexts: np.ndarray, prior: np.ndarray, batch_size: int = 64) -> dict:  # noqa: ANN001
    """Each decoding choice's forecasts (n, L, T) of contexts (n, L, T) given the prior (n, L, T)."""
    out = defaultdict(list)
    vq = model.vqvae
    for i in range(0, len(contexts), batch_size):
        c = torch.from_numpy(np.ascontiguousarray(contexts[i : i + batch_size], dtype=np.float32))
        p = torch.from_numpy(np.ascontiguousarray(prior[i : i + batch_size], dtype=np.float32))
        z, z_prior, stats = latents(model, c, p)
        z_snap = snap(vq, z)
        out["point"].append(vq.decode(z, stats).numpy())
        out["snap"].append(vq.decode(z_snap, stats).numpy())
        out["snap_half"].append(vq.decode(0.5 * (z + z_snap), stats).numpy())
        out["prior_recon"].append(vq.decode(z_prior, stats).numpy())
    return {k: np.concatenate(v) for k, v in out.items()}


def agreement_pick(samples: np.ndarray, fs: float, cap_s: float) -> np.ndarray:
    """(n,) index of the sample (of (K, n, L, T)) whose R peaks lie closest to the other samples'."""
    from ecg_vqvae.scores import forecast_peaks, timing_error

    K, n, _, T = samples.shape
    pick = np.zeros(n, dtype=int)
    for i in range(n):
        peaks = [forecast_peaks(samples[k, i], fs) for k in range(K)]
        cost = np.zeros(K)
        for a in range(K):
            for b in range(K):
                if a != b:
                    total, terms = timing_error(peaks[a], peaks[b], T, fs, cap_s)
                    cost[a] += total / terms if terms else 0.0
        pick[i] = int(np.argmin(cost))
    return pick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a train-forecaster run")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--stride-s", type=float, default=20)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--parts", nargs="+", default=["val", "test"])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from ecg_vqvae.data import read_beats, record_segment
    from ecg_vqvae.evaluate import example_starts, forecast_examples
    from ecg_vqvae.forecasts import naive_forecasts, sampled_priors
    from ecg_vqvae.scores import ErrorSums, score_examples
    from ecg_vqvae.train import load_forecaster

    torch.set_num_threads(1)
    start = time.process_time()
    model, cfg = load_forecaster(args.run_dir)
    model.eval()
    fs, w, cap = cfg.data.samples_per_second, cfg.data.window_samples, cfg.evaluate.timing_cap_s
    split = json.loads((args.run_dir / "split.json").read_text())
    torch.manual_seed(cfg.forecast.train.seed)  # as `evaluate`: the same drawn RR and dropout masks
    rng = np.random.default_rng(cfg.forecast.train.seed)
    sums: dict[str, ErrorSums] = defaultdict(ErrorSums)
    for part in args.parts:
        for name in split[part]:
            seg = record_segment(args.data_dir, name, cfg.data)  # (L, n)
            beats = read_beats(args.data_dir, name, fs)
            starts = example_starts(seg.shape[1], w, w, int(round(args.stride_s * fs)), None)
            contexts, truth, rel_beats = forecast_examples(seg, starts, w, w, beats)  # (n, L, W)
            naive = naive_forecasts(contexts, w, fs)
            points = decodings(model, contexts, naive["repeat_last_beat"])
            priors = sampled_priors(contexts, w, fs, args.samples, rng)  # (K, n, L, W)
            model.train()  # dropout on, the VQ-VAE stays in eval mode
            drawn = [decodings(model, contexts, p) for p in priors]
            model.eval()
            samples = np.stack([d["point"] for d in drawn])  # (K, n, L, W)
            snapped = np.stack([d["snap"] for d in drawn])
            idx = np.arange(len(contexts))
            rules = {
                "point": (points["point"], samples),
                "snap": (points["snap"], snapped),
                "snap_half": (points["snap_half"], None),
                "agree_sample": (samples[agreement_pick(samples, fs, cap), idx], None),
                "agree_snap_sample": (snapped[agreement_pick(snapped, fs, cap), idx], None),
                "prior_recon": (points["prior_recon"], None),
                "rr_ensemble": (np.median(priors, axis=0), priors),
                **{m: (naive[m], None) for m in ("repeat_last_beat", "seasonal", "context_median")},
            }
            for rule, (point, draws) in rules.items():
                for h_s in HORIZONS_S:
                    e = score_examples(truth, point, draws, rel_beats, int(h_s * fs), fs, cap)
                    for key in (f"{part}|{rule}|{h_s:g}", f"{part}:{name}|{rule}|{h_s:g}"):
                        sums[key].add(e)
    scores = {k: v.metrics() for k, v in sums.items()}
    args.out.write_text(json.dumps({"scores": scores, "cpu_s": time.process_time() - start}))
    fmt = lambda v: "n/a" if v is None else f"{v:.4f}"  # noqa: E731
    for key, m in scores.items():
        if ":" not in key.split("|")[0]:
            cells = ("mae_mv", "crps_mv", "timing_error_s", "sample_timing_error_s")
            print(key, *(f"{c} {fmt(m[c])}" for c in (*cells, "beat_aligned_mae_mv")))
    print(f"cpu_s {time.process_time() - start:.0f}")


if __name__ == "__main__":
    main()
