"""The attribute-embedding method and the selective Mahalanobis score: hand-checked parts, then both
finding planted anomalies in generated data in the 2021+ layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from dcase_cae.config import Config, ModelConfig
from dcase_cae.data import class_labels, list_clips
from dcase_cae.evaluate import test as run_test
from dcase_cae.generator import GeneratorConfig, generate
from dcase_cae.model import AttributeEmbedder, SubclusterArcMargin
from dcase_cae.scores import knn_cosine_distance
from dcase_cae.train import train
from sigzoo_shared import ConfigError

GEN = GeneratorConfig(
    machine_types=("ToyThing",),
    machine_ids=("00",),
    n_train=12,
    n_train_target=3,
    n_test_normal=6,
    n_test_anomaly=6,
    duration_s=2.5,
    layout="dcase2021",
    seed=4,
)


@pytest.fixture(scope="module")
def data2021(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("emb") / "data", GEN)


def test_knn_cosine_distance_by_hand() -> None:
    reference = np.array([[1.0, 0.0], [0.0, 1.0]])
    query = np.array([[1.0, 1.0]]) / np.sqrt(2)
    assert knn_cosine_distance(query, reference, k=1)[0] == pytest.approx(1 - np.sqrt(0.5))
    far = np.array([[-1.0, 0.0]])
    assert knn_cosine_distance(far, reference, k=2)[0] == pytest.approx((2.0 + 1.0) / 2)
    # leave-one-out on the reference itself: each row's nearest other row is at distance 1
    assert knn_cosine_distance(reference, reference, k=1, exclude_self=True) == pytest.approx(
        [1.0, 1.0]
    )


def test_the_margin_widens_only_the_true_class_angle() -> None:
    head = SubclusterArcMargin(dim=2, n_classes=2, n_subclusters=1, scale=10.0, margin=0.3)
    with torch.no_grad():
        head.centres.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    z = torch.tensor([[np.cos(0.4), np.sin(0.4)]], dtype=torch.float32)  # 0.4 rad from class 0
    plain = head(z)
    margin = head(z, torch.tensor([0]))
    assert plain[0, 0].item() == pytest.approx(10 * np.cos(0.4), abs=1e-5)
    assert margin[0, 0].item() == pytest.approx(10 * np.cos(0.7), abs=1e-5)
    assert margin[0, 1].item() == pytest.approx(plain[0, 1].item(), abs=1e-6)


def test_sub_clusters_take_the_closest_centre_of_a_class() -> None:
    head = SubclusterArcMargin(dim=2, n_classes=1, n_subclusters=2, scale=1.0, margin=0.0)
    with torch.no_grad():
        head.centres.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0]]))
    assert head(torch.tensor([[0.0, 2.0]]))[0, 0].item() == pytest.approx(1.0)


def test_classes_are_section_and_attributes_or_else_each_clip(
    data2021: Path, tiny_data: Path
) -> None:
    clips = list_clips(data2021 / "ToyThing", "train", "ToyThing")
    labels, names = class_labels(clips)
    assert names == ["00/spd_A", "00/spd_B", "00/spd_C"] and len(labels) == 15
    one_id = [
        c for c in list_clips(tiny_data / "toy_fan", "train", "toy_fan") if c.machine_id == "00"
    ]
    labels, names = class_labels(one_id)  # a single label: every clip its own class
    assert len(names) == len(one_id) == 8


def test_embedding_shapes_and_mahalanobis_needs_the_dense_ae() -> None:
    model = AttributeEmbedder(n_mels=64, n_classes=3, embedding_dim=16, channels=4)
    assert model.embed(torch.zeros(2, 1, 64, 32)).shape == (2, 16)
    assert model(torch.zeros(2, 1, 64, 32)).shape == (2, 3)
    with pytest.raises(ConfigError, match="selective_mahalanobis needs model.name=dense_ae"):
        Config(model=ModelConfig(name="cae", score="selective_mahalanobis"))


@pytest.mark.parametrize(
    ("model", "score"), [("embedding", "mse"), ("dense_ae", "selective_mahalanobis")]
)
def test_planted_anomalies_are_found_in_both_domains(
    data2021: Path, tmp_path: Path, tiny_config, model: str, score: str
) -> None:
    cfg = tiny_config(data2021, model=model, epochs=6, batch_size=32, lr=3e-3)
    cfg.data.crop_frames, cfg.data.crop_hop_frames = 32, 16
    cfg.model.score = score
    if model == "embedding":
        cfg.data.validation_split = 0.0
    run = train(cfg, run_dir=tmp_path / "run")
    row = run_test(run, device="cpu")["results"][0]["ids"][0]
    assert row["AUC_source_in"] > 0.75 and row["AUC_target_in"] > 0.75  # chance 0.5
    assert (run / "anomaly_score_ToyThing_section_00_test.csv").is_file()
