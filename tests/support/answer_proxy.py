"""A small real HTTP proxy in front of the local endpoint: records who signed each request and
rewrites chosen Glacier answers.

Some behaviour can only be shown against a Glacier that answers differently from the local
endpoint: stock moto's DescribeJob reports ``ArchiveSizeInBytes: 0`` and no tree hashes, and
its GetJobOutput sends no ``x-amz-sha256-tree-hash``; AWS reports ``JobOutputPath`` in the
guide's key-prefix form. The proxy forwards every request unchanged over HTTP and changes
only the answers a test asks it to, so the clients under test stay real boto3 clients
talking HTTP. It also records each request's SigV4 credential scope (service and region),
which is how a test sees which region a client signed for.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

PROXY_CONN_ID = "glacier_proxy"

_DESCRIBE_JOB = re.compile(r"/[^/]+/vaults/[^/]+/jobs/[^/]+")
_GET_JOB_OUTPUT = re.compile(r"/[^/]+/vaults/[^/]+/jobs/[^/]+/output")
_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}


@dataclass(frozen=True)
class SignedRequest:
    service: str
    region: str
    method: str
    path: str


def _credential_scope(authorization: str) -> tuple[str, str]:
    """(service, region) from ``Credential=<key>/<date>/<region>/<service>/aws4_request``."""
    credential = (
        authorization.split("Credential=", 1)[1].split(",", 1)[0] if "Credential=" in authorization else ""
    )
    parts = credential.split("/")
    return (parts[3], parts[2]) if len(parts) == 5 else ("", "")


class AnswerProxy:
    """Forwards to ``target_url``; ``describe_job`` rewrites DescribeJob answers (a dict in, a dict
    out), ``drop_tree_hashes`` removes ``x-amz-sha256-tree-hash`` from GetJobOutput answers and
    ``drop_content_length`` sends their bodies without Content-Length, ended by closing the
    connection (as HTTP/1.1 allows)."""

    def __init__(
        self,
        target_url: str,
        *,
        describe_job: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        drop_tree_hashes: bool = False,
        drop_content_length: bool = False,
    ) -> None:
        target = urlsplit(target_url)
        self.target = (target.hostname or "127.0.0.1", target.port or 80)
        self.describe_job = describe_job
        self.drop_tree_hashes = drop_tree_hashes
        self.drop_content_length = drop_content_length
        self.requests: list[SignedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Relay)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, name="answer-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def regions(self, service: str) -> set[str]:
        """The regions requests to ``service`` were signed for."""
        with self._lock:
            return {request.region for request in self.requests if request.service == service}

    def record(self, request: SignedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> AnswerProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _relay(self) -> None:
        proxy: AnswerProxy = self.server.proxy  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        path = self.path.split("?", 1)[0]
        service, region = _credential_scope(self.headers.get("Authorization", ""))
        proxy.record(SignedRequest(service, region, self.command, path))
        upstream = http.client.HTTPConnection(*proxy.target, timeout=120)
        try:
            headers = {key: value for key, value in self.headers.items() if key.lower() != "connection"}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            answer_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP]
            declared_length = response.getheader("Content-Length", "0")
        finally:
            upstream.close()
        if service == "glacier" and self.command == "GET" and response.status == 200:
            if proxy.describe_job is not None and _DESCRIBE_JOB.fullmatch(path):
                data = json.dumps(proxy.describe_job(json.loads(data))).encode()
            if proxy.drop_tree_hashes and _GET_JOB_OUTPUT.fullmatch(path):
                answer_headers = [(k, v) for k, v in answer_headers if k.lower() != "x-amz-sha256-tree-hash"]
        if service == "glacier" and response.status == 206 and proxy.drop_tree_hashes:
            answer_headers = [(k, v) for k, v in answer_headers if k.lower() != "x-amz-sha256-tree-hash"]
        self.send_response_only(response.status, response.reason)
        for key, value in answer_headers:
            self.send_header(key, value)
        if proxy.drop_content_length and service == "glacier" and _GET_JOB_OUTPUT.fullmatch(path):
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", declared_length if self.command == "HEAD" else str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay
