"""Install metadata says what is tested, and the Airflow compatibility layer behaves on every Airflow.

The floors in pyproject.toml are the versions CI's lowest leg installs; README's Install table
must name the same ones, or a reader is promised something nothing checked.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pytest

from airflow_glacier_select.compat import ResumableJobMixin

ROOT = Path(__file__).resolve().parent.parent


def _declared_floors() -> dict[str, str]:
    text = (ROOT / "pyproject.toml").read_text()
    block = re.search(r"^dependencies\s*=\s*\[(.*?)^\]", text, re.M | re.S)
    assert block, "pyproject.toml has no dependencies list"
    floors = {}
    for requirement in re.findall(r'^\s*"([^"]+)"', block.group(1), re.M):
        match = re.match(r"([A-Za-z0-9._-]+)(?:\[[^]]*\])?\s*>=\s*([^,;\s]+)", requirement)
        assert match, f"dependency {requirement!r} declares no >= floor"
        floors[match.group(1)] = match.group(2)
    python = re.search(r'^requires-python\s*=\s*">=(\d+\.\d+)"', text, re.M)
    assert python, "requires-python declares no >= floor"
    floors["Python"] = python.group(1)
    return floors


def test_readme_install_table_names_the_declared_floors() -> None:
    readme = (ROOT / "README.md").read_text()
    install = readme[readme.index("## Install") : readme.index("## Usage")]
    rows = dict(re.findall(r"^\| `?([A-Za-z0-9._-]+)`?[^|]*\| (\d[\d.]*)", install, re.M))
    assert rows == _declared_floors()


def test_tool_targets_match_the_lowest_python() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    lowest = _declared_floors()["Python"]
    assert f'target-version = "py{lowest.replace(".", "")}"' in text
    assert f'python_version = "{lowest}"' in text


class _Job:
    """Records which ResumableJobMixin hooks ran, in order."""

    def __init__(self, **kwargs: Any) -> None:
        self.calls: list[str] = []

    def submit_job(self, context: Any) -> str:
        self.calls.append("submit")
        return "job-1"

    def poll_until_complete(self, external_id: str, context: Any) -> None:
        self.calls.append(f"poll {external_id}")

    def get_job_result(self, external_id: str, context: Any) -> str:
        self.calls.append(f"result {external_id}")
        return "done"


@pytest.mark.skipif(
    ResumableJobMixin.__module__.startswith("airflow.sdk"), reason="Airflow 3.3+: the Task SDK's own mixin"
)
def test_stand_in_submits_polls_and_returns_the_result_on_every_try() -> None:
    class Operator(ResumableJobMixin, _Job):  # type: ignore[misc]
        pass

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # durable left at its default: no warning
        operator = Operator()
    assert operator.execute_resumable({}) == "done"
    assert operator.calls == ["submit", "poll job-1", "result job-1"]
    assert operator.durable is False
    with pytest.warns(UserWarning, match="`durable` has no effect on Airflow versions below 3.3"):
        Operator(durable=True)
