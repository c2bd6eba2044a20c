"""GlacierJobSensor: real ``dag.test()`` runs against the local endpoint in every mode, and
the mapping of trigger events and deferral failures onto task outcomes.

A failed Glacier job must fail the task with Glacier's StatusMessage even with
``soft_fail=True``; only a timeout may become a skip. Airflow's sensor base class
would skip on both, in 3.0 and 3.3 alike, so both paths are pinned here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest
from airflow import __version__ as airflow_version
from dag_runs import DagFolder, airflow_db, dag_folder, import_dag_file, run_dag, task_state, xcom_result
from packaging.version import Version

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.sensors.glacier import (
    GlacierJobFailedError,
    GlacierJobSensor,
    GlacierJobWaitError,
)
from airflow_glacier_select.triggers.glacier import GlacierJobTrigger

__all__ = ["airflow_db", "dag_folder"]

VAULT = "sensor-vault"
AIRFLOW_VERSION = Version(airflow_version)

try:
    from airflow.sdk.exceptions import (
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferralError,
        TaskDeferralTimeout,
    )
except ImportError:  # Airflow 3.0
    from airflow.exceptions import (  # type: ignore[no-redef]
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
        TaskDeferralError,
        TaskDeferralTimeout,
    )

SENSOR_DAG = """\
from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_glacier_select.sensors.glacier import GlacierJobSensor

try:
    from airflow.sdk.exceptions import AirflowRescheduleException
except ImportError:  # Airflow 3.0
    from airflow.exceptions import AirflowRescheduleException

# Exceptions that ended the task (tasks run in the test's process). Recorded here because
# Airflow 3.0 gives failure callbacks no exception.
FAILURES: list[BaseException] = []


def recorded(call, *args):
    try:
        return call(*args)
    except AirflowRescheduleException:
        raise
    except Exception as error:
        FAILURES.append(error)
        raise


class RecordingSensor(GlacierJobSensor):
    def execute(self, context):
        return recorded(super().execute, context)

    def resume_execution(self, next_method, next_kwargs, context):
        return recorded(super().resume_execution, next_method, next_kwargs, context)


with DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
    RecordingSensor(task_id="wait", {arguments})
"""


def load_sensor_dag(folder: DagFolder, dag_id: str, **arguments: Any) -> ModuleType:
    """Write a one-sensor DAG file into the dags folder and import it as the scheduler would."""
    file = folder.path / f"{dag_id}.py"
    file.write_text(
        SENSOR_DAG.format(dag_id=dag_id, arguments=", ".join(f"{k}={v!r}" for k, v in arguments.items()))
    )
    return import_dag_file(file)


def new_job(endpoint: Any) -> str:
    """An inventory job that stays InProgress until the test ends it."""
    endpoint.set_tier_delay("Inventory", 3600)
    client = endpoint.client()
    client.create_vault(vaultName=VAULT)
    return str(client.initiate_job(vaultName=VAULT, jobParameters={"Type": "inventory-retrieval"})["jobId"])


@contextmanager
def job_ends_after(endpoint: Any, job_id: str, describes: int, failure: str | None = None) -> Iterator[None]:
    """End the job once the endpoint has answered ``describes`` DescribeJob calls, so the
    sensor provably sees it InProgress first (whatever the machine's speed)."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05):
            if endpoint.request_count("DescribeJob") >= describes:
                if failure is None:
                    endpoint.complete_job(VAULT, job_id)
                else:
                    endpoint.fail_job(VAULT, job_id, failure)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=10)


def sensor_arguments(conn_id: str, job_id: str, mode: str, **extra: Any) -> dict[str, Any]:
    waiting = {"deferrable": True} if mode == "deferrable" else {"mode": mode}
    return {
        "vault_name": VAULT,
        "job_id": job_id,
        "aws_conn_id": conn_id,
        "poke_interval": 0.1,
        "timeout": 600,
        **waiting,
        **extra,
    }


def stored_triggers() -> list[tuple[str, dict[str, Any]]]:
    """Triggers the deferrals of this session wrote to the metadata database (kwargs decrypted)."""
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [(t.classpath, dict(t.kwargs)) for t in session.scalars(select(Trigger))]


def reschedule_count(dag_run: Any, task_id: str) -> int:
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    ti_id = dag_run.get_task_instance(task_id).id
    with create_session() as session:
        return int(session.scalar(select(func.count()).where(TaskReschedule.ti_id == ti_id)) or 0)


