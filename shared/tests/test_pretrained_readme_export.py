"""Using a model without training it: shipped weights with cards, README examples that run, the export verb."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from sigzoo_shared.checkpoint import load_checkpoint
from sigzoo_shared.cli import add_common_verbs, base_parser, dispatch_common
from sigzoo_shared.config import to_dict
from sigzoo_shared.errors import CheckpointError, ConfigError
from sigzoo_shared.export import (
    PARITY_ATOL,
    ExportSpec,
    add_export_verb,
    dispatch_export,
    write_export,
)
from sigzoo_shared.pretrained import (
    list_pretrained,
    load_pretrained,
    pack_pretrained,
    verify_pretrained,
)
from sigzoo_shared.readme import python_blocks, run_python_blocks
from sigzoo_shared.runs import check_phases, resume_config, stored_overrides
from toyrun import Config, DataConfig, ModelConfig, build, make_run

META = {
    "summary": "a linear map for the tests",
    "command": "fake train --run-dir R",
    "data": "none",
    "licence": "MIT",
    "metrics": {"mse": 0.5},
    "intended_use": "tests",
    "weaknesses": "none worth naming",
}


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An importable package in tmp_path, standing in for an installed sigzoo package."""
    root = tmp_path / "site"
    (root / "fakezoo").mkdir(parents=True)
    (root / "fakezoo" / "__init__.py").write_text('__version__ = "9.9"\n')
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    yield "fakezoo"
    sys.modules.pop("fakezoo", None)


# ------------------------------------------------------------------------------ stored-config policy


