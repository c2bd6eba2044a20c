"""Test controls of an endpoint, in-process and over HTTP under ``/_glacier_local/``.

Tests need to bend time and luck: finish or fail a job now, let its output expire,
change how long a tier takes, arm faults, seed archives of several GiB without
uploading them, and count requests. :class:`Controls` does these on the endpoint's
state; :func:`control_app` exposes the same calls as small JSON requests so an
endpoint started with ``python -m airflow_glacier_select.testing`` can be steered
from another process.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from airflow_glacier_select.testing.backend import (
    LocalGlacierBackend,
    backend_for,
    backends_of,
    forget_account,
)
from airflow_glacier_select.testing.errors import ServiceError
from airflow_glacier_select.testing.network import NetworkModel, Pacer
from airflow_glacier_select.testing.rules import check_description
from airflow_glacier_select.testing.server import CONTROL_PREFIX, GlacierMiddleware
from airflow_glacier_select.testing.state import EndpointState, check_delay, register, unregister
from airflow_glacier_select.testing.storage import Readable

__all__ = ["Controls", "control_app"]


class Controls:
    """The controls of the endpoint whose current state ``middleware`` holds."""

    def __init__(
        self, middleware: GlacierMiddleware, tier_delays: Mapping[str, float] | None, storage_dir: Path | None
    ) -> None:
        self.middleware = middleware
        self._tier_delays = dict(tier_delays or {})
        self._storage_dir = storage_dir

    @property
    def state(self) -> EndpointState:
        return self.middleware.state

    def _job_backend(self, vault_name: str, job_id: str) -> LocalGlacierBackend:
        for backend in backends_of(self.state.account_id):
            vault = backend.vaults.get(vault_name)
            if vault is not None and job_id in vault.jobs:
                return backend
        raise LookupError(f"no job {job_id!r} in a vault named {vault_name!r}")

    def set_tier_delay(self, tier: str, seconds: float) -> None:
        self.state.tier_delays[tier] = check_delay(tier, seconds)

    def set_expedited_capacity(self, available: bool) -> None:
        """Whether Expedited retrievals find capacity; without it InitiateJob answers
        InsufficientCapacityException (HTTP 503) for Expedited jobs only, as Glacier does."""
        if not isinstance(available, bool):
            raise ValueError(f"available: {available!r} must be true or false")
        self.state.expedited_capacity = available

    def complete_job(self, vault_name: str, job_id: str) -> None:
        self._job_backend(vault_name, job_id).complete_job_now(vault_name, job_id)

    def fail_job(self, vault_name: str, job_id: str, status_message: str) -> None:
        self._job_backend(vault_name, job_id).fail_job_now(vault_name, job_id, status_message)

    def expire_job_output(self, vault_name: str, job_id: str) -> None:
        self._job_backend(vault_name, job_id).expire_output(vault_name, job_id)

    def forget_job(self, vault_name: str, job_id: str) -> None:
        self._job_backend(vault_name, job_id).forget_job(vault_name, job_id)

    def inject_fault(self, operation: str, kind: str, count: int = 1, **options: Any) -> None:
        self.state.faults.add(operation, kind, count, **options)

    def set_network(self, model: NetworkModel) -> None:
        """Latency and bandwidth caps from now on (``NetworkModel()``: loopback speed)."""
        self.state.pacer = Pacer(model)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def put_archive(
        self, vault_name: str, body: bytes | Readable | Path, description: str = "", region: str = "us-east-1"
    ) -> str:
        check_description(description, "description")
        backend = backend_for(self.state.account_id, region)
        backend.create_vault(vault_name)
        store = self.state.store
        if isinstance(body, (bytes, bytearray, memoryview)):
            stored = store.write_bytes(bytes(body))
        elif isinstance(body, Path):
            stored = store.write_path(body)
        else:
            stored = store.write_stream(body)
        return backend.store_archive(vault_name, stored, description).archive_id

    def request_count(self, operation: str | None = None) -> int:
        with self.state.lock:
            return sum(self.state.counts.values()) if operation is None else self.state.counts[operation]

    def reset_counts(self) -> None:
        with self.state.lock:
            self.state.counts.clear()
            self.state.job_output_ranges.clear()

    def job_output_ranges(self, job_id: str | None = None) -> list[tuple[int, int]]:
        """(first, last) byte of every GetJobOutput body served (of ``job_id`` only, when given)."""
        with self.state.lock:
            return [
                (first, last) for job, first, last in self.state.job_output_ranges if job_id in (None, job)
            ]

    def reset(self) -> None:
        """Forget every vault, archive, job, bucket, fault, count and tier-delay change."""
        old = self.state
        fresh = EndpointState.create(self._storage_dir, self._tier_delays)
        register(fresh)
        self.middleware.state = fresh
        self.dispose(old)

    @staticmethod
    def dispose(state: EndpointState) -> None:
        with state.lock:
            forget_account(state.account_id)
            unregister(state.account_id)
            state.store.clear()


def _json_response(start_response: Callable[..., Any], status: str, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def control_app(controls: Controls) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """The WSGI app behind ``/_glacier_local/``: JSON in, JSON out, 400 with a message on bad calls."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        action = environ["PATH_INFO"][len(CONTROL_PREFIX) :].strip("/")
        query = {key: values[0] for key, values in parse_qs(environ.get("QUERY_STRING", "")).items()}
        stream = environ["wsgi.input"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            if method == "PUT" and action == "archive":
                archive_id = controls.put_archive(
                    query["vault_name"],
                    _LimitedReader(stream, length),
                    query.get("description", ""),
                    query.get("region", "us-east-1"),
                )
                return _json_response(start_response, "200 OK", {"archive_id": archive_id})
            args = json.loads(stream.read(length) or b"{}") if length else {}
            result = _dispatch(controls, method, action, args, query)
        except (ValueError, LookupError, KeyError, TypeError, ServiceError) as error:
            return _json_response(start_response, "400 Bad Request", {"error": str(error)})
        return _json_response(start_response, "200 OK", {"result": result})

    return app


def _dispatch(
    controls: Controls, method: str, action: str, args: dict[str, Any], query: dict[str, str]
) -> Any:
    calls: dict[tuple[str, str], Callable[[], Any]] = {
        ("GET", "health"): lambda: {"account_id": controls.state.account_id},
        ("POST", "tier-delay"): lambda: controls.set_tier_delay(args["tier"], float(args["seconds"])),
        ("POST", "expedited-capacity"): lambda: controls.set_expedited_capacity(args["available"]),
        ("POST", "complete-job"): lambda: controls.complete_job(args["vault_name"], args["job_id"]),
        ("POST", "fail-job"): lambda: controls.fail_job(
            args["vault_name"], args["job_id"], args["status_message"]
        ),
        ("POST", "forget-job"): lambda: controls.forget_job(args["vault_name"], args["job_id"]),
        ("POST", "expire-job-output"): lambda: controls.expire_job_output(args["vault_name"], args["job_id"]),
        ("POST", "faults"): lambda: controls.inject_fault(
            args["operation"], args["kind"], int(args.get("count", 1)), **args.get("options", {})
        ),
        ("DELETE", "faults"): controls.clear_faults,
        ("POST", "network"): lambda: controls.set_network(NetworkModel.from_dict(args)),
        ("GET", "network"): lambda: controls.state.network.to_dict(),
        ("GET", "requests"): lambda: controls.request_count(query.get("operation")),
        ("DELETE", "requests"): controls.reset_counts,
        ("GET", "job-output-ranges"): lambda: controls.job_output_ranges(query.get("job_id")),
        ("POST", "reset"): controls.reset,
    }
    call = calls.get((method, action))
    if call is None:
        raise LookupError(f"no control {method} {CONTROL_PREFIX}{action}")
    return call()


class _LimitedReader:
    """The request body as a file object that stops at Content-Length."""

    def __init__(self, stream: Readable, length: int) -> None:
        self.stream = stream
        self.remaining = length

    def read(self, size: int = -1) -> bytes:
        if self.remaining <= 0:
            return b""
        size = self.remaining if size < 0 else min(size, self.remaining)
        data = self.stream.read(size)
        self.remaining -= len(data)
        return data
