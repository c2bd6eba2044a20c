#!/usr/bin/env python3
"""Run lint, type check, the test suite and a packaging check, in fresh environments.

Needs only a Python 3.10+ interpreter: it installs ``uv`` into a private bootstrap
environment when ``uv`` is not on PATH. Three legs:

``lowest``
    The lowest supported Python, every runtime dependency at exactly the floor
    ``pyproject.toml`` declares (the rest resolved ``lowest-direct``), so the floors are
    tested, not hoped for. Today: Python 3.10, Airflow 3.0.6.
``newest``
    The newest Python that this machine has and Airflow supports, everything at its newest
    release. Runs ``ruff`` and ``mypy`` too. Today: Python 3.13, Airflow 3.3.2.
``build``
    Builds the sdist and, from it, the wheel; installs the wheel (not editable) into a
    throwaway environment and imports every module ``get_provider_info()`` lists.

Each test leg keeps its environment in ``.venvs/airflow-<resolved Airflow version>``
(an editable install of this checkout with the ``dev`` extra), reused and re-synced on
the next run, and prints the versions it resolved.

    python3 scripts/test.py                                  # every leg (what CI runs)
    python3 scripts/test.py --leg newest -- -k treehash -x   # one leg, extra pytest args
    python3 scripts/test.py --leg lowest --leg build         # legs are repeatable
    python3 scripts/test.py --airflow 3.3.2 -- -q tests/test_treehash.py   # same as --leg newest
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venvs"
# The tested matrix, lowest leg first: the Airflow each test leg resolves today. The newest
# leg is not pinned to it; when a newer Airflow resolves, the run says so (README names these).
AIRFLOW_VERSIONS = ("3.0.6", "3.3.2")
# Pythons the newest leg tries, newest first: the first one found on this machine is used.
NEWEST_PYTHONS = ("3.14", "3.13", "3.12", "3.11")
# Airflow 3.0.x predates cadwyn 6 and FastAPI 0.118: with them its API server rejects the
# task runner's requests (HTTP 422), so real scheduler/triggerer runs fail. Airflow's own
# constraints file for 3.0.x pins older releases; these bounds are the part that matters.
AIRFLOW_30_BOUNDS = ("cadwyn<6", "fastapi<0.118")
# What each leg reports, in this order.
REPORTED = (
    "apache-airflow",
    "apache-airflow-providers-amazon",
    "apache-airflow-providers-common-compat",
    "boto3",
    "botocore",
    "aiobotocore",
    "moto",
)


class Leg(NamedTuple):
    # A NamedTuple, not a dataclass: scripts/demo.py loads this file without registering it
    # in sys.modules, which dataclasses need.
    name: str
    resolution: str  # uv's --resolution: "lowest-direct" or "highest"
    lint: bool  # ruff and mypy run in this leg (once per run)


LEGS = {
    "lowest": Leg("lowest", "lowest-direct", lint=False),
    "newest": Leg("newest", "highest", lint=True),
}
LEG_NAMES = ("newest", "lowest", "build")


# Steps run before pytest in every test leg, in order, e.g. installing a system package a test
# needs. Each is called as step(leg, venv) and raises (CalledProcessError or RuntimeError) to fail.
PRE_TEST_STEPS: list[Callable[[Leg, Path], None]] = []


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]


def output(cmd: list[str], **kwargs: object) -> str:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        cmd, check=True, cwd=ROOT, capture_output=True, text=True, **kwargs
    ).stdout


def find_uv() -> str:
    uv = shutil.which("uv")
    if uv:
        return uv
    bootstrap = VENVS / "bootstrap"
    uv_path = bootstrap / "bin" / "uv"
    if not uv_path.exists():
        run([sys.executable, "-m", "venv", str(bootstrap)])
        run([str(bootstrap / "bin" / "python"), "-m", "pip", "install", "--quiet", "uv"])
    return str(uv_path)


# -- what pyproject.toml declares ---------------------------------------------------------------


def _project() -> dict[str, object]:
    text = (ROOT / "pyproject.toml").read_text()
    try:
        import tomllib
    except ImportError:  # Python 3.10: the two keys needed, from the file's own simple layout
        requires = re.search(r'^requires-python\s*=\s*"([^"]+)"', text, re.M)
        block = re.search(r"^dependencies\s*=\s*\[(.*?)^\]", text, re.M | re.S)
        if not requires or not block:
            raise RuntimeError("pyproject.toml: requires-python or dependencies not found") from None
        return {
            "requires-python": requires.group(1),
            "dependencies": re.findall(r'^\s*"([^"]+)"', block.group(1), re.M),
        }
    project: dict[str, object] = tomllib.loads(text)["project"]
    return project


def declared_floors() -> dict[str, str]:
    """Each runtime dependency's ``>=`` floor, by distribution name (extras dropped)."""
    floors = {}
    for requirement in _project()["dependencies"]:  # type: ignore[attr-defined]
        match = re.match(r"([A-Za-z0-9._-]+)(?:\[[^]]*\])?\s*>=\s*([^,;\s]+)", requirement)
        if not match:
            raise RuntimeError(f"pyproject.toml: dependency {requirement!r} declares no >= floor")
        floors[match.group(1).lower()] = match.group(2)
    return floors