def test_stored_overrides_accepts_allowed_keys_and_names_refused_ones(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", Config(model=ModelConfig(width=4)))
    cfg = stored_overrides(
        Config, run / "config.yaml", ["data.data_dir=/other"], allowed=["data.*"]
    )
    assert cfg.data.data_dir == "/other" and cfg.model.width == 4
    same = stored_overrides(Config, run / "config.yaml", ["model.width=4"], allowed=[])
    assert same.model.width == 4  # repeating the stored value is not a change
    # the run's own config.yaml passed back as --config changes nothing
    again = stored_overrides(
        Config, run / "config.yaml", config_file=run / "config.yaml", allowed=["data.*"]
    )
    assert to_dict(again) == to_dict(cfg) | {"data": {"data_dir": "data"}}
    with pytest.raises(
        ConfigError, match=r"cannot change model.width \(stored 4, given 8\) when evaluating"
    ):
        stored_overrides(Config, Config(), ["model.width=8"], allowed=["data.*"])


def test_resume_checks_every_unfinished_phase_before_returning(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r")
    for phase in ("a", "b", "c"):
        make_run(run / phase)
    (run / "b" / "checkpoints" / "last.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"b/checkpoints/last.pt"):
        resume_config(Config, run, phases="*")
    (run / "b" / "done.json").write_text("{}")  # a finished phase is skipped, not read
    assert [p.parent.parent.name for p in check_phases(run, "*")] == ["a", "c"]
    assert resume_config(Config, run, ["train.epochs=7"], phases="*").train.epochs == 7


# ---------------------------------------------------------------------------------------- pretrained


def test_pack_keeps_weights_and_card_and_drops_training_state(
    tmp_path: Path, fake_package: str
) -> None:
    run = make_run(tmp_path / "r")
    dest = pack_pretrained(
        run,
        tmp_path / "site" / fake_package / "pretrained" / "lin",
        card_md="# Lin\n",
        meta=META,
        extra={"mean": torch.tensor([1.0, 2.0])},
        package=fake_package,
    )
    state = load_checkpoint(dest / "model.pt")
    assert "optimizer_state" not in state and "rng_state" not in state
    assert torch.equal(state["mean"], torch.tensor([1.0, 2.0])) and state["epoch"] == 3
    [card] = list_pretrained(fake_package)
    assert card["name"] == "lin" and card["package_version"] == "9.9"
    assert card["size_bytes"] == (dest / "model.pt").stat().st_size
    loaded = load_pretrained(fake_package, "lin", Config, build)
    original = load_checkpoint(run / "checkpoints" / "best.pt")["model_state"]
    assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in original.items())
    assert loaded.card["metrics"] == {"mse": 0.5} and not loaded.model.training
    verify_pretrained(fake_package, "lin")
    (dest / "model.pt").write_bytes((dest / "model.pt").read_bytes() + b"x")
    with pytest.raises(CheckpointError, match="sha256"):
        verify_pretrained(fake_package, "lin")


def test_half_weights_load_into_float32_within_rounding(tmp_path: Path, fake_package: str) -> None:
    run = make_run(tmp_path / "r")
    dest = pack_pretrained(run, tmp_path / "half", card_md="x", meta=META, half=True)
    assert load_checkpoint(dest / "model.pt")["model_state"]["weight"].dtype == torch.float16
    assert json.loads((dest / "card.json").read_text())["weights_dtype"] == "float16"


def test_a_card_without_its_facts_is_refused(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r")
    with pytest.raises(ConfigError, match="licence"):
        pack_pretrained(
            run, tmp_path / "x", card_md="x", meta={k: v for k, v in META.items() if k != "licence"}
        )
    assert not (tmp_path / "x" / "model.pt").exists()


def test_pretrained_verbs_list_show_pack_and_name_the_choices(
    tmp_path: Path, fake_package: str, capsys: pytest.CaptureFixture
) -> None:
    parser, sub = base_parser("fakezoo", "test")
    add_common_verbs(sub)

    def cli(*argv: str) -> str:
        assert dispatch_common(parser.parse_args(argv), Config, fake_package)
        return capsys.readouterr().out

    assert "ships no pretrained model" in cli("pretrained", "list")
    (tmp_path / "card.md").write_text("# Card of lin\n")
    (tmp_path / "meta.json").write_text(json.dumps(META))
    run = make_run(tmp_path / "r")
    cli(
        "pretrained",
        "pack",
        "--run-dir",
        str(run),
        "--name",
        "lin",
        "--card",
        str(tmp_path / "card.md"),
        "--meta",
        str(tmp_path / "meta.json"),
    )
    assert cli("pretrained", "list") == "lin: a linear map for the tests\n"
    assert cli("pretrained", "show", "lin") == "# Card of lin\n"
    with pytest.raises(ConfigError, match=r"no pretrained model 'other'; available: lin"):
        cli("pretrained", "show", "other")


# -------------------------------------------------------------------------------------------- readme

README = textwrap.dedent(
    """\
    # pkg
    ```python
    raise SystemExit("not in the section")
    ```
    ## From Python
    Text.
    ```python
    # a comment, not a heading
    x = 2
    ```
    ```bash
    exit 1
    ```
    ### Sub-section stays inside
    ```python
    y = x * 21
    open("made.txt", "w").write(str(y))
    ```
    ## Other
    ```python
    raise SystemExit("after the section")
    ```
    """
)


def test_readme_blocks_of_the_section_run_in_order_in_one_namespace(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    assert [line for line, _ in python_blocks(readme)] == [8, 16]
    work = tmp_path / "work"
    work.mkdir()
    assert run_python_blocks(readme, cwd=work)["y"] == 42
    assert (work / "made.txt").read_text() == "42"


def test_a_failing_block_names_the_readme_line_and_an_empty_section_is_an_error(
    tmp_path: Path,
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("## From Python\n```python\nx = 1\n```\n```python\n1 / 0\n```\n")
    with pytest.raises(AssertionError, match=r"README.md:6: .*ZeroDivisionError"):
        run_python_blocks(readme)
    readme.write_text("## From Python\nno code\n## Next\n")
    with pytest.raises(ValueError, match="holds no"):
        python_blocks(readme)
    with pytest.raises(ValueError, match="no heading 'Elsewhere'"):
        python_blocks(readme, "Elsewhere")


# -------------------------------------------------------------------------------------------- export


class Scorer(torch.nn.Module):
    """(B, T, 3) -> (B,): a per-window score, the shape most packages export."""

    def __init__(self) -> None:
        super().__init__()
        self.gru = torch.nn.GRU(3, 8, batch_first=True)
        self.head = torch.nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.gru(x)
        return self.head(y[:, -1]).squeeze(-1)


def spec() -> ExportSpec:
    torch.manual_seed(0)
    return ExportSpec(
        module=Scorer(),
        example=(torch.randn(2, 30, 3),),
        input_names=["window"],
        output_names=["score"],
        dynamic_axes={"window": {0: "batch", 1: "time"}},
        check_inputs=[(torch.randn(5, 11, 3),)],
        notes={"window": "z-scored per channel"},
    )


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_write_export_checks_parity_at_other_sizes_and_writes_a_sidecar(
    tmp_path: Path, fmt: str
) -> None:
    record = write_export(spec(), tmp_path / f"m.{fmt}", fmt)
    assert record["parity_max_abs_diff"] <= PARITY_ATOL
    side = json.loads((tmp_path / f"m.{fmt}.json").read_text())
    assert side["parity_inputs"] == [[[2, 30, 3]], [[5, 11, 3]]]
    assert side["notes"] == {"window": "z-scored per channel"} and side["inputs"]["window"][
        "shape"
    ] == [2, 30, 3]


def test_a_model_that_drifts_from_pytorch_is_refused(tmp_path: Path) -> None:
    s = spec()
    s.module = torch.nn.Dropout(0.5).train()  # different on every call: parity must catch it
    s.module.eval = lambda: s.module  # type: ignore[method-assign]  # keep it random
    with pytest.raises(ConfigError, match="differs from PyTorch"):
        write_export(s, tmp_path / "d.pt", "torchscript")


def test_the_export_verb_loads_exports_and_prints_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    add_export_verb(sub)
    args = parser.parse_args(["export", "--pretrained", "x", "--out", str(tmp_path / "m.onnx")])
    assert dispatch_export(args, load=lambda a: a.pretrained, spec=lambda loaded: spec())
    out = capsys.readouterr().out
    assert out.startswith(f"exported {tmp_path / 'm.onnx'} (onnx; max abs diff ")
    assert not dispatch_export(parser.parse_args([]), load=print, spec=print)


def test_a_package_pack_replaces_the_generic_one_and_files_are_readable(
    tmp_path: Path, fake_package: str, capsys: pytest.CaptureFixture
) -> None:
    import stat

    parser, sub = base_parser("fakezoo", "test")
    add_common_verbs(sub)
    made = []

    def own_pack(args: argparse.Namespace) -> Path:
        made.append(args.name)
        return pack_pretrained(args.run_dir, tmp_path / "own", card_md="x", meta=META)

    run = make_run(tmp_path / "r")
    argv = [
        "pretrained",
        "pack",
        "--run-dir",
        str(run),
        "--name",
        "n",
        "--card",
        "c",
        "--meta",
        "m",
    ]
    assert dispatch_common(parser.parse_args(argv), Config, fake_package, pack=own_pack)
    assert made == ["n"] and f"-> {tmp_path / 'own'}" in capsys.readouterr().out
    umask = os.umask(0)
    os.umask(umask)
    for name in (
        "model.pt",
        "card.json",
        "card.md",
    ):  # as open() would make them, not mkstemp's 0600
        assert stat.S_IMODE((tmp_path / "own" / name).stat().st_mode) == 0o666 & ~umask


def test_pack_ships_no_machine_path(tmp_path: Path) -> None:
    """A config or card naming ../shared/data/... or an absolute folder here ships as data/<name>."""
    local = tmp_path / "recordings" / "data" / "nab"
    local.mkdir(parents=True)
    cfg = Config(data=DataConfig(data_dir="../shared/data/mitdb"))
    run = make_run(tmp_path / "r", cfg)
    meta = {**META, "command": f"fake train --data-dir {local} --series ../shared/data/nab/x.csv"}
    card = f"Trained on `{local}/a.csv` (see ../shared/data/README.md); timed by /usr/bin/time.\n"
    dest = pack_pretrained(run, tmp_path / "p", card_md=card, meta=meta)
    assert load_checkpoint(dest / "model.pt")["config"]["data"]["data_dir"] == "data/mitdb"
    stored = json.loads((dest / "card.json").read_text())
    assert stored["command"] == "fake train --data-dir data/nab --series data/nab/x.csv"
    text = (dest / "card.md").read_text()
    assert str(tmp_path) not in text and "../" not in text
    assert "`data/nab/a.csv`" in text
    assert "data/README.md" in text and "/usr/bin/time." in text
