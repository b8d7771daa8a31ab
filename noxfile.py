"""sigzoo's sessions. `python -m nox -s tests lint` is the test command; `-s demo` the main job.

Each `tests-<member>` session syncs ONE workspace member (with the core and its test extra) from the
committed `uv.lock` into a fresh venv, checks that no sibling package is importable there, and runs that
member's tests. This is what proves every package installs and works alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "lint"]
nox.options.error_on_missing_interpreters = False

PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").is_file())
MEMBERS = {
    "sigzoo-shared": ROOT / "shared",
    **{name: ROOT / "packages" / name for name in PACKAGES},
}


def module_of(member: str) -> str:
    return member.replace("-", "_")


def uv_bin() -> str:
    """uv on PATH, or the one installed beside nox by `pip install uv` (its scripts dir may not be on PATH)."""
    found = shutil.which("uv")
    if found:
        return found
    from uv import find_uv_bin

    return find_uv_bin()


def sync(session: nox.Session, *args: str) -> None:
    """`uv sync --locked` into this session's venv (never touching the workspace's own .venv)."""
    env = {"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}
    session.run_install(
        uv_bin(), "sync", "--locked", "--exact", "--no-dev", *args, env=env, external=True
    )


ISOLATION_CHECK = """
import importlib.util, sys
me, others = sys.argv[1], sys.argv[2:]
assert importlib.util.find_spec(me) is not None, f"{me} is not importable in its own environment"
leaked = [m for m in others if importlib.util.find_spec(m) is not None]
if leaked:
    sys.exit(f"isolation broken: {me}'s environment can import sibling package(s) {leaked}")
print(f"{me}: isolated (none of {len(others)} siblings importable)")
"""


@nox.session
@nox.parametrize("member", list(MEMBERS), ids=list(MEMBERS))
def tests(session: nox.Session, member: str) -> None:
    """One member alone: sync it from the lock, prove isolation, run its tests."""
    sync(session, "--package", member, "--extra", "test")
    siblings = [module_of(m) for m in MEMBERS if m not in (member, "sigzoo-shared")]
    session.run("python", "-c", ISOLATION_CHECK, module_of(member), *siblings)
    tests_dir = MEMBERS[member] / "tests"
    session.run(
        "python",
        "-m",
        "pytest",
        str(tests_dir),
        "-q",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(MEMBERS[member]),
        *session.posargs,
        env={"MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": ""},
    )


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole workspace."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


def _all_packages(session: nox.Session, *extras: str) -> None:
    sync(session, "--all-packages", *(arg for extra in extras for arg in ("--extra", extra)))


@nox.session
def demo(session: nox.Session) -> None:
    """Every package trains briefly on its built-in data, evaluates and reports under runs/demo/.

    Each package's previous demo run is replaced (training refuses to start over in a finished run)."""
    _all_packages(session)
    out = ROOT / "runs" / "demo"
    for name in session.posargs or PACKAGES:
        shutil.rmtree(out / name, ignore_errors=True)
        session.run(name, "demo", "--run-dir", str(out / name), env={"MPLBACKEND": "Agg"})
    _index(out, "sigzoo demo", "report.md", session.posargs or PACKAGES)
    session.log(f"demo report: {out / 'README.md'}")


@nox.session
def bench(session: nox.Session) -> None:
    """Every package's speed and memory table under runs/bench/<package>/bench.md, its demo command
    timed whole (CPU and wall), and one zoo table of both under runs/bench/zoo.md."""
    # the benches time ONNX Runtime beside PyTorch
    _all_packages(session, "export")
    out = ROOT / "runs" / "bench"
    names = session.posargs or PACKAGES
    # one torch thread: CPU time is then the figure the READMEs quote, steady on a loaded machine
    env = {"MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    for name in names:
        session.run(name, "bench", "--run-dir", str(out / name), env=env)
        # the README's demo time is this whole command's, timed as a user runs it
        shutil.rmtree(out / name / "demo", ignore_errors=True)
        session.run(
            "python", "-m", "sigzoo_shared.bench", "--time", str(out / name / "commands.json"),
            "--package", name, "--", name, "demo", "--run-dir", str(out / name / "demo"),
            env=env,
        )  # fmt: skip
    _index(out, "sigzoo benchmarks", "bench.md", names)
    session.run("python", "-m", "sigzoo_shared.bench", "--zoo", str(out), *names)
    session.log(f"benchmark tables: {out / 'README.md'}, one zoo table: {out / 'zoo.md'}")


@nox.session
def gpu(session: nox.Session) -> None:
    """One short epoch of every package on CUDA, fp32 vs AMP: loss finite and within tolerance, speed.

    Without a CUDA device it prints one line and succeeds (`sigzoo_shared.gpucheck`)."""
    _all_packages(session)
    session.run(
        "python",
        "-m",
        "sigzoo_shared.gpucheck",
        "--out",
        str(ROOT / "runs" / "gpu"),
        *(session.posargs or PACKAGES),
        env={"MPLBACKEND": "Agg"},
    )


def _index(out: Path, title: str, filename: str, names: list[str]) -> None:
    """A landing page linking every package's report."""
    lines = [f"# {title}", ""]
    for name in names:
        report = out / name / filename
        status = (
            f"[{name}/{filename}]({name}/{filename})" if report.is_file() else f"(no {filename})"
        )
        lines.append(f"- **{name}**: {status}")
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
