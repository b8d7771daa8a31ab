"""`prepare`: optionally download MIT-BIH, validate every record, cache the window tensors, write the split.

Only `--download` touches the network (`wfdb.dl_database('mitdb', <data dir>)`); nothing else does.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from sigzoo_shared import ConfigError, RunDir

from ecg_vqvae.config import Config
from ecg_vqvae.data import find_records, record_segment, split_records

log = logging.getLogger(__name__)


def prepare(cfg: Config, run_dir: Path | None = None, download: bool = False) -> Path:
    """Validate the records of `cfg.data.data_dir` and cache them; returns the run directory."""
    if cfg.data.data_dir is None:
        raise ConfigError("prepare needs --data-dir (or data.data_dir=...)")
    if download:
        import wfdb

        Path(cfg.data.data_dir).mkdir(parents=True, exist_ok=True)
        log.info("downloading MIT-BIH (mitdb) from PhysioNet into %s", cfg.data.data_dir)
        wfdb.dl_database("mitdb", str(cfg.data.data_dir), records=cfg.data.records or "all")
    run = RunDir.create("ecg-vqvae", run_dir=run_dir, verb="prepare", tensorboard=False)
    data_cfg = cfg.data
    if data_cfg.cache_dir is None:
        data_cfg = dataclasses.replace(data_cfg, cache_dir=run.path / "cache")
    names = find_records(data_cfg.data_dir, data_cfg.records)
    summary = {}
    for name in names:
        seg = record_segment(data_cfg.data_dir, name, data_cfg)
        summary[name] = {
            "seconds_used": seg.shape[1] / data_cfg.samples_per_second,
            "windows": seg.shape[1] // data_cfg.window_samples,
        }
    split = split_records(names, data_cfg)
    run.write_json(
        "prepared.json",
        {
            "data_dir": str(data_cfg.data_dir),
            "cache_dir": str(data_cfg.cache_dir),
            "records": summary,
            "split": split,
        },
    )
    log.info("%d records valid; cache in %s", len(names), data_cfg.cache_dir)
    return run.path
