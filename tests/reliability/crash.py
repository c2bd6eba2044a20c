"""A worker killed outright: a Python process that runs some work and dies right after a chosen call.

``os._exit`` ends the process the moment the call returns: no ``finally``, no exception
handler, no abort of an S3 multipart upload, no XCom or task state written. That is what a
worker lost to the OOM killer or a spot reclaim leaves behind, and what a retry must cope with.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXIT_CODE = 75

_RUNNER = """
import importlib, os, sys

sys.path.insert(0, {root!r})  # the checkout, so ``tests.support`` imports
module_name, _, attribute = {target!r}.partition(":")
owner_name, _, method_name = attribute.rpartition(".")
owner = getattr(importlib.import_module(module_name), owner_name)
original = getattr(owner, method_name)


calls = []


def then_die(*args, **kwargs):
    result = original(*args, **kwargs)
    calls.append(1)
    if len(calls) >= {after_calls}:
        os._exit({code})
    return result


setattr(owner, method_name, then_die)
"""


def run_until_killed(
    target: str, program: str, tmp_path: Path, after_calls: int = 1
) -> subprocess.CompletedProcess[str]:
    """Run ``program`` (Python source) in a new process that dies right after ``target`` returns
    for the ``after_calls``-th time (from any thread).

    ``target`` is ``module:Class.method``. The process inherits this one's environment (the
    test's AIRFLOW_HOME, connections and dags folder). Asserts that it did die there.
    """
    script = tmp_path / "killed_worker.py"
    root = str(Path(__file__).resolve().parents[2])
    script.write_text(
        _RUNNER.format(root=root, target=target, code=EXIT_CODE, after_calls=after_calls) + program
    )
    finished = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=240,
        check=False,
    )
    assert finished.returncode == EXIT_CODE, finished.stderr[-3000:]
    return finished
