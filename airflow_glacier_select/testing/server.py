"""The endpoint's HTTP server: moto's app behind a WSGI layer of our own.

moto dispatches each request by the service in its signature, so Glacier, S3, and the
SNS and SQS that carry job notifications share one ``endpoint_url``. In front of it,
:class:`GlacierMiddleware`

* stamps the endpoint's account id on every request, which keeps each endpoint's
  state apart inside moto's process-wide backends;
* names the operation (botocore's name, through moto's router) to count requests and
  to apply armed faults, including ones that must cut or damage a body mid-flight;
* answers GetJobOutput itself, streaming the requested range straight from the
  archive's file with ``sendfile``: moto's normal path would build the whole body in
  memory, which is neither fast nor possible for multi-GiB archives;
* serves the test controls under ``/_glacier_local/`` so they also work against an
  endpoint running in another process.
"""

from __future__ import annotations

import io
import logging
import socket
import struct
import threading
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from typing import Any

from moto.core.request import Request
from moto.core.routing import ServiceOperationRouter, get_service_router
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import ThreadedWSGIServer

from airflow_glacier_select.testing.backend import backend_for, install
from airflow_glacier_select.testing.errors import ServiceError, error_response
from airflow_glacier_select.testing.faults import ERROR_FAULTS, Fault, ResetConnection, faulty_body
from airflow_glacier_select.testing.job_output import slice_output
from airflow_glacier_select.testing.network import PacedInput, Pacer
from airflow_glacier_select.testing.state import EndpointState
from airflow_glacier_select.testing.storage import StoredBody

__all__ = ["CONTROL_PREFIX", "EndpointServer", "GlacierMiddleware"]

CONTROL_PREFIX = "/_glacier_local/"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
StartResponse = Callable[..., Any]
_ABORT_KEY = "glacier_local.abort"
_routers: dict[str, ServiceOperationRouter] = {}


def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def credential_scope(environ: dict[str, Any]) -> tuple[str, str]:
    """(service, region) from a SigV4 Authorization header or presigned query, else (s3, us-east-1)."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    credential = ""
    if "Credential=" in auth:
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0]
    elif "X-Amz-Credential=" in environ.get("QUERY_STRING", ""):
        from urllib.parse import parse_qs

        credential = parse_qs(environ["QUERY_STRING"]).get("X-Amz-Credential", [""])[0]
    parts = credential.split("/")
    if len(parts) == 5:
        return parts[3].lower(), parts[2]
    return "s3", "us-east-1"


def operation_name(service: str, environ: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """botocore's operation name of a request and its URI parameters ("Unknown" when unmatched)."""
    router = _routers.get(service)
    if router is None:
        try:
            router = _routers[service] = get_service_router(service)
        except Exception:  # a service botocore does not know: count it, never fail on it
            return "Unknown", {}
    body = _rewindable_body(environ) if service in _BODY_ROUTED else None
    try:
        operation, params = router.match(Request(environ))
    except Exception:
        return "Unknown", {}
    finally:
        if body is not None:
            body.seek(0)  # moto reads the body again
    return operation.name, params


_BODY_ROUTED = ("sns", "sqs")
"""Services whose operation is named in the request body (query and JSON protocols), not the URI."""


def _rewindable_body(environ: dict[str, Any]) -> io.BytesIO:
    length = environ.get("CONTENT_LENGTH") or "0"
    body = io.BytesIO(environ["wsgi.input"].read(int(length)) if length.isdigit() else b"")
    environ["wsgi.input"] = body
    return body


def _file_chunks(body: StoredBody, offset: int, length: int) -> Iterator[bytes]:
    yield from body.chunks(offset, length, chunk_size=1024 * 1024)


def _sendfile(environ: dict[str, Any], body: StoredBody, offset: int, length: int) -> Iterator[bytes]:
    """Send headers, then the file range with zero copies; chunked reads where sendfile is unavailable."""
    connection = environ.get("werkzeug.socket")
    if connection is None or length == 0:
        yield from _file_chunks(body, offset, length)
        return
    yield b""  # makes the server write the status line and headers now
    with body.path.open("rb") as handle:
        connection.sendfile(handle, offset, length)


class _MotoApps:
    """moto's per-service apps, picked by the signature's service.

    moto's own dispatcher finds the app for every request by scanning its package
    directory on disk (several milliseconds); the services served here are known
    from the credential scope, so their apps are looked up directly.
    """

    def __init__(self) -> None:
        self.dispatcher = DomainDispatcherApplication(create_backend_app)
        self.apps: dict[str, WSGIApp] = {}
        self.lock = threading.Lock()

    def app_for(self, service: str) -> WSGIApp:
        if service not in ("glacier", "s3", "sns", "sqs"):
            return self.dispatcher
        with self.lock:
            app = self.apps.get(service)
            if app is None:
                app = self.apps[service] = create_backend_app(service)  # type: ignore[arg-type]
            return app


