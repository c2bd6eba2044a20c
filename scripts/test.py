#!/usr/bin/env python3
"""Run lint, type check and the test suite in fresh environments, one per supported Airflow.

Needs only a Python 3.10+ interpreter: it installs ``uv`` into a private bootstrap
environment when ``uv`` is not on PATH, then builds ``.venvs/airflow-<version>``
with the package and its ``dev`` extra, and runs ``ruff``, ``mypy`` and ``pytest``.

    python3 scripts/test.py                      # both supported Airflow releases
    python3 scripts/test.py --airflow 3.3.2      # one of them
    python3 scripts/test.py --airflow 3.3.2 -- -k treehash -x   # extra pytest args
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venvs"
# The lowest Airflow 3 release the package supports, and the newest one.
AIRFLOW_VERSIONS = ("3.0.6", "3.3.2")
# Airflow 3.0.x predates cadwyn 6 and FastAPI 0.118: with them its API server rejects the
# task runner's requests (HTTP 422), so real scheduler/triggerer runs fail. Airflow's own
# constraints file for 3.0.6 pins older releases; these bounds are the part that matters.
EXTRA_REQUIREMENTS = {"3.0.6": ("cadwyn<6", "fastapi<0.118")}


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]


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


def build_env(uv: str, airflow_version: str) -> Path:
    venv = VENVS / f"airflow-{airflow_version}"
    python = venv / "bin" / "python"
    if not python.exists():
        run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
    run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            "-e",
            ".[dev]",
            f"apache-airflow=={airflow_version}",
            *EXTRA_REQUIREMENTS.get(airflow_version, ()),
        ]
    )
    return venv


def test_env(venv: Path, pytest_args: list[str], lint: bool) -> None:
    bindir = venv / "bin"
    env = dict(os.environ)
    env.pop("AIRFLOW_HOME", None)  # tests make their own, isolated home
    env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    if lint:
        run([str(bindir / "ruff"), "check", "."], env=env)
        run([str(bindir / "mypy")], env=env)
    run([str(bindir / "python"), "-m", "pytest", *pytest_args], env=env)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--airflow",
        action="append",
        choices=AIRFLOW_VERSIONS,
        help="Airflow release to test against (repeatable; default: all supported)",
    )
    parser.add_argument("pytest_args", nargs="*", help="arguments passed to pytest (after --)")
    args = parser.parse_args()
    versions = args.airflow or list(AIRFLOW_VERSIONS)
    uv = find_uv()
    # Chromium for the Glacier view's browser test (installed with apt-get when missing and possible).
    run([sys.executable, str(ROOT / "scripts" / "browser.py")])
    started = time.monotonic()
    for index, version in enumerate(versions):
        print(f"=== Airflow {version} ===", flush=True)
        venv = build_env(uv, version)
        test_env(venv, args.pytest_args, lint=index == len(versions) - 1)
    print(f"=== all passed on Airflow {', '.join(versions)} in {time.monotonic() - started:.0f}s ===")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as exc:
        print(f"FAILED: {' '.join(str(c) for c in exc.cmd)} exited {exc.returncode}", file=sys.stderr)
        sys.exit(exc.returncode or 1)
