"""`dcase-cae prepare`: check every clip of every machine type and fill the log-mel cache.

Reading everything once up front turns a bad file into an error before any training starts, and makes
the training and test runs that share the cache (`data.cache_dir`) start from ready features.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from sigzoo_shared import RunDir

from dcase_cae.config import Config
from dcase_cae.data import common_rate, extract_features, list_clips, machine_dirs
from dcase_cae.train import PACKAGE, cache_dir_for

log = logging.getLogger(__name__)


def prepare(cfg: Config, run_dir: Path | str | None = None) -> dict[str, Any]:
    """Validate and featurise all clips; writes `prepare.json` (counts per type, split, ID and label)."""
    dirs = machine_dirs(cfg.data.data_dir, cfg.data.machine_type)
    run = RunDir.create(PACKAGE, run_dir=run_dir, verb="prepare", tensorboard=False)
    cache_dir = cache_dir_for(cfg, run.path)
    summary: dict[str, Any] = {
        "data_dir": str(cfg.data.data_dir),
        "cache_dir": str(cache_dir),
        "machine_types": {},
        "n_files": 0,
    }
    for machine_type, machine_dir in dirs.items():
        clips = []
        for split in ("train", "test"):
            if (machine_dir / split).is_dir():
                clips += [(split, c) for c in list_clips(machine_dir, split, machine_type)]
        rate = common_rate([c for _, c in clips], cfg.data)
        feats = extract_features([c for _, c in clips], cfg.data, cache_dir, rate)
        counts = Counter(
            f"{split}/id_{c.machine_id}/"
            f"{ {0: 'normal', 1: 'anomaly', None: 'unlabelled'}[c.label] }"
            for split, c in clips
        )
        frames = sorted({f.shape[1] for f in feats})
        summary["machine_types"][machine_type] = {
            "folder": str(machine_dir),
            "sample_rate_hz": rate,
            "frames_per_clip": frames,
            "counts": dict(sorted(counts.items())),
        }
        summary["n_files"] += len(clips)
        log.info("%s: %d clips at %d Hz, %s frames each", machine_type, len(clips), rate, frames)
    run.write_json("prepare.json", summary)
    return summary
