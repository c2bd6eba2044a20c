#!/usr/bin/env python3
"""Build the environment and run the demo: the example DAGs through real Airflow, locally.

Needs only a Python 3.10+ interpreter. It builds (or refreshes) the newest supported
Airflow environment exactly as ``scripts/test.py`` does, then runs
``python -m airflow_glacier_select.demo`` in it; nothing touches AWS or your Airflow.

    python3 scripts/demo.py              # build if needed, then run the demo
    python3 scripts/demo.py --keep       # arguments go to the demo (see --help)
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType


def _test_script() -> ModuleType:
    """``scripts/test.py``, whose environment builder the demo reuses (loaded by path:
    the name ``test`` is also the standard library's)."""
    path = Path(__file__).resolve().parent / "test.py"
    spec = importlib.util.spec_from_file_location("glacier_select_test_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> int:
    builder = _test_script()
    try:
        venv = builder.build_env(builder.find_uv(), builder.AIRFLOW_VERSIONS[-1])
    except subprocess.CalledProcessError as exc:  # the command and its output are above
        return exc.returncode or 1
    command = [str(venv / "bin" / "python"), "-m", "airflow_glacier_select.demo", *sys.argv[1:]]
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, cwd=builder.ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
