"""`dcase-cae bench`: feature extraction, training and inference speed, and peak memory.

Cases (issue targets on a 2-core CPU in brackets):
- log-mel extraction of 10 s, 16 kHz clips, one thread and threads over all cores, cold then from the
  cache [>= 20 clips/s];
- one training step of the CAE on a 256 x 1 x 128 x 128 batch (and of the dense AE on 512 x 640) three
  ways: a plain PyTorch loop (forward, MSE, backward, Adam) on a ready batch, the core Trainer on the same
  batch, and the whole `dcase-cae train` path (the package's loader and step function through the Trainer)
  [Trainer at least as fast as the plain loop];
- inference: waveform to anomaly score for both models, as a multiple of real time [>= 100x];
- `epoch`: one epoch of the DCASE 2023 baseline configuration on 1,000 10 s clips through the `train`
  path, extrapolated to its 100 epochs [<= 15 CPU-min];
- `onnx`: each model's exported window scorer in ONNX Runtime against PyTorch, one thread each.

Timing protocol. The machine is shared, so wall time swings with other processes; every case is therefore
timed in CPU time of this process (`time.process_time`, exact with one torch thread) and wall time is shown
beside it. The three training cases are interleaved: `rounds` rounds, each running every case for
`steps` timed steps (after one untimed step), the case order rotating from round to round, so a slow
minute hits all cases alike. Medians are over all timed steps; the ratio's range is over rounds.
Nothing here runs in the tests.
"""

from __future__ import annotations

import logging
import shutil
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sigzoo_shared import Callback, ConfigError, RunDir, TrainConfig, Trainer, make_loader
from sigzoo_shared.bench import cpu_wall, step_times, write_bench, zoo_row
from sigzoo_shared.device import peak_rss_mb
from torch import nn

from dcase_cae.config import Config
from dcase_cae.data import WindowDataset, extract_features, list_clips, machine_dirs, make_bank
from dcase_cae.generator import GeneratorConfig, generate
from dcase_cae.model import CNNAutoEncoder, DenseAE
from dcase_cae.scores import clip_scores
from dcase_cae.train import PACKAGE, reconstruction_step

log = logging.getLogger(__name__)

Times = list[tuple[float, float]]  # (cpu_s, wall_s) per timed step


class _StepClock(Callback):
    """(cpu, wall) stamp after every optimizer step inside Trainer.fit."""

    def __init__(self) -> None:
        self.stamps: list[tuple[float, float]] = []

    def on_train_batch_end(self, trainer, model, loss, parts) -> None:  # noqa: ANN001
        self.stamps.append(cpu_wall())


class _EpochClock(Callback):
    """(cpu, wall) stamps at the start of fit and after every epoch."""

    def __init__(self) -> None:
        self.stamps: list[tuple[float, float]] = []

    def on_fit_start(self, trainer, model) -> None:  # noqa: ANN001
        self.stamps.append(cpu_wall())

    def on_epoch_end(self, trainer, model, metrics) -> None:  # noqa: ANN001
        self.stamps.append(cpu_wall())


class _PlainLoop:
    """The reference: forward, MSE, backward, Adam step on a ready batch, nothing else."""

    def __init__(self, model: nn.Module, batch: torch.Tensor, lr: float) -> None:
        self.model, self.batch = model.train(), batch
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(self) -> None:
        loss = F.mse_loss(self.model(self.batch), self.batch)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def __call__(self, steps: int) -> Times:
        self.step()  # untimed, like the Trainer's first step below
        return step_times(self.step, steps)


class _TrainerLoop:
    """The core Trainer for one epoch of `steps + 1` batches; the first step is not timed.

    `loader_fn(n)` returns the loader: the same ready batch repeated (Trainer overhead alone) or the
    package's DataLoader over a window bank (everything `dcase-cae train` does per step).
    """

    def __init__(
        self, model: nn.Module, loader_fn: Callable[[int], Any], cfg: TrainConfig, work: Path
    ) -> None:
        self.model, self.loader_fn, self.cfg, self.work = model, loader_fn, cfg, work

    def __call__(self, steps: int) -> Times:
        clock = _StepClock()
        cfg = replace(self.cfg, epochs=1, limit_train_batches=steps + 1)
        run = RunDir(self.work / f"trainer-{len(list(self.work.iterdir()))}", tensorboard=False)
        Trainer(cfg, run, [clock], device=torch.device("cpu")).fit(
            self.model, reconstruction_step, self.loader_fn(steps + 1)
        )
        s = np.asarray(clock.stamps)
        return [tuple(d) for d in np.diff(s, axis=0)]


