"""Shared steps of the transfer tests: archives, finished jobs, S3 object hashes, job descriptions."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from airflow_glacier_select.job_description import JobDescription
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.treehash import MIB, TreeHash

if TYPE_CHECKING:
    from tests.support.dag_runs import DagFolder

VAULT = "migrate"
VAULT_ARN = "arn:aws:glacier:us-east-1:123456789012:vaults/photos"
BUCKET = "landing"
_BLOCK = 8 * MIB


def write_archive(path: Path, size: int, seed: int = 0) -> tuple[str, str]:
    """A file of ``size`` deterministic pseudo-random bytes; its (SHA-256, tree hash), never all in memory."""
    rng = random.Random(seed)
    sha, tree = hashlib.sha256(), TreeHash()
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            block = rng.randbytes(min(_BLOCK, remaining))
            handle.write(block)
            sha.update(block)
            tree.update(block)
            remaining -= len(block)
    return sha.hexdigest(), tree.hexdigest()


def retrieval_job(endpoint: LocalGlacierEndpoint, archive: bytes | Path, description: str = "") -> str:
    """A succeeded archive-retrieval job for a newly stored archive."""
    archive_id = endpoint.put_archive(VAULT, archive, description)
    return finished_job(endpoint, {"Type": "archive-retrieval", "ArchiveId": archive_id})


def finished_job(endpoint: LocalGlacierEndpoint, parameters: dict[str, Any]) -> str:
    job_id = str(endpoint.client().initiate_job(vaultName=VAULT, jobParameters=parameters)["jobId"])
    endpoint.complete_job(VAULT, job_id)
    return job_id


def object_sha256(endpoint: LocalGlacierEndpoint, key: str, bucket: str = BUCKET) -> str:
    """SHA-256 of an S3 object, read in bounded pieces."""
    sha = hashlib.sha256()
    body = endpoint.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    for piece in body.iter_chunks(_BLOCK):
        sha.update(piece)
    return sha.hexdigest()


def keys(endpoint: LocalGlacierEndpoint, bucket: str = BUCKET) -> list[str]:
    listed = endpoint.client("s3").list_objects_v2(Bucket=bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


def dangling_uploads(endpoint: LocalGlacierEndpoint, bucket: str = BUCKET) -> list[dict[str, Any]]:
    return list(endpoint.client("s3").list_multipart_uploads(Bucket=bucket).get("Uploads", []))


SCORES_CSV = b'id,name,score\n1,ann,90\n2,bob,72\n3,"cy, jr",85\n'


def select_parameters(archive_id: str, expression: str, prefix: str = "select") -> dict[str, Any]:
    """jobParameters of a Select job over a CSV archive with a header row, writing to :data:`BUCKET`."""
    return {
        "Type": "select",
        "ArchiveId": archive_id,
        "Tier": "Expedited",
        "SelectParameters": {
            "InputSerialization": {"csv": {"FileHeaderInfo": "USE"}},
            "ExpressionType": "SQL",
            "Expression": expression,
            "OutputSerialization": {"csv": {}},
        },
        "OutputLocation": {"S3": {"BucketName": BUCKET, "Prefix": prefix}},
    }


def job_description(**members: object) -> JobDescription:
    """A succeeded job as DescribeJob would describe it, with ``members`` added or replaced."""
    response = {
        "JobId": "job-1",
        "VaultARN": VAULT_ARN,
        "StatusCode": "Succeeded",
        "Completed": True,
        **members,
    }
    return JobDescription.from_response(response)


def archive_job_description(size: int, **members: object) -> JobDescription:
    """A succeeded retrieval of the whole of a ``size``-byte archive."""
    return job_description(
        Action="ArchiveRetrieval",
        ArchiveId="archive-1",
        ArchiveSizeInBytes=size,
        RetrievalByteRange=f"0-{size - 1}",
        **members,
    )


def load_transfer_dag(folder: DagFolder, name: str, source: str, **values: Any) -> ModuleType:
    """Write ``source`` (formatted with VAULT, BUCKET and ``values``) as a DAG file and import it."""
    from tests.support.dag_runs import (  # Airflow: only for the tests that run DAGs
        DAG_HEADER,
        import_dag_file,
    )

    path = folder.path / f"{name}.py"
    path.write_text(DAG_HEADER + source.format(vault=VAULT, bucket=BUCKET, **values))
    return import_dag_file(path)
