"""Every shipped model loads offline, matches its card, and reproduces its card's VUS-PR on the shared
NAB series (skipped when /work/shared/data is absent)."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import resp_mhavae
from resp_mhavae.api import DEFAULT_PRETRAINED
from resp_mhavae.data import load_recording
from resp_mhavae.leaderboard import build_scene, scored_part_metrics
from sigzoo_shared.pretrained import (
    REQUIRED_META,
    list_pretrained,
    pretrained_root,
    verify_pretrained,
)

SHIPPED = [card["name"] for card in list_pretrained("resp_mhavae")]
NAB = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nab" / "data"
# the card's figure comes from the same scoring code on the same weights; the tolerance only
# absorbs float32 reduction order across BLAS builds
TOLERANCE = 2e-3


def test_the_default_model_ships() -> None:
    assert DEFAULT_PRETRAINED in SHIPPED


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_model_loads_offline_and_has_a_full_card(name: str) -> None:
    verify_pretrained("resp_mhavae", name)
    detector = resp_mhavae.load_pretrained(name)
    assert all(detector.card.get(key) for key in REQUIRED_META)
    card = (pretrained_root("resp_mhavae") / name / "card.md").read_text()
    assert "IsolationForest" in card and "rank" in card
    rng = np.random.default_rng(0)
    values = detector.mean + detector.std * rng.normal(size=(detector.min_length + 50, 1))
    assert np.isfinite(detector.score(values)).all()


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_model_reproduces_its_cards_vus_pr(name: str) -> None:
    detector = resp_mhavae.load_pretrained(name)
    metrics = detector.card["metrics"]
    path = NAB / "realKnownCause" / f"{metrics['series']}.csv"
    if not path.is_file():
        pytest.skip(f"{path} absent (the shared NAB data)")
    cfg = dataclasses.replace(
        detector.config, data=dataclasses.replace(detector.config.data, path=path, intervals=None)
    )
    scene = build_scene(cfg, load_recording(cfg.data))
    assert scene.test_start == metrics["test_start"]
    got = scored_part_metrics(cfg, scene, detector.score_csv(path))["vus_pr"]
    assert got == pytest.approx(metrics["vus_pr"], abs=TOLERANCE)