def lowest_python() -> str:
    """The ``X.Y`` of requires-python's ``>=`` bound."""
    requires = str(_project()["requires-python"])
    match = re.search(r">=\s*(\d+\.\d+)", requires)
    if not match:
        raise RuntimeError(f"pyproject.toml: requires-python {requires!r} has no >= X.Y bound")
    return match.group(1)


# -- interpreters ---------------------------------------------------------------------------------


def _version_of(python: Path | str) -> str | None:
    try:
        return output([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def find_python(minor: str, uv: str) -> str | None:
    """A working CPython ``minor`` (e.g. ``3.10``): pyenv's versions, then PATH, then uv's finder."""
    candidates: list[Path | str] = []
    roots = {Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")), Path.home() / ".pyenv"}
    for root in roots:
        found = sorted(
            (root / "versions").glob(f"{minor}.*/bin/python{minor}"),
            key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parent.parent.name.split(".")],
            reverse=True,
        )
        candidates.extend(found)
    candidates.extend(p for p in (shutil.which(f"python{minor}"),) if p)
    for candidate in candidates:
        if _version_of(candidate) == minor:
            return str(candidate)
    try:
        no_downloads = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
        found_by_uv = output([uv, "python", "find", minor], env=no_downloads)
    except subprocess.CalledProcessError:
        return None
    return found_by_uv.strip() if _version_of(found_by_uv.strip()) == minor else None


def leg_python(leg: Leg, uv: str) -> str:
    wanted = (lowest_python(),) if leg.name == "lowest" else NEWEST_PYTHONS
    for minor in wanted:
        python = find_python(minor, uv)
        if python:
            return python
    raise RuntimeError(
        f"the {leg.name} leg needs CPython {' or '.join(wanted)}, and none was found in "
        "$PYENV_ROOT/versions, ~/.pyenv/versions, on PATH (python3.X) or by `uv python find`; "
        "install one (e.g. `pyenv install` or `uv python install`)"
    )


# -- test environments ----------------------------------------------------------------------------


def resolve(uv: str, leg: Leg, python: str) -> Path:
    """Write the leg's lock file (``.venvs/<leg>.txt``): the editable checkout, dev extra included."""
    VENVS.mkdir(exist_ok=True)
    requirements = VENVS / f"{leg.name}.in"
    requirements.write_text(f"-e {ROOT}[dev]\n")
    constraints = VENVS / f"{leg.name}-constraints.txt"
    bounds: list[str] = []
    if leg.name == "lowest":
        floors = declared_floors()
        bounds += [f"{name}=={floor}" for name, floor in floors.items()]
        if floors.get("apache-airflow", "").startswith("3.0."):
            bounds += AIRFLOW_30_BOUNDS
    constraints.write_text("".join(f"{bound}\n" for bound in bounds))
    lock = VENVS / f"{leg.name}.txt"
    run(
        [
            uv, "pip", "compile", "--quiet", "--python", python, "--resolution", leg.resolution,
            "--constraint", str(constraints), "--output-file", str(lock), "--no-header",
            "--no-annotate", str(requirements),
        ]
    )  # fmt: skip
    return lock


def locked_versions(lock: Path) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9._-]+)==(\S+)", lock.read_text(), re.M)
    return {name.lower(): version for name, version in pins}


