"""Fixtures of the reliability suite and the figures it prints at the end of the session.

Tests mark what they cover: ``@pytest.mark.fault_cell(fault, stage)`` for a cell of the
fault matrix (see :mod:`matrix`) and ``@pytest.mark.bad_input`` for one refused input; the
secrets audit reports each sink it searched through :func:`figures.record_secret_scan`. The terminal
summary prints the matrix and the counts that README's "Reliability" section quotes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest

from . import matrix
from .figures import SECRET_NOTES, SECRET_SCANS

_CELL_OUTCOMES: defaultdict[tuple[str, str], list[bool]] = defaultdict(list)
_COUNTS: defaultdict[str, list[bool]] = defaultdict(list)
_MARKERS = ("bad_input",)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fault_cell(fault, stage): the fault matrix cell a test covers")
    config.addinivalue_line("markers", "bad_input: one bad input, refused before any request")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test may only claim an applicable cell of the matrix."""
    for item in items:
        for marker in item.iter_markers("fault_cell"):
            cell = tuple(marker.args)
            if cell not in matrix.APPLICABLE:
                raise pytest.UsageError(f"{item.nodeid}: {cell} is not an applicable fault matrix cell")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    if report.when == "call" or (report.when == "setup" and not report.passed):
        ok = report.passed
        for marker in item.iter_markers("fault_cell"):
            _CELL_OUTCOMES[tuple(marker.args)].append(ok)  # type: ignore[index]
        for name in _MARKERS:
            if item.get_closest_marker(name) is not None:
                _COUNTS[name].append(ok)
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not (_CELL_OUTCOMES or _COUNTS or SECRET_SCANS):
        return
    write = terminalreporter.write_line
    terminalreporter.section("reliability figures")
    if _CELL_OUTCOMES:
        for line in matrix.render(_CELL_OUTCOMES):
            write(line)
    bad = _COUNTS.get("bad_input", [])
    if bad:
        write(f"bad inputs: {sum(bad)} of {len(bad)} refused before any request, naming field, value, rule")
    if SECRET_SCANS:
        found = sum(count for _, _, count in SECRET_SCANS)
        size = sum(size for _, size, _ in SECRET_SCANS)
        write(f"secrets found: {found} in {len(SECRET_SCANS)} sinks ({size:,} characters searched)")
        for sink, size, count in SECRET_SCANS:
            write(f"  {sink}: {count} in {size:,} characters")
        for note in SECRET_NOTES:
            write(f"  note: {note}")
