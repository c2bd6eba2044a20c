"""Fault matrix, stages ``initiate`` and ``wait``: job operators under ``dag.test()`` against the endpoint.

Each test arms faults on InitiateJob or DescribeJob, runs a restore DAG once and checks the
outcome: the task succeeds on its first try with the archive's exact bytes behind the job,
or fails with the message asserted; and the vault holds exactly one job either way.
"""

from __future__ import annotations

from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from dag_runs import Code, DagFolder, airflow_db, dag_folder, run_dag, xcom_result

from airflow_glacier_select.testing import LocalGlacierEndpoint

from .faults import (
    DAMAGED,
    NO_BOTOCORE_RETRIES,
    TRANSIENT,
    VAULT,
    archive_bytes,
    armed_faults,
    cells,
    job_output,
    once,
    vault_jobs,
)

__all__ = ["airflow_db", "dag_folder"]

pytestmark = pytest.mark.slow

ARCHIVE = archive_bytes(1024 * 1024 + 17)


def _restore_dag(
    folder: DagFolder, dag_id: str, conn_id: str, archive_id: str, mode: str, **extra: Any
) -> Any:
    return folder.load(
        dag_id,
        "recording(GlacierArchiveRetrievalOperator)",
        task_id="restore",
        vault_name=VAULT,
        aws_conn_id=conn_id,
        archive_id=archive_id,
        description="reliability restore",
        deferrable=mode == "defer",
        poll_interval=0.02,
        max_wait=120,
        botocore_config=NO_BOTOCORE_RETRIES,
        **extra,
    )


def _restored(dag_run: Any, endpoint: LocalGlacierEndpoint) -> dict[str, Any]:
    """The checks of a restore that survived its faults: first try, one job, the exact bytes."""
    ti = dag_run.get_task_instance("restore")
    assert (str(ti.state), ti.try_number) == ("success", 1)
    result = xcom_result(dag_run, "restore")
    assert result["job"]["StatusCode"] == "Succeeded"
    assert [job["JobId"] for job in vault_jobs(endpoint)] == [result["job_id"]]
    assert job_output(endpoint, result["job_id"]) == ARCHIVE
    assert armed_faults(endpoint) == []
    return result


@pytest.fixture
def archive_id(glacier_endpoint: LocalGlacierEndpoint) -> str:
    glacier_endpoint.set_tier_delay("Standard", 0)
    archive = glacier_endpoint.put_archive(VAULT, ARCHIVE, "reliability.bin")
    glacier_endpoint.reset_counts()
    return archive


# A reset loses the answer to an InitiateJob Glacier accepted: the one job is found by token, so
# no second InitiateJob is sent to meet a second reset.
INITIATE_FAULTS = [*TRANSIENT[:3], ("reset", "reset", 1)]


@pytest.mark.parametrize(("fault", "kind", "count"), cells(INITIATE_FAULTS, "initiate"))
def test_initiate_job_rides_out_transient_faults_without_a_second_job(
    fault: str,
    kind: str,
    count: int,
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    archive_id: str,
) -> None:
    glacier_endpoint.inject_fault("InitiateJob", kind, count=count)
    dag_run = run_dag(_restore_dag(dag_folder, f"initiate_{kind}", glacier_connection, archive_id, "poll"))
    _restored(dag_run, glacier_endpoint)
    if kind == "reset":
        # Glacier accepted the first InitiateJob; only its answer was lost. The retry found the
        # job by its resume token instead of paying for another.
        assert glacier_endpoint.request_count("InitiateJob") == 1
    else:
        assert glacier_endpoint.request_count("InitiateJob") == count + 1


@pytest.mark.parametrize("mode", ["poll", "defer"])
@pytest.mark.parametrize(("fault", "kind", "count"), cells(TRANSIENT + DAMAGED, "wait"))
def test_wait_rides_out_transient_faults_and_damaged_answers(
    fault: str,
    kind: str,
    count: int,
    mode: str,
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    archive_id: str,
) -> None:
    glacier_endpoint.inject_fault("DescribeJob", kind, count=count)
    dag_run = run_dag(_restore_dag(dag_folder, f"wait_{kind}_{mode}", glacier_connection, archive_id, mode))
    _restored(dag_run, glacier_endpoint)
    assert glacier_endpoint.request_count("InitiateJob") == 1
    assert glacier_endpoint.request_count("DescribeJob") >= count + 1


@pytest.mark.fault_cell("job-failed", "wait")
@pytest.mark.parametrize("mode", ["poll", "defer"])
def test_failed_job_fails_the_task_once_with_its_status_message(
    mode: str,
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    archive_id: str,
) -> None:
    glacier_endpoint.set_tier_delay("Standard", 3600)
    reason = "Archive retrieval failed: the archive could not be read"
    dag = _restore_dag(dag_folder, f"failed_{mode}", glacier_connection, archive_id, mode, retries=2)

    def fail_the_job() -> None:
        [job] = vault_jobs(glacier_endpoint)
        glacier_endpoint.fail_job(VAULT, job["JobId"], reason)

    with once(lambda: glacier_endpoint.request_count("DescribeJob") >= 2, fail_the_job):
        dag_run = run_dag(dag)
    ti = dag_run.get_task_instance("restore")
    # Not retried: a new job with the same parameters would fail the same way, and cost again.
    assert (str(ti.state), ti.try_number) == ("failed", 1)
    [job] = vault_jobs(glacier_endpoint)
    assert (job["StatusCode"], job["StatusMessage"]) == ("Failed", reason)
    [failure] = dag.FAILURES
    assert isinstance(failure, AirflowFailException)
    assert str(failure) == f"Glacier job {job['JobId']} in vault {VAULT} failed: {reason}"


@pytest.mark.fault_cell("worker-death", "wait")
def test_worker_lost_while_waiting_is_retried_onto_the_same_job(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, archive_id: str
) -> None:
    """An in-process stand-in for a worker lost mid-wait: the first try fails after starting the job.

    (A worker killed outright right after InitiateJob is the ``initiate`` cell, in a real process.)
    """
    dag = dag_folder.load(
        "lost_while_waiting",
        "lost_while_waiting(GlacierArchiveRetrievalOperator)",
        task_id="restore",
        vault_name=VAULT,
        aws_conn_id=glacier_connection,
        archive_id=archive_id,
        poll_interval=0.02,
        deferrable=False,
        retries=1,
        retry_delay=Code("datetime.timedelta(0)"),
    )
    dag_run = run_dag(dag)
    ti = dag_run.get_task_instance("restore")
    assert (str(ti.state), ti.try_number) == ("success", 2)
    result = xcom_result(dag_run, "restore")
    assert [job["JobId"] for job in vault_jobs(glacier_endpoint)] == [result["job_id"]]
    assert glacier_endpoint.request_count("InitiateJob") == 1
    assert job_output(glacier_endpoint, result["job_id"]) == ARCHIVE
