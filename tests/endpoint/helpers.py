"""Shared steps of the endpoint contract tests."""

from __future__ import annotations

from typing import Any

from airflow_glacier_select.testing import LocalGlacierEndpoint

MIB = 1024 * 1024


def patterned(size: int) -> bytes:
    """Bytes whose every MiB differs, so a misplaced range cannot pass for the right one."""
    return b"".join(i.to_bytes(4, "big") * (MIB // 4) for i in range(-(-size // MIB)))[:size]


def start_job(endpoint: LocalGlacierEndpoint, vault: str, **params: Any) -> str:
    response = endpoint.client().initiate_job(vaultName=vault, jobParameters=params)
    return str(response["jobId"])


def finished_job(endpoint: LocalGlacierEndpoint, vault: str, **params: Any) -> str:
    """A job started through the API and completed with the test control."""
    job_id = start_job(endpoint, vault, **params)
    endpoint.complete_job(vault, job_id)
    return job_id
