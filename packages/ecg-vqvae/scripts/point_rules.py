"""Screen other point forecasts built from a trained forecaster: MAE of each rule on validation and test.

    python packages/ecg-vqvae/scripts/point_rules.py --run-dir runs/ecg-vqvae/whole-fc-s0 \
        --data-dir path/to/mitdb --stride-s 60 --out point_rules.json

Rules, each scored on the same examples (context window -> next window, one every --stride-s seconds of
the run's validation and test records):

- `point`: the forecaster's own output (what `evaluate` scores);
- `sample_median`, `sample_mean`: per sample point, the median / mean of the K sampled futures
  (`forecasts.sample_futures`, RR drawn from the context + dropout). The median minimises the expected
  L1 error under the model's own predictive distribution, the mean the expected L2 error;
- `blend_seasonal_<a>`, `blend_median_<a>`: a * point + (1 - a) * the seasonal forecast / the context
  median, for a in 0.50 .. 1.00. The weight to report is the one best on the validation records;
  choosing it on test records would flatter the rule.

Prints pooled MAE at 1 s and 3 s per split and writes every figure (also per record) to --out.
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
WEIGHTS = np.round(np.arange(0.5, 1.001, 0.05), 2)
SHOWN = ("point", "sample_median", "sample_mean", "rr_ensemble", "seasonal", "context_median")


def candidates(point: np.ndarray, samples: np.ndarray, priors: np.ndarray, naive: dict) -> dict:
    """Every rule's forecast (n, L, F) from the forecaster's point (n, L, F) and samples (K, n, L, F)."""
    out = {
        "point": point,
        "sample_median": np.median(samples, axis=0),
        "sample_mean": samples.mean(axis=0),
        "rr_ensemble": np.median(priors, axis=0),
        **{k: naive[k] for k in ("seasonal", "repeat_last_beat", "context_median")},
    }
    for a in WEIGHTS:
        out[f"blend_seasonal_{a}"] = a * point + (1 - a) * naive["seasonal"]
        out[f"blend_median_{a}"] = a * point + (1 - a) * naive["context_median"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", type=Path, required=True, help="a train-forecaster run")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--stride-s", type=int, default=60)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from ecg_vqvae.data import record_segment
    from ecg_vqvae.evaluate import example_starts, forecast_examples
    from ecg_vqvae.forecasts import (
        model_forecast,
        naive_forecasts,
        sample_futures,
        sampled_priors,
    )
    from ecg_vqvae.train import load_forecaster

    torch.set_num_threads(1)
    start = time.process_time()
    model, cfg = load_forecaster(args.run_dir)
    cfg.data.data_dir = args.data_dir
    fs, w = cfg.data.samples_per_second, cfg.data.window_samples
    split = json.loads((args.run_dir / "split.json").read_text())
    seed = cfg.forecast.train.seed
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    abs_sum: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    for part in ("val", "test"):
        for name in split[part]:
            seg = record_segment(args.data_dir, name, cfg.data)  # (L, n)
            starts = example_starts(seg.shape[1], w, w, args.stride_s * fs, None)
            context, truth, _ = forecast_examples(seg, starts, w, w)  # (n, L, W) each
            naive = naive_forecasts(context, w, fs)
            point = model_forecast(model, context, naive["repeat_last_beat"], 64)
            priors = sampled_priors(context, w, fs, args.samples, rng)  # (K, n, L, W)
            samples = sample_futures(model, context, priors, 64)
            for rule, pred in candidates(point, samples, priors, naive).items():
                for h_s in HORIZONS_S:
                    h = int(round(h_s * fs))
                    err = np.abs(truth[..., :h] - pred[..., :h])
                    for key in (f"{part}|{rule}|{h_s:g}", f"{part}:{name}|{rule}|{h_s:g}"):
                        abs_sum[key] += float(err.sum())
                        count[key] += err.size
    mae = {k: abs_sum[k] / count[k] for k in abs_sum}
    args.out.write_text(json.dumps({"mae_mv": mae, "cpu_s": time.process_time() - start}, indent=1))
    for part in ("val", "test"):
        for h_s in HORIZONS_S:
            print(part, f"{h_s:g} s", {r: round(mae[f"{part}|{r}|{h_s:g}"], 4) for r in SHOWN})
        for family in ("blend_seasonal", "blend_median"):
            row = [(float(a), round(mae[f"{part}|{family}_{a}|1"], 4)) for a in WEIGHTS]
            print(part, family, "1 s", row)


if __name__ == "__main__":
    main()
