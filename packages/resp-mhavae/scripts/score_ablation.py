"""Re-score a finished leaderboard's MHA-VAE-LSTM models with other score definitions (no retraining).

    python packages/resp-mhavae/scripts/score_ablation.py runs/resp-mhavae/leaderboard [SERIES ...]

For every trained model (series x protocol x seed) the same sliding windows are scored as reconstruction
error only, prediction error only, and the default mix (reconstruction + 0.5 x prediction), spread to
steps by mean (the mix also by max); prints one markdown table of median VUS-PR (mean ± std over seeds).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from resp_mhavae.config import Config, resolved_modality_weights
from resp_mhavae.factory import load_model
from resp_mhavae.leaderboard import Series, load_scene
from resp_mhavae.pointwise import spread, vae_lstm_window_scores
from resp_mhavae.range_metrics import vus
from sigzoo_shared.config import load_config

torch.set_num_threads(1)
VARIANTS = {"reconstruction": (1.0, 0.0), "prediction": (0.0, 1.0), "default mix": (1.0, 0.5)}


def main(run: Path, only: list[str]) -> None:
    cfg = load_config(Config, run / "config.yaml")
    rows = json.loads((run / "leaderboard.json").read_text())["rows"]
    series_paths = {}
    for entry in cfg.leaderboard.series:
        p = Path(entry)
        for f in sorted(p.glob("*.csv")) if p.is_dir() else [p]:
            series_paths[f.stem.removeprefix("sensor_data_").removesuffix("_with_anomalies")] = f
    out: dict[tuple[str, str, str], dict[str, dict[int, float]]] = {}
    device = torch.device("cpu")
    for split in cfg.leaderboard.splits:
        for name, path in series_paths.items():
            if only and name not in only:
                continue
            if not any(r["series"] == name and r["split"] == split and r["scorable"] for r in rows):
                continue
            fmt = "nab" if path.read_text().startswith("timestamp,value") else "collected"
            scfg, scene = load_scene(cfg, Series(path, fmt), split)
            L = scfg.data.l_win
            w = torch.tensor(resolved_modality_weights(scfg.model, len(scene.rec.channels)))
            y = scene.rec.labels[scene.test_start :]
            buffer = min(L, 100)
            for seed in cfg.leaderboard.seeds:
                model_dir = run / "models" / f"{name}_{split}_s{seed}" / "mhavae"
                vae = load_model(model_dir / "vae", device)  # best.pt via the core's load_run
                lstm = load_model(model_dir / "lstm", device)
                args = (scene.windows, L // scene.stride, scfg.data.look_back_num, w.float())
                rec = vae_lstm_window_scores(vae, lstm, *args, 0.0, device)
                pred = vae_lstm_window_scores(vae, lstm, *args, 1.0, device) - rec
                for variant, (a, b) in VARIANTS.items():
                    for how in ("mean", "max") if variant == "default mix" else ("mean",):
                        steps = spread(
                            a * rec + b * pred, scene.starts, L, len(y) + scene.test_start, how
                        )
                        value = vus(y, steps[scene.test_start :], buffer)["vus_pr"]
                        out.setdefault((split, variant, how), {}).setdefault(name, {})[seed] = value
                print(f"{split} {name} seed {seed} done", file=sys.stderr, flush=True)
    print(
        "| protocol | score | spread | median VUS-PR (series run) | nosein_noseout_1 | nosein_noseout_3 |"
    )
    print("|---|---|---|---|---|---|")
    for (split, variant, how), per in out.items():
        seeds = cfg.leaderboard.seeds
        medians = [np.median([per[s][seed] for s in per]) for seed in seeds]
        cells = []
        for s in ("nosein_noseout_1", "nosein_noseout_3"):
            v = [per[s][seed] for seed in seeds] if s in per else []
            cells.append(f"{np.mean(v):.3f} ± {np.std(v):.3f}" if v else "-")
        print(
            f"| {split} | {variant} | {how} | {np.mean(medians):.3f} ± {np.std(medians):.3f} | "
            + " | ".join(cells)
            + " |"
        )


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
