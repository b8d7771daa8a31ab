"""Every shipped model loads offline, matches its card's checksum and reproduces its card's figures
on regenerated data (the built-in generator, so never skipped)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import vae_demo
from sigzoo_shared import ConfigError
from sigzoo_shared.pretrained import list_pretrained, verify_pretrained
from vae_demo.api import PACKAGE_MODULE, validation_clusters
from vae_demo.data import load_splits
from vae_demo.evaluate import encode_windows, latent_metrics

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "pack_pretrained.py"
SHIPPED = [card["name"] for card in list_pretrained(PACKAGE_MODULE)]


def _script():  # noqa: ANN202  the packing script, whose fresh-series figure the card states
    spec = importlib.util.spec_from_file_location("pack_pretrained", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_default_name_ships() -> None:
    assert vae_demo.api.DEFAULT_PRETRAINED in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_reproduces_its_card(name: str) -> None:
    verify_pretrained(PACKAGE_MODULE, name)
    model = vae_demo.load_pretrained(name)
    metrics = model.card["metrics"]
    for key in ("summary", "command", "data", "licence", "intended_use", "weaknesses"):
        assert model.card[key]
    # the fresh-series accuracy: same windows, same centres -> the same figure (one window of
    # tolerance for float differences across machines)
    signal, ids = model.sample_series(**metrics["fresh_series"])
    n_windows = len(model.window_labels(ids, stride=model.config.data.stride))
    assert abs(_script().fresh_accuracy(model) - metrics["fresh_accuracy"]) <= 1 / n_windows
    assert metrics["fresh_accuracy"] > 3 * metrics["chance_fresh_accuracy"]
    # the validation ARI of the shipped run, recomputed from regenerated data
    val = load_splits(model.config.data).val
    mu = encode_windows(model.model, val.x)
    k = model.config.data.n_patterns + 1
    ari = latent_metrics(mu, val.y, k, seed=model.config.train.seed)["ari"]
    assert ari == pytest.approx(metrics["ari_shipped"], abs=0.02)
    # the stored centres are those of that latent
    centroids, patterns = validation_clusters(model.model, model.config, val)
    np.testing.assert_allclose(centroids, model.centroids, atol=1e-4)
    np.testing.assert_array_equal(patterns, model.cluster_patterns)


def test_unknown_name_names_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="available: .*demo"):
        vae_demo.load_pretrained("no-such-model")


def test_the_pretrained_pack_verb_ships_what_the_api_loads(tiny_run: Path, tmp_path: Path) -> None:
    """`vae-demo pretrained pack` stores the scaling and the cluster centres beside the weights."""
    import json

    import torch
    from sigzoo_shared.checkpoint import load_checkpoint
    from vae_demo.api import load_run
    from vae_demo.cli import main

    card, meta = tmp_path / "card.md", tmp_path / "meta.json"
    card.write_text("# tiny\n", encoding="utf-8")
    facts = {k: "x" for k in ("summary", "command", "data", "licence", "intended_use")}
    meta.write_text(json.dumps({**facts, "weaknesses": "tiny", "metrics": {"ari": 0.1}}))
    out = tmp_path / "tiny"
    args = ["pretrained", "pack", "--run-dir", str(tiny_run), "--name", "tiny"]
    assert main([*args, "--card", str(card), "--meta", str(meta), "--out", str(out)]) == 0
    state = load_checkpoint(out / "model.pt")
    run = load_run(tiny_run)
    np.testing.assert_allclose(state["centroids"].numpy(), run.centroids)
    assert torch.equal(state["cluster_patterns"], torch.from_numpy(run.cluster_patterns))
    assert set(state["scaling"]) == set(run.scaling)
    assert json.loads((out / "card.json").read_text())["metrics"] == {"ari": 0.1}
