"""Resumable initiation: however a task instance is re-run, it pays for at most one Glacier job.

The hard case is a worker that dies right after InitiateJob returned: nothing but the
job's Description (which carries the task instance's resume token) records that the job
exists. The retry must find it there. On Airflow 3.3+ a retry after a failure that came
later (once the job id was written to the task state store) reconnects without even
listing the vault's jobs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from airflow_glacier_select.compat import ResumableJobMixin
from airflow_glacier_select.resumable import TaskInstanceIdentity, with_token
from tests.support.dag_runs import RUN_ID, Code, DagFolder, import_dag_file, run_dag, task_state, xcom_result

pytestmark = pytest.mark.slow

VAULT = "restores"
DIES_AFTER_INITIATE = 75
STATE_STORE_AVAILABLE = ResumableJobMixin.__module__.startswith("airflow.sdk")
"""Airflow 3.3+: the SDK's mixin, backed by the task state store (older: the compat stand-in)."""

_CRASHING_RUN = textwrap.dedent(
    f"""
    import os
    import sys

    sys.path.insert(0, sys.argv[2])
    from tests.support.dag_runs import import_dag_file, run_dag

    from airflow_glacier_select.hooks.glacier import GlacierJobsHook

    initiate_job = GlacierJobsHook.initiate_job


    def initiate_job_then_die(self, vault_name, job):
        initiate_job(self, vault_name, job)
        os._exit({DIES_AFTER_INITIATE})  # the worker is gone before anything else learns of the job


    GlacierJobsHook.initiate_job = initiate_job_then_die
    run_dag(import_dag_file(__import__("pathlib").Path(sys.argv[1])))
    """
)


def _vault_jobs(endpoint: Any) -> list[dict[str, Any]]:
    return endpoint.client().list_jobs(vaultName=VAULT)["JobList"]


