#!/usr/bin/env python3
"""Make sure a Chromium is installed for the Glacier view's browser test; print where it is.

The browser test drives Debian's ``chromium`` package through Playwright's Python API
(Playwright's own browser download needs network access that CI and air-gapped machines
lack). This installs the package with apt-get when it is missing and this runs as root
on a Debian-like system; otherwise it says why not, and the test skips with that reason.

    python3 scripts/browser.py           # install if needed; exit 0 when a browser is there
    python3 scripts/browser.py --check   # only report

The test finds the browser at ``GLACIER_UI_CHROMIUM`` (default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

CHROMIUM = Path(os.environ.get("GLACIER_UI_CHROMIUM", "/usr/bin/chromium"))


def why_not_installable() -> str | None:
    """None when apt-get can install chromium here, else the reason it cannot."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available (not a Debian-like system)"
    if os.geteuid() != 0:
        return "installing chromium with apt-get needs root"
    return None


def install() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-q"],
        ["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y", "-q", "chromium"],
    ):
        print("+", " ".join(command), flush=True)
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="report only, never install")
    args = parser.parse_args()
    if CHROMIUM.exists():
        print(f"browser: {CHROMIUM}")
        return 0
    reason = why_not_installable()
    if args.check or reason is not None:
        print(f"browser: none at {CHROMIUM} ({reason or 'not installed'}); the browser test will skip")
        return 0 if not args.check else 1
    try:
        install()
    except subprocess.CalledProcessError as error:
        print(f"browser: apt-get failed ({error}); the browser test will skip", file=sys.stderr)
        return 0
    print(f"browser: {CHROMIUM}" if CHROMIUM.exists() else f"browser: still none at {CHROMIUM}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
