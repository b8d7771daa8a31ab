"""Would a rhythm model help a 3 s forecaster? The last beat, timed by RR intervals predicted from 60 s.

    python packages/ecg-vqvae/scripts/rhythm_template.py --run-dir runs/ecg-vqvae/s6/heads4-s0 \
        --data-dir path/to/mitdb --stride-s 20

On the forecast examples `evaluate` scores (first second of the future), MAE of the context's last
beat (`oracle_bounds.oracle_timed`) placed at predicted beat times instead of the true ones: the next
RR intervals from the last one, or from a least-squares AR(8) over the last 60 s of annotated RR
intervals (`oracle_bounds.ar_next`). "timed copy" uses the prediction as is; "jitter median" is the
pointwise median of 48 copies whose RR intervals carry residuals drawn from the training records'
(the L1-optimal forecast under that timing uncertainty); "+ model" averages it with the run's point
forecast. Beside: the run's point forecast, the recent median and repeat-last-beat.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from _args import load_run, record_examples, run_args
from oracle_bounds import ar_next, oracle_timed

K = 48  # jittered copies per example


def predicted_rr(rr: np.ndarray, fs: float) -> dict[str, float]:
    """Next RR interval (samples) from the past ones (samples), by each rhythm model."""
    return {"last RR": float(rr[-1]), "AR(8) 60 s": ar_next(rr / fs, 8, 60.0) * fs}


RHYTHM_MODELS = ("last RR", "AR(8) 60 s")


def timed_copies(
    context: np.ndarray,
    past: np.ndarray,
    history: np.ndarray,
    model_point: np.ndarray,
    residuals: dict[str, list[float]],
    fs: float,
    h: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """(L, h) forecasts: the context's last beat at the predicted beat times, as is and as the median
    of K copies with drawn timing residuals, and that median averaged with the model's point forecast."""
    out = {}
    for k, p in predicted_rr(np.diff(history).astype(float), fs).items():
        n_beats = int(np.ceil(h / max(p, 0.3 * fs))) + 2
        out[f"{k}: timed copy"] = oracle_timed(
            context, past, past[-1] + p * np.arange(1, n_beats + 1), h
        )
        rrs = np.clip(p + rng.choice(residuals[k], size=(K, n_beats)), 0.25 * fs, 2.5 * fs)
        median = np.median(
            [oracle_timed(context, past, past[-1] + np.cumsum(r), h) for r in rrs], 0
        )
        out[f"{k}: jitter median"] = median
        out[f"{k}: jitter median + model"] = 0.5 * (median + model_point)
    return out


def main() -> None:
    args = run_args(__doc__)

    from ecg_vqvae.data import read_beats

    model, cfg, split = load_run(args)
    fs, w = cfg.data.samples_per_second, cfg.data.window_samples
    h = int(fs)
    rng = np.random.default_rng(0)
    residuals: dict[str, list[float]] = defaultdict(list)  # from the training records
    for name in split["train"]:
        rr = np.diff(read_beats(args.data_dir, name, fs)).astype(float)
        for n in range(40, len(rr) - 1, 3):
            for k, p in predicted_rr(rr[:n], fs).items():
                residuals[k].append(rr[n] - p)
    errors: dict[tuple[str, str], list[float]] = defaultdict(list)
    for rec in record_examples(args, model, cfg, split, h):
        for i, s in enumerate(rec.starts):
            end = s + w
            history = rec.beats[(rec.beats >= end - 60 * fs) & (rec.beats < end)]
            past = rec.beats[(rec.beats >= s) & (rec.beats < end)] - s
            point = rec.point[i, :, :h]
            preds = {
                "model point forecast": point,
                "recent_median": rec.naive["recent_median"][i, :, :h],
                "repeat_last_beat": rec.naive["repeat_last_beat"][i, :, :h],
            }
            if len(past) < 2 or len(history) < 4:  # too early in a record: the flat line
                for k in RHYTHM_MODELS:
                    for v in ("timed copy", "jitter median", "jitter median + model"):
                        preds[f"{k}: {v}"] = preds["recent_median"]
            else:
                ctx = rec.contexts[i]
                preds |= timed_copies(ctx, past, history, point, residuals, fs, h, rng)
            for method, pred in preds.items():
                errors[(rec.part, method)].append(float(np.abs(pred - rec.truth[i]).mean()))
    methods = list(dict.fromkeys(m for _, m in errors))
    print("MAE over the first 1 s [mV]\n\n| records | " + " | ".join(methods) + " |")
    print("|---|" + "---|" * len(methods))
    for part in ("val", "test"):
        print(
            f"| {part} | " + " | ".join(f"{np.mean(errors[(part, m)]):.4f}" for m in methods) + " |"
        )


if __name__ == "__main__":
    main()
