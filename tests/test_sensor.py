"""GlacierJobSensor: real ``dag.test()`` runs against the local endpoint in every mode, and
the mapping of trigger events and deferral failures onto task outcomes.

Where users meet the amazon provider's conventions, the sensor follows them: it reschedules
by default (as ``GlacierJobOperationSensor`` does), takes ``waiter_delay`` /
``waiter_max_attempts``, and takes a job operator's XCom dict as ``job_id``.

A failed Glacier job must fail the task with Glacier's StatusMessage even with
``soft_fail=True``; only a timeout may become a skip. Airflow's sensor base class
would skip on both, in 3.0 and 3.3 alike, so both paths are pinned here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from types import ModuleType
from typing import Any

import pytest
from airflow import __version__ as airflow_version
from airflow.providers.common.compat.sdk import PokeReturnValue
from packaging.version import Version

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_reference import described_job_reference
from airflow_glacier_select.jobs import JobDescription
from airflow_glacier_select.sensors.glacier import (
    GlacierJobFailedError,
    GlacierJobSensor,
    GlacierJobWaitError,
)
from airflow_glacier_select.triggers.glacier import GlacierJobTrigger
from tests.support.dag_runs import DagFolder, import_dag_file, run_dag, task_state, xcom_result
from tests.support.waiter_cases import Refused, assert_refused, mapped_cases, refused_cases

try:
    from airflow.sdk.exceptions import AirflowException
except ImportError:  # Airflow 3.0
    from airflow.exceptions import AirflowException  # type: ignore[no-redef]

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
def job_ends_after(
    endpoint: Any, job_id: str | None, describes: int, failure: str | None = None
) -> Iterator[None]:
    """End the job (``None``: every job in the vault) once the endpoint has answered ``describes``
    DescribeJob calls, so the sensor provably sees it InProgress first (whatever the machine's speed)."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.05):
            if endpoint.request_count("DescribeJob") >= describes:
                jobs = endpoint.client().list_jobs(vaultName=VAULT)["JobList"]
                for ending in [job_id] if job_id is not None else [job["JobId"] for job in jobs]:
                    if failure is None:
                        endpoint.complete_job(VAULT, ending)
                    else:
                        endpoint.fail_job(VAULT, ending, failure)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=10)


def sensor_arguments(conn_id: str, job_id: str, mode: str, **extra: Any) -> dict[str, Any]:
    """``mode`` "default" leaves both ``mode`` and ``deferrable`` to the sensor's defaults."""
    waiting = {"deferrable": True} if mode == "deferrable" else {"mode": mode} if mode != "default" else {}
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


RESCHEDULE_IN_DAG_TEST = pytest.mark.skipif(
    Version("3.2") > AIRFLOW_VERSION,
    reason="dag.test() hands sensors their first reschedule date as a string before "
    "Airflow 3.2, so the base sensor crashes (apache/airflow#58777)",
)


