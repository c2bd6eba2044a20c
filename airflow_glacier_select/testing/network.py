"""An honest network for the loopback endpoint: first-byte latency and bandwidth caps.

On loopback every request answers in microseconds and one connection carries GiB/s, so a
copy that opens eight connections can look no better than one that opens a single
connection, and the naive "read it all, then put it" looks fine. Over a real network each
connection is slow to start and capped, and throughput comes from connections in
parallel; AWS's S3 performance guidance ("Best Practices Design Patterns: Optimizing
Amazon S3 Performance": horizontal scaling of connections, 8-16 MB byte-range fetches)
says exactly that. :class:`NetworkModel` makes the endpoint behave so:

- ``*_latency``: seconds before the first byte of each answer (Glacier GetJobOutput; every
  S3 request);
- ``*_bandwidth``: bytes per second one connection carries, for GetJobOutput bodies and
  for S3 request and answer bodies (UploadPart, PutObject, GetObject);
- ``aggregate_bandwidth``: bytes per second all connections together carry in each
  direction (the host's link), shared fairly in time order.

The figures used by the benchmarks, and why, are in the README (Performance). A model with
nothing set (the default) leaves the endpoint exactly as fast as loopback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = ["PRESETS", "NetworkModel", "PacedInput", "Pacer", "parse_network_model"]

_PIECE = 256 * 1024
"""Bytes sent between two pacing decisions: small enough to be smooth at a few MB/s."""


@dataclass(frozen=True)
class NetworkModel:
    glacier_latency: float = 0.0
    glacier_bandwidth: float | None = None
    s3_latency: float = 0.0
    s3_bandwidth: float | None = None
    aggregate_bandwidth: float | None = None

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None and item.name.endswith("bandwidth"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{item.name}: {value!r} must be a number >= 0")
            if item.name.endswith("bandwidth") and value == 0:
                raise ValueError(f"{item.name}: 0 would never send a byte; leave it unset for no cap")

    @property
    def active(self) -> bool:
        return self != NetworkModel()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkModel:
        unknown = set(data) - {item.name for item in fields(cls)}
        if unknown:
            raise ValueError(
                f"network: unknown setting(s) {sorted(unknown)}; use {[f.name for f in fields(cls)]}"
            )
        values: dict[str, Any] = {
            name: (None if value is None else float(value)) for name, value in data.items()
        }
        return cls(**values)


MB = 1_000_000
PRESETS: Mapping[str, NetworkModel] = {
    "loopback": NetworkModel(),
    # See README "Performance": AWS publishes no per-connection figure; these are scaled so
    # that the aggregate cap is reachable on a 2-core test machine.
    "wan": NetworkModel(
        glacier_latency=0.2,
        glacier_bandwidth=25 * MB,
        s3_latency=0.1,
        s3_bandwidth=25 * MB,
        aggregate_bandwidth=150 * MB,
    ),
}


def parse_network_model(text: str) -> NetworkModel:
    """``wan``, or ``s3_latency=0.1,s3_bandwidth=25e6,...`` (a preset name may come first)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    base: dict[str, Any] = {}
    if items and "=" not in items[0]:
        name = items.pop(0)
        if name not in PRESETS:
            raise ValueError(f"network: {name!r} is not a preset ({', '.join(PRESETS)})")
        base = PRESETS[name].to_dict()
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"network: {item!r} must be NAME=VALUE")
        base[name.strip().replace("-", "_")] = None if value.strip() in ("", "none") else float(value)
    return NetworkModel.from_dict(base)


@dataclass
class _Schedule:
    """When the next byte may leave at ``rate`` bytes/s: senders queue in time order."""

    rate: float
    next_free: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reserve(self, count: int, now: float) -> float:
        """The time at which ``count`` bytes reserved now have been sent."""
        with self.lock:
            start = max(now, self.next_free)
            self.next_free = start + count / self.rate
            return self.next_free


class Pacer:
    """Paces bodies through one connection's cap and the shared per-direction cap."""

    def __init__(self, model: NetworkModel) -> None:
        self.model = model
        aggregate = model.aggregate_bandwidth
        self._directions = {
            direction: _Schedule(aggregate) if aggregate else None for direction in ("down", "up")
        }

    def wait_first_byte(self, service: str) -> None:
        latency = self.model.glacier_latency if service == "glacier" else self.model.s3_latency
        if latency:
            time.sleep(latency)

    def _connection_rate(self, service: str) -> float | None:
        return self.model.glacier_bandwidth if service == "glacier" else self.model.s3_bandwidth

    def capped(self, service: str, direction: str) -> bool:
        return bool(self._connection_rate(service) or self._directions[direction])

    def pace(self, pieces: Iterable[bytes], service: str, direction: str) -> Iterator[bytes]:
        """Yield ``pieces`` (re-cut to 256 KiB) no faster than both caps allow."""
        wait = self._waiter(service, direction)
        for piece in pieces:
            for start in range(0, len(piece), _PIECE):
                part = piece[start : start + _PIECE]
                wait(len(part))
                yield part

    def _waiter(self, service: str, direction: str) -> Callable[[int], None]:
        rate = self._connection_rate(service)
        connection = _Schedule(rate) if rate else None
        shared = self._directions[direction]

        def wait(count: int) -> None:
            now = time.monotonic()
            done = max(
                connection.reserve(count, now) if connection else now,
                shared.reserve(count, now) if shared else now,
            )
            delay = done - time.monotonic()
            if delay > 0:
                time.sleep(delay)

        return wait


class PacedInput:
    """A request body (``wsgi.input``) received no faster than the caps allow.

    Reading slowly fills the socket's buffers, so the client's upload itself slows down
    (as over a real link) instead of finishing at once and then waiting for an answer.
    """

    def __init__(self, stream: Any, pacer: Pacer, service: str) -> None:
        self._stream = stream
        self._wait = pacer._waiter(service, "up")

    def read(self, size: int | None = -1) -> bytes:
        wanted = None if size is None or size < 0 else size
        pieces: list[bytes] = []
        while wanted is None or wanted > 0:
            piece = self._stream.read(_PIECE if wanted is None else min(_PIECE, wanted))
            if not piece:
                break
            self._wait(len(piece))
            pieces.append(piece)
            if wanted is not None:
                wanted -= len(piece)
        return b"".join(pieces)

    def readinto(self, target: Any) -> int:
        data = self.read(min(len(target), _PIECE))
        target[: len(data)] = data
        return len(data)

    def readline(self, *args: Any) -> bytes:
        return bytes(self._stream.readline(*args))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
