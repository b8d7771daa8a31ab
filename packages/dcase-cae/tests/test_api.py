"""The Python API: a run loaded with `load_run` scores files and arrays exactly as `dcase-cae test` does,
with the same threshold, and refuses bad input with one error naming the value."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from dcase_cae import Detector, load_run
from dcase_cae.evaluate import test as run_test
from dcase_cae.generator import GeneratorConfig, generate
from dcase_cae.train import train
from sigzoo_shared import CheckpointError, DataError

GEN = GeneratorConfig(
    machine_types=("ToyThing",),
    machine_ids=("00",),
    n_train=10,
    n_train_target=2,
    n_test_normal=3,
    n_test_anomaly=3,
    duration_s=2.5,
    layout="dcase2021",
    seed=5,
)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("api") / "data", GEN)


@pytest.fixture(scope="module", params=["embedding", "dense_ae"])
def tested_run(request, data: Path, tmp_path_factory: pytest.TempPathFactory, tiny_config):
    """(run dir, results of `test`) of a model trained one epoch; threshold on a 5-clip sample."""
    cfg = tiny_config(data, model=request.param, epochs=1)
    cfg.data.crop_frames, cfg.data.crop_hop_frames = 32, 16
    cfg.decision.threshold_clips, cfg.decision.n_bootstrap = 5, 0
    if request.param == "embedding":
        cfg.data.validation_split = 0.0
    run = train(cfg, run_dir=tmp_path_factory.mktemp(request.param) / "run")
    return run, run_test(run, device="cpu")["results"][0]


def test_scores_and_decisions_equal_the_test_command(tested_run, data: Path) -> None:
    run, result = tested_run
    detector = load_run(run)
    assert isinstance(detector, Detector) and detector.sample_rate_hz == 16000
    assert detector.threshold == pytest.approx(result["threshold"], rel=1e-9)
    assert result["threshold_source"].endswith("on 5 train clips")
    with (run / "anomaly_score_ToyThing_section_00_test.csv").open() as fh:
        rows = list(csv.reader(fh))
    files = [data / "ToyThing" / "test" / name for name, _ in rows]
    expected = np.array([float(score) for _, score in rows])
    np.testing.assert_allclose(detector.score(files), expected, rtol=1e-6)
    with (run / "decision_result_ToyThing_section_00_test.csv").open() as fh:
        decisions = [int(flag) for _, flag in csv.reader(fh)]
    assert detector.decide(files).tolist() == decisions


def test_arrays_score_like_their_files(tested_run, data: Path) -> None:
    detector = load_run(tested_run[0])
    files = sorted((data / "ToyThing" / "test").glob("*.wav"))[:3]
    waves = [sf.read(f, dtype="float32")[0] for f in files]
    from_files = detector.score(files)
    np.testing.assert_allclose(detector.score(waves, sr=16000), from_files, rtol=1e-6)
    np.testing.assert_allclose(detector.score(np.stack(waves)), from_files, rtol=1e-6)
    assert detector.score(waves[0]).shape == (1,)


def test_bad_input_is_one_error_naming_the_value(tested_run, tmp_path: Path) -> None:
    detector = load_run(tested_run[0])
    wave = np.random.default_rng(0).normal(0, 0.1, 40000).astype(np.float32)
    with pytest.raises(DataError, match=r"waveform 0: sample rate 8000 Hz, expected 16000 Hz"):
        detector.score(wave, sr=8000)
    nan = wave.copy()
    nan[5] = np.nan
    with pytest.raises(DataError, match=r"waveform 1: 1 non-finite samples"):
        detector.score([wave, nan])
    with pytest.raises(DataError, match=r"waveform 0: 2 channels, expected mono"):
        detector.score([np.stack([wave, wave], axis=1)])
    with pytest.raises(DataError, match=r"waveform 0: silent clip"):
        detector.score(np.zeros(40000, np.float32))
    with pytest.raises(DataError, match=r"waveform 0: .* frames, shorter than one window"):
        detector.score(wave[:400])
    with pytest.raises(DataError, match=r"nowhere.wav: audio file not found"):
        detector.score(tmp_path / "nowhere.wav")
    with pytest.raises(DataError, match=r"sr=0"):
        detector.score(wave, sr=0)
    with pytest.raises(DataError, match=r"clips: empty"):
        detector.score([])


def test_a_folder_without_a_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no trained model"):
        load_run(tmp_path)


def test_a_packed_run_scores_like_the_run(
    tested_run, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pack` stores the k-NN bank / threshold / rate; the shipped copy scores as the run does."""
    import json

    from dcase_cae import load_pretrained
    from dcase_cae.api import pack
    from sigzoo_shared import pretrained

    run, _ = tested_run
    card, meta = tmp_path / "card.md", tmp_path / "meta.json"
    card.write_text("# tiny\n")
    facts = dict.fromkeys(pretrained.REQUIRED_META, "x")
    meta.write_text(json.dumps(facts))
    pack(run, "tiny", card, meta, out=tmp_path / "shipped" / "tiny")
    monkeypatch.setattr(pretrained, "pretrained_root", lambda package: tmp_path / "shipped")
    shipped, original = load_pretrained("tiny"), load_run(run)
    assert shipped.threshold == pytest.approx(original.threshold)
    assert (shipped.reference.embeddings is None) == (original.reference.embeddings is None)
    files = sorted((data / "ToyThing" / "test").glob("*.wav"))
    np.testing.assert_allclose(shipped.score(files), original.score(files), rtol=1e-5, atol=1e-6)
