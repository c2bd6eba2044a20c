"""The sensor's wait runs in a real triggerer process, not in the worker and not in-process.

``dag.test()`` runs triggers inline, so it cannot show that a deferred Glacier wait
survives the hand-off between processes: the trigger rebuilt from its serialised
kwargs inside ``airflow triggerer``, polling the endpoint on its own, then the task
resumed on a worker. Here ``airflow standalone`` (scheduler, triggerer, dag-processor,
API server) runs a DAG whose sensor defers on a Glacier job that the local endpoint
keeps InProgress for a while.
"""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from airflow_glacier_select.demo.standalone import AirflowProcesses

from .airflow_connection import glacier_connection_env

pytestmark = [pytest.mark.processes, pytest.mark.slow, pytest.mark.timeout(900)]

VAULT = "deferral-vault"
DAG_ID = "glacier_deferral_in_triggerer"

DAG_FILE = textwrap.dedent(
    f'''
    """Waits on one Glacier job with a deferred GlacierJobSensor."""
    from __future__ import annotations

    import datetime

    from airflow.sdk import DAG

    from airflow_glacier_select.sensors.glacier import GlacierJobSensor

    with DAG(
        "{DAG_ID}",
        schedule=None,
        start_date=datetime.datetime(2024, 1, 1),
        catchup=False,
        params={{"job_id": ""}},
    ):
        GlacierJobSensor(
            task_id="wait_for_job",
            vault_name="{VAULT}",
            job_id="{{{{ params.job_id }}}}",
            aws_conn_id="glacier_local",
            deferrable=True,
            poke_interval=2,
            timeout=600,
        )
    '''
)


def test_sensor_defers_to_the_triggerer_process(glacier_endpoint, tmp_path: Path) -> None:
    archive_id = glacier_endpoint.put_archive(VAULT, b"deferred wait " * 1000, description="deferral")
    glacier_endpoint.set_tier_delay("Standard", 3600)  # stays InProgress until the test completes it
    glacier = glacier_endpoint.client()
    job_id = glacier.initiate_job(
        vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )["jobId"]

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(DAG_FILE)

    with AirflowProcesses(tmp_path / "home", dags, glacier_connection_env(glacier_endpoint.url)) as airflow:
        airflow.start(timeout=300)
        airflow.wait_for_dags([DAG_ID], timeout=300)
        glacier_endpoint.reset_counts()
        airflow.trigger(DAG_ID, "deferred-run", conf={"job_id": job_id})

        # The sensor's first poke, then the trigger's polls: the job is being waited on.
        _wait_until(lambda: glacier_endpoint.request_count("DescribeJob") >= 3, timeout=300)
        glacier_endpoint.complete_job(VAULT, job_id)
        result = airflow.wait_for_run(DAG_ID, "deferred-run", timeout=300)
        waits_in_triggerer = airflow.waits_in_triggerer(DAG_ID, "deferred-run")

    assert result.state == "success", result.task_states
    assert waits_in_triggerer == 1
    # The triggerer writes what a trigger logs to "<attempt log>.trigger.<triggerer job id>.log":
    # the file exists only because a triggerer process ran our trigger.
    run_logs = tmp_path / "home" / "logs" / f"dag_id={DAG_ID}" / "run_id=deferred-run"
    trigger_log = next(run_logs.glob("task_id=wait_for_job/attempt=1.log.trigger.*.log")).read_text()
    assert f"Waiting for Glacier job {job_id}" in trigger_log
    assert "Trigger fired event" in trigger_log
    assert "'status': 'success'" in trigger_log


def _wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met after {timeout}s")
        time.sleep(1)
