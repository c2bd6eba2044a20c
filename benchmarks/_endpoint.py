"""A local Glacier endpoint in a process of its own, with jobs seeded through its backend.

Benchmarks measure the client process, so the endpoint must not share it: its CPU and
memory would count against ours. Seeding thousands of jobs through InitiateJob over
HTTP would take longer than the measurement, so the endpoint process creates them
directly in its backend (the same code path InitiateJob ends in, minus HTTP), one
archive-retrieval job per wait, all ``Bulk`` with a day-long tier delay so none finishes
while it is being measured.

    with seeded_endpoint(jobs=10_000) as (endpoint, vault, job_ids):
        ...  # endpoint is a RemoteGlacierEndpoint (url, client(), request_count(), ...)

Run directly (``python benchmarks/_endpoint.py --jobs N``) it prints one JSON line
``{"url", "vault", "job_ids"}`` and serves until stdin closes or SIGTERM arrives.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

VAULT = "benchmark-vault"
CONN_ID = "glacier_bench"
HOLD_SECONDS = 86_400.0


def _serve(jobs: int, vault: str, storage_dir: str | None) -> None:
    from airflow_glacier_select.testing.backend import backend_for
    from airflow_glacier_select.testing.endpoint import LocalGlacierEndpoint

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    delays = {"Bulk": HOLD_SECONDS, "Standard": HOLD_SECONDS, "Expedited": HOLD_SECONDS}
    with LocalGlacierEndpoint(tier_delays=delays, storage_dir=storage_dir) as endpoint:
        archive_id = endpoint.put_archive(vault, b"benchmark archive\n", "benchmark")
        backend = backend_for(endpoint.account_id, "us-east-1")
        parameters = {"Type": "archive-retrieval", "ArchiveId": archive_id, "Tier": "Bulk"}
        job_ids = [backend.start_job(vault, parameters).job_id for _ in range(jobs)]
        print(json.dumps({"url": endpoint.url, "vault": vault, "job_ids": job_ids}), flush=True)
        # Serve until the parent closes our stdin (it exited, even if killed) or sends SIGTERM.
        threading.Thread(target=_set_when_stdin_closes, args=(stop,), daemon=True).start()
        stop.wait()


def _set_when_stdin_closes(stop: threading.Event) -> None:
    sys.stdin.read()
    stop.set()


@contextlib.contextmanager
def seeded_endpoint(
    jobs: int = 0, vault: str = VAULT, storage_dir: str | Path | None = None
) -> Iterator[tuple[Any, str, list[str]]]:
    """Start the endpoint process with ``jobs`` InProgress jobs; stop it (and wait for it) on exit."""
    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint

    command = [sys.executable, __file__, "--jobs", str(jobs), "--vault", vault]
    if storage_dir is not None:
        command += ["--storage-dir", str(storage_dir)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the endpoint process exited with {process.wait(timeout=30)}")
        started = json.loads(line)
        yield RemoteGlacierEndpoint(started["url"]), started["vault"], started["job_ids"]
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)


@contextlib.contextmanager
def airflow_environment(url: str) -> Iterator[str]:
    """Environment for this process and its children: a throwaway AIRFLOW_HOME, fake AWS
    credentials, and the ``aws`` connection :data:`CONN_ID` pointing at the endpoint."""
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": url, "region_name": "us-east-1"},
    }
    saved = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="glacier-bench-airflow-") as home:
        os.environ.update(
            {
                "AIRFLOW_HOME": home,
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(connection),
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            }
        )
        try:
            yield home
        finally:
            os.environ.clear()
            os.environ.update(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=0)
    parser.add_argument("--vault", default=VAULT)
    parser.add_argument("--storage-dir", default=None)
    args = parser.parse_args()
    _serve(args.jobs, args.vault, args.storage_dir)


if __name__ == "__main__":
    main()
