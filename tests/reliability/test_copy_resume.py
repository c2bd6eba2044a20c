"""A copy killed mid-way and retried continues from its ledger; a ledger that cannot vouch is aborted.

A real process copies a five-chunk archive and dies (``os._exit``) right after a chosen
number of chunks were uploaded; a new transfer (another worker) then copies the same job
to the same key. The retry must land the exact bytes, download only the chunks the ledger
does not prove (GetJobOutput ranges as the endpoint served them), and leave neither a
multipart upload nor a ledger object behind. A ledger that disagrees with what S3 holds
gets its upload aborted, with the reason in the log, and the copy starts over cleanly.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.config import Config

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer
from airflow_glacier_select.s3_copy.ledger import LEDGER_ROOT, upload_record_key
from airflow_glacier_select.s3_copy.plan import TransferPlan
from airflow_glacier_select.s3_copy.retry import RetryPolicy
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.treehash import MIB

from .crash import run_until_killed
from .faults import BUCKET, NO_BOTOCORE_RETRIES, VAULT, archive_bytes, s3_leftovers

pytestmark = pytest.mark.slow

CHUNK = 8 * MIB
ARCHIVE = archive_bytes(4 * CHUNK + 3 * MIB + 17, seed=23)
PLAN = TransferPlan.build(len(ARCHIVE), CHUNK)
KEY = "restored/resumed.bin"
ENGINE_LOG = "airflow_glacier_select.s3_copy.engine"

_KILLED_COPY = """
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer

conn = {conn!r}
transfer = GlacierToS3Transfer(
    GlacierJobsHook(aws_conn_id=conn), S3Hook(aws_conn_id=conn), chunk_size={chunk}, concurrency={concurrency}
)
transfer.copy_job_output({vault!r}, {job_id!r}, {bucket!r}, {key!r})
"""


@pytest.fixture
def job_id(glacier_endpoint: LocalGlacierEndpoint) -> str:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    archive_id = glacier_endpoint.put_archive(VAULT, ARCHIVE, "resumed.bin")
    job = glacier_endpoint.client().initiate_job(
        vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )["jobId"]
    glacier_endpoint.complete_job(VAULT, job)
    return str(job)


def kill_mid_copy(tmp_path: Path, conn: str, job_id: str, parts: int, concurrency: int) -> None:
    """A worker copying the job dies right after its ``parts``-th part was uploaded and recorded."""
    program = _KILLED_COPY.format(
        conn=conn, chunk=CHUNK, concurrency=concurrency, vault=VAULT, job_id=job_id, bucket=BUCKET, key=KEY
    )
    run_until_killed(
        "airflow_glacier_select.s3_copy.engine:_Run._copy_part", program, tmp_path, after_calls=parts
    )


def retry_copy(conn: str, caplog: pytest.LogCaptureFixture, concurrency: int = 2) -> Any:
    transfer = GlacierToS3Transfer(
        GlacierJobsHook(aws_conn_id=conn, config=Config(**NO_BOTOCORE_RETRIES)),
        S3Hook(aws_conn_id=conn, config=Config(**NO_BOTOCORE_RETRIES)),
        chunk_size=CHUNK,
        concurrency=concurrency,
        retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01),
    )
    with caplog.at_level(logging.INFO, logger=ENGINE_LOG):
        return transfer.copy_job_output(VAULT, job_id_of(transfer, conn), BUCKET, KEY)


def job_id_of(transfer: GlacierToS3Transfer, conn: str) -> str:
    [job] = transfer.glacier_hook.get_conn().list_jobs(vaultName=VAULT)["JobList"]
    return str(job["JobId"])


def ledger_parts(endpoint: LocalGlacierEndpoint) -> dict[int, dict[str, Any]]:
    """The part records the dead worker left, by part number."""
    s3 = endpoint.client("s3")
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=LEDGER_ROOT).get("Contents", [])
    records = {}
    for item in listed:
        if "/part-" not in item["Key"]:
            continue  # the upload record, or the job's copy pointer
        record = json.loads(s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read())
        records[record["part_number"]] = record
    return records


def landed_exactly(endpoint: LocalGlacierEndpoint, result: Any) -> None:
    assert (result.size, result.verified, result.verification) == (len(ARCHIVE), True, "job-tree-hash")
    body = endpoint.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(ARCHIVE).digest()
    assert s3_leftovers(endpoint) == ([KEY], [])  # no multipart upload, no ledger object


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == ENGINE_LOG]


def test_copy_killed_at_60_percent_resumes_and_fetches_only_what_the_ledger_does_not_prove(
    tmp_path: Path,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    job_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kill_mid_copy(tmp_path, glacier_connection, job_id, parts=3, concurrency=2)
    recorded = ledger_parts(glacier_endpoint)
    assert len(recorded) >= 3  # the third part's record, and any the other thread finished first
    assert s3_leftovers(glacier_endpoint)[1] == [KEY]
    glacier_endpoint.reset_counts()

    result = retry_copy(glacier_connection, caplog)

    landed_exactly(glacier_endpoint, result)
    unproven = [(chunk.start, chunk.end) for chunk in PLAN.chunks if chunk.part_number not in recorded]
    assert sorted(glacier_endpoint.job_output_ranges(job_id)) == unproven
    refetched = sum(last + 1 - first for first, last in glacier_endpoint.job_output_ranges(job_id))
    # at most the unfinished chunks (two of five) plus the one in flight when the worker died
    assert refetched <= len(ARCHIVE) - 3 * CHUNK
    reused = sum(PLAN.chunks[number - 1].length for number in recorded)
    resumed = [line for line in messages(caplog) if line.startswith("Resuming multipart upload")]
    assert len(resumed) == 1
    assert (
        f"{len(recorded)} of 5 part(s) already uploaded and verified, {reused / MIB:.1f} MiB reused"
        in resumed[0]
    )
    assert glacier_endpoint.request_count("AbortMultipartUpload") == 0


def _replace_part_one(endpoint: LocalGlacierEndpoint, upload_id: str) -> None:
    endpoint.client("s3").upload_part(
        Bucket=BUCKET, Key=KEY, UploadId=upload_id, PartNumber=1, Body=b"\0" * CHUNK
    )


def _drop_upload_record(endpoint: LocalGlacierEndpoint, upload_id: str) -> None:
    endpoint.client("s3").delete_object(Bucket=BUCKET, Key=upload_record_key(KEY, upload_id))


def _record_other_job(endpoint: LocalGlacierEndpoint, upload_id: str) -> None:
    s3 = endpoint.client("s3")
    key = upload_record_key(KEY, upload_id)
    record = json.loads(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps({**record, "job_id": "another-job"}).encode())


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (_replace_part_one, 'part 1 in S3 (8388608 bytes, ETag "'),
        (_drop_upload_record, "it has no ledger (upload.json is missing)"),
        (_record_other_job, "its ledger describes another copy (job_id: 'another-job' != '"),
    ],
    ids=["part-etag-differs", "ledger-missing", "ledger-of-another-job"],
)
def test_an_upload_its_ledger_cannot_vouch_for_is_aborted_with_the_reason_and_the_copy_restarts(
    tamper: Any,
    reason: str,
    tmp_path: Path,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    job_id: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    kill_mid_copy(tmp_path, glacier_connection, job_id, parts=2, concurrency=1)
    [upload] = glacier_endpoint.client("s3").list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    tamper(glacier_endpoint, upload["UploadId"])
    glacier_endpoint.reset_counts()

    result = retry_copy(glacier_connection, caplog)

    landed_exactly(glacier_endpoint, result)
    aborted = [line for line in messages(caplog) if line.startswith("Aborting multipart upload")]
    assert len(aborted) == 1
    assert aborted[0].startswith(
        f"Aborting multipart upload {upload['UploadId']} of s3://{BUCKET}/{KEY} left by an earlier attempt: "
    )
    assert reason in aborted[0]
    assert glacier_endpoint.request_count("AbortMultipartUpload") == 1
    assert sorted(glacier_endpoint.job_output_ranges(job_id)) == [(c.start, c.end) for c in PLAN.chunks]