def build_leg_env(uv: str, leg: Leg) -> tuple[Path, dict[str, str]]:
    """Resolve, then sync ``.venvs/airflow-<version>`` to exactly the lock; the resolved versions."""
    python = leg_python(leg, uv)
    lock = resolve(uv, leg, python)
    versions = locked_versions(lock)
    airflow = versions["apache-airflow"]
    if leg.name == "lowest" and airflow != declared_floors()["apache-airflow"]:
        raise RuntimeError(f"the lowest leg resolved Airflow {airflow}, not the declared floor")
    if leg.name == "newest" and airflow != AIRFLOW_VERSIONS[-1]:
        print(f"NOTE: the newest Airflow is now {airflow}; README and AIRFLOW_VERSIONS say "
              f"{AIRFLOW_VERSIONS[-1]}", flush=True)  # fmt: skip
    venv = VENVS / f"airflow-{airflow}"
    wanted_python = _version_of(python)
    if (venv / "bin" / "python").exists() and _version_of(venv / "bin" / "python") != wanted_python:
        print(f"{venv.name}: rebuilding for Python {wanted_python}", flush=True)
        shutil.rmtree(venv)
    if not (venv / "bin" / "python").exists():
        run([uv, "venv", "--quiet", "--python", python, str(venv)])
    run([uv, "pip", "sync", "--quiet", "--python", str(venv / "bin" / "python"), str(lock)])
    print_version = "import platform; print(platform.python_version())"
    versions["python"] = output([str(venv / "bin" / "python"), "-c", print_version]).strip()
    return venv, versions


def build_env(uv: str, airflow_version: str) -> Path:
    """The environment of the test leg whose Airflow is ``airflow_version`` (used by scripts/demo.py)."""
    if airflow_version not in AIRFLOW_VERSIONS:
        raise ValueError(f"no test leg for Airflow {airflow_version}; legs: {', '.join(AIRFLOW_VERSIONS)}")
    leg = LEGS["lowest" if airflow_version == AIRFLOW_VERSIONS[0] else "newest"]
    return build_leg_env(uv, leg)[0]


def test_env(leg: Leg, venv: Path, pytest_args: list[str]) -> None:
    bindir = venv / "bin"
    env = dict(os.environ)
    env.pop("AIRFLOW_HOME", None)  # tests make their own, isolated home
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    if leg.lint:
        run([str(bindir / "ruff"), "check", "."], env=env)
        run([str(bindir / "mypy")], env=env)
    for step in PRE_TEST_STEPS:
        print(f"--- {step.__name__}", flush=True)
        step(leg, venv)
    run([str(bindir / "python"), "-m", "pytest", *pytest_args], env=env)


# -- packaging ---------------------------------------------------------------------------------

# Imports every module get_provider_info() names, and the extra link, from the installed wheel;
# checks that Airflow would find the provider through its entry point. Prints one JSON line.
_IMPORT_CHECK = """
import importlib, importlib.metadata as md, json, pathlib, sys
import airflow_glacier_select as package
assert "site-packages" in package.__file__, package.__file__
entries = md.entry_points(group="apache_airflow_provider")
(entry,) = [e for e in entries if e.value.startswith("airflow_glacier_select")]
info = entry.load()()
kinds = ("hooks", "operators", "sensors", "triggers")
modules = [m for kind in kinds for e in info[kind] for m in e["python-modules"]]
modules += [t["python-module"] for t in info["transfers"]]
for module in modules:
    importlib.import_module(module)
for link in info["extra-links"]:
    module, _, name = link.rpartition(".")
    getattr(importlib.import_module(module), name)
assert (pathlib.Path(package.__file__).parent / "py.typed").exists(), "py.typed missing from the wheel"
print(json.dumps({"version": md.version("airflow-glacier-select"), "modules": len(modules)}))
"""


