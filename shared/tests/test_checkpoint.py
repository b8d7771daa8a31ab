"""Checkpoints are written atomically and loaded safely; foreign or malicious files are refused."""

from __future__ import annotations

import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from sigzoo_shared.checkpoint import (
    CheckpointManager,
    capture_rng_state,
    find_checkpoint,
    load_checkpoint,
    load_state_dict,
    load_weights,
    restore_rng_state,
    save_checkpoint,
)
from sigzoo_shared.errors import CheckpointError

MARKER = Path("/tmp/sigzoo-pwned-marker")


class Evil:
    """Unpickling this runs code: exactly what weights_only=True must refuse."""

    def __reduce__(self):
        return (MARKER.write_text, ("pwned",))


def test_round_trip(tmp_path: Path) -> None:
    model = torch.nn.Linear(3, 2)
    path = save_checkpoint(tmp_path / "a.pt", {"model_state": model.state_dict(), "epoch": 4})
    other = torch.nn.Linear(3, 2)
    state = load_weights(other, path)
    assert state["epoch"] == 4
    assert torch.equal(other.weight, model.weight)
    assert not list(tmp_path.glob("*.tmp"))


def test_malicious_pickle_is_refused_without_running_it(tmp_path: Path) -> None:
    MARKER.unlink(missing_ok=True)
    path = tmp_path / "evil.pt"
    torch.save({"format": "sigzoo-checkpoint/1", "model_state": {}, "payload": Evil()}, path)
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_checkpoint(path)
    assert not MARKER.exists()
    plain = tmp_path / "evil.pkl"
    plain.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match=str(plain.name)):
        load_checkpoint(plain)
    assert not MARKER.exists()


def test_truncated_empty_foreign_and_missing(tmp_path: Path) -> None:
    good = save_checkpoint(
        tmp_path / "good.pt", {"model_state": torch.nn.Linear(50, 50).state_dict()}
    )
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="cut.pt: corrupt or truncated"):
        load_checkpoint(cut)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        load_checkpoint(tmp_path / "empty.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="not a sigzoo checkpoint"):
        load_checkpoint(foreign)
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_bare_state_dict_accepted_for_weights(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 2)
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    assert set(load_state_dict(tmp_path / "bare.pt")) == {"weight", "bias"}


def test_weights_of_another_model_are_a_clear_error(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "a.pt", {"model_state": torch.nn.Linear(3, 2).state_dict()})
    with pytest.raises(CheckpointError, match="do not fit this model"):
        load_weights(torch.nn.Linear(4, 2), path)


def test_rng_state_round_trip_survives_weights_only(tmp_path: Path) -> None:
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    path = save_checkpoint(tmp_path / "r.pt", {"model_state": {}, "rng": capture_rng_state()})
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(load_checkpoint(path)["rng"])
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_manager_keeps_last_best_and_top_k(tmp_path: Path) -> None:
    manager = CheckpointManager(tmp_path, monitor="val_loss", mode="min", top_k=2)
    state = {"model_state": {}}
    for epoch, loss in enumerate([0.5, 0.3, 0.4, 0.2, 0.6]):
        manager.save({**state, "epoch": epoch}, epoch, loss)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "best.pt",
        "epoch=0001-val_loss=0.3.pt",
        "epoch=0003-val_loss=0.2.pt",
        "last.pt",
    ]
    assert load_checkpoint(tmp_path / "best.pt")["epoch"] == 3
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 4
    assert find_checkpoint(tmp_path) == tmp_path / "best.pt"
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        find_checkpoint(tmp_path / "missing")


def test_random_bytes_and_foreign_objects_get_distinct_messages(tmp_path: Path) -> None:
    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(CheckpointError, match="noise.pt: corrupt or truncated") as bad:
        load_checkpoint(noise)
    assert "Python objects" not in str(bad.value)
    text = tmp_path / "notes.pt"
    text.write_text("hello\n")
    with pytest.raises(CheckpointError, match="notes.pt: corrupt or truncated"):
        load_checkpoint(text)
    objects = tmp_path / "objects.pt"
    torch.save({"format": "sigzoo-checkpoint/1", "model_state": {}, "x": Evil()}, objects)
    with pytest.raises(
        CheckpointError, match=r"objects.pt: refusing to load: it holds Python objects \("
    ):
        load_checkpoint(objects)


def test_stale_temp_files_are_removed_at_the_next_save(tmp_path: Path) -> None:
    stale = tmp_path / ".last.pt.abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    other = tmp_path / "notes.tmp"  # not ours: kept
    other.write_text("x")
    manager = CheckpointManager(tmp_path, monitor="val_loss", mode="min", top_k=1)
    manager.save({"model_state": {}}, epoch=0, metric=1.0)
    assert not stale.exists()
    assert other.exists()
    assert (tmp_path / "last.pt").is_file()
