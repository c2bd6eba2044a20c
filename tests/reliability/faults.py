"""Shared steps of the fault-matrix tests: the archive, the vault's jobs, S3 leftovers, job controls."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from airflow_glacier_select.testing import LocalGlacierEndpoint

VAULT = "reliability"
BUCKET = "reliability-landing"
STORM = 50
"""Consecutive throttling answers in a storm: far beyond botocore's own retries."""
FEW = 4
"""Consecutive 5xx answers or damaged bodies in the other transient cells."""
TRANSIENT = [
    ("throttle-storm", "throttle", STORM),
    ("http500", "http500", FEW),
    ("http503", "http503", FEW),
    ("reset", "reset", FEW),
]
"""(matrix fault, endpoint fault kind, consecutive count) of the faults a retry must ride out."""
DAMAGED = [("truncate", "truncate", FEW), ("corrupt", "corrupt", FEW)]
"""Answers that arrive, but cut short or with a byte flipped."""
NO_BOTOCORE_RETRIES = {"retries": {"mode": "standard", "total_max_attempts": 1}}
"""botocore's retries off: every recovery observed is the package's own capped backoff."""


def cells(rows: list[tuple[str, str, int]], stage: str) -> list[Any]:
    """``(fault, kind, count)`` rows as parameters marked with their matrix cell at ``stage``."""
    return [pytest.param(*row, marks=pytest.mark.fault_cell(row[0], stage), id=row[0]) for row in rows]


def archive_bytes(size: int, seed: int = 8) -> bytes:
    return random.Random(seed).randbytes(size)


def vault_jobs(endpoint: LocalGlacierEndpoint) -> list[dict[str, Any]]:
    return list(endpoint.client().list_jobs(vaultName=VAULT)["JobList"])


def job_output(endpoint: LocalGlacierEndpoint, job_id: str) -> bytes:
    return bytes(endpoint.client().get_job_output(vaultName=VAULT, jobId=job_id)["body"].read())


def s3_leftovers(endpoint: LocalGlacierEndpoint, bucket: str = BUCKET) -> tuple[list[str], list[str]]:
    """Object keys and in-progress multipart upload keys in ``bucket``."""
    s3 = endpoint.client("s3")
    objects = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    uploads = [item["Key"] for item in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]
    return objects, uploads


def armed_faults(endpoint: LocalGlacierEndpoint) -> list[Any]:
    """Faults not yet delivered: empty once the code under test has met every one of them."""
    return endpoint.controls.state.faults.armed()


@contextmanager
def once(condition: Callable[[], bool], action: Callable[[], None], timeout: float = 60.0) -> Iterator[None]:
    """Run ``action`` on a watcher thread as soon as ``condition`` holds (checked every 20 ms)."""
    stop = threading.Event()

    def watch() -> None:
        for _ in range(int(timeout / 0.02)):
            if stop.wait(0.02):
                return
            if condition():
                action()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=10)
