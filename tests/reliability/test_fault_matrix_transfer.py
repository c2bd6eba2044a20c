"""Fault matrix, stages ``download`` and ``upload``: GlacierJobOutputToS3Operator under ``dag.test()``.

A succeeded archive-retrieval job's 17 MiB output is copied to S3 in three 8 MiB chunks,
two at a time, with faults armed on GetJobOutput (download) or on the S3 multipart upload
(upload). The copy must land byte for byte on the first try, or fail with its message
checked and leave neither an object nor a multipart upload behind; the vault keeps its
one job throughout.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.common.compat.sdk import AirflowFailException
from botocore.config import Config

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer
from airflow_glacier_select.s3_copy.errors import GlacierTransferError
from airflow_glacier_select.s3_copy.ledger import LEDGER_ROOT
from airflow_glacier_select.s3_copy.retry import RetryPolicy
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.treehash import MIB
from tests.support.dag_runs import DagFolder, run_dag, xcom_result

from .crash import run_until_killed
from .dags import call, load_dag
from .faults import (
    BUCKET,
    DAMAGED,
    NO_BOTOCORE_RETRIES,
    STORM,
    TRANSIENT,
    VAULT,
    archive_bytes,
    armed_faults,
    cells,
    s3_leftovers,
    vault_jobs,
)

pytestmark = pytest.mark.slow

ARCHIVE = archive_bytes(2 * 8 * MIB + MIB + 4321, seed=17)
KEY = "restored/reliability.bin"


@pytest.fixture
def job_id(glacier_endpoint: LocalGlacierEndpoint) -> str:
    """A succeeded archive-retrieval job of :data:`ARCHIVE`, and an empty destination bucket."""
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    archive_id = glacier_endpoint.put_archive(VAULT, ARCHIVE, "reliability.bin")
    job = glacier_endpoint.client().initiate_job(
        vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )["jobId"]
    glacier_endpoint.complete_job(VAULT, job)
    glacier_endpoint.reset_counts()
    return str(job)


def copy_dag(folder: DagFolder, dag_id: str, conn_id: str, job_id: str, **extra: Any) -> Any:
    """A DAG copying the job's output to :data:`KEY` with tiny backoffs and botocore's retries off."""
    arguments = {
        "task_id": "copy",
        "vault_name": VAULT,
        "aws_conn_id": conn_id,
        "job_id": job_id,
        "bucket": BUCKET,
        "key": KEY,
        "chunk_size": 8 * MIB,
        "concurrency": 2,
        "max_attempts": STORM + 10,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.01,
        "botocore_config": NO_BOTOCORE_RETRIES,
        **extra,
    }
    return load_dag(folder, dag_id, [call("recording(GlacierJobOutputToS3Operator)", **arguments)])


def landed(dag_run: Any, endpoint: LocalGlacierEndpoint, job_id: str, try_number: int = 1) -> None:
    """The copy succeeded on ``try_number``: the exact bytes at KEY, verified, nothing else left over."""
    ti = dag_run.get_task_instance("copy")
    assert (str(ti.state), ti.try_number) == ("success", try_number)
    result = xcom_result(dag_run, "copy")
    assert (result["key"], result["size"], result["verified"]) == (KEY, len(ARCHIVE), True)
    body = endpoint.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(ARCHIVE).digest()
    assert s3_leftovers(endpoint) == ([KEY], [])
    assert [job["JobId"] for job in vault_jobs(endpoint)] == [job_id]
    assert armed_faults(endpoint) == []


def failed_cleanly(dag: Any, dag_run: Any, endpoint: LocalGlacierEndpoint, job_id: str) -> BaseException:
    """The copy failed: no object, no multipart upload, the one job untouched; the failure, returned."""
    assert str(dag_run.get_task_instance("copy").state) == "failed"
    assert s3_leftovers(endpoint) == ([], [])
    assert [job["JobId"] for job in vault_jobs(endpoint)] == [job_id]
    [failure] = dag.FAILURES
    return failure


@pytest.mark.parametrize(("fault", "kind", "count"), cells(TRANSIENT + DAMAGED, "download"))
def test_download_rides_out_transient_faults_and_damaged_bodies(
    fault: str,
    kind: str,
    count: int,
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    job_id: str,
) -> None:
    glacier_endpoint.inject_fault("GetJobOutput", kind, count=count, at=MIB // 2)
    dag_run = run_dag(copy_dag(dag_folder, f"download_{kind}", glacier_connection, job_id))
    landed(dag_run, glacier_endpoint, job_id)
    assert glacier_endpoint.request_count("GetJobOutput") == 3 + count


@pytest.mark.parametrize(("fault", "kind", "count"), cells(TRANSIENT, "upload"))
def test_upload_rides_out_transient_s3_faults(
    fault: str,
    kind: str,
    count: int,
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    job_id: str,
) -> None:
    glacier_endpoint.inject_fault("UploadPart", kind, count=count)
    dag_run = run_dag(copy_dag(dag_folder, f"upload_{kind}", glacier_connection, job_id))
    landed(dag_run, glacier_endpoint, job_id)
    assert glacier_endpoint.request_count("UploadPart") == 3 + count


@pytest.mark.fault_cell("job-failed", "download")
def test_failed_job_is_refused_before_anything_is_read_or_written(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    glacier_endpoint.set_tier_delay("Standard", 3600)
    archive_id = glacier_endpoint.put_archive(VAULT, ARCHIVE, "reliability.bin")
    job_id = glacier_endpoint.client().initiate_job(
        vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )["jobId"]
    glacier_endpoint.fail_job(VAULT, job_id, "Archive retrieval failed")
    dag = copy_dag(dag_folder, "download_failed_job", glacier_connection, job_id)
    failure = failed_cleanly(dag, run_dag(dag), glacier_endpoint, job_id)
    assert isinstance(failure, GlacierTransferError)
    assert str(failure) == f"job {job_id} in vault {VAULT} did not succeed (Failed): Archive retrieval failed"
    assert glacier_endpoint.request_count("GetJobOutput") == 0


@pytest.mark.fault_cell("output-expired", "download")
def test_expired_output_fails_without_retries_and_leaves_nothing(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, job_id: str
) -> None:
    glacier_endpoint.expire_job_output(VAULT, job_id)
    dag = copy_dag(dag_folder, "download_expired", glacier_connection, job_id, retries=2)
    dag_run = run_dag(dag)
    failure = failed_cleanly(dag, dag_run, glacier_endpoint, job_id)
    assert dag_run.get_task_instance("copy").try_number == 1  # a retry cannot bring the output back
    assert isinstance(failure, AirflowFailException)
    assert str(failure).startswith(f"The output of job {job_id} in vault {VAULT} has expired")


@pytest.mark.fault_cell("s3-multipart", "upload")
def test_s3_failing_mid_multipart_upload_aborts_it(
    glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, job_id: str
) -> None:
    """Every UploadPart fails: the transfer gives up after its attempts and aborts the upload.

    Run through the transfer itself rather than ``dag.test()``: Airflow 3.0's development log
    renderer prints the locals of a failed task's frames, and those hold 8 MiB chunk buffers
    (minutes of rendering, nothing to check).
    """
    glacier_endpoint.inject_fault("UploadPart", "http500", count=1000)
    transfer = GlacierToS3Transfer(
        GlacierJobsHook(aws_conn_id=glacier_connection, config=Config(**NO_BOTOCORE_RETRIES)),
        S3Hook(aws_conn_id=glacier_connection, config=Config(**NO_BOTOCORE_RETRIES)),
        chunk_size=8 * MIB,
        concurrency=2,
        retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01),
    )
    with pytest.raises(GlacierTransferError) as raised:
        transfer.copy_job_output(VAULT, job_id, BUCKET, KEY)
    message = r"UploadPart [12] failed after 3 attempt\(s\): ClientError: .*\(InternalError\)"
    assert re.match(message, str(raised.value)), str(raised.value)
    assert s3_leftovers(glacier_endpoint) == ([], [])
    assert [job["JobId"] for job in vault_jobs(glacier_endpoint)] == [job_id]
    assert glacier_endpoint.request_count("AbortMultipartUpload") == 1


@pytest.mark.fault_cell("s3-multipart", "upload")
def test_s3_failing_to_complete_the_multipart_upload_aborts_it(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, job_id: str
) -> None:
    glacier_endpoint.inject_fault("CompleteMultipartUpload", "http500", count=1000)
    dag = copy_dag(dag_folder, "upload_not_completed", glacier_connection, job_id, max_attempts=3)
    failure = failed_cleanly(dag, run_dag(dag), glacier_endpoint, job_id)
    assert isinstance(failure, GlacierTransferError)
    message = (
        rf"CompleteMultipartUpload s3://{BUCKET}/{KEY} failed after 3 attempt\(s\): ClientError: "
        r".*\(InternalError\)"
    )
    assert re.match(message, str(failure)), str(failure)
    assert glacier_endpoint.request_count("UploadPart") == 3
    assert glacier_endpoint.request_count("AbortMultipartUpload") == 1


_KILLED_COPY = """
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer

conn = {conn!r}
transfer = GlacierToS3Transfer(
    GlacierJobsHook(aws_conn_id=conn), S3Hook(aws_conn_id=conn), chunk_size={chunk_size}, concurrency=1
)
transfer.copy_job_output({vault!r}, {job_id!r}, {bucket!r}, {key!r})
"""


@pytest.mark.parametrize(
    "stage",
    [
        pytest.param("download", marks=pytest.mark.fault_cell("worker-death", "download")),
        pytest.param("upload", marks=pytest.mark.fault_cell("worker-death", "upload")),
    ],
)
def test_copy_killed_mid_transfer_is_retried_to_a_complete_object_and_no_stray_upload(
    stage: str,
    tmp_path: Path,
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    job_id: str,
) -> None:
    # download: killed holding the first chunk, downloaded and verified but not yet uploaded;
    # upload: killed right after the first part reached S3.
    target = {"download": "_Run._download", "upload": "_Run._copy_part"}[stage]
    program = _KILLED_COPY.format(
        conn=glacier_connection, chunk_size=8 * MIB, vault=VAULT, job_id=job_id, bucket=BUCKET, key=KEY
    )
    run_until_killed(f"airflow_glacier_select.s3_copy.engine:{target}", program, tmp_path)
    objects, uploads = s3_leftovers(glacier_endpoint)
    # The dead worker could not abort its upload; its ledger says what it verified.
    assert ([key for key in objects if not key.startswith(LEDGER_ROOT)], uploads) == ([], [KEY])
    glacier_endpoint.reset_counts()

    # The task is retried on another worker.
    dag_run = run_dag(copy_dag(dag_folder, f"copy_killed_{stage}", glacier_connection, job_id))
    landed(dag_run, glacier_endpoint, job_id)
    # The part uploaded and recorded before the kill is reused, not downloaded again.
    assert len(glacier_endpoint.job_output_ranges(job_id)) == {"download": 3, "upload": 2}[stage]
