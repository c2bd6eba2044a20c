"""How one task tells the next which Glacier job it means: one XCom key style for every task.

The job operators and the sensor push the same plain JSON dict, and every task that takes a
``job_id`` (the sensor, the S3 copy, the Select results check) also takes that dict, so
``retrieve.output`` can be handed on as it is::

    {"vault_name": ..., "job_id": ..., "job_type": "archive-retrieval" | "inventory-retrieval" | "select",
     "location": "/<account>/vaults/<vault>/jobs/<job id>",
     # select jobs only:
     "job_output_path": ..., "s3_output": {"bucket": ..., "prefix": ..., "job_prefix": ...},
     # once the job has been seen to end:
     "job": <DescribeJob with Glacier's own keys, JobDescription.to_dict()>}

Snake-case keys are this package's; the DescribeJob answer under ``job`` keeps Glacier's
keys (``JobId``, ``StatusCode`` ...) so it reads like the service documentation.
No Airflow import: this is the pure core.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_description import JobDescription
from airflow_glacier_select.output_location import job_output_prefix

__all__ = ["described_job_reference", "job_id_of", "job_location", "job_reference", "s3_output"]


def job_id_of(value: object, field: str = "job_id") -> str:
    """A job id, or the job operators' XCom dict (``retrieve.output``) that carries one.

    ``field`` is the name the error gives, so each caller can keep the name its users know.
    """
    if isinstance(value, Mapping):
        value = value.get("job_id")
    if not isinstance(value, str) or not value:
        raise GlacierValidationError(
            field, value, "must be a job id or a dict with a 'job_id' (a job operator's XCom value)"
        )
    return value


def job_location(account_id: str | None, vault_name: str, job_id: str) -> str:
    """The job's URI path, as InitiateJob's ``Location`` header gives it."""
    return f"/{account_id or '-'}/vaults/{vault_name}/jobs/{job_id}"


def s3_output(bucket: str, prefix: str, job_id: str) -> dict[str, str]:
    """Where a select job's result lands: its bucket, prefix and ``<prefix>/<job id>/``."""
    return {"bucket": bucket, "prefix": prefix, "job_prefix": job_output_prefix(prefix, job_id)}


def job_reference(
    *,
    vault_name: str,
    job_id: str,
    job_type: str | None,
    location: str | None,
    job_output_path: str | None = None,
    select_output: Mapping[str, str] | None = None,
    job: JobDescription | None = None,
) -> dict[str, Any]:
    """The XCom dict described in this module's docstring."""
    result: dict[str, Any] = {
        "vault_name": vault_name,
        "job_id": job_id,
        "job_type": job_type,
        "location": location,
    }
    if job_type == "select":
        result["job_output_path"] = job_output_path
        result["s3_output"] = None if select_output is None else dict(select_output)
    if job is not None:
        result["job"] = job.to_dict()
    return result


def described_job_reference(vault_name: str, job: JobDescription) -> dict[str, Any]:
    """The XCom dict of a job known only from DescribeJob (what a sensor sees)."""
    s3 = (job.output_location or {}).get("S3") or {}
    bucket, prefix = s3.get("BucketName"), s3.get("Prefix")
    return job_reference(
        vault_name=vault_name,
        job_id=job.job_id,
        job_type=job.job_type,
        location=job_location(job.account_id, vault_name, job.job_id),
        job_output_path=job.job_output_path,
        select_output=s3_output(bucket, prefix, job.job_id)
        if isinstance(bucket, str) and isinstance(prefix, str)
        else None,
        job=job,
    )
