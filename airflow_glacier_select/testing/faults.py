"""Planned faults: what the next N matching requests suffer instead of a clean answer.

Clients must survive throttling, 5xx answers, connections reset mid-download and
bodies that arrive short or damaged, and these are hard to provoke on purpose against
the real service. A test arms a fault for an operation (botocore's name, such as
``GetJobOutput``, ``DescribeJob`` or S3's ``UploadPart``; ``*`` for any) and the
server applies it to the next ``count`` matching requests:

* ``throttle``: Glacier's ``ThrottlingException`` (400), S3's ``SlowDown`` (503);
* ``http500`` / ``http503``: ``ServiceUnavailableException`` with that status;
* ``policy``: Glacier's ``PolicyEnforcedException`` (400), a data retrieval policy refusing the job;
* ``no-longer-supported``: Glacier's ``NoLongerSupportedException`` (400), the closed service;
* ``reset``: headers and part of the body, then a TCP reset;
* ``truncate``: headers promising the whole body, part of it, then a clean close;
* ``corrupt``: the whole body with one byte flipped, headers (and tree hash) unchanged.

Body faults cut or flip at byte ``at`` (default: the middle of the body). The request
itself is still executed for body faults, as when a response is lost on the way back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from airflow_glacier_select.testing.errors import ServiceError, error_response

__all__ = ["BODY_FAULTS", "ERROR_FAULTS", "Fault", "FaultPlan", "ResetConnection", "faulty_body"]

ERROR_FAULTS = ("throttle", "http500", "http503", "policy", "no-longer-supported")
_GLACIER_REFUSALS = {
    "policy": (
        "PolicyEnforcedException",
        "Retrieval would exceed the data retrieval policy's limit (injected)",
    ),
    "no-longer-supported": (
        "NoLongerSupportedException",
        "This API is no longer supported for new customers (injected)",
    ),
}
BODY_FAULTS = ("reset", "truncate", "corrupt")
_OPTIONS = {"after", "at", "message"}


class ResetConnection(ConnectionResetError):
    """Raised from a response body to make the server abort the connection with a TCP reset."""


@dataclass
class Fault:
    operation: str
    kind: str
    remaining: int
    options: dict[str, Any] = field(default_factory=dict)

    def error(self, service: str) -> tuple[int, dict[str, str], bytes]:
        """The answer of an error fault, in the service's own error format."""
        message = str(self.options.get("message") or f"Injected {self.kind} fault for {self.operation}")
        if service == "s3":
            code, status = {
                "throttle": ("SlowDown", 503),
                "http503": ("ServiceUnavailable", 503),
            }.get(self.kind, ("InternalError", 500))
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{code}</Code><Message>{message}</Message>"
                "<RequestId>injected-fault</RequestId></Error>"
            ).encode()
            return status, {"Content-Type": "application/xml", "Content-Length": str(len(body))}, body
        if self.kind in _GLACIER_REFUSALS:
            code, default = _GLACIER_REFUSALS[self.kind]
            return error_response(ServiceError(code, str(self.options.get("message") or default)))
        if self.kind == "throttle":
            return error_response(ServiceError("ThrottlingException", message, 400))
        status = 500 if self.kind == "http500" else 503
        return error_response(ServiceError("ServiceUnavailableException", message, status))


class FaultPlan:
    """Armed faults of one endpoint, consumed in the order they were armed."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, operation: str, kind: str, count: int = 1, **options: Any) -> None:
        if kind not in ERROR_FAULTS + BODY_FAULTS:
            raise ValueError(f"kind: {kind!r} is not one of {', '.join(ERROR_FAULTS + BODY_FAULTS)}")
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"count: {count!r} must be a positive integer")
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(f"options: {sorted(unknown)} are not supported; use {sorted(_OPTIONS)}")
        at = options.get("at")
        if at is not None and (not isinstance(at, int) or at < 0):
            raise ValueError(f"at: {at!r} must be a non-negative byte offset")
        after = options.get("after", 0)
        if not isinstance(after, int) or after < 0:
            raise ValueError(f"after: {after!r} must be a non-negative number of requests")
        if not operation:
            raise ValueError("operation: must be an operation name or '*'")
        with self._lock:
            self._faults.append(Fault(operation, kind, count, dict(options)))

    def take(self, operation: str) -> Fault | None:
        """The fault the next ``operation`` request suffers, if any (one use of it is spent)."""
        with self._lock:
            for fault in self._faults:
                if fault.operation in (operation, "*"):
                    if fault.options.get("after", 0) > 0:  # let this request through untouched
                        fault.options["after"] -= 1
                        return None
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def armed(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)


def faulty_body(fault: Fault, chunks: Iterable[bytes], length: int | None) -> Iterator[bytes]:
    """The response body as a body fault delivers it."""
    at = fault.options.get("at")
    cut = at if at is not None else (length or 0) // 2
    sent = 0
    for chunk in chunks:
        if fault.kind == "corrupt":
            if sent <= cut < sent + len(chunk):
                damaged = bytearray(chunk)
                damaged[cut - sent] ^= 0xFF
                chunk = bytes(damaged)
            sent += len(chunk)
            yield chunk
            continue
        if sent + len(chunk) >= cut:
            if cut > sent:
                yield chunk[: cut - sent]
            break
        sent += len(chunk)
        yield chunk
    if fault.kind == "reset":
        raise ResetConnection("injected connection reset")