# --- dag.test() runs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode",
    [
        "poke",
        pytest.param(
            "reschedule",
            marks=pytest.mark.skipif(
                Version("3.2") > AIRFLOW_VERSION,
                reason="dag.test() hands sensors their first reschedule date as a string before "
                "Airflow 3.2, so the base sensor crashes (apache/airflow#58777)",
            ),
        ),
        "deferrable",
    ],
)
def test_sensor_waits_for_the_job_and_returns_its_description(
    mode: str, dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    job_id = new_job(glacier_endpoint)
    dag = load_sensor_dag(dag_folder, f"sensor_{mode}", **sensor_arguments(glacier_connection, job_id, mode))

    with job_ends_after(glacier_endpoint, job_id, describes=2):
        dag_run = run_dag(dag)

    assert task_state(dag_run, "wait") == "success", dag.FAILURES
    description = xcom_result(dag_run, "wait")
    assert description["JobId"] == job_id
    assert description["StatusCode"] == "Succeeded"
    assert description["Action"] == "InventoryRetrieval"
    assert glacier_endpoint.request_count("DescribeJob") >= 3  # InProgress twice, then Succeeded
    if mode == "reschedule":
        assert reschedule_count(dag_run, "wait") >= 2
    if mode == "deferrable":
        [(classpath, kwargs)] = [t for t in stored_triggers() if t[1].get("job_id") == job_id]
        assert classpath == "airflow_glacier_select.triggers.glacier.GlacierJobTrigger"
        assert kwargs["aws_conn_id"] == glacier_connection
        assert kwargs["poll_interval"] == 0.1
        # The sensor's timeout became the trigger's deadline.
        assert time.time() < kwargs["deadline"] <= time.time() + 600


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_failed_job_fails_the_task_with_its_status_message_even_with_soft_fail(
    mode: str, dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    job_id = new_job(glacier_endpoint)
    dag = load_sensor_dag(
        dag_folder,
        f"sensor_failed_{mode}",
        **sensor_arguments(glacier_connection, job_id, mode, soft_fail=True, retries=2),
    )

    with job_ends_after(glacier_endpoint, job_id, describes=2, failure="Archive is corrupt at byte 42"):
        dag_run = run_dag(dag)

    assert task_state(dag_run, "wait") == "failed"
    [failure] = dag.FAILURES  # failed once, not retried: the job will not un-fail
    assert isinstance(failure, AirflowFailException)
    assert "Archive is corrupt at byte 42" in str(failure)
    assert job_id in str(failure)


def test_deferred_timeout_with_soft_fail_skips(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    job_id = new_job(glacier_endpoint)  # never ends
    dag = load_sensor_dag(
        dag_folder,
        "sensor_timeout",
        **sensor_arguments(glacier_connection, job_id, "deferrable", timeout=1, soft_fail=True),
    )

    dag_run = run_dag(dag)

    assert task_state(dag_run, "wait") == "skipped"
    [skip] = dag.FAILURES
    assert isinstance(skip, AirflowSkipException)
    assert isinstance(skip.__cause__, AirflowSensorTimeout)


# --- bad input, event mapping --------------------------------------------------------------------


def make_sensor(**overrides: Any) -> GlacierJobSensor:
    arguments: dict[str, Any] = {
        "task_id": "wait",
        "vault_name": VAULT,
        "job_id": "job-1",
        "aws_conn_id": None,
        **overrides,
    }
    return GlacierJobSensor(**arguments)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"vault_name": "bad vault/name"}, "vaultName"), ({"job_id": ""}, "jobId")],
)
def test_bad_rendered_values_fail_before_any_request(
    overrides: dict[str, Any], field: str, glacier_endpoint: Any, glacier_connection: str
) -> None:
    sensor = make_sensor(aws_conn_id=glacier_connection, **overrides)
    with pytest.raises(GlacierValidationError) as raised:
        sensor.poke({})  # type: ignore[arg-type]
    assert raised.value.field == field
    assert glacier_endpoint.request_count() == 0


def test_templated_fields_include_the_job_coordinates() -> None:
    assert {"vault_name", "job_id", "account_id", "aws_conn_id", "region_name"} <= set(
        GlacierJobSensor.template_fields
    )


def event(status: str, **job: Any) -> dict[str, Any]:
    return {
        "status": status,
        "vault_name": VAULT,
        "job_id": "job-1",
        "job": {"JobId": "job-1", **job} if job else None,
        "message": f"{status} message",
    }


