"""The local Glacier endpoint as a separate process, as a real service would be.

Airflow's scheduler, triggerer and task processes all reach it over HTTP through the
``aws`` connection; the demo steers it (seeding, request counts) with
:class:`~airflow_glacier_select.testing.RemoteGlacierEndpoint`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from airflow_glacier_select.demo.processes import stop_process_group
from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint

__all__ = ["EndpointProcess"]

_READY = re.compile(r"Local Glacier endpoint ready at (?P<url>http://\S+)")


class EndpointProcess:
    """``python -m airflow_glacier_select.testing`` on a free loopback port, stopped on exit."""

    def __init__(self, storage_dir: Path, log_path: Path, tier_delays: Mapping[str, float]) -> None:
        self.storage_dir = storage_dir
        self.log_path = log_path
        self.tier_delays = dict(tier_delays)
        self.url = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 60) -> RemoteGlacierEndpoint:
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "airflow_glacier_select.testing",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ]
        command += ["--storage-dir", str(self.storage_dir)]
        for tier, seconds in self.tier_delays.items():
            command += ["--tier-delay", f"{tier}={seconds:g}"]
        self._process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=self.log_path.open("w"),
            text=True,
            start_new_session=True,
        )
        # The ready line is read on a thread, so a server that hangs before printing it
        # cannot hang the demo past ``timeout``.
        found: list[str] = []
        reader = threading.Thread(target=self._read_ready_line, args=(found,), daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            raise RuntimeError(
                f"the local Glacier endpoint did not start within {timeout:g}s; see {self.log_path}"
            )
        self.url = found[0]
        return RemoteGlacierEndpoint(self.url)

    def _read_ready_line(self, found: list[str]) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            match = _READY.search(line)
            if match:
                found.append(match["url"])
                return

    def stop(self) -> None:
        stop_process_group(self._process)

    def __enter__(self) -> RemoteGlacierEndpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
