"""Fault matrix, stages ``initiate`` and ``wait``: job operators under ``dag.test()`` against the endpoint.

Each test arms faults on InitiateJob or DescribeJob, runs a restore DAG once and checks the
outcome: the task succeeds on its first try with the archive's exact bytes behind the job,
or fails with the message asserted; and the vault holds exactly one job either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_glacier_select.operators.glacier import GlacierArchiveRetrievalOperator
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.triggers.glacier import GlacierJobTrigger
from tests.support.dag_runs import Code, DagFolder, import_dag_file, run_dag, xcom_result

from .crash import run_until_killed
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


@pytest.mark.fault_cell("worker-death", "initiate")
def test_worker_killed_right_after_initiate_job_is_retried_onto_the_same_job(
    tmp_path: Path,
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    archive_id: str,
) -> None:
    dag = _restore_dag(dag_folder, "killed_after_initiate", glacier_connection, archive_id, "poll")
    program = (
        "from pathlib import Path\nfrom tests.support.dag_runs import import_dag_file, run_dag\n"
        f"run_dag(import_dag_file(Path({dag.__file__!r})))\n"
    )
    run_until_killed("airflow_glacier_select.hooks.glacier:GlacierJobsHook.initiate_job", program, tmp_path)
    [paid_for] = vault_jobs(glacier_endpoint)

    # The same task instance runs again, on another worker.
    dag_run = run_dag(import_dag_file(Path(dag.__file__)))
    result = _restored(dag_run, glacier_endpoint)
    assert result["job_id"] == paid_for["JobId"]
    assert glacier_endpoint.request_count("InitiateJob") == 1


async def _collect(trigger: GlacierJobTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


@pytest.mark.fault_cell("triggerer-restart", "wait")
def test_trigger_rebuilt_from_its_serialised_kwargs_in_a_fresh_loop_finishes_the_wait(
    glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, archive_id: str
) -> None:
    glacier_endpoint.set_tier_delay("Standard", 3600)
    operator = GlacierArchiveRetrievalOperator(
        task_id="restore", vault_name=VAULT, archive_id=archive_id, aws_conn_id=glacier_connection
    )
    job_id = operator.hook.initiate_job(VAULT, operator.build_job("")).job_id
    trigger = GlacierJobTrigger(
        vault_name=VAULT,
        job_id=job_id,
        aws_conn_id=glacier_connection,
        botocore_config=NO_BOTOCORE_RETRIES,
        poll_interval=0.02,
        deadline=time.time() + 120,
    )
    classpath, kwargs = trigger.serialize()
    stored = json.loads(json.dumps(kwargs))  # what the triggerer keeps of it, in its database

    async def first_triggerer() -> list[dict[str, Any]]:
        """Polls until the job has been described twice, then its process is gone mid-wait."""
        waiting = asyncio.ensure_future(_collect(trigger))
        while await asyncio.to_thread(glacier_endpoint.request_count, "DescribeJob") < 2:
            await asyncio.sleep(0.01)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            return await waiting
        return []

    assert asyncio.run(first_triggerer()) == []  # no event fired before the restart

    module, _, name = classpath.rpartition(".")
    rebuilt = getattr(importlib.import_module(module), name)(**stored)
    with once(
        lambda: glacier_endpoint.request_count("DescribeJob") >= 4,
        lambda: glacier_endpoint.complete_job(VAULT, job_id),
    ):
        [event] = asyncio.run(asyncio.wait_for(_collect(rebuilt), timeout=60))
    assert (event["status"], event["job"]["StatusCode"]) == ("success", "Succeeded")
    result = operator.execute_complete({}, event)  # type: ignore[arg-type]
    assert (result["job_id"], result["job"]["JobId"]) == (job_id, job_id)
    assert [job["JobId"] for job in vault_jobs(glacier_endpoint)] == [job_id]
    assert job_output(glacier_endpoint, job_id) == ARCHIVE
