"""Completing a select job: run its SQL over the archive and write the results to S3.

Glacier Select writes everything under ``<Prefix>/<JobId>/`` of the job's
OutputLocation: ``job.txt`` (the job's parameters), ``results/<n>.csv`` and
``result_manifest.txt`` (one result object key per line) on success, or ``errors/<n>.txt``
and ``error_manifest.txt`` when the query fails, and the job then fails with the error
as its StatusMessage. Every object gets the location's storage class, encryption,
ACL (canned or grants), tags and user metadata, so a client's settings can be checked
through the ordinary S3 API of the same endpoint.

The objects are written straight into moto's S3 backend of the endpoint's account.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from moto.s3.models import FakeAcl, FakeGrant, FakeGrantee, get_canned_acl, s3_backends

from airflow_glacier_select.testing.backend import output_prefix
from airflow_glacier_select.testing.select_sql import SelectError, iter_select

if TYPE_CHECKING:
    from airflow_glacier_select.testing.backend import LocalGlacierBackend
    from airflow_glacier_select.testing.models import LocalJob

__all__ = ["run_select_job"]


def _grantee(grantee: Mapping[str, str]) -> FakeGrantee:
    if grantee["Type"] == "Group":
        return FakeGrantee(uri=grantee["URI"])
    if grantee["Type"] == "CanonicalUser":
        return FakeGrantee(grantee_id=grantee["ID"], display_name=grantee.get("DisplayName", ""))
    return FakeGrantee(display_name=grantee["EmailAddress"])


def _acl(s3: Mapping[str, Any]) -> FakeAcl | None:
    """The canned ACL or the explicit grants (the service accepts one or the other)."""
    if s3.get("CannedACL"):
        return get_canned_acl(s3["CannedACL"])
    grants = s3.get("AccessControlList") or []
    if not grants:
        return None
    return FakeAcl([FakeGrant([_grantee(grant["Grantee"])], [grant["Permission"]]) for grant in grants])


class _Writer:
    """Puts objects under the job's output path with the location's settings."""

    def __init__(self, account_id: str, location: Mapping[str, Any], job_id: str) -> None:
        self.s3 = location["S3"]
        self.backend = s3_backends[account_id]["aws"]
        self.bucket = self.s3["BucketName"]
        self.base = output_prefix(self.s3["Prefix"], job_id)

    def put(self, name: str, data: bytes) -> str:
        key_name = self.base + name
        encryption = self.s3.get("Encryption") or {}
        key = self.backend.put_object(
            self.bucket,
            key_name,
            data,
            storage=self.s3.get("StorageClass") or "STANDARD",
            encryption=encryption.get("EncryptionType"),
            kms_key_id=encryption.get("KMSKeyId"),
        )
        metadata = {
            f"x-amz-meta-{name.lower()}": value for name, value in (self.s3.get("UserMetadata") or {}).items()
        }
        if metadata:
            key.set_metadata(metadata)
        acl = _acl(self.s3)
        if acl is not None:
            key.set_acl(acl)
        if self.s3.get("Tagging"):
            self.backend.put_object_tagging(key, dict(self.s3["Tagging"]))
        return key_name


def _job_text(job: LocalJob) -> bytes:
    description = job.to_dict()
    keys = (
        "JobId",
        "VaultARN",
        "ArchiveId",
        "CreationDate",
        "Tier",
        "JobDescription",
        "SelectParameters",
        "OutputLocation",
    )
    return (json.dumps({key: description[key] for key in keys}, indent=2) + "\n").encode()


def write_job_placeholder(backend: LocalGlacierBackend, job: LocalJob) -> None:
    """``job.txt``, written when the job is accepted and never updated (Querying Archives with
    S3 Glacier Select: the placeholder validates the write permission synchronously)."""
    assert job.request.output_location is not None
    _Writer(backend.account_id, job.request.output_location, job.job_id).put("job.txt", _job_text(job))


def run_select_job(backend: LocalGlacierBackend, job: LocalJob) -> str | None:
    """Run the job's query and write its output; the failure message, or None on success."""
    request = job.request
    assert request.select_parameters is not None and request.output_location is not None
    assert job.archive is not None
    select = request.select_parameters
    writer = _Writer(backend.account_id, request.output_location, job.job_id)
    archive = job.archive
    try:
        rows = iter_select(
            archive.body.chunks(0, archive.size),
            select["Expression"],
            select["InputSerialization"],
            select["OutputSerialization"],
        )
        result = b"".join(rows)
    except SelectError as error:
        error_key = writer.put("errors/1.txt", f"{error.code}: {error.message}\n".encode())
        writer.put("error_manifest.txt", (error_key + "\n").encode())
        return f"{error.code}: {error.message}"
    result_key = writer.put("results/1.csv", result)
    writer.put("result_manifest.txt", (result_key + "\n").encode())
    return None
