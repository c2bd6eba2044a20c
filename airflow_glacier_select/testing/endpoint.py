"""A Glacier-compatible endpoint on loopback, in this process or another one.

:class:`LocalGlacierEndpoint` runs the server on a background thread of the current
process; :class:`RemoteGlacierEndpoint` steers one started with
``python -m airflow_glacier_select.testing`` (by a demo, or an Airflow triggerer test)
through the same methods, over HTTP. Both hand out real boto3 clients with fake
credentials pointed at the endpoint, for Glacier and for the S3 that receives Select
results.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO
from urllib.parse import urlencode

from airflow_glacier_select.testing.controls import Controls, control_app
from airflow_glacier_select.testing.network import NetworkModel
from airflow_glacier_select.testing.server import CONTROL_PREFIX, EndpointServer, build_server
from airflow_glacier_select.testing.state import EndpointState, register

__all__ = ["LocalGlacierEndpoint", "RemoteGlacierEndpoint", "local_glacier_endpoint"]

FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


_SESSION_LOCK = threading.Lock()
_SESSION: Any = None


def _boto3_session() -> Any:
    """One boto3 session per process: its loaded service models make each new client cheap."""
    global _SESSION
    import boto3

    if _SESSION is None:
        _SESSION = boto3.session.Session(**FAKE_CREDENTIALS, region_name="us-east-1")
    return _SESSION


class _EndpointClients:
    url: str

    def client(self, service: str = "glacier", *, region_name: str = "us-east-1", config: Any = None) -> Any:
        """A real boto3 client for ``service`` (``glacier`` or ``s3``) pointed at this endpoint."""
        from botocore.config import Config

        base = Config(s3={"addressing_style": "path"})
        with _SESSION_LOCK:
            return _boto3_session().client(
                service,
                endpoint_url=self.url,
                region_name=region_name,
                config=base.merge(config) if config is not None else base,
                **FAKE_CREDENTIALS,
            )


class LocalGlacierEndpoint(_EndpointClients):
    """The endpoint on a thread of this process; a context manager (``port=0`` picks a free port)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tier_delays: Mapping[str, float] | None = None,
        storage_dir: str | Path | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._tier_delays = dict(tier_delays or {})
        self._storage_dir = Path(storage_dir) if storage_dir is not None else None
        self._server: EndpointServer | None = None
        self._controls: Controls | None = None
        self.url = ""

    def start(self) -> LocalGlacierEndpoint:
        if self._server is not None:
            raise RuntimeError("the endpoint is already running")
        state = EndpointState.create(self._storage_dir, self._tier_delays)
        register(state)
        server, middleware = build_server(self.host, self.port, state, None)
        self._controls = Controls(middleware, self._tier_delays, self._storage_dir)
        middleware.controls = control_app(self._controls)
        self._server = server
        self.port = server.server_port
        self.url = f"http://{self.host}:{self.port}"
        server.start()
        return self

    def stop(self) -> None:
        if self._server is None or self._controls is None:
            return
        self._server.stop()
        Controls.dispose(self._controls.state)
        self._server = None

    def __enter__(self) -> LocalGlacierEndpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def controls(self) -> Controls:
        if self._controls is None:
            raise RuntimeError("the endpoint is not running; use it as a context manager or call start()")
        return self._controls

    @property
    def account_id(self) -> str:
        return self.controls.state.account_id

    # controls (each also reachable over HTTP, see RemoteGlacierEndpoint) ---------------

    def set_tier_delay(self, tier: str, seconds: float) -> None:
        self.controls.set_tier_delay(tier, seconds)

    def set_expedited_capacity(self, available: bool) -> None:
        self.controls.set_expedited_capacity(available)

    def complete_job(self, vault_name: str, job_id: str) -> None:
        self.controls.complete_job(vault_name, job_id)

    def fail_job(self, vault_name: str, job_id: str, status_message: str) -> None:
        self.controls.fail_job(vault_name, job_id, status_message)

    def expire_job_output(self, vault_name: str, job_id: str) -> None:
        self.controls.expire_job_output(vault_name, job_id)

    def forget_job(self, vault_name: str, job_id: str) -> None:
        """The job ID expires as a whole: DescribeJob, ListJobs and GetJobOutput no longer know it."""
        self.controls.forget_job(vault_name, job_id)

    def inject_fault(self, operation: str, kind: str, count: int = 1, **options: Any) -> None:
        self.controls.inject_fault(operation, kind, count, **options)

    def clear_faults(self) -> None:
        self.controls.clear_faults()

    def set_network(self, model: NetworkModel) -> None:
        """First-byte latency and bandwidth caps (:class:`NetworkModel`); ``NetworkModel()`` lifts them."""
        self.controls.set_network(model)

    def put_archive(
        self,
        vault_name: str,
        body: bytes | BinaryIO | Path,
        description: str = "",
        *,
        region: str = "us-east-1",
    ) -> str:
        """Store an archive without HTTP (creating the vault if needed); streams files and paths."""
        return self.controls.put_archive(vault_name, body, description, region)

    def request_count(self, operation: str | None = None) -> int:
        return self.controls.request_count(operation)

    def reset_counts(self) -> None:
        """Zero the request counts and forget the GetJobOutput ranges served."""
        self.controls.reset_counts()

    def job_output_ranges(self, job_id: str | None = None) -> list[tuple[int, int]]:
        """(first, last) byte of each GetJobOutput body served since the last reset, in order."""
        return self.controls.job_output_ranges(job_id)

    def reset(self) -> None:
        """Back to a fresh endpoint on the same URL: no vaults, buckets, faults or counts."""
        self.controls.reset()


