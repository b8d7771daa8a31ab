"""Point-forecast scores of several forecaster runs side by side on their validation and test records.

    python packages/ecg-vqvae/scripts/point_scores.py --data-dir path/to/mitdb --stride-s 20 \
        runs/ecg-vqvae/whole-fc-s0 runs/ecg-vqvae/fc6x4-s0

MAE, R-peak timing error and beat-aligned MAE of each run's point forecast (no sampled futures: cheap),
of its beat forecast when it has a beat head, and of repeat-last-beat, the recent median, the context median and the analogue forecast, on the same examples (one every --stride-s seconds of the first run's validation and
test records), as `evaluate` scores them. Used to compare training choices on the validation records
before spending a full evaluation on the test records.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="train-forecaster runs (same split)")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--stride-s", type=float, default=20)
    parser.add_argument("--out", type=Path, default=None, help="every figure, also per record")
    args = parser.parse_args()

    from ecg_vqvae.data import read_beats, record_segment
    from ecg_vqvae.evaluate import example_starts, forecast_examples
    from ecg_vqvae.forecasts import forecast_all, model_forecasts
    from ecg_vqvae.scores import ErrorSums, score_examples
    from ecg_vqvae.train import load_forecaster

    torch.set_num_threads(1)
    models = {str(r): load_forecaster(r) for r in args.runs}
    cfg = next(iter(models.values()))[1]
    fs, w, cap = cfg.data.samples_per_second, cfg.data.window_samples, cfg.evaluate.timing_cap_s
    split = json.loads((args.runs[0] / "split.json").read_text())
    sums: dict[tuple[str, str, float], ErrorSums] = defaultdict(ErrorSums)
    for part in ("val", "test"):
        for name in split[part]:
            seg = record_segment(args.data_dir, name, cfg.data)  # (L, n)
            beats = read_beats(args.data_dir, name, fs)
            starts = example_starts(seg.shape[1], w, w, int(round(args.stride_s * fs)), None)
            contexts, truth, rel_beats = forecast_examples(seg, starts, w, w, beats)  # (n, L, W)
            ends = starts + w
            simple = forecast_all(None, seg, ends, w, w, fs)  # naive + analogue
            preds = {}
            for run, (m, _) in models.items():  # a beat head's forecast too, as "<run>:beats"
                prior = simple["repeat_last_beat"] if m.use_prior else None
                out = model_forecasts(m.eval(), contexts, prior, 64)
                preds[run] = out["vqvae_forecaster"]
                if "vqvae_beats" in out:
                    preds[f"{run}:beats"] = out["vqvae_beats"]
            preds.update(
                {
                    m: simple[m]
                    for m in ("repeat_last_beat", "recent_median", "context_median", "analogue")
                }
            )
            for method, pred in preds.items():
                for h_s in (1.0, 3.0):
                    e = score_examples(truth, pred, None, rel_beats, int(h_s * fs), fs, cap)
                    sums[(part, method, h_s)].add(e)
                    sums[(f"{part}:{name}", method, h_s)].add(e)
    for (part, method, h_s), s in sums.items():
        if ":" not in part:
            m = s.metrics()
            print(
                f"{part} {h_s:g} s {method}: MAE {m['mae_mv']:.4f} mV, timing "
                f"{m['timing_error_s']:.4f} s, beat-aligned {m['beat_aligned_mae_mv']:.4f} mV "
                f"({m['n_examples']} examples)"
            )
    if args.out is not None:
        scores = {f"{p}|{m}|{h:g}": s.metrics() for (p, m, h), s in sums.items()}
        args.out.write_text(json.dumps(scores, indent=1))


if __name__ == "__main__":
    main()
