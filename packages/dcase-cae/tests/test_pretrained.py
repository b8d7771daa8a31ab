"""Every shipped model loads offline, matches its card's sha256, scores a clip, and reproduces its card's
figure on the shared real test set (skipped where that data is absent)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from dcase_cae import load_pretrained
from dcase_cae.cli import main
from dcase_cae.data import list_clips
from dcase_cae.official import roc_auc, section_metrics, section_official_score
from sigzoo_shared import ConfigError
from sigzoo_shared.pretrained import REQUIRED_META, list_pretrained, verify_pretrained

DATA = Path(
    os.environ.get(
        "SIGZOO_SHARED_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data"
    )
)
SHIPPED = {c["name"]: c for c in list_pretrained("dcase_cae")}
# ranks of near-tied clips may flip: the shipped k-NN bank is float32, the run's was float64
TOLERANCE = 0.005


def test_the_two_documented_models_ship_with_complete_cards() -> None:
    assert set(SHIPPED) == {"toycar-embedding", "mimii-fan-dense-ae"}
    for name, card in SHIPPED.items():
        assert all(card.get(key) for key in REQUIRED_META), name
        assert card["package_version"] == "0.1.0" and card["commit"]
    assert "CC BY-SA 4.0" in SHIPPED["mimii-fan-dense-ae"]["licence"]
    assert "CC BY 4.0" in SHIPPED["toycar-embedding"]["licence"]


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_each_model_loads_offline_and_scores_a_waveform(name: str) -> None:
    verify_pretrained("dcase_cae", name)
    detector = load_pretrained(name)
    assert detector.sample_rate_hz == 16000 and detector.threshold is not None
    wave = np.random.default_rng(0).normal(0, 0.05, 3 * 16000).astype(np.float32)  # 3 s
    scores = detector.score([wave, 2 * wave], sr=16000)
    assert scores.shape == (2,) and np.isfinite(scores).all()
    assert detector.decide(wave).shape == (1,)


def test_an_unknown_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError, match="available: mimii-fan-dense-ae, toycar-embedding"):
        load_pretrained("toycar")


def _test_set(folder: Path, machine_type: str) -> tuple[list[Path], np.ndarray, np.ndarray]:
    clips = list_clips(folder, "test", machine_type)
    labels = np.array([c.label for c in clips])
    domains = np.array([c.domain or "" for c in clips], dtype=object)
    return [c.path for c in clips], labels, domains


def test_toycar_embedding_reproduces_its_official_score() -> None:
    folder = DATA / "dcase2023t2-toycar" / "ToyCar"
    if not (folder / "test").is_dir():
        pytest.skip(f"{folder}: the shared DCASE 2023 ToyCar data is not on this machine")
    card = SHIPPED["toycar-embedding"]["metrics"]
    files, labels, domains = _test_set(folder, "ToyCar")
    scores = load_pretrained("toycar-embedding").score(files)
    figures = section_metrics(labels, domains, scores, 0.1)
    score = section_official_score(figures)
    assert score == pytest.approx(card["shipped_official_score"], abs=TOLERANCE)
    # and it lies inside the 3-seed spread the card publishes
    published = card["official_score"]
    assert abs(score - published["mean"]) < 3 * published["std"] + TOLERANCE


def test_mimii_fan_dense_ae_reproduces_its_auc() -> None:
    folder = DATA / "mimii-fan-id00"
    if not (folder / "test").is_dir():
        pytest.skip(f"{folder}: the shared MIMII fan id_00 data is not on this machine")
    files, labels, _ = _test_set(folder, "mimii-fan-id00")
    detector = load_pretrained("mimii-fan-dense-ae")
    auc = roc_auc(labels, detector.score(files))
    assert auc == pytest.approx(
        SHIPPED["mimii-fan-dense-ae"]["metrics"]["shipped_AUC"], abs=TOLERANCE
    )


def test_pretrained_verbs_list_and_show(capsys: pytest.CaptureFixture) -> None:
    assert main(["pretrained", "list"]) == 0
    listed = capsys.readouterr().out
    assert "toycar-embedding:" in listed and "mimii-fan-dense-ae:" in listed
    assert main(["pretrained", "show", "mimii-fan-dense-ae"]) == 0
    assert "Share-alike" in capsys.readouterr().out


def test_export_verb_writes_onnx_and_its_record(tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnxruntime")
    out = tmp_path / "toycar.onnx"
    assert main(["export", "--pretrained", "toycar-embedding", "--out", str(out)]) == 0
    record = json.loads((tmp_path / "toycar.onnx.json").read_text())
    assert out.is_file() and record["parity_max_abs_diff"] <= 1e-4
    assert record["dynamic_axes"] == {"crops": {"0": "batch", "3": "frames"}}
    assert [2, 1, 128, 64] in [shape for (shape,) in record["parity_inputs"]]
    assert len(record["parity_inputs"]) >= 3  # the example and two other (batch, frames) sizes
    assert "max abs diff" in capsys.readouterr().out
