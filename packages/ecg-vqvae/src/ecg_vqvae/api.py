"""Use a trained or shipped model from Python: reconstruct and forecast ECG arrays or WFDB records.

    import ecg_vqvae
    model = ecg_vqvae.load_pretrained()             # shipped: VQ-VAE + forecaster, MIT-BIH DS1
    x = model.read_record("mitdb/220")               # (2, n) mV at model.fs (360 Hz)
    x_hat = model.reconstruct(x)                     # (2, n) mV
    fc = model.forecast(x, start_s=60, samples=8)    # fc.point (2, 1080), fc.samples (8, 2, 1080)

Arrays are (leads, samples) in mV, leads in the order the model was trained with (MIT-BIH: MLII, then
V1 on most records). They get the checks `ecg-vqvae evaluate` gives a record (lead count, a rate of at
least 100 Hz, no NaN, long enough) and are resampled to the model's rate the same way; outputs are at
the model's rate (`model.fs`). Reconstruction and forecasting call the functions `evaluate` scores
with, so the API computes what the published figures measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sigzoo_shared import ConfigError
from sigzoo_shared.runs import LoadedRun

from ecg_vqvae.baselines import repeat_last_beat
from ecg_vqvae.config import Config
from ecg_vqvae.data import read_record, signal_array, windows
from ecg_vqvae.evaluate import reconstruct as reconstruct_windows
from ecg_vqvae.forecasts import (
    analogue_forecasts,
    model_forecasts,
    sample_futures,
    sampled_priors,
)
from ecg_vqvae.model import VQVAE, InferenceGraph, LatentForecaster
from ecg_vqvae.train import build_model, load_model

if TYPE_CHECKING:
    from sigzoo_shared.export import ExportSpec

PACKAGE_MODULE = "ecg_vqvae"
DEFAULT_PRETRAINED = "mitdb-ds1"


@dataclass
class Forecast:
    """The next `horizon_s` seconds after a context, in mV at `fs` Hz.

    `point` (L, F): the forecaster's point forecast (trained for the lowest MAE, so a damped hedge
    where beat timing is uncertain). `samples` (K, L, F): K sampled futures (RR interval drawn from
    the context + Monte Carlo dropout), None when `samples=0` was asked for. `beats` (L, F): the
    beat forecast (sharp beats at their median time: for where the next beats fall), None for a
    forecaster without a beat head.

    `analogue` and `analogue_nearest` (L, F): no model, the signal before the forecast (up to 5 min):
    the median of what followed its 25 moments most like the last 0.25 s, and the closest one's
    future. With the minutes before at hand they beat the model's forecasts (docs: 23 % lower MAE at
    1 s); from the window alone they fall back to repeat-last-beat.
    """

    point: np.ndarray
    samples: np.ndarray | None
    fs: int
    beats: np.ndarray | None = None
    analogue: np.ndarray | None = None
    analogue_nearest: np.ndarray | None = None

    @property
    def horizon_s(self) -> float:
        return self.point.shape[-1] / self.fs


@dataclass
class ECGModel:
    """A VQ-VAE (and, when the run has one, its latent forecaster) with the config it was trained with.

    Make one with `load_run(path)` or `load_pretrained(name)`.
    """

    vqvae: VQVAE = field(repr=False)
    forecaster: LatentForecaster | None = field(repr=False)
    config: Config = field(repr=False)
    source: str = ""
    card: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def fs(self) -> int:
        """Sampling rate (Hz) the model runs at; outputs are at this rate."""
        return self.config.data.samples_per_second

    @property
    def n_leads(self) -> int:
        return self.config.model.in_channels

    @property
    def window_samples(self) -> int:
        """Samples of one window (3 s at 360 Hz = 1080): the context a forecast reads."""
        return self.config.data.window_samples

    @property
    def horizon_samples(self) -> int:
        """Samples a forecast covers (one window per `forecast.forecast_predictions`)."""
        return self.window_samples * self.config.forecast.forecast_predictions

    def read_record(self, path: str | Path) -> np.ndarray:
        """A WFDB record (path without extension; `.hea` accepted) as (L, n) mV at `self.fs`.

        The leads are those the model was trained on (`data.leads`, else the first `n_leads`); a
        record at another rate is resampled; a missing lead, a truncated file or NaN is a DataError
        naming the record, as in `ecg-vqvae evaluate`.
        """
        path = Path(path)
        name = path.name.removesuffix(".hea")
        x = read_record(path.parent, name, self.fs, self.config.data.leads, self.n_leads)
        return np.ascontiguousarray(x.T)  # (L, n)

    def _signal(self, signal: np.ndarray | str | Path, fs: float, what: str) -> np.ndarray:
        if isinstance(signal, (str, Path)):
            return self.read_record(signal)
        return signal_array(signal, fs, self.n_leads, self.fs, self.window_samples, what)

    def reconstruct(self, signal: np.ndarray | str | Path, fs: float = 360) -> np.ndarray:
        """Encode to codes and decode: (L, n) mV at `fs` Hz (or a WFDB record path) -> (L, n') mV at
        `self.fs` (n' = n * self.fs / fs). At least one window (3 s) long.

        Windows are the non-overlapping windows `evaluate` scores; a tail shorter than a window is
        taken from one more window ending at the signal's end.
        """
        x = self._signal(signal, fs, "signal")  # (L, n)
        w, n = self.window_samples, x.shape[1]
        parts = windows(x, w)  # (n // w, L, W)
        tail = n % w
        if tail:
            parts = np.concatenate([parts, x[None, :, n - w :]])
        x_hat, _ = reconstruct_windows(self.vqvae, parts, self.config.evaluate.batch_size)
        full = x_hat[: n // w].transpose(1, 0, 2).reshape(x.shape[0], -1)  # (L, w * (n // w))
        if tail:
            full = np.concatenate([full, x_hat[-1][:, w - tail :]], axis=1)
        return full

    def forecast(
        self,
        context: np.ndarray | str | Path,
        fs: float = 360,
        samples: int = 8,
        seed: int = 0,
        start_s: float | None = None,
    ) -> Forecast:
        """Forecast the `horizon_samples` after a context: (L, n) mV at `fs` Hz (or a WFDB record
        path) -> `Forecast` at `self.fs`.

        The model reads one window (3 s): the one ending at `start_s` seconds into the signal, by
        default its last; the analogue forecasts read the signal before that point. `samples`
        futures (0, or >= 2) are drawn as `evaluate` draws them for CRPS; `seed` fixes the drawn RR
        intervals and dropout masks.
        """
        if self.forecaster is None:
            raise ConfigError(
                f"{self.source}: holds a VQ-VAE only; forecasting needs a forecaster run "
                "(`ecg-vqvae train-forecaster --vqvae <run>`) or load_pretrained()"
            )
        if samples < 0 or samples == 1:
            raise ConfigError(f"samples={samples}: must be 0 (point only) or >= 2")
        x = self._signal(context, fs, "context")  # (L, n) at self.fs
        end = self._origin(x, start_s)
        contexts = np.ascontiguousarray(x[None, :, end - self.window_samples : end])  # (1, L, W)
        f, fs_model, batch = self.horizon_samples, self.fs, self.config.evaluate.batch_size
        history = analogue_forecasts(x, np.asarray([end]), self.window_samples, f, fs_model, 0)[0]
        prior = None
        if self.forecaster.use_prior:
            prior = repeat_last_beat(contexts[0], f, fs_model)[None]  # (1, L, F)
        drawn = None
        with torch.random.fork_rng():  # dropout masks from `seed`, the caller's RNG untouched
            torch.manual_seed(seed)
            out = model_forecasts(self.forecaster, contexts, prior, batch)  # each (1, L, F)
            point, beats = out["vqvae_forecaster"][0], out.get("vqvae_beats")
            beats = None if beats is None else beats[0]
            if samples:
                rng = np.random.default_rng(seed)
                priors = sampled_priors(contexts, f, fs_model, samples, rng)  # (K, 1, L, F)
                snap = self.config.evaluate.snap_samples
                drawn = sample_futures(self.forecaster, contexts, priors, batch, snap)[:, 0]
        return Forecast(
            point=point,
            samples=drawn,
            fs=fs_model,
            beats=beats,
            analogue=history["analogue"][0],
            analogue_nearest=history["analogue_nearest"][0],
        )

    def _origin(self, x: np.ndarray, start_s: float | None) -> int:
        """The sample of x (L, n) where the forecast starts: `start_s` (default: x's end), at least
        one window in."""
        w, n = self.window_samples, x.shape[1]
        end = n if start_s is None else int(round(start_s * self.fs))
        if not w <= end <= n:
            raise ConfigError(
                f"start_s={start_s:g}: must be between {w / self.fs:g} s (one context window) "
                f"and the signal's end ({n / self.fs:.1f} s)"
            )
        return end


def _from_loaded(loaded: Any, source: str) -> ECGModel:
    model = loaded.model
    forecaster = model if isinstance(model, LatentForecaster) else None
    vqvae = forecaster.vqvae if forecaster is not None else model
    return ECGModel(vqvae, forecaster, loaded.config, source, getattr(loaded, "card", None))


def load_run(path: str | Path, device: str = "cpu") -> ECGModel:
    """The best model of a training run (`train` or `train-forecaster` folder, or a checkpoint)."""
    return _from_loaded(load_model(path, device), str(path))


def load_pretrained(name: str = DEFAULT_PRETRAINED, device: str = "cpu") -> ECGModel:
    """A model shipped with the package (offline); `ecg-vqvae pretrained list` names them and
    `ecg-vqvae pretrained show NAME` prints the card (data, figures, licence, weaknesses)."""
    return _from_loaded(pretrained_run(name, device), f"pretrained {name}")


def pretrained_run(name: str = DEFAULT_PRETRAINED, device: str = "cpu") -> LoadedRun:
    """A shipped model as the core's LoadedRun (model, config, card): what `export` reads."""
    from sigzoo_shared.pretrained import load_pretrained as load_shipped

    return load_shipped(
        PACKAGE_MODULE, name, Config, build_model, needs_state=True, map_location=device
    )


# ------------------------------------------------------------------------------------------- export


# Parity inputs keep every latent at least this far (Euclidean, latent units) nearer to its code than to
# the second-nearest: closer to a tie, the ~1e-6 by which two runtimes' encoders differ can pick the
# other code, a discrete jump no float tolerance covers (on MIT-BIH test records the flips seen sat
# 4e-6 from a tie; `scripts/onnx_agreement.py` counts them).
TIE_MARGIN = 3e-5


def example_windows(cfg: Config, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n synthetic ECG windows (n, L, T) in mV and their repeat-last-beat priors (n, L, F)."""
    from ecg_vqvae.generator import draw_patient, synthesize

    rng = np.random.default_rng(seed)
    w, fs = cfg.data.window_samples, cfg.data.samples_per_second
    f = w * cfg.forecast.forecast_predictions
    signal, _, _ = synthesize(draw_patient(rng), n * w / fs + 1, fs, rng)  # (n_samples, 2)
    x = signal[: n * w, : cfg.model.in_channels].T.reshape(-1, n, w).transpose(1, 0, 2)
    x = np.ascontiguousarray(x, dtype=np.float32)  # (n, L, T)
    prior = np.stack([repeat_last_beat(c, f, fs) for c in x]).astype(np.float32)  # (n, L, F)
    return torch.from_numpy(x), torch.from_numpy(prior)


def clear_of_ties(vqvae: VQVAE, window: torch.Tensor, prior: torch.Tensor | None) -> torch.Tensor:
    """(B,) bool: every latent of the window (and of its prior, encoded with the window's statistics,
    as the forecaster encodes it) is at least TIE_MARGIN from a tie between two codes."""
    ok = vqvae.tie_margin(window) >= TIE_MARGIN
    if prior is not None:
        _, stats = vqvae.normalize(window)
        w = window.shape[-1]
        for i in range(prior.shape[-1] // w):
            ok &= vqvae.tie_margin(prior[..., i * w : (i + 1) * w], stats) >= TIE_MARGIN
    return ok


def export_spec(loaded: LoadedRun) -> ExportSpec:
    """The inference path of a run or shipped model for `ecg-vqvae export`: windows -> reconstruction
    (and, with a forecaster, prior -> forecast); batch is dynamic, the window length is the model's."""
    from sigzoo_shared.export import ExportSpec

    model, cfg = loaded.model, loaded.config
    forecaster = model if isinstance(model, LatentForecaster) else None
    graph = InferenceGraph(forecaster.vqvae if forecaster else model, forecaster).eval()
    with_prior = forecaster is not None and forecaster.use_prior

    def inputs(n: int, seed: int) -> tuple[torch.Tensor, ...]:
        window, prior = example_windows(cfg, 4 * n, seed)  # spares for windows near a code tie
        keep = clear_of_ties(graph.vqvae, window, prior if forecaster is not None else None)
        window, prior = window[keep][:n], prior[keep][:n]
        if len(window) < n:
            raise ConfigError(
                f"export: fewer than {n} of {len(keep)} synthetic windows keep every code "
                f"{TIE_MARGIN:g} from a tie; this model cannot be parity-checked on them"
            )
        return (window, prior) if with_prior else (window,)

    names = ["window", "prior"] if with_prior else ["window"]
    outputs = ["reconstruction", "forecast"] if forecaster is not None else ["reconstruction"]
    if forecaster is not None and forecaster.beat_head:
        outputs.append("beats")
    fs, w = cfg.data.samples_per_second, cfg.data.window_samples
    notes = {
        "units": "mV in and out",
        "sample_rate_hz": fs,
        "window": f"(batch, {cfg.model.in_channels} leads, {w} samples): {w / fs:g} s of ECG, leads "
        "in the training order (MIT-BIH: MLII, V1); per-window normalisation (RevIN) is inside",
        "reconstruction": "(batch, leads, samples): the window encoded to codes and decoded",
        "parity_inputs": f"synthetic ECG windows whose latents lie at least {TIE_MARGIN:g} from a "
        "tie between two codes; nearer, the runtimes' ~1e-6 differences can pick the other code (a "
        "discrete jump: 2 of 630 MIT-BIH test examples, up to 9e-3 mV; see docs/ecg-vqvae.md)",
        "time_axis": "fixed at the trained window: the forecaster's positions and the per-window "
        "normalisation are defined on it; cut longer signals into windows (ECGModel.reconstruct)",
    }
    if forecaster is not None:
        notes["forecast"] = (
            f"(batch, leads, {w * cfg.forecast.forecast_predictions} samples): the point forecast "
            "of what follows each window"
        )
        if forecaster.beat_head:
            notes["beats"] = (
                f"(batch, leads, {w * cfg.forecast.forecast_predictions} samples): the beat "
                "forecast (sharp beats at their median time) of what follows each window"
            )
    if with_prior:
        notes["prior"] = (
            "repeat-last-beat extrapolation of each window (peak detection in NumPy/SciPy, outside "
            f"the graph): ecg_vqvae.baselines.repeat_last_beat(window, {w}, {fs})"
        )
    return ExportSpec(
        module=graph,
        example=inputs(2, 0),
        input_names=names,
        output_names=outputs,
        dynamic_axes={name: {0: "batch"} for name in names},
        check_inputs=[inputs(1, 1), inputs(5, 2)],
        notes=notes,
    )


__all__ = [
    "DEFAULT_PRETRAINED",
    "ECGModel",
    "Forecast",
    "export_spec",
    "load_pretrained",
    "load_run",
]
