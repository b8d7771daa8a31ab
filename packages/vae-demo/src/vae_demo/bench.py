"""`vae-demo bench`: epoch time and peak memory on the configured (default: full) data.

Times, after a warm-up, the median of `repeat` training steps (forward, backward, AdamW) at the
configured batch size, with and without the time bypass, and the per-epoch monitoring (encode the
validation windows, k-means/NMI/silhouette/AUC). The epoch estimate is steps x batches per epoch +
validation + monitoring; peak memory is the process's peak RSS after each case.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import torch
from sigzoo_shared.bench import time_fn, write_bench
from sigzoo_shared.device import peak_rss_mb, resolve_device, seed_everything

from vae_demo.config import Config
from vae_demo.data import load_splits
from vae_demo.evaluate import build_model, encode_windows, latent_metrics, subset
from vae_demo.train import make_step

log = logging.getLogger(__name__)


def bench(cfg: Config, out_dir: Path | str, repeat: int = 5) -> list[dict[str, Any]]:
    device = resolve_device(cfg.train.device)
    seed_everything(cfg.train.seed)
    t0 = time.perf_counter()
    splits = load_splits(cfg.data)
    prep_s = time.perf_counter() - t0
    n_train, n_val = len(splits.train.y), len(splits.val.y)
    bs = cfg.train.batch_size
    n_batches = -(-n_train // bs)
    x = torch.from_numpy(splits.train.x[:bs]).to(device)
    y = torch.from_numpy(splits.train.y[:bs]).to(device)
    rows: list[dict[str, Any]] = [
        {
            "case": "data preparation (generate + window + scale)",
            "windows": n_train + n_val,
            "median_s": round(prep_s, 3),
            "peak_rss_mb": round(peak_rss_mb(), 1),
        }
    ]
    for bypass in (False, True):
        case_cfg = dataclasses.replace(
            cfg, model=dataclasses.replace(cfg.model, time_bypass=bypass)
        )
        model = build_model(case_cfg).to(device)
        opt = torch.optim.AdamW(
            model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
        )
        m = case_cfg.model  # the configured loss: free bits, the trimmed shift-tolerant error and
        # the spectral term
        step = make_step(
            m.beta,
            free_bits=m.free_bits,
            shift_tolerant=m.shift_tolerant,
            keep=m.keep_fraction,
            spectral=m.spectral_weight,
        )

        def train_step() -> None:
            loss, _ = step(model, (x, y))  # noqa: B023
            opt.zero_grad(set_to_none=True)  # noqa: B023
            loss.backward()
            opt.step()  # noqa: B023

        model.train()
        t_step = time_fn(train_step, warmup=1, repeat=repeat)
        step_cpu_s = t_step["median_cpu_s"]  # robust to other jobs on the machine
        model.eval()
        with torch.no_grad():
            t_val = time_fn(lambda: step(model, (x, y)), warmup=1, repeat=repeat)  # noqa: B023
        mon = subset(splits.val, cfg.plot.max_points)
        t1 = time.perf_counter()
        mu = encode_windows(model, mon.x, device)
        latent_metrics(
            mu, mon.y, cfg.data.n_patterns + 1, silhouette_points=cfg.plot.silhouette_points
        )
        monitor_s = time.perf_counter() - t1
        epoch_s = t_step["median_s"] * n_batches + t_val["median_s"] * -(-n_val // bs) + monitor_s
        rows.append(
            {
                "case": f"train epoch, time_bypass={bypass}",
                "windows": n_train,
                "batch_size": bs,
                "step_median_s": round(t_step["median_s"], 4),
                "step_cpu_s": round(step_cpu_s, 4),
                "batches_per_epoch": n_batches,
                "monitor_s": round(monitor_s, 2),
                "epoch_s_estimate": round(epoch_s, 1),
                "epoch_cpu_s_estimate": round(step_cpu_s * n_batches, 1),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "params": sum(p.numel() for p in model.parameters()),
            }
        )
        log.info("%s", rows[-1])
    d = cfg.data
    notes = [
        f"data: {d.n_patterns} patterns x {d.pattern_len} samples x {d.repeats} repeats + {d.noise_len} "
        f"noise samples, window {d.window}, stride {d.stride}, {d.n_features} channels"
        f"{' + time' if d.time_encoding else ''}",
        f"step = forward + backward + AdamW on one batch of {bs}; median of {repeat} after a warm-up",
        "epoch_s_estimate = step_median x batches + validation batches + monitoring (metrics on "
        f"{min(cfg.plot.max_points, n_val)} validation windows; figures not included)",
        "epoch_cpu_s_estimate = CPU seconds of this process per step x batches (training only): "
        "what an epoch costs on an otherwise idle core, whatever else runs on the machine",
        f"torch threads: {torch.get_num_threads()}; peak RSS is the whole process so far",
    ]
    columns = list(dict.fromkeys(k for row in rows for k in row))  # every row gets every column
    rows = [{k: row.get(k) for k in columns} for row in rows]
    write_bench(Path(out_dir), "vae-demo: epoch time and peak memory", rows, notes)
    return rows
