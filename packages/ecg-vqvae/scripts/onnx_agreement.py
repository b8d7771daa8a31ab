"""How often the exported ONNX graph and PyTorch disagree on real records, and by how much.

    python packages/ecg-vqvae/scripts/onnx_agreement.py --onnx ecg.onnx --pretrained mitdb-ds1 \
        --data-dir path/to/mitdb --records 207 208 209 215 220 223 230

On the forecast examples `evaluate data.forecast_stride_s=20` scores (context window -> next window),
it runs both and prints, per record, how many examples differ by more than the parity tolerance
(1e-4 mV) in the reconstruction or the forecast, the largest difference, and the smallest code tie
margin among the examples that differ. Outside near ties the graphs agree to ~1e-6; at a near tie the
runtimes' ~1e-6 encoder differences may pick the other code, a discrete jump.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx", type=Path, required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pretrained")
    source.add_argument("--run-dir", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--records", nargs="+", required=True)
    parser.add_argument("--stride-s", type=float, default=20.0)
    args = parser.parse_args()

    import ecg_vqvae
    from ecg_vqvae.baselines import repeat_last_beat
    from ecg_vqvae.evaluate import example_starts
    from ecg_vqvae.model import InferenceGraph
    from sigzoo_shared.export import PARITY_ATOL, onnx_session, run_onnx

    torch.set_num_threads(1)
    model = (
        ecg_vqvae.load_pretrained(args.pretrained)
        if args.pretrained
        else ecg_vqvae.load_run(args.run_dir)
    )
    graph = InferenceGraph(model.vqvae, model.forecaster).eval()
    session = onnx_session(args.onnx)
    w, f, fs = model.window_samples, model.horizon_samples, model.fs
    outputs = ["reconstruction", "forecast"] + (["beats"] if model.forecaster.beat_head else [])
    print(
        "| record | examples | "
        + " | ".join(f"{o} > tol" for o in outputs)
        + " | max diff [mV] | median diff [mV] | smallest tie margin of those |"
    )
    print("|---|---|" + "---|" * len(outputs) + "---|---|---|")
    totals = np.zeros(1 + len(outputs), dtype=int)
    for name in args.records:
        x = model.read_record(args.data_dir / name)  # (L, n)
        starts = example_starts(x.shape[1], w, f, int(round(args.stride_s * fs)), None)
        window = torch.from_numpy(np.stack([x[:, s : s + w] for s in starts]))  # (m, L, W)
        prior = torch.from_numpy(
            np.stack([repeat_last_beat(c, f, fs) for c in window.numpy()]).astype(np.float32)
        )  # (m, L, F)
        inputs = (window, prior) if model.forecaster.use_prior else (window,)
        with torch.no_grad():
            want = [t.numpy() for t in graph(*inputs)]
        got = run_onnx(session, inputs)
        diff = [np.abs(a - b).reshape(len(window), -1).max(1) for a, b in zip(want, got)]
        over = [d > PARITY_ATOL for d in diff]  # per output: (m,) examples beyond tolerance
        bad = np.logical_or.reduce(over)
        margin = np.minimum(
            model.vqvae.tie_margin(window).numpy(),
            model.vqvae.tie_margin(prior, model.vqvae.normalize(window)[1]).numpy(),
        )
        worst = max(d.max() for d in diff)
        typical = np.median(np.concatenate(diff))
        shown = f"{margin[bad].min():.1e}" if bad.any() else "-"
        counts = [int(o.sum()) for o in over]
        print(
            f"| {name} | {len(window)} | "
            + " | ".join(str(c) for c in counts)
            + f" | {worst:.1e} | {typical:.1e} | {shown} |"
        )
        totals += [len(window), *counts]
    print("| all | " + " | ".join(str(t) for t in totals) + " | | | |")


if __name__ == "__main__":
    main()