class GlacierMiddleware:
    """Everything in front of moto; ``state`` is swapped on reset, the server stays."""

    def __init__(self, state: EndpointState, controls: WSGIApp | None = None) -> None:
        self.state = state
        self.moto = _MotoApps()
        self.controls = controls

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX) and self.controls is not None:
            return self.controls(environ, start_response)
        state = self.state
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = state.account_id
        service, region = credential_scope(environ)
        if service == "s3" and state.pacer.capped("s3", "up") and environ.get("CONTENT_LENGTH"):
            # Before routing, which may read the body: the upload is paced as it arrives.
            environ["wsgi.input"] = PacedInput(environ["wsgi.input"], state.pacer, "s3")
        operation, params = operation_name(service, environ)
        state.count(operation)
        fault = state.faults.take(operation)
        if fault is not None and fault.kind in ERROR_FAULTS:
            status, headers, body = fault.error(service)
            start_response(_status_line(status), list(headers.items()))
            return [body]
        if service == "glacier" and operation == "GetJobOutput":
            return self._job_output(environ, start_response, state, region, params, fault)
        moto_app = self.moto.app_for(service)
        pacer = state.pacer
        if service == "s3" and pacer.model.active:
            return self._paced_s3(environ, start_response, moto_app, pacer, operation)
        if fault is None:
            return moto_app(environ, start_response)
        captured = _Captured(start_response)
        answer = moto_app(environ, captured)
        return self._abort_on_reset(environ, faulty_body(fault, answer, captured.content_length))

    def _job_output(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        state: EndpointState,
        region: str,
        params: dict[str, str],
        fault: Fault | None,
    ) -> Iterable[bytes]:
        try:
            output = backend_for(state.account_id, region).job_output(params["vaultName"], params["jobId"])
            sliced = slice_output(output, environ.get("HTTP_RANGE"))
        except ServiceError as error:
            status, headers, body = error_response(error)
            start_response(_status_line(status), list(headers.items()))
            return [body]
        state.log_job_output(params["jobId"], sliced.start, sliced.end - 1)
        pacer = state.pacer
        if pacer.model.active:
            pacer.wait_first_byte("glacier")
        start_response(_status_line(sliced.status), list(sliced.headers.items()))
        if fault is None and pacer.capped("glacier", "down"):
            chunks = _file_chunks(output.body, sliced.file_offset, sliced.length)
            return pacer.pace(chunks, "glacier", "down")
        if fault is None:
            return _sendfile(environ, output.body, sliced.file_offset, sliced.length)
        chunks = _file_chunks(output.body, sliced.file_offset, sliced.length)
        return self._abort_on_reset(environ, faulty_body(fault, chunks, sliced.length))

    @staticmethod
    def _paced_s3(
        environ: dict[str, Any],
        start_response: StartResponse,
        moto_app: WSGIApp,
        pacer: Pacer,
        operation: str,
    ) -> Iterable[bytes]:
        """S3 under the network model: first-byte latency, answer bodies paced (requests: see __call__)."""
        pacer.wait_first_byte("s3")
        answer = moto_app(environ, start_response)
        if operation == "GetObject" and pacer.capped("s3", "down"):
            return pacer.pace(answer, "s3", "down")
        return answer

    @staticmethod
    def _abort_on_reset(environ: dict[str, Any], body: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from body
        except ResetConnection:
            abort = environ.get(_ABORT_KEY)
            if abort is not None:
                abort()
            raise


class _Captured:
    """A start_response that records the headers it passes on, to learn a body's length."""

    def __init__(self, start_response: StartResponse) -> None:
        self.start_response = start_response
        self.content_length: int | None = None

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        for name, value in headers:
            if name.lower() == "content-length" and value.isdigit():
                self.content_length = int(value)
        return self.start_response(status, headers, exc_info)


class _RequestHandler(MotoRequestHandler):
    """moto's handler, quiet, and able to end a connection with a TCP reset."""

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes; with Nagle the body would wait for
        # the client's delayed ACK of the headers, adding milliseconds to every call.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ[_ABORT_KEY] = self._abort
        return environ

    def _abort(self) -> None:
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        server = self.server
        if isinstance(server, EndpointServer):
            server.reset_on_close.add(self.connection)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are counted, not logged: a benchmark makes tens of thousands."""


class EndpointServer(ThreadedWSGIServer):
    """A threaded WSGI server on a background thread, stoppable within a tenth of a second."""

    def __init__(self, host: str, port: int, app: WSGIApp) -> None:
        super().__init__(host, port, app, handler=_RequestHandler)
        self.reset_on_close: set[socket.socket] = set()
        self._thread: threading.Thread | None = None

    def shutdown_request(self, request: Any) -> None:
        if request in self.reset_on_close:
            self.reset_on_close.discard(request)
            self.close_request(request)  # no FIN first: with SO_LINGER 0 the close sends RST
            return
        super().shutdown_request(request)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)


def build_server(
    host: str, port: int, state: EndpointState, controls: WSGIApp | None
) -> tuple[EndpointServer, GlacierMiddleware]:
    install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    middleware = GlacierMiddleware(state, controls)
    return EndpointServer(host, port, middleware), middleware
