"""Re-score a finished leaderboard's MHA-VAE-LSTM models with other score definitions (no retraining).

    python packages/resp-mhavae/scripts/score_ablation.py RUN [--splits chronological nab]
        [--variants rec kl pred mix elbo elbo_pred] [SERIES ...]

RUN is a `resp-mhavae leaderboard` folder. For every trained model (series x protocol x seed) the
same sliding windows get the parts of the model's score: the reconstruction error, the KL term of the
window's latent (KL(q(z|x) || N(0, I)) per latent element) and the error of the LSTM's prediction.
Each variant below is a weighted sum of them, spread to steps by mean, and measured by VUS-PR on the
test steps, exactly as `leaderboard` measures its cells. Prints one markdown table: per variant, the
median over the scorable series (mean ± std over seeds) and every series' mean ± std over seeds.

Models of a leaderboard run made before `data.train_stride` became `data.train_overlap` store the old
key; it is dropped on loading (it was unset in those runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from resp_mhavae.config import Config, resolved_modality_weights
from resp_mhavae.factory import build_stored
from resp_mhavae.leaderboard import Series, load_scene, series_format
from resp_mhavae.model import kl_divergence
from resp_mhavae.pointwise import spread, vae_lstm_window_scores
from resp_mhavae.range_metrics import vus
from sigzoo_shared.config import from_dict, load_config
from torch import nn

torch.set_num_threads(1)
# variant -> (description, weights of reconstruction, KL term, prediction error)
VARIANTS = {
    "rec": ("reconstruction (the default)", 1.0, 0.0, 0.0),
    "kl": ("KL term", 0.0, 1.0, 0.0),
    "pred": ("prediction", 0.0, 0.0, 1.0),
    "mix": ("seed mix: reconstruction + 0.5 prediction", 1.0, 0.0, 0.5),
    "elbo": ("reconstruction + 0.8 KL (negative ELBO)", 1.0, 0.8, 0.0),
    "elbo_pred": ("reconstruction + 0.8 KL + 0.5 prediction", 1.0, 0.8, 0.5),
}


def load_phase(path: Path) -> nn.Module:
    """A phase's best.pt, tolerating the stored config of older leaderboard runs."""
    state = torch.load(path / "checkpoints" / "best.pt", map_location="cpu", weights_only=True)
    stored = state["config"]
    stored["data"].pop("train_stride", None)
    model = build_stored(from_dict(Config, stored), state)
    model.load_state_dict(state["model_state"])
    return model.eval()


def parts(
    run: Path, name: str, split: str, seed: int, scfg: Config, scene
) -> dict[str, np.ndarray]:
    """Reconstruction, KL and prediction parts (W,) of one trained model on the scene's windows."""
    folder = run / "models" / f"{name}_{split}_s{seed}" / "mhavae"
    vae, lstm = load_phase(folder / "vae"), load_phase(folder / "lstm")
    w = torch.tensor(resolved_modality_weights(scfg.model, len(scene.rec.channels))).float()
    args = (vae, lstm, scene.windows, scfg.data.l_win // scene.stride, scfg.data.look_back_num, w)
    cpu = torch.device("cpu")
    rec = vae_lstm_window_scores(*args, 0.0, cpu)
    pred = vae_lstm_window_scores(*args, 1.0, cpu) - rec
    with torch.no_grad():
        mu, logvar = vae.encode(torch.from_numpy(scene.windows))  # (W, D, L) each
        kl = kl_divergence(mu, logvar).double().numpy()  # (W,)
    return {"rec": rec, "kl": kl, "pred": pred}


def main(run: Path, splits: list[str] | None, only: list[str], variants: list[str]) -> None:
    cfg = load_config(Config, run / "config.yaml")
    rows = json.loads((run / "leaderboard.json").read_text())["rows"]
    paths = {}
    for entry in cfg.leaderboard.series:
        p = Path(entry)
        for f in sorted(p.glob("*.csv")) if p.is_dir() else [p]:
            paths[Series(f, "nab").name] = f
    out: dict[tuple[str, str], dict[str, dict[int, float]]] = {}
    for split in splits or cfg.leaderboard.splits:
        for name, path in paths.items():
            if only and name not in only:
                continue
            if not any(r["series"] == name and r["split"] == split and r["scorable"] for r in rows):
                continue
            scfg, scene = load_scene(cfg, Series(path, series_format(path)), split)
            L, n = scfg.data.l_win, len(scene.rec.values)
            y = scene.rec.labels[scene.test_start :]
            for seed in cfg.leaderboard.seeds:
                p = parts(run, name, split, seed, scfg, scene)
                for variant in variants:
                    _, a, b, c = VARIANTS[variant]
                    score = a * p["rec"] + b * p["kl"] + c * p["pred"]
                    score = np.where(np.isfinite(p["pred"]), score, np.nan)  # the mix's windows
                    steps = spread(score, scene.starts, L, n, scfg.score.spread)
                    value = vus(y, steps[scene.test_start :], min(L, 100))["vus_pr"]
                    out.setdefault((split, variant), {}).setdefault(name, {})[seed] = value
                print(f"{split} {name} seed {seed} done", file=sys.stderr, flush=True)
    for split in dict.fromkeys(s for s, _ in out):
        series = list(out[(split, variants[0])])
        print(f"\n{split} split, VUS-PR (mean ± std over seeds {cfg.leaderboard.seeds})\n")
        print("| score | median | " + " | ".join(series) + " |")
        print("|---|---|" + "---|" * len(series))
        for variant in variants:
            per = out[(split, variant)]
            seeds = cfg.leaderboard.seeds
            medians = [np.median([per[s][seed] for s in series]) for seed in seeds]
            cells = [
                f"{np.mean(list(per[s].values())):.3f} ± {np.std(list(per[s].values())):.3f}"
                for s in series
            ]
            print(
                f"| {VARIANTS[variant][0]} | {np.mean(medians):.3f} ± {np.std(medians):.3f} | "
                + " | ".join(cells)
                + " |"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("series", nargs="*", help="series names (default: every scorable one)")
    parser.add_argument("--splits", nargs="*", default=None)
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    a = parser.parse_args()
    main(a.run, a.splits, a.series, a.variants)
