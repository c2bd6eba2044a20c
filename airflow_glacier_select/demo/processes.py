"""Small process helpers shared by the demo's endpoint and Airflow process groups."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from typing import Any

__all__ = ["free_port", "stop_process_group"]


def free_port() -> int:
    """A loopback port free right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process_group(process: subprocess.Popen[Any] | None) -> None:
    """SIGTERM the group ``process`` leads (started with ``start_new_session``), SIGKILL after 30 s."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
