"""Answers lost or damaged on the way back, at the hook: never a second paid job, never a wrong description.

botocore's default retries are left on here on purpose: they are what would resend an
InitiateJob whose answer was lost, and what reads a cut-short DescribeJob as an empty one.
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from airflow_glacier_select.hooks.glacier import DamagedResponseError, GlacierJobsHook
from airflow_glacier_select.jobs import ArchiveRetrievalJob
from airflow_glacier_select.sensors.glacier import GlacierJobSensor
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.triggers.glacier import ErrorKind, classify_error

from .faults import VAULT, vault_jobs


@pytest.fixture
def hook(glacier_connection: str) -> GlacierJobsHook:
    return GlacierJobsHook(aws_conn_id=glacier_connection)


def test_initiate_job_whose_answer_is_lost_is_not_sent_again(
    hook: GlacierJobsHook, glacier_endpoint: LocalGlacierEndpoint
) -> None:
    archive_id = glacier_endpoint.put_archive(VAULT, b"paid for once", "once")
    glacier_endpoint.inject_fault("InitiateJob", "reset")
    with pytest.raises(botocore.exceptions.ConnectionClosedError) as raised:
        hook.initiate_job(VAULT, ArchiveRetrievalJob(archive_id=archive_id))
    assert classify_error(raised.value) is ErrorKind.TRANSIENT
    # Glacier accepted the job; botocore's retry would have paid for a second one.
    assert glacier_endpoint.request_count("InitiateJob") == 1
    assert len(vault_jobs(glacier_endpoint)) == 1


def test_initiate_job_refused_by_throttling_is_still_retried_by_botocore(
    hook: GlacierJobsHook, glacier_endpoint: LocalGlacierEndpoint
) -> None:
    archive_id = glacier_endpoint.put_archive(VAULT, b"refused, then accepted", "refused")
    glacier_endpoint.inject_fault("InitiateJob", "throttle")
    initiated = hook.initiate_job(VAULT, ArchiveRetrievalJob(archive_id=archive_id))
    assert glacier_endpoint.request_count("InitiateJob") == 2
    assert [job["JobId"] for job in vault_jobs(glacier_endpoint)] == [initiated.job_id]


@pytest.mark.parametrize("kind", ["truncate", "corrupt"])
def test_damaged_describe_job_answer_is_a_transient_error_not_a_description(
    kind: str, hook: GlacierJobsHook, glacier_endpoint: LocalGlacierEndpoint
) -> None:
    archive_id = glacier_endpoint.put_archive(VAULT, b"x", "x")
    job_id = hook.initiate_job(VAULT, ArchiveRetrievalJob(archive_id=archive_id)).job_id
    glacier_endpoint.inject_fault("DescribeJob", kind)
    with pytest.raises(DamagedResponseError, match=f"^DescribeJob answer for job {job_id} ") as raised:
        hook.get_job_description(VAULT, job_id)
    assert classify_error(raised.value) is ErrorKind.TRANSIENT
    assert hook.get_job_description(VAULT, job_id).job_id == job_id


def test_sensor_poke_reads_a_transient_failure_as_not_yet(
    glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    archive_id = glacier_endpoint.put_archive(VAULT, b"x", "x")
    job_id = glacier_endpoint.client().initiate_job(
        vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )["jobId"]
    glacier_endpoint.complete_job(VAULT, job_id)
    sensor = GlacierJobSensor(
        task_id="wait",
        vault_name=VAULT,
        job_id=job_id,
        aws_conn_id=glacier_connection,
        botocore_config={"retries": {"mode": "standard", "total_max_attempts": 1}},
    )
    glacier_endpoint.inject_fault("DescribeJob", "throttle")
    assert sensor.poke({}) is False  # type: ignore[arg-type]
    done = sensor.poke({})  # type: ignore[arg-type]
    assert done and done.xcom_value["job"]["StatusCode"] == "Succeeded"  # type: ignore[union-attr]
