"""Pack the shipped `demo` model: one run of a seed sweep of `vae-demo demo`, with its model card.

    vae-demo sweep --root runs/vae-demo/pretrained/demo --seeds 85 86 87 \
        --then 'score --run-dir {run_dir}' -- demo
    python packages/vae-demo/scripts/pack_pretrained.py runs/vae-demo/pretrained/demo --ship 85

It writes the card (ROOT/demo-card.md) and its facts (ROOT/demo-meta.json), then packs through
`vae-demo pretrained pack --run-dir ROOT/seed-85 --name demo --card ... --meta ...`.

The card's figures come from the sweep's runs (`RUN/results.json`, written by `vae-demo score`):
ARI / NMI of every seed with mean and spread, and for the shipped run the pattern accuracy on a
fresh series (`fresh_accuracy`), the figure tests/test_pretrained.py reproduces.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
from pathlib import Path
from typing import Any

import vae_demo
from sigzoo_shared.io import atomic_write_json, atomic_write_text
from vae_demo.api import DEFAULT_PRETRAINED, PACKAGE_MODULE, PatternModel, load_run
from vae_demo.cli import main as cli_main

FRESH = {"repeats": 5, "seed": 1}  # the fresh series of the card's accuracy figure


def fresh_accuracy(model: PatternModel) -> float:
    """Share of windows of a fresh series of the trained patterns (new noise, windows aligned to the
    pattern grid as in the demo's training) whose cluster stands for their pattern."""
    signal, ids = model.sample_series(**FRESH)
    stride = model.config.data.stride
    predicted = model.cluster_patterns[model.cluster(signal, stride=stride)]
    return float((predicted == model.window_labels(ids, stride=stride)).mean())


def spread(values: list[float]) -> str:
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def card(
    results: dict[int, dict[str, Any]], ship: int, accuracy: float, commit: str
) -> tuple[str, dict]:
    model = load_run(Path(results[ship]["run"]))
    d, t = model.config.data, model.config.train
    seeds = sorted(results)
    ari = [results[s]["ari"] for s in seeds]
    nmi = [results[s]["nmi"] for s in seeds]
    command = (
        f"vae-demo sweep --root runs/vae-demo/pretrained/demo --seeds {' '.join(map(str, seeds))} "
        "--then 'score --run-dir {run_dir}' -- demo; python packages/vae-demo/scripts/"
        f"pack_pretrained.py runs/vae-demo/pretrained/demo --ship {ship}"
    )
    metrics = {
        "ari_mean": statistics.mean(ari),
        "ari_std": statistics.stdev(ari),
        "ari_per_seed": dict(zip(map(str, seeds), ari)),
        "nmi_mean": statistics.mean(nmi),
        "nmi_chance": results[ship]["nmi_chance"],
        "ari_shipped": results[ship]["ari"],
        "fresh_accuracy": accuracy,
        "fresh_series": FRESH,
        "chance_ari": 0.0,
        "chance_fresh_accuracy": 1 / (d.n_patterns + 1),
    }
    meta = {
        "summary": f"The VAE of `vae-demo demo`: {d.n_patterns} patterns, 2-D latent, k-means clusters",
        "command": command,
        "data": (
            f"Built-in generator, data seed {d.seed}: {d.n_patterns} patterns x {d.n_features} "
            f"channels x {d.pattern_len} samples, tiled {d.repeats} times, {d.noise_len} noise "
            f"samples, windows of {d.window} every {d.stride} samples (aligned to the patterns); "
            f"{1 - d.val_fraction:.0%} training / {d.val_fraction:.0%} validation windows"
        ),
        "licence": "Generated data (no third-party data); weights under the sigzoo licence",
        "metrics": metrics,
        "intended_use": "Trying the API, the export and the latent plots in seconds; not a model "
        "of the default 30-pattern stride-1 data",
        "weaknesses": "Aligned windows only: windows that start between two patterns land in "
        "arbitrary clusters; 67 validation windows make its ARI coarse",
        "training_seed": t.seed,
        "commit": commit,
    }
    md = (
        f"""# vae-demo pretrained model `demo`

{meta["summary"]}. Trained by vae-demo {vae_demo.__version__} at commit {commit} with
`vae-demo demo` (configs/demo.yaml: {t.epochs} epochs, batch {t.batch_size}, lr {t.lr:g}), training
seed {t.seed}, the last epoch's weights; one run costs about 40 CPU-s on one thread
(docs/vae-demo.md, "Demo").

**Data and split.** {meta["data"]}. Generated, so there is no licence or attribution to carry.

**Metrics** (k-means with k = {d.n_patterns + 1} on z_mean of the validation windows, `vae-demo
score`; chance ARI 0, NMI of a random partition {metrics["nmi_chance"]:.3f}):

| training seed | ARI | NMI |
|---|---|---|
"""
        + "".join(
            f"| {s}{' (shipped)' if s == ship else ''} | {results[s]['ari']:.3f} | {results[s]['nmi']:.3f} |\n"
            for s in seeds
        )
        + f"""| mean ± sample std | {spread(ari)} | {spread(nmi)} |

On a fresh series of the same patterns (new noise, {FRESH["repeats"]} repeats, aligned windows),
{accuracy:.1%} of the windows fall in the cluster of their own pattern (chance {metrics["chance_fresh_accuracy"]:.1%}).

**Command.** `{command}`

**Intended use.** {meta["intended_use"]}.

**Known weaknesses.** {meta["weaknesses"]}.
"""
    )
    return md, meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the sweep root (seed-<s> folders)")
    parser.add_argument("--ship", type=int, required=True, help="the seed whose run ships")
    parser.add_argument("--name", default=DEFAULT_PRETRAINED)
    parser.add_argument("--out", type=Path, default=None, help="default: the package's folder")
    args = parser.parse_args()
    results = {}
    for path in sorted(args.root.glob("seed-*/results.json")):
        seed = int(path.parent.name.removeprefix("seed-"))
        results[seed] = {**json.loads(path.read_text(encoding="utf-8")), "run": str(path.parent)}
    if args.ship not in results or len(results) < 3:
        raise SystemExit(
            f"{args.root}: need >= 3 scored seed runs including {args.ship}, found {sorted(results)}"
        )
    run = Path(results[args.ship]["run"])
    accuracy = fresh_accuracy(load_run(run))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    md, meta = card(results, args.ship, accuracy, commit)
    from sigzoo_shared.pretrained import pretrained_root

    dest = args.out or pretrained_root(PACKAGE_MODULE) / args.name
    # the card and its facts beside the sweep, then the package's `pretrained pack` verb
    card_md, meta_json = args.root / f"{args.name}-card.md", args.root / f"{args.name}-meta.json"
    atomic_write_text(card_md, md)
    atomic_write_json(meta_json, meta)
    pack = ["pretrained", "pack", "--run-dir", str(run), "--name", args.name]
    if cli_main([*pack, "--card", str(card_md), "--meta", str(meta_json), "--out", str(dest)]):
        raise SystemExit(f"vae-demo {' '.join(pack)} failed")
    print(
        f"packed {run} -> {dest} (ARI {results[args.ship]['ari']:.3f}, fresh accuracy {accuracy:.3f})"
    )


if __name__ == "__main__":
    main()