def _window_dataset(cfg: Config, kind: str, n_windows: int, seed: int = 0) -> WindowDataset:
    """Random log-mel clips (dB) holding at least `n_windows` windows of `kind`, as `train` builds them."""
    m = cfg.data.n_mels
    width, hop = (m, cfg.data.patch_hop_frames) if kind == "cae" else (cfg.data.frames, 1)
    frames = 313  # a 10 s clip at 16 kHz, hop 512
    per_clip = (frames - width) // hop + 1
    n_clips = -(-n_windows // per_clip)
    rng = np.random.default_rng(seed)
    feats = [rng.uniform(-90.0, 20.0, (m, frames)).astype(np.float32) for _ in range(n_clips)]
    return WindowDataset(make_bank(feats, cfg.data, kind), kind)


def _interleaved(
    cases: dict[str, Callable[[int], Times]], rounds: int, steps: int
) -> dict[str, list[Times]]:
    """Run every case `rounds` times for `steps` timed steps, rotating the order each round."""
    names = list(cases)
    out: dict[str, list[Times]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            out[name].append(cases[name](steps))
            log.info(
                "bench round %d/%d %s: %.3f s CPU/step",
                r + 1,
                rounds,
                name,
                statistics.median(c for c, _ in out[name][-1]),
            )
    return out


def _median(times: list[Times], which: int) -> float:
    return float(statistics.median(t[which] for rnd in times for t in rnd))


def _training_rows(cfg: Config, work: Path, rounds: int, steps: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    specs = [
        ("CAE", "cae", 256, lambda: CNNAutoEncoder(cfg.data.n_mels, cfg.model.z_dim), steps),
        (
            "dense AE",
            "dense_ae",
            512,
            lambda: DenseAE(cfg.data.frames * cfg.data.n_mels),
            25 * steps,
        ),
    ]
    for name, kind, bsz, make, n_steps in specs:
        torch.manual_seed(0)
        ds = _window_dataset(cfg, kind, bsz * (n_steps + 1))
        batch = ds.gather(np.arange(bsz))
        tcfg = replace(
            cfg.train,
            batch_size=bsz,
            progress=False,
            save_top_k=0,
            device="cpu",
            num_workers=0,
        )

        def package_loader(n: int, ds: WindowDataset = ds, bsz: int = bsz) -> Any:
            return make_loader(ds, bsz, shuffle=True, seed=0, num_workers=0, collate_fn=ds.collate)

        init = make().state_dict()
        models = {}
        for key in ("plain", "trainer", "package"):
            models[key] = make()
            models[key].load_state_dict(init)
        cases = {
            "plain": _PlainLoop(models["plain"], batch, cfg.train.lr),
            "trainer": _TrainerLoop(models["trainer"], lambda n, b=batch: [b] * n, tcfg, work),
            "package": _TrainerLoop(models["package"], package_loader, tcfg, work),
        }
        res = _interleaved(cases, rounds, n_steps)
        collate = step_times(lambda ds=ds, bsz=bsz: ds.collate(list(range(bsz))), 5)
        shape = "x".join(map(str, batch.shape))
        plain_cpu = _median(res["plain"], 0)
        labels = {
            "plain": f"{name} train step, plain PyTorch loop",
            "trainer": f"{name} train step, core Trainer, same ready batch",
            "package": f"{name} train step, `dcase-cae train` path (package loader + Trainer)",
        }
        for key, label in labels.items():
            cpu = _median(res[key], 0)
            target = ""
            if key != "plain":
                per_round = [
                    statistics.median(c for c, _ in p) / statistics.median(c for c, _ in t)
                    for p, t in zip(res["plain"], res[key], strict=True)
                ]
                target = (
                    f"plain/this {plain_cpu / cpu:.3f} "
                    f"(rounds {min(per_round):.3f}-{max(per_round):.3f})"
                )
            rows.append(
                {
                    "case": label,
                    "config": f"{shape}, {rounds} x {n_steps} steps",
                    "median_cpu_s": cpu,
                    "median_wall_s": _median(res[key], 1),
                    "per_s": bsz / cpu,
                    "unit": "samples/s (CPU)",
                    "target": target,
                }
            )
        rows.append(
            {
                "case": f"{name} batch assembly (package collate, inside the row above)",
                "config": shape,
                "median_cpu_s": statistics.median(c for c, _ in collate),
                "median_wall_s": statistics.median(w for _, w in collate),
                "per_s": bsz / statistics.median(c for c, _ in collate),
                "unit": "samples/s (CPU)",
                "target": "",
            }
        )
    return rows


def _clip_features(cfg: Config, n_clips: int, frames: int = 313, seed: int = 0) -> list[np.ndarray]:
    """Random (n_mels, frames) dB log-mels: `frames` 313 is a 10 s clip at 16 kHz, hop 512."""
    rng = np.random.default_rng(seed)
    m = cfg.data.n_mels
    return [rng.uniform(-90.0, 20.0, (m, frames)).astype(np.float32) for _ in range(n_clips)]


def baseline_epoch_rows(cfg: Config, work: Path, n_clips: int = 1000) -> list[dict[str, Any]]:
    """One epoch of the DCASE 2023 baseline configuration exactly as `train` runs it (the package's
    window bank and `train.fit_windows`: loaders, fused Adam, the core Trainer, validation included) on
    `n_clips` 10 s clips, the second of two epochs, extrapolated to its 100 epochs [<= 15 CPU-min];
    the same with `model.compile=true` (its compilation is the first epoch's excess); beside them the same number of plain-loop steps on a
    ready batch (forward, MSE, backward, PyTorch's default Adam: what a user writes), and the step's
    matrix products alone (the floor no change around the network can go below), measured in the same
    process."""
    from sigzoo_shared import load_config
    from sigzoo_shared.cli import packaged_config

    from dcase_cae.data import split_train_val
    from dcase_cae.train import fit_windows

    bcfg = load_config(Config, packaged_config("dcase_cae", "dcase2023_baseline.yaml"))
    tcfg = replace(bcfg.train, epochs=1, progress=False, save_top_k=0, device="cpu", num_workers=0)
    bcfg = replace(bcfg, train=tcfg)
    feats = _clip_features(bcfg, n_clips)
    train_idx, val_idx = split_train_val(n_clips, bcfg.data.validation_split, tcfg.seed)
    sets = [
        WindowDataset(make_bank([feats[i] for i in idx], bcfg.data, "dense_ae"), "dense_ae")
        for idx in (train_idx, val_idx)
    ]
    steps = -(-len(sets[0]) // tcfg.batch_size)

    def fit(compile_model: bool) -> tuple[float, float, float]:
        """(CPU s, wall s) of the second of two epochs, and the first epoch's extra CPU s (lazy
        imports and allocations, and with `compile_model` the compilation of every graph)."""
        fcfg = replace(bcfg, model=replace(bcfg.model, compile=compile_model))
        fcfg = replace(fcfg, train=replace(tcfg, epochs=2))
        model = DenseAE(bcfg.data.frames * bcfg.data.n_mels, bcfg.model.hidden_dim)
        run = RunDir(work / f"baseline-epoch-{compile_model}", tensorboard=False)
        clock = _EpochClock()
        fit_windows(fcfg, model, sets[0], sets[1], run, torch.device("cpu"), [clock])
        (c0, w0), (c1, w1), (c2, w2) = clock.stamps
        return c2 - c1, w2 - w1, (c1 - c0) - (c2 - c1)

    cpu, wall, _ = fit(compile_model=False)
    ccpu, cwall, compile_cpu = fit(compile_model=True)
    plain = _PlainLoop(
        DenseAE(bcfg.data.frames * bcfg.data.n_mels),
        sets[0].gather(np.arange(tcfg.batch_size)),
        tcfg.lr,
    )
    plain_cpu = statistics.median(c for c, _ in plain(50)) * steps
    gemm_cpu = statistics.median(_gemm_times(DenseAE(), tcfg.batch_size, 50)) * steps

    def row(case: str, cpu_s: float, wall_s: float | None, note: str) -> dict[str, Any]:
        return {
            "case": f"DCASE 2023 baseline, one epoch, {case}",
            "config": f"{n_clips} random 10 s clips, {len(sets[0])} windows, {steps} steps of "
            f"{tcfg.batch_size}",
            "median_cpu_s": cpu_s,
            "median_wall_s": wall_s,
            "per_s": len(sets[0]) / cpu_s,
            "unit": "windows/s (CPU)",
            "target": f"100 epochs: {100 * cpu_s / 60:.1f} CPU-min; {note}",
        }

    return [
        row(
            "`train` path (validation included)",
            cpu,
            wall,
            f"{100 * wall / 60:.1f} wall-min; target <= 15 CPU-min",
        ),
        row(
            "`train` path with model.compile=true",
            ccpu,
            cwall,
            f"plus {compile_cpu:.0f} CPU-s in its first epoch (compilation)",
        ),
        row(
            "plain PyTorch loop, the same steps (default Adam)",
            plain_cpu,
            None,
            f"median of 50 steps on one ready batch; `train` path/this {cpu / plain_cpu:.2f}",
        ),
        row(
            "the steps' matrix products alone",
            gemm_cpu,
            None,
            "forward and backward GEMMs of the dense AE (median of 50 steps): the floor",
        ),
    ]


def _gemm_times(model: DenseAE, batch_size: int, steps: int) -> list[float]:
    """CPU s per step of the matrix products of one training step, alone: each Linear's forward,
    its weight gradient and (except the first layer's, whose input needs none) its input gradient."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
    ins = [torch.randn(batch_size, m.in_features) for m in layers]
    grads = [torch.randn(batch_size, m.out_features) for m in layers]

    def products() -> None:
        for i, (m, x, g) in enumerate(zip(layers, ins, grads, strict=True)):
            torch.addmm(m.bias, x, m.weight.t())  # forward (B, out)
            torch.mm(g.t(), x)  # weight gradient (out, in)
            if i:
                torch.mm(g, m.weight)  # input gradient (B, in)

    with torch.no_grad():
        products()
        return [c for c, _ in step_times(products, steps)]


def onnx_rows(cfg: Config, work: Path) -> list[dict[str, Any]]:
    """Each model's window scorer (what `export` writes) on one 10 s clip's windows: PyTorch vs ONNX
    Runtime, one CPU thread each."""
    from sigzoo_shared.export import speed_rows, write_export

    from dcase_cae.api import export_spec
    from dcase_cae.train import build_model

    rows: list[dict[str, Any]] = []
    for kind in ("embedding", "dense_ae", "cae"):
        kcfg = replace(cfg, model=replace(cfg.model, name=kind))
        model = build_model(kcfg, 16).eval()
        spec = export_spec(model, kcfg, 16000)
        path = work / f"{kind}.onnx"
        write_export(spec, path)
        bank = make_bank(_clip_features(kcfg, 1), kcfg.data, kind)
        x = WindowDataset(bank, kind).gather(np.arange(len(bank)))  # one clip's windows
        timed = speed_rows(spec.module, path, (x,))
        torch_ms = timed[0]["median_ms"]
        for row in timed:
            rows.append(
                {
                    "case": f"{kind} window scorer, {row['runtime']}",
                    "config": f"one 10 s clip: {row['input']}",
                    "median_cpu_s": None,
                    "median_wall_s": row["median_ms"] / 1e3,
                    "per_s": 1e3 / row["median_ms"],
                    "unit": "clips/s (wall)",
                    "target": f"PyTorch/this {torch_ms / row['median_ms']:.2f}",
                }
            )
    return rows


CASES = ("extract", "train", "infer", "epoch", "onnx")


def bench(
    cfg: Config,
    run_dir: Path | str | None = None,
    data_dir: Path | str | None = None,
    steps: int = 3,
    n_clips: int = 40,
    rounds: int = 3,
    cases: Sequence[str] = CASES,
) -> Path:
    """Run the `cases` (all by default) and write `bench.md` + `bench.json`; returns its path."""
    unknown = sorted(set(cases) - set(CASES))
    if unknown:
        raise ConfigError(f"bench: unknown case(s) {unknown}; choose from {', '.join(CASES)}")
    run = RunDir.create(PACKAGE, run_dir=run_dir, verb="bench", tensorboard=False)
    work = Path(tempfile.mkdtemp(prefix="dcase-cae-bench-"))
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    try:
        # ---------------------------------------------------------------- feature extraction
        if data_dir is not None:
            mtype, mdir = next(iter(machine_dirs(data_dir).items()))
            clips = list_clips(mdir, "train", mtype)[:n_clips]
            source = f"{len(clips)} real clips of {mdir}"
        else:
            gen = GeneratorConfig(
                machine_ids=("00",),
                n_train=n_clips,
                n_test_normal=0,
                n_test_anomaly=0,
                duration_s=10.0,
            )
            root = generate(work / "data", gen)
            mtype = gen.machine_types[0]
            clips = list_clips(root / mtype, "train", mtype)
            source = f"{len(clips)} generated 10 s clips"
        import soundfile as sf

        audio_s = sum(sf.info(str(c.path)).duration for c in clips)
        clip_s = audio_s / len(clips)
        cache = work / "cache"
        if "extract" in cases:
            for label, workers in (("1 thread", 1), ("all cores", None)):
                dcfg = replace(cfg.data, feature_workers=workers)

                def cold(dcfg: Any = dcfg) -> None:
                    shutil.rmtree(cache, ignore_errors=True)
                    extract_features(clips, dcfg, cache)

                t = step_times(cold, rounds)
                wall = statistics.median(w for _, w in t)
                rows.append(
                    {
                        "case": f"log-mel extraction, cold, {label}",
                        "config": source,
                        "median_cpu_s": statistics.median(c for c, _ in t) / len(clips),
                        "median_wall_s": wall / len(clips),
                        "per_s": len(clips) / wall,
                        "unit": "clips/s (wall)",
                        "target": ">= 20 clips/s" if workers is None else "",
                    }
                )
            t = step_times(lambda: extract_features(clips, cfg.data, cache), rounds)
            wall = statistics.median(w for _, w in t)
            rows.append(
                {
                    "case": "log-mel extraction, cached",
                    "config": source,
                    "median_cpu_s": statistics.median(c for c, _ in t) / len(clips),
                    "median_wall_s": wall / len(clips),
                    "per_s": len(clips) / wall,
                    "unit": "clips/s (wall)",
                    "target": "",
                }
            )

        # ---------------------------------------------------------------- training steps
        if "train" in cases:
            rows += _training_rows(cfg, work, rounds, steps)

        # ---------------------------------------------------------------- inference
        if "infer" in cases:
            n_inf = min(len(clips), 20)
            for kind, model in (
                ("cae", CNNAutoEncoder(cfg.data.n_mels, cfg.model.z_dim).eval()),
                ("dense_ae", DenseAE(cfg.data.frames * cfg.data.n_mels).eval()),
            ):
                icfg = replace(cfg, model=replace(cfg.model, name=kind))

                def infer(icfg: Config = icfg, model: torch.nn.Module = model) -> None:
                    f = extract_features(clips[:n_inf], icfg.data, None)
                    clip_scores(model, f, icfg)

                infer()  # warm-up
                t = step_times(infer, max(3, 2 * rounds + 1))
                cpu = statistics.median(c for c, _ in t)
                wall = statistics.median(w for _, w in t)
                rows.append(
                    {
                        "case": f"{kind} inference, waveform -> score",
                        "config": f"{n_inf} clips of {clip_s:.0f} s, {len(t)} repeats",
                        "median_cpu_s": cpu / n_inf,
                        "median_wall_s": wall / n_inf,
                        "per_s": n_inf / cpu,
                        "unit": "clips/s (CPU)",
                        "target": (
                            f">= 100x real time: {n_inf * clip_s / cpu:.0f}x CPU, "
                            f"{n_inf * clip_s / wall:.0f}x wall"
                        ),
                    }
                )
        if "epoch" in cases:
            rows += baseline_epoch_rows(cfg, work)
        if "onnx" in cases:
            rows += onnx_rows(cfg, work)
        notes.append(f"peak RSS {peak_rss_mb():.0f} MiB (whole bench process)")
        notes.append(
            "median_*_s is per clip for extraction/inference and per step for training; CPU = "
            "process time (all threads of this process), wall = elapsed"
        )
        notes.append(
            f"torch threads {torch.get_num_threads()}; clip length {clip_s:.1f} s; training cases "
            f"interleaved over {rounds} rounds with rotating order"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    md, _ = write_bench(run.path, "dcase-cae bench", rows, notes, zoo=_zoo(rows))
    return md


# the zoo table's cases: what a user waits for (an epoch of the 2023 baseline, scoring one clip)
ZOO_CASES = {
    "DCASE 2023 baseline, one epoch, `train` path (validation included)": "2023 baseline epoch",
    "cae inference, waveform -> score": "CAE: score one 10 s clip",
    "dense_ae inference, waveform -> score": "dense AE: score one 10 s clip",
}


def _zoo(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Our CPU times for the zoo table; the original (a Keras CAE) is not runnable here and its
    README records no timing, so there is no original figure to set beside them."""
    return [
        zoo_row(
            "dcase-cae",
            f"{ZOO_CASES[r['case']]} (CPU time)",
            r["median_cpu_s"],
            None,
            "none: the original README records no timing",
        )
        for r in rows
        if r["case"] in ZOO_CASES
    ]
