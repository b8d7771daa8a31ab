"""How much of the 1 s forecast error is beat timing, and how predictable is the timing? Oracle bounds.

    python packages/ecg-vqvae/scripts/oracle_bounds.py --run-dir runs/ecg-vqvae/s6/heads4-s0 \
        --data-dir path/to/mitdb --stride-s 20

On the forecast examples `evaluate` scores (one every --stride-s seconds of the run's validation and
test records; 3 s context, first second of the future), MAE of forecasts that are told what no
forecaster knows, beside the run's point forecast and the naive ones:

- oracle level: a flat line at the future's own median (what a perfect baseline forecast leaves);
- oracle-timed repeat-last-beat: the context's last RR interval of signal, time-warped onto the true
  (annotated) beat times of the future: perfect rhythm knowledge, the context's morphology;
- both: the oracle-timed forecast shifted to the future's median.

Then, from the `.atr` beat annotations of the test records, how well the next RR interval is predicted
from the past ones (last RR, mean of 4, median of 8, least-squares AR(2) over the last 9 s and AR(8)
over the last 60 s): the timing error a rhythm model cannot avoid, against the ~0.1 s a QRS lasts.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from _args import load_run, record_examples, run_args


def oracle_timed(context: np.ndarray, past: np.ndarray, future: np.ndarray, n: int) -> np.ndarray:
    """(L, T) context, annotated beats in it (`past`) and after it (`future`, same origin) -> (L, n):
    the last RR of signal warped linearly onto each true inter-beat interval."""
    r0, r1 = past[-2], past[-1]
    anchors = np.concatenate([[r1], future])
    t = np.arange(context.shape[1], context.shape[1] + n)
    j = np.searchsorted(anchors, t, side="right") - 1
    period = np.where(
        j + 1 < len(anchors), anchors[np.minimum(j + 1, len(anchors) - 1)] - anchors[j], r1 - r0
    )
    src = r0 + ((t - anchors[j]) % period) / period * (r1 - r0)
    lo = np.floor(src).astype(int)
    hi, frac = np.minimum(lo + 1, context.shape[1] - 1), src - lo
    return (1 - frac) * context[:, lo] + frac * context[:, hi]


def ar_next(history: np.ndarray, order: int, span_s: float) -> float:
    """Least-squares AR(order) with intercept over the RR intervals of the last `span_s` seconds."""
    back = np.cumsum(history[::-1])
    h = history[-max(order + 3, int(np.searchsorted(back, span_s)) + 1) :]
    if len(h) <= order + 2:
        return float(history[-1])
    x = np.stack([h[i : len(h) - order + i] for i in range(order)], 1)
    coef, *_ = np.linalg.lstsq(np.c_[x, np.ones(len(x))], h[order:], rcond=None)
    return float(np.clip(np.r_[h[-order:], 1.0] @ coef, 0.25, 2.0))


def rr_errors(beats_s: np.ndarray, every: int = 5, warmup: int = 40) -> dict[str, list[float]]:
    """|predicted - true| next RR interval (s) for every `every`-th beat after `warmup` beats."""
    rr = np.diff(beats_s)
    out: dict[str, list[float]] = defaultdict(list)
    for n in range(warmup, len(rr) - 1, every):
        past, y = rr[:n], rr[n]
        out["last RR"].append(abs(past[-1] - y))
        out["mean of 4"].append(abs(past[-4:].mean() - y))
        out["median of 8"].append(abs(np.median(past[-8:]) - y))
        out["AR(2), last 9 s"].append(abs(ar_next(past, 2, 9.0) - y))
        out["AR(8), last 60 s"].append(abs(ar_next(past, 8, 60.0) - y))
    return out


def main() -> None:
    args = run_args(__doc__)

    from ecg_vqvae.data import read_beats

    model, cfg, split = load_run(args)
    fs, w = cfg.data.samples_per_second, cfg.data.window_samples
    h = int(fs)  # the first second of the future
    errors: dict[tuple[str, str], list[float]] = defaultdict(list)
    for rec in record_examples(args, model, cfg, split, h):
        naive, truth = rec.naive, rec.truth  # each (n, L, W), (n, L, h)
        for i, s in enumerate(rec.starts):
            past = rec.beats[(rec.beats >= s) & (rec.beats < s + w)] - s
            ahead = rec.beats[(rec.beats >= s + w) & (rec.beats < s + 4 * w)] - s
            timed = (
                oracle_timed(rec.contexts[i], past, ahead, h)
                if len(past) >= 2
                else naive["repeat_last_beat"][i, :, :h]
            )
            level = np.median(truth[i], axis=1, keepdims=True)  # (L, 1)
            shift = naive["recent_median"][i, :, :1] - naive["context_median"][i, :, :1]
            preds = {
                "model point forecast": rec.point[i, :, :h],
                "model, shifted to the recent level": rec.point[i, :, :h] + shift,
                "repeat_last_beat": naive["repeat_last_beat"][i, :, :h],
                "recent_median": naive["recent_median"][i, :, :h],
                "context_median": naive["context_median"][i, :, :h],
                "oracle level (flat)": np.broadcast_to(level, truth[i].shape),
                "oracle-timed repeat-last-beat": timed,
                "oracle timing + oracle level": timed
                - np.median(timed - truth[i], axis=1, keepdims=True),
            }
            for method, pred in preds.items():
                e = float(np.abs(pred - truth[i]).mean())
                errors[(rec.part, method)].append(e)
                errors[(rec.name, method)].append(e)
    methods = list(dict.fromkeys(m for _, m in errors))
    places = ["val", "test", *split["val"], *split["test"]]
    print("MAE over the first 1 s [mV]\n\n| records | examples | " + " | ".join(methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for where in places:
        cells = [f"{np.mean(errors[(where, m)]):.4f}" for m in methods]
        print(f"| {where} | {len(errors[(where, methods[0])])} | " + " | ".join(cells) + " |")

    print("\n| record | beats scored | " + " | ".join(rr_errors(np.arange(50.0)).keys()) + " |")
    print("|---|---|" + "---|" * 5)
    pooled: dict[str, list[float]] = defaultdict(list)
    for name in split["test"]:
        errs = rr_errors(read_beats(args.data_dir, name, fs) / fs)
        cells = [f"{1e3 * np.mean(v):.0f}" for v in errs.values()]
        print(f"| {name} | {len(errs['last RR'])} | " + " | ".join(cells) + " |")
        for k, v in errs.items():
            pooled[k] += v
    cells = [f"{1e3 * np.mean(v):.0f}" for v in pooled.values()]
    print(f"| all test | {len(pooled['last RR'])} | " + " | ".join(cells) + " |")
    print("(mean |error| of the next RR interval, ms)")


if __name__ == "__main__":
    main()
