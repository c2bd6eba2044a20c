"""Progress of a long copy, at a cadence a task log can bear.

A 100 GiB archive moves in thousands of chunks; logging each would drown the task log,
logging none leaves users guessing for hours. The meter logs about ten lines per copy plus
one per interval when it is slow, with rate and ETA in binary units.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from airflow_glacier_select.treehash import MIB

__all__ = ["ProgressMeter", "format_bytes", "format_duration"]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(count: float) -> str:
    """Binary units with one decimal: ``512 B``, ``1.5 MiB``, ``2.0 GiB``."""
    value = float(count)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """``45s``, ``3m 05s``, ``2h 04m``: an ETA needs no more precision than that."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


class ProgressMeter:
    """Decides when a transfer is worth a log line and writes it.

    A line is due at every ``percent_step`` percent and, for slow transfers, at least every
    ``interval`` seconds; a 100 GiB archive logs about ten lines, not ten thousand.
    """

    def __init__(
        self,
        total: int,
        *,
        percent_step: float = 10.0,
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self.percent_step = percent_step
        self.interval = interval
        self._clock = clock
        self.started = clock()
        self._last_time = self.started
        self._last_step = 0

    def elapsed(self) -> float:
        return self._clock() - self.started

    def advance(self, count: int) -> str | None:
        """Count ``count`` more bytes done; the progress line when one is due, else None."""
        self.done += count
        now = self._clock()
        step = int(self.percent() // self.percent_step) if self.total else 0
        if step > self._last_step or now - self._last_time >= self.interval:
            self._last_step = max(step, self._last_step)
            self._last_time = now
            return self.line()
        return None

    def percent(self) -> float:
        return 100.0 if not self.total else 100.0 * self.done / self.total

    def rate(self) -> float:
        """Bytes per second since the start (0 before any time has passed)."""
        elapsed = self.elapsed()
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        if self.done >= self.total:
            eta = "done"
        elif rate > 0:
            eta = f"ETA {format_duration((self.total - self.done) / rate)}"
        else:
            eta = "ETA unknown"
        return (
            f"{format_bytes(self.done)} of {format_bytes(self.total)} ({self.percent():.1f}%), "
            f"{rate / MIB:.1f} MiB/s, {eta}"
        )
