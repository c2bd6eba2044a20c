"""Progress lines: about ten per copy plus one per interval when slow, in binary units."""

from __future__ import annotations

import pytest

from airflow_glacier_select.s3_copy.progress import ProgressMeter, format_bytes, format_duration
from airflow_glacier_select.treehash import MIB


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * MIB, "5.0 MiB"), (3 * 1024**3, "3.0 GiB")],
)
def test_format_bytes(count: int, text: str) -> None:
    assert format_bytes(count) == text


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (44.6, "45s"), (185, "3m 05s"), (7440, "2h 04m")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_every_ten_percent_with_rate_and_eta() -> None:
    clock = FakeClock()
    meter = ProgressMeter(100 * MIB, clock=clock)
    lines = []
    for _ in range(20):
        clock.now += 1
        lines.append(meter.advance(5 * MIB))
    logged = [line for line in lines if line is not None]
    assert len(logged) == 10
    assert logged[0] == "10.0 MiB of 100.0 MiB (10.0%), 5.0 MiB/s, ETA 18s"
    assert logged[-1] == "100.0 MiB of 100.0 MiB (100.0%), 5.0 MiB/s, done"


def test_slow_progress_still_logs_every_interval() -> None:
    clock = FakeClock()
    meter = ProgressMeter(1000 * MIB, interval=30, clock=clock)
    clock.now += 29
    assert meter.advance(MIB) is None
    clock.now += 1
    assert meter.advance(MIB) == "2.0 MiB of 1000.0 MiB (0.2%), 0.1 MiB/s, ETA 4h 09m"
