"""Simple detectors, scored on the same sliding windows as the learned models.

These are what a practitioner tries first, and what the VAE-LSTM has to beat: IsolationForest on window
statistics, the largest |z| in a window, one-step persistence error (predict x[t] = x[t-1]), windowed PCA
reconstruction error, and the distance to the nearest training window (the semi-supervised "AB-join"
matrix profile: each window's distance to its closest match in the training part, computed with
scikit-learn's exact nearest-neighbour search on z-scored windows rather than stumpy, whose numba JIT
costs more than the search here). Each detector sees only training windows when it fits, and every input
is z-scored with the training statistics (data.py).
"""

from __future__ import annotations

import numpy as np
from sigzoo_shared.errors import DataError


def window_features(windows: np.ndarray) -> np.ndarray:
    """Per-channel mean, std, min, max, mean |diff| and linear slope of each window -> (W, 6 C)."""
    L = windows.shape[-1]
    t = (np.arange(L) - (L - 1) / 2) / L
    slope = (windows * t).sum(-1) / (t**2).sum()
    feats = [
        windows.mean(-1),
        windows.std(-1),
        windows.min(-1),
        windows.max(-1),
        np.abs(np.diff(windows, axis=-1)).mean(-1),
        slope,
    ]
    return np.concatenate(feats, axis=1)


def isolation_forest(train: np.ndarray, windows: np.ndarray, seed: int) -> np.ndarray:
    """Negated IsolationForest score_samples of window statistics (higher = more anomalous)."""
    from sklearn.ensemble import IsolationForest

    forest = IsolationForest(n_estimators=200, random_state=seed)
    forest.fit(window_features(train))
    return -forest.score_samples(window_features(windows))


def max_abs_z(train: np.ndarray, windows: np.ndarray, seed: int) -> np.ndarray:
    """Largest |z| in the window over time and channels (z from training statistics; nothing to fit)."""
    return np.abs(windows).max(axis=(1, 2)).astype(np.float64)


def persistence(train: np.ndarray, windows: np.ndarray, seed: int) -> np.ndarray:
    """Largest one-step persistence error in the window: max over t of mean_c (x[t] - x[t-1])^2."""
    step = (np.diff(windows, axis=-1) ** 2).mean(1)  # (W, L - 1)
    return step.max(-1).astype(np.float64)


def pca(train: np.ndarray, windows: np.ndarray, seed: int) -> np.ndarray:
    """Squared reconstruction error of each flattened window from the PCA of the training windows.

    Components keep 90 % of the training variance (at most n_train - 1), so the error measures what the
    normal windows' main patterns cannot explain.
    """
    from sklearn.decomposition import PCA

    flat_train = train.reshape(len(train), -1)
    n_max = max(1, min(len(flat_train) - 1, flat_train.shape[1]))
    full = PCA(n_components=n_max, random_state=seed).fit(flat_train)
    keep = int(np.searchsorted(np.cumsum(full.explained_variance_ratio_), 0.9) + 1)
    model = PCA(n_components=min(keep, n_max), random_state=seed).fit(flat_train)
    flat = windows.reshape(len(windows), -1)
    recon = model.inverse_transform(model.transform(flat))
    return ((flat - recon) ** 2).mean(1).astype(np.float64)


def nearest_neighbour(train: np.ndarray, windows: np.ndarray, seed: int) -> np.ndarray:
    """Euclidean distance of each window to its nearest training window, per sample (AB-join profile)."""
    from sklearn.neighbors import NearestNeighbors

    flat_train = train.reshape(len(train), -1)
    search = NearestNeighbors(n_neighbors=1).fit(flat_train)
    distance, _ = search.kneighbors(windows.reshape(len(windows), -1))
    return distance[:, 0] / np.sqrt(flat_train.shape[1])


DETECTOR_FUNCTIONS = {
    "isolation_forest": isolation_forest,
    "max_abs_z": max_abs_z,
    "persistence": persistence,
    "pca": pca,
    "nearest_neighbour": nearest_neighbour,
}
DETECTOR_NAMES = {
    "isolation_forest": "IsolationForest",
    "max_abs_z": "max abs z",
    "persistence": "persistence error",
    "pca": "windowed PCA",
    "nearest_neighbour": "nearest-neighbour distance",
}


def detector_scores(name: str, train: np.ndarray, windows: np.ndarray, seed: int) -> np.ndarray:
    """Scores (W,) of windows (W, C, L) by detector `name`, fitted on training windows (Wt, C, L)."""
    if len(train) < 2:
        raise DataError(f"detector {name}: needs at least 2 training windows, got {len(train)}")
    return DETECTOR_FUNCTIONS[name](train, windows, seed)
