"""The Python API (`vae_demo.load_run`): encode and cluster a series the way `encode --input` does,
with the CLI's checks on bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import vae_demo
from sigzoo_shared import DataError
from vae_demo.cli import main


@pytest.fixture(scope="module")
def run(tiny_run: Path) -> Path:
    return tiny_run


@pytest.fixture(scope="module")
def model(run: Path) -> vae_demo.PatternModel:
    return vae_demo.load_run(run)


def test_encode_gives_one_latent_per_window_and_matches_encode_input(
    model: vae_demo.PatternModel, run: Path, tmp_path: Path
) -> None:
    signal, ids = model.sample_series(repeats=1, seed=3)
    assert signal.shape == (3 * 128, 7) and ids.shape == (3 * 128,)
    z = model.encode(signal)
    assert z.shape == (len(signal) - 128 + 1, 2) and z.dtype == np.float32
    assert np.isfinite(z).all()
    z16 = model.encode(signal, stride=16)
    np.testing.assert_array_equal(z16, z[::16])  # window w starts at w * stride
    # the CLI's `encode --input` on the same series as a file writes the same latents
    path = tmp_path / "series.csv"
    header = ",".join(f"ch{i}" for i in range(7))
    rows = "\n".join(",".join(repr(float(v)) for v in row) for row in signal)
    path.write_text(header + "\n" + rows + "\n", encoding="utf-8")
    assert (
        main(
            [
                "encode",
                "--run-dir",
                str(run),
                "--input",
                str(path),
                "--out-dir",
                str(tmp_path / "e"),
            ]
        )
        == 0
    )
    with (tmp_path / "e" / "latent.csv").open(encoding="utf-8") as fh:
        written = np.array([[float(r["z0"]), float(r["z1"])] for r in csv.DictReader(fh)])
    np.testing.assert_allclose(written, z, atol=1e-5)
    np.testing.assert_allclose(model.encode(path), z, atol=1e-6)  # a file path works too


def test_cluster_assigns_each_window_its_nearest_centre(model: vae_demo.PatternModel) -> None:
    signal, ids = model.sample_series(repeats=2, seed=4)
    z = model.encode(signal, stride=8)
    clusters = model.cluster(signal, stride=8)
    k = model.config.data.n_patterns + 1
    assert model.centroids.shape == (k, 2) and model.cluster_patterns.shape == (k,)
    assert clusters.shape == (len(z),) and clusters.min() >= 0 and clusters.max() < k
    dist = ((z[:, None] - model.centroids[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(dist[np.arange(len(z)), clusters], dist.min(axis=1))
    labels = model.window_labels(ids, stride=8)
    assert labels.shape == clusters.shape and set(np.unique(labels)) <= {0, 1, 2}
    assert set(model.cluster_patterns) <= {-1, 0, 1, 2}


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (np.zeros((300, 6)), r"shape \(300, 6\), expected \(samples, 7\)"),
        (np.zeros(300), r"shape \(300,\), expected \(samples, 7\)"),
        (np.zeros((100, 7)), "shorter than data.window=128"),
        (np.where(np.arange(300)[:, None] == 42, np.nan, np.ones((300, 7))), "first at sample 42"),
    ],
)
def test_bad_series_is_one_clear_error(
    model: vae_demo.PatternModel, series: np.ndarray, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        model.encode(series)


def test_bad_stride_is_refused(model: vae_demo.PatternModel) -> None:
    signal, _ = model.sample_series()
    with pytest.raises(DataError, match="stride=0"):
        model.cluster(signal, stride=0)