def build_and_check(uv: str) -> dict[str, str]:
    """Build sdist and wheel (the wheel from the sdist, as ``uv build`` does), install the wheel."""
    python = leg_python(LEGS["newest"], uv)
    with tempfile.TemporaryDirectory(prefix="build-", dir=VENVS) as scratch:
        dist = Path(scratch) / "dist"
        run([uv, "build", "--quiet", "--out-dir", str(dist), "--python", python, "."])
        (sdist,) = dist.glob("*.tar.gz")
        (wheel,) = dist.glob("*.whl")
        venv = Path(scratch) / "venv"
        run([uv, "venv", "--quiet", "--python", python, str(venv)])
        lock = VENVS / "newest.txt"
        constraint = []
        if lock.exists():  # the newest leg's versions: this install then downloads nothing new
            pins = Path(scratch) / "pins.txt"
            pins.write_text("".join(f"{n}=={v}\n" for n, v in locked_versions(lock).items()))
            constraint = ["--constraint", str(pins)]
        python_in_venv = str(venv / "bin" / "python")
        run([uv, "pip", "install", "--quiet", "--python", python_in_venv, *constraint, str(wheel)])
        env = {**os.environ, "AIRFLOW_HOME": str(Path(scratch) / "airflow-home")}
        env.pop("PYTHONPATH", None)
        # Run outside the checkout, so the import can only come from the installed wheel.
        result = subprocess.run(
            [str(venv / "bin" / "python"), "-c", _IMPORT_CHECK],
            check=True, cwd=scratch, env=env, capture_output=True, text=True,
        )  # fmt: skip
        checked = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"installed {wheel.name} (from {sdist.name}): {checked['modules']} modules import", flush=True)
        return {"python": _version_of(python) or "?", "wheel": wheel.name, "sdist": sdist.name}


# -- driver ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--leg", action="append", choices=LEG_NAMES, help="leg to run (repeatable; default: all)"
    )
    parser.add_argument(
        "--airflow",
        action="append",
        choices=AIRFLOW_VERSIONS,
        help=f"the test leg that resolves this Airflow ({AIRFLOW_VERSIONS[0]}: lowest, "
        f"{AIRFLOW_VERSIONS[-1]}: newest); repeatable",
    )
    parser.add_argument("pytest_args", nargs="*", help="arguments passed to pytest (after --)")
    args = parser.parse_args()
    chosen = list(args.leg or [])
    chosen += ["lowest" if v == AIRFLOW_VERSIONS[0] else "newest" for v in args.airflow or ()]
    legs = [name for name in LEG_NAMES if name in chosen] if chosen else list(LEG_NAMES)
    uv = find_uv()
    # Chromium for the Glacier view's browser test (installed with apt-get when missing and possible).
    run([sys.executable, str(ROOT / "scripts" / "browser.py")])
    started = time.monotonic()
    summary: list[str] = []
    for name in legs:
        print(f"=== {name} ===", flush=True)
        leg_started = time.monotonic()
        if name == "build":
            built = build_and_check(uv)
            report = f"python {built['python']}, {built['wheel']}, {built['sdist']}"
        else:
            leg = LEGS[name]
            venv, versions = build_leg_env(uv, leg)
            report = ", ".join(f"{pkg} {versions.get(pkg, '-')}" for pkg in ("python", *REPORTED))
            print(f"{name}: {report}", flush=True)
            env_seconds = time.monotonic() - leg_started
            test_env(leg, venv, args.pytest_args)
            report = f"{report} (environment {env_seconds:.0f}s)"
        summary.append(f"{name:7} {time.monotonic() - leg_started:5.0f}s  {report}")
    print("=== passed ===")
    print("\n".join(summary))
    print(f"total {time.monotonic() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        if exc.stderr:
            print(exc.stderr, file=sys.stderr)
        print(f"FAILED: {' '.join(str(c) for c in exc.cmd)} exited {exc.returncode}", file=sys.stderr)
        sys.exit(exc.returncode or 1)
    except RuntimeError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