@pytest.mark.parametrize(
    "mode",
    [
        "poke",
        pytest.param("reschedule", marks=RESCHEDULE_IN_DAG_TEST),
        pytest.param("default", marks=RESCHEDULE_IN_DAG_TEST),
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
    result = xcom_result(dag_run, "wait")
    assert set(result) == {"vault_name", "job_id", "job_type", "location", "job"}
    assert (result["vault_name"], result["job_id"], result["job_type"]) == (
        VAULT,
        job_id,
        "inventory-retrieval",
    )
    assert result["location"] == f"/{glacier_endpoint.account_id}/vaults/{VAULT}/jobs/{job_id}"
    description = result["job"]
    assert description["JobId"] == job_id
    assert description["StatusCode"] == "Succeeded"
    assert description["Action"] == "InventoryRetrieval"
    assert glacier_endpoint.request_count("DescribeJob") >= 3  # InProgress twice, then Succeeded
    if mode in ("reschedule", "default"):  # the default frees the worker slot between checks
        assert reschedule_count(dag_run, "wait") >= 2
    else:
        assert reschedule_count(dag_run, "wait") == 0
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


CHAINED_DAG = """\
from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_glacier_select.operators.glacier import GlacierInventoryRetrievalOperator
from airflow_glacier_select.sensors.glacier import GlacierJobSensor

with DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
    start = GlacierInventoryRetrievalOperator(
        task_id="start", vault_name={vault!r}, aws_conn_id={conn!r},
        wait_for_completion=False, deferrable=False,
    )
    GlacierJobSensor(
        task_id="wait", vault_name={vault!r}, job_id=start.output, aws_conn_id={conn!r}, {waiting}
    )
"""


@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_sensor_takes_a_job_operators_xcom_dict_and_pushes_the_same_keys(
    mode: str, dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    glacier_endpoint.set_tier_delay("Inventory", 3600)
    glacier_endpoint.client().create_vault(vaultName=VAULT)
    waiting = "deferrable=True" if mode == "deferrable" else "mode='poke'"
    file = dag_folder.path / f"chained_{mode}.py"
    file.write_text(
        CHAINED_DAG.format(
            dag_id=f"chained_{mode}",
            vault=VAULT,
            conn=glacier_connection,
            waiting=f"{waiting}, poke_interval=0.1, timeout=600",
        )
    )
    dag = import_dag_file(file)

    with job_ends_after(glacier_endpoint, None, describes=2):
        dag_run = run_dag(dag)

    assert task_state(dag_run, "wait") == "success"
    started, waited = xcom_result(dag_run, "start"), xcom_result(dag_run, "wait")
    # One key style: the sensor pushes the operator's keys, plus the final description.
    assert {key: value for key, value in waited.items() if key != "job"} == started
    assert waited["job"]["JobId"] == started["job_id"]
    assert waited["job"]["StatusCode"] == "Succeeded"
    assert glacier_endpoint.request_count("InitiateJob") == 1


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
    [
        ({"vault_name": "bad vault/name"}, "vaultName"),
        ({"job_id": ""}, "jobId"),
        ({"job_id": {"vault_name": VAULT}}, "jobId"),  # an XCom dict without a job id
        ({"job_id": {"job_id": 7}}, "jobId"),
    ],
)
def test_bad_rendered_values_fail_before_any_request(
    overrides: dict[str, Any], field: str, glacier_endpoint: Any, glacier_connection: str
) -> None:
    sensor = make_sensor(aws_conn_id=glacier_connection, **overrides)
    with pytest.raises(GlacierValidationError) as raised:
        sensor.poke({})  # type: ignore[arg-type]
    assert raised.value.field == field
    assert glacier_endpoint.request_count() == 0


def test_reschedules_by_default_like_the_amazon_glacier_sensor() -> None:
    from airflow.providers.amazon.aws.sensors.glacier import GlacierJobOperationSensor

    amazon = GlacierJobOperationSensor(task_id="amazon", vault_name=VAULT, job_id="job-1")
    assert make_sensor().mode == amazon.mode == "reschedule"
    assert make_sensor().reschedule is True
    # Deferred, the wait runs in the triggerer; the mode plays no part, so it stays Airflow's default.
    assert make_sensor(deferrable=True).mode == "poke"
    assert make_sensor(mode="poke").mode == "poke"
    assert make_sensor(mode="reschedule", deferrable=True).mode == "reschedule"


def test_xcom_dict_job_id_is_read_for_its_job_id(glacier_endpoint: Any, glacier_connection: str) -> None:
    job_id = new_job(glacier_endpoint)
    glacier_endpoint.complete_job(VAULT, job_id)
    reference = {"vault_name": VAULT, "job_id": job_id, "job_type": "inventory-retrieval", "location": "/-/x"}
    done = make_sensor(aws_conn_id=glacier_connection, job_id=reference).poke({})  # type: ignore[arg-type]
    assert isinstance(done, PokeReturnValue) and done.is_done
    assert done.xcom_value["job_id"] == job_id
    assert done.xcom_value["job"]["StatusCode"] == "Succeeded"
    assert glacier_endpoint.request_count("DescribeJob") == 1


@pytest.mark.parametrize(
    ("arguments", "poke_interval", "timeout"),
    [
        # Without waiter_max_attempts, Airflow's own default timeout stays.
        *mapped_cases("poke_interval", "timeout", default_total=7 * 24 * 60 * 60.0),
        ({"poke_interval": timedelta(seconds=15), "timeout": timedelta(minutes=1)}, 15.0, 60.0),
    ],
)
def test_waiter_delay_and_max_attempts_map_onto_poke_interval_and_timeout(
    arguments: dict[str, Any], poke_interval: float, timeout: float
) -> None:
    sensor = make_sensor(**arguments)
    assert (sensor.poke_interval, sensor.timeout) == (poke_interval, timeout)


@pytest.mark.parametrize("case", refused_cases("poke_interval", "timeout"), ids=str)
def test_bad_or_disagreeing_waiter_settings_are_refused_before_any_request(
    case: Refused, glacier_endpoint: Any, glacier_connection: str
) -> None:
    assert_refused(partial(make_sensor, aws_conn_id=glacier_connection), case, glacier_endpoint)


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


def test_success_event_returns_the_job_reference() -> None:
    payload = event(
        "success",
        StatusCode="Succeeded",
        Action="Select",
        VaultARN=f"arn:aws:glacier:us-east-1:123456789012:vaults/{VAULT}",
        JobOutputPath="out/job-1/",
        OutputLocation={"S3": {"BucketName": "results", "Prefix": "out"}},
    )
    result = make_sensor().execute_complete({}, payload)  # type: ignore[arg-type]
    assert result == {
        "vault_name": VAULT,
        "job_id": "job-1",
        "job_type": "select",
        "location": f"/123456789012/vaults/{VAULT}/jobs/job-1",
        "job_output_path": "out/job-1/",
        "s3_output": {"bucket": "results", "prefix": "out", "job_prefix": "out/job-1/"},
        "job": payload["job"],
    }
    assert result == described_job_reference(VAULT, JobDescription.from_response(payload["job"]))


def test_a_missing_event_fails_as_the_amazon_providers_operators_do() -> None:
    """``execute_complete`` checks the event with the amazon provider's own helper."""
    from airflow.providers.amazon.aws.utils import validate_execute_complete_event

    with pytest.raises(AirflowException, match=r"^Trigger error: event is None$") as ours:
        make_sensor().execute_complete({}, None)  # type: ignore[arg-type]
    with pytest.raises(AirflowException) as amazon:
        validate_execute_complete_event(None)
    assert (type(ours.value), str(ours.value)) == (type(amazon.value), str(amazon.value))


@pytest.mark.parametrize(
    ("payload", "error", "text"),
    [
        (
            event("failed", StatusCode="Failed", StatusMessage="Tier unavailable"),
            GlacierJobFailedError,
            "Tier unavailable",
        ),
        (event("error"), GlacierJobWaitError, "error message"),
        (event("failed"), GlacierJobFailedError, "failed message"),  # no description to quote
        (event("timeout", StatusCode="InProgress"), AirflowSensorTimeout, "timeout message"),
        ({}, GlacierJobWaitError, "None"),
    ],
    ids=["failed", "error", "failed-without-job", "timeout", "empty-event"],
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
