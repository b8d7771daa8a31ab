"""The Python API: a run's model scores every time step of an array or a CSV as the leaderboard does,
rejects bad input with one clear error, and exports to ONNX with the same scores."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from resp_mhavae import load_run
from resp_mhavae.cli import main
from resp_mhavae.data import NORMALISATION, read_collected
from resp_mhavae.pointwise import (
    sliding_windows,
    vae_lstm_window_scores,
    window_starts,
)
from sigzoo_shared.errors import CheckpointError, DataError


@pytest.fixture(scope="module")
def detector(trained_run):
    _, run = trained_run
    return load_run(run)


@pytest.fixture(scope="module")
def recording_values(trained_run) -> tuple[np.ndarray, np.ndarray]:
    cfg, _ = trained_run
    rec = read_collected(cfg.data)
    return rec.values, rec.labels


def test_scores_every_step_and_ranks_planted_anomalies_high(detector, recording_values) -> None:
    values, labels = recording_values
    scores = detector.score(values)
    assert scores.shape == (len(values),) and np.isfinite(scores).all()
    assert scores[labels == 1].mean() > 1.5 * scores[labels == 0].mean()


def test_a_csv_scores_as_its_array(detector, recording_values, trained_run, tmp_path) -> None:
    cfg, _ = trained_run
    values, _ = recording_values
    # the recording without the rows before its recording_start_line (48), which read_collected drops
    lines = Path(cfg.data.path).read_text().splitlines(keepends=True)
    trimmed = tmp_path / "trimmed.csv"
    trimmed.write_text(lines[0] + "".join(lines[1 + 48 :]))
    np.testing.assert_array_equal(detector.score_csv(trimmed), detector.score(values))


def test_normalisation_comes_from_the_run(trained_run, tmp_path: Path, recording_values) -> None:
    """normalisation.json and the run's data cache give the same statistics (older runs have only
    the cache)."""
    _, run = trained_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    stats = json.loads((copy / NORMALISATION).read_text())
    (copy / NORMALISATION).unlink()
    older = load_run(copy)
    np.testing.assert_allclose(older.mean, stats["mean"])
    np.testing.assert_allclose(older.std, stats["std"])
    assert older.channels == stats["channels"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda x: x[:, :2], r"shape \(\d+, 2\), expected \(T, 3\)"),
        (lambda x: np.where(np.arange(len(x))[:, None] == 7, np.nan, x), "first at row 7"),
        (lambda x: x[:50], "shorter than one window plus the look-back"),
        (lambda x: np.c_[x[:, :2], np.ones(len(x))], "constant"),
    ],
)
def test_bad_input_is_one_clear_error(detector, recording_values, change, message) -> None:
    values, _ = recording_values
    with pytest.raises(DataError, match=message):
        detector.score(change(values))


def test_a_folder_that_is_no_run_names_itself(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=str(tmp_path)):
        load_run(tmp_path)


def test_the_window_scorer_module_gives_the_series_scorers_numbers(detector, trained_run) -> None:
    """The exported module and the batch path the API uses compute the same score."""
    cfg, _ = trained_run
    L, k = cfg.data.l_win, cfg.data.look_back_num
    rng = np.random.default_rng(0)
    z = rng.normal(size=(L * 8, len(detector.channels)))
    starts = window_starts(len(z), L, L)  # the model's own grid
    windows = sliding_windows(z, starts, L)  # (W, C, L)
    scorer = detector.scorer()
    batch = vae_lstm_window_scores(
        detector.vae,
        detector.lstm,
        windows,
        1,
        k,
        scorer.weights,
        scorer.prediction_weight,
        torch.device("cpu"),
    )
    runs = torch.from_numpy(np.stack([windows[i - k : i + 1] for i in range(k, len(windows))]))
    with torch.no_grad():
        single = scorer(runs).numpy()
    np.testing.assert_allclose(single, batch[k:], rtol=1e-5, atol=1e-6)


def test_export_cli_writes_onnx_with_parity(trained_run, tmp_path: Path, capsys) -> None:
    pytest.importorskip("onnxscript")
    pytest.importorskip("onnxruntime")
    _, run = trained_run
    out = tmp_path / "scorer.onnx"
    assert main(["export", "--run-dir", str(run), "--out", str(out)]) == 0
    record = json.loads(out.with_name("scorer.onnx.json").read_text())
    assert out.is_file() and "max abs diff" in capsys.readouterr().out
    assert record["parity_max_abs_diff"] <= 1e-4
    # parity was checked on batch sizes other than the example's
    assert {shape[0][0] for shape in record["parity_inputs"]} >= {1, 2, 5}
    assert record["dynamic_axes"] == {"runs": {"0": "batch"}}


def test_pretrained_pack_ships_the_scorer_and_its_normalisation(
    detector, trained_run, tmp_path: Path
) -> None:
    """`resp-mhavae pretrained pack` (the maintainer's step) stores what load_pretrained needs."""
    from resp_mhavae.api import build_scorer
    from resp_mhavae.config import Config
    from sigzoo_shared.runs import load_run as load_core

    _, run = trained_run
    card, meta = tmp_path / "card.md", tmp_path / "meta.json"
    card.write_text("# tiny\n")
    facts = ("summary", "command", "data", "licence", "metrics", "intended_use", "weaknesses")
    meta.write_text(json.dumps({key: "x" for key in facts}))
    out = tmp_path / "shipped"
    args = ["--run-dir", str(run), "--name", "tiny", "--card", str(card), "--meta", str(meta)]
    assert main(["pretrained", "pack", *args, "--out", str(out)]) == 0
    loaded = load_core(Config, out / "model.pt", build_scorer, needs_state=True)
    assert loaded.state["channels"] == detector.channels
    np.testing.assert_allclose(loaded.state["mean"].numpy(), detector.mean)
    want = detector.scorer().state_dict()
    got = loaded.model.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)


def test_a_zero_prediction_weight_scores_the_same_windows_without_decoding(
    detector, trained_run
) -> None:
    """prediction_weight 0 skips the LSTM's decoding: the same windows score (the first k have no
    history), each with its reconstruction error, equal to a tiny weight's score in the limit."""
    cfg, _ = trained_run
    L, k = cfg.data.l_win, cfg.data.look_back_num
    z = np.random.default_rng(1).normal(size=(L * 8, len(detector.channels)))
    windows = sliding_windows(z, window_starts(len(z), L, L // 4), L)
    weights = detector.scorer().weights

    def scores(w: float) -> np.ndarray:
        args = (detector.vae, detector.lstm, windows, 4, k, weights, w, torch.device("cpu"))
        return vae_lstm_window_scores(*args)

    zero, tiny = scores(0.0), scores(1e-9)
    assert np.isnan(zero[: 4 * k]).all() and np.isfinite(zero[4 * k :]).all()
    np.testing.assert_allclose(zero[4 * k :], tiny[4 * k :], rtol=1e-6)