def test_worker_dying_right_after_initiate_job_does_not_start_a_second_job(
    tmp_path: Path, dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    glacier_endpoint.set_tier_delay("Standard", 3600)
    archive_id = glacier_endpoint.put_archive(VAULT, b"precious bytes", "precious")
    dag_file = dag_folder.write(
        "restore_crash",
        "GlacierArchiveRetrievalOperator",
        task_id="restore",
        vault_name=VAULT,
        aws_conn_id=glacier_connection,
        archive_id=archive_id,
        description="restore for audit",
        wait_for_completion=False,
        deferrable=False,
    )
    script = tmp_path / "crashing_run.py"
    script.write_text(_CRASHING_RUN)
    crashed = subprocess.run(
        [sys.executable, str(script), str(dag_file), str(Path(__file__).resolve().parents[1])],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=240,
        check=False,
    )
    assert crashed.returncode == DIES_AFTER_INITIATE, crashed.stderr[-3000:]
    [paid_for] = _vault_jobs(glacier_endpoint)
    assert paid_for["StatusCode"] == "InProgress"
    assert glacier_endpoint.request_count("InitiateJob") == 1

    # The same task instance runs again, in a new worker.
    dag_run = run_dag(import_dag_file(dag_file))
    assert dag_run.run_id == RUN_ID
    assert task_state(dag_run, "restore") == "success"
    result = xcom_result(dag_run, "restore")
    assert result["job_id"] == paid_for["JobId"]
    assert [job["JobId"] for job in _vault_jobs(glacier_endpoint)] == [paid_for["JobId"]]
    assert glacier_endpoint.request_count("InitiateJob") == 1
    token = TaskInstanceIdentity("restore_crash", "restore", RUN_ID, -1).token()
    assert paid_for["JobDescription"] == with_token("restore for audit", token)


def test_retry_after_a_failure_while_waiting_reconnects_to_the_job(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    glacier_endpoint.put_archive(VAULT, b"x" * 10, "x")
    dag = dag_folder.load(
        "inventory_retried",
        "lost_while_waiting(GlacierInventoryRetrievalOperator)",
        task_id="inventory",
        vault_name=VAULT,
        aws_conn_id=glacier_connection,
        poll_interval=0.1,
        deferrable=False,
        retries=1,
        retry_delay=Code("datetime.timedelta(0)"),
    )
    dag_run = run_dag(dag)
    listings, initiations = (
        glacier_endpoint.request_count("ListJobs"),
        glacier_endpoint.request_count("InitiateJob"),
    )
    ti = dag_run.get_task_instance("inventory")
    assert (str(ti.state), ti.try_number) == ("success", 2)
    result = xcom_result(dag_run, "inventory")
    assert result["job"]["StatusCode"] == "Succeeded"
    assert [job["JobId"] for job in _vault_jobs(glacier_endpoint)] == [result["job_id"]]
    assert initiations == 1
    # Airflow 3.3+: the second try read the job from the task state store and never listed
    # the vault's jobs; older Airflow found it by its resume token.
    assert listings == (1 if STATE_STORE_AVAILABLE else 2)


def _seed_job(endpoint: Any, archive_id: str, description: str) -> str:
    response = endpoint.client().initiate_job(
        vaultName=VAULT,
        jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id, "Description": description},
    )
    return str(response["jobId"])


def _restore_dag(dag_folder: DagFolder, conn: str, archive_id: str) -> Any:
    return dag_folder.load(
        "restore_seeded",
        "GlacierArchiveRetrievalOperator",
        task_id="restore",
        vault_name=VAULT,
        aws_conn_id=conn,
        archive_id=archive_id,
        poll_interval=0.1,
        deferrable=False,
    )


def test_finished_job_of_this_task_instance_is_reused_and_not_waited_for_again(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    glacier_endpoint.set_tier_delay("Standard", 3600)
    archive_id = glacier_endpoint.put_archive(VAULT, b"archive body", "a")
    own = TaskInstanceIdentity("restore_seeded", "restore", RUN_ID, -1).token()
    other_task = TaskInstanceIdentity("restore_seeded", "another_restore", RUN_ID, -1).token()
    failed = _seed_job(glacier_endpoint, archive_id, with_token("earlier", own))
    glacier_endpoint.fail_job(VAULT, failed, "seeded failure")
    _seed_job(glacier_endpoint, archive_id, with_token("earlier", other_task))
    succeeded = _seed_job(glacier_endpoint, archive_id, own)
    glacier_endpoint.complete_job(VAULT, succeeded)
    glacier_endpoint.reset_counts()

    dag_run = run_dag(_restore_dag(dag_folder, glacier_connection, archive_id))
    assert dag_run.run_id == RUN_ID
    assert task_state(dag_run, "restore") == "success"
    result = xcom_result(dag_run, "restore")
    assert result["job_id"] == succeeded
    assert result["job"]["StatusCode"] == "Succeeded"
    assert glacier_endpoint.request_count("InitiateJob") == 0
    assert glacier_endpoint.request_count("DescribeJob") == 0


def test_failed_job_of_this_task_instance_is_not_reused(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    archive_id = glacier_endpoint.put_archive(VAULT, b"archive body", "a")
    own = TaskInstanceIdentity("restore_seeded", "restore", RUN_ID, -1).token()
    glacier_endpoint.set_tier_delay("Standard", 3600)
    failed = _seed_job(glacier_endpoint, archive_id, own)
    glacier_endpoint.fail_job(VAULT, failed, "seeded failure")
    glacier_endpoint.set_tier_delay("Standard", 0)
    glacier_endpoint.reset_counts()

    dag_run = run_dag(_restore_dag(dag_folder, glacier_connection, archive_id))
    assert task_state(dag_run, "restore") == "success"
    result = xcom_result(dag_run, "restore")
    assert result["job_id"] != failed
    assert result["job"]["JobDescription"] == own
    assert glacier_endpoint.request_count("InitiateJob") == 1
    assert sorted(job["StatusCode"] for job in _vault_jobs(glacier_endpoint)) == ["Failed", "Succeeded"]
