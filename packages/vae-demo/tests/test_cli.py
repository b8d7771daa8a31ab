"""The console script answers --help and --version without touching data."""

import subprocess
import sys

from vae_demo.cli import main


def test_help_lists_the_program(capsys) -> None:
    try:
        main(["--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    assert "vae-demo" in capsys.readouterr().out


def test_version_via_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "vae_demo.cli", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "0.1.0" in out.stdout