@contextlib.contextmanager
def local_glacier_endpoint(**kwargs: Any) -> Iterator[LocalGlacierEndpoint]:
    with LocalGlacierEndpoint(**kwargs) as endpoint:
        yield endpoint


class RemoteGlacierEndpoint(_EndpointClients):
    """The controls of an endpoint in another process, by URL."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(
        self, method: str, action: str, payload: Any = None, query: Mapping[str, str] | None = None
    ) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        return self._send(method, action, data, query)

    def _send(
        self,
        method: str,
        action: str,
        data: Any,
        query: Mapping[str, str] | None = None,
        length: int | None = None,
    ) -> Any:
        url = f"{self.url}{CONTROL_PREFIX}{action}" + (f"?{urlencode(query)}" if query else "")
        request = urllib.request.Request(url, data=data, method=method)
        if length is not None:
            request.add_header("Content-Length", str(length))
        try:
            with urllib.request.urlopen(request, timeout=600) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise ValueError(json.loads(error.read()).get("error", str(error))) from None
        return answer.get("result", answer)

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "health"))

    def set_tier_delay(self, tier: str, seconds: float) -> None:
        self._call("POST", "tier-delay", {"tier": tier, "seconds": seconds})

    def set_expedited_capacity(self, available: bool) -> None:
        self._call("POST", "expedited-capacity", {"available": available})

    def complete_job(self, vault_name: str, job_id: str) -> None:
        self._call("POST", "complete-job", {"vault_name": vault_name, "job_id": job_id})

    def fail_job(self, vault_name: str, job_id: str, status_message: str) -> None:
        self._call(
            "POST", "fail-job", {"vault_name": vault_name, "job_id": job_id, "status_message": status_message}
        )

    def expire_job_output(self, vault_name: str, job_id: str) -> None:
        self._call("POST", "expire-job-output", {"vault_name": vault_name, "job_id": job_id})

    def forget_job(self, vault_name: str, job_id: str) -> None:
        self._call("POST", "forget-job", {"vault_name": vault_name, "job_id": job_id})

    def inject_fault(self, operation: str, kind: str, count: int = 1, **options: Any) -> None:
        self._call(
            "POST", "faults", {"operation": operation, "kind": kind, "count": count, "options": options}
        )

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def set_network(self, model: NetworkModel) -> None:
        self._call("POST", "network", model.to_dict())

    def network(self) -> NetworkModel:
        return NetworkModel.from_dict(self._call("GET", "network"))

    def put_archive(
        self,
        vault_name: str,
        body: bytes | BinaryIO | Path,
        description: str = "",
        *,
        region: str = "us-east-1",
    ) -> str:
        """Stream an archive to the endpoint's store (no Glacier upload protocol, no tree hash needed)."""
        query = {"vault_name": vault_name, "description": description, "region": region}
        if isinstance(body, Path):
            with body.open("rb") as handle:
                return str(self._send("PUT", "archive", handle, query, body.stat().st_size)["archive_id"])
        if isinstance(body, (bytes, bytearray)):
            return str(self._send("PUT", "archive", bytes(body), query)["archive_id"])
        data = body.read()
        return str(self._send("PUT", "archive", data, query)["archive_id"])

    def request_count(self, operation: str | None = None) -> int:
        return int(self._call("GET", "requests", query={"operation": operation} if operation else None))

    def reset_counts(self) -> None:
        self._call("DELETE", "requests")

    def job_output_ranges(self, job_id: str | None = None) -> list[tuple[int, int]]:
        answer = self._call("GET", "job-output-ranges", query={"job_id": job_id} if job_id else None)
        return [(int(first), int(last)) for first, last in answer]

    def reset(self) -> None:
        self._call("POST", "reset")
