"""The analogue forecast's settings, one at a time, on the validation records.

    python packages/ecg-vqvae/scripts/analogue_settings.py --run-dir runs/ecg-vqvae/s8/ana-s0 \
        --data-dir path/to/mitdb --stride-s 20

MAE at 1 s and 3 s of `baselines.analogue` (median of the futures after the k stretches of the last
`history_s` seconds most like the context's last `query_s` seconds) with each setting moved alone,
beside the recent median and an oracle (the one of the default's 25 analogues closest to the truth,
a bound for any weighting or selection of them), on the forecast examples `evaluate` scores (one every --stride-s seconds of
the run's validation and test records). The defaults are the best validation row at 1 s; the test rows
are printed to show how far that choice carries.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from _args import load_run, run_args

SETTINGS = {  # name: analogue_futures keywords, each moved alone from query 0.5 s, k 25, 300 s
    "query 0.5 s, k 25, 300 s": {"query_s": 0.5},
    "query 0.15 s": {"query_s": 0.15},
    "query 0.25 s (the default)": {"query_s": 0.25},
    "query 0.35 s": {"query_s": 0.35},
    "query 1 s": {"query_s": 1.0},
    "k 10": {"query_s": 0.5, "k": 10},
    "k 50": {"query_s": 0.5, "k": 50},
    "history 60 s": {"query_s": 0.5, "history_s": 60.0},
    "history 900 s": {"query_s": 0.5, "history_s": 900.0},
    "query 0.25 s, k 50": {"query_s": 0.25, "k": 50},
}
DEFAULT = "query 0.25 s (the default)"
ORACLE = "oracle: the default's analogue closest to the truth"


def main() -> None:
    args = run_args(__doc__)

    from ecg_vqvae.baselines import MIN_MATCHES, analogue_futures, recent_median, repeat_last_beat
    from ecg_vqvae.data import record_segment
    from ecg_vqvae.evaluate import example_starts, forecast_examples

    _, cfg, split = load_run(args)  # its split and data settings
    fs, w = cfg.data.samples_per_second, cfg.data.window_samples
    errors: dict[tuple[str, str, float], list[float]] = defaultdict(list)
    for part in ("val", "test"):
        for name in split[part]:
            seg = record_segment(args.data_dir, name, cfg.data)  # (L, n)
            starts = example_starts(seg.shape[1], w, w, int(round(args.stride_s * fs)), None)
            contexts, truth, _ = forecast_examples(seg, starts, w, w)  # (n, L, W) each
            for context, future, end in zip(contexts, truth, starts + w):
                preds = {"recent_median": recent_median(context, w, fs)}
                for label, kw in SETTINGS.items():
                    futures = analogue_futures(seg[:, :end], w, fs, **kw)  # (m, L, W)
                    if len(futures) < MIN_MATCHES:
                        futures = repeat_last_beat(context, w, fs)[None]
                    preds[label] = np.median(futures, axis=0)
                    if label == DEFAULT:
                        candidates = futures
                for h_s in (1.0, 3.0):
                    h = int(h_s * fs)
                    for method, pred in preds.items():
                        e = float(np.abs(pred[:, :h] - future[:, :h]).mean())
                        errors[(part, method, h_s)].append(e)
                    # what a perfect choice among the default's analogues would reach: the headroom
                    # of any weighting or selection of them, learned or not
                    best = np.abs(candidates[..., :h] - future[:, :h]).mean(axis=(1, 2)).min()
                    errors[(part, ORACLE, h_s)].append(float(best))
            print(f"scored {name}", flush=True)
    methods = ["recent_median", *SETTINGS, ORACLE]
    print("\n| records | horizon [s] | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for part in ("val", "test"):
        for h_s in (1.0, 3.0):
            cells = [f"{np.mean(errors[(part, m, h_s)]):.4f}" for m in methods]
            print(f"| {part} | {h_s:g} | " + " | ".join(cells) + " |")
    print("(MAE [mV], pooled over the examples)")


if __name__ == "__main__":
    main()