def test_success_event_returns_the_job_description() -> None:
    description = make_sensor().execute_complete({}, event("success", StatusCode="Succeeded"))  # type: ignore[arg-type]
    assert description == {"JobId": "job-1", "StatusCode": "Succeeded"}


@pytest.mark.parametrize(
    ("payload", "error", "text"),
    [
        (
            event("failed", StatusCode="Failed", StatusMessage="Tier unavailable"),
            GlacierJobFailedError,
            "Tier unavailable",
        ),
        (event("error"), GlacierJobWaitError, "error message"),
        (event("timeout", StatusCode="InProgress"), AirflowSensorTimeout, "timeout message"),
        (None, GlacierJobWaitError, "no event"),
    ],
    ids=["failed", "error", "timeout", "no-event"],
)
def test_events_map_to_failures(payload: dict[str, Any] | None, error: type[Exception], text: str) -> None:
    with pytest.raises(error, match=text):
        make_sensor().execute_complete({}, payload)  # type: ignore[arg-type]


def resume(sensor: GlacierJobSensor, method: str, kwargs: dict[str, Any]) -> Any:
    return sensor.resume_execution(method, kwargs, {})  # type: ignore[arg-type]


@pytest.mark.parametrize("soft_fail", [False, True])
def test_resumed_failures_are_never_skipped(soft_fail: bool) -> None:
    sensor = make_sensor(soft_fail=soft_fail)
    failed = event("failed", StatusCode="Failed", StatusMessage="Archive is corrupt")

    with pytest.raises(AirflowFailException, match="Archive is corrupt"):
        resume(sensor, "execute_complete", {"event": failed})
    with pytest.raises(GlacierJobWaitError, match="error message"):
        resume(sensor, "execute_complete", {"event": event("error")})
    with pytest.raises(TaskDeferralError, match="trigger crashed"):  # a crashed trigger
        resume(sensor, "__fail__", {"error": "trigger crashed"})


def test_never_fail_skips_whatever_ended_the_wait() -> None:
    sensor = make_sensor(never_fail=True)
    failed = event("failed", StatusCode="Failed", StatusMessage="Archive is corrupt")

    for method, kwargs in [
        ("execute_complete", {"event": failed}),
        ("execute_complete", {"event": event("error")}),
        ("execute_complete", {"event": event("timeout")}),
        ("__fail__", {"error": "trigger crashed"}),
    ]:
        with pytest.raises(AirflowSkipException):
            resume(sensor, method, kwargs)


def test_resumed_timeouts_skip_only_with_soft_fail() -> None:
    timeout = event("timeout", StatusCode="InProgress")
    deferral_timeout = {"error": "Trigger timeout"}  # TriggerFailureReason.TRIGGER_TIMEOUT

    with pytest.raises(AirflowSensorTimeout):
        resume(make_sensor(), "execute_complete", {"event": timeout})
    with pytest.raises(AirflowSensorTimeout):
        resume(make_sensor(), "__fail__", deferral_timeout)
    with pytest.raises(AirflowSkipException):
        resume(make_sensor(soft_fail=True), "execute_complete", {"event": timeout})
    with pytest.raises(AirflowSkipException):
        resume(make_sensor(soft_fail=True), "__fail__", deferral_timeout)
    assert not issubclass(TaskDeferralTimeout, AirflowSkipException)


def test_deferral_hands_the_sensor_settings_to_the_trigger(
    glacier_endpoint: Any, glacier_connection: str
) -> None:
    job_id = new_job(glacier_endpoint)
    sensor = make_sensor(
        aws_conn_id=glacier_connection,
        job_id=job_id,
        region_name="us-east-1",
        verify=False,
        botocore_config={"read_timeout": 30},
        poke_interval=45,
        timeout=7200,
        deferrable=True,
    )
    from airflow.providers.common.compat.sdk import TaskDeferred

    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})  # type: ignore[arg-type]

    trigger = deferred.value.trigger
    assert isinstance(trigger, GlacierJobTrigger)
    _, kwargs = trigger.serialize()
    assert {k: v for k, v in kwargs.items() if k != "deadline"} == {
        "vault_name": VAULT,
        "job_id": job_id,
        "aws_conn_id": glacier_connection,
        "region_name": "us-east-1",
        "verify": False,
        "botocore_config": {"read_timeout": 30},
        "account_id": "-",
        "poll_interval": 45.0,
    }
    assert before + 7200 <= kwargs["deadline"] <= time.time() + 7200
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout is not None and deferred.value.timeout.total_seconds() > 7200
    assert glacier_endpoint.request_count("DescribeJob") == 1  # one look before deferring
