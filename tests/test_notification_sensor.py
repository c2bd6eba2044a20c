"""GlacierJobSensor with ``notification_queue_url``: a real ``dag.test()`` run whose deferred wait
ends on the job's SNS notification (guide: "Configuring Vault Notifications in Amazon S3
Glacier"), not on DescribeJob polling."""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.sensors.glacier import GlacierJobSensor
from airflow_glacier_select.testing.notifications import notification_queue
from tests.reliability.faults import once
from tests.support.dag_runs import DagFolder, import_dag_file, run_dag, task_state, xcom_result

VAULT = "notified-sensor-vault"

SENSOR_DAG = """\
import datetime

from airflow.sdk import DAG

from airflow_glacier_select.sensors.glacier import GlacierJobSensor

with DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
    GlacierJobSensor(task_id="wait", {arguments})
"""


def stored_triggers() -> list[tuple[str, dict[str, Any]]]:
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [(t.classpath, dict(t.kwargs)) for t in session.scalars(select(Trigger))]


def test_deferred_sensor_completes_on_the_notification(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    queue = notification_queue(glacier_endpoint, "airflow-glacier-jobs")
    glacier = glacier_endpoint.client()
    glacier.create_vault(vaultName=VAULT)
    glacier_endpoint.set_tier_delay("Inventory", 3600)
    job_id = glacier.initiate_job(
        vaultName=VAULT, jobParameters={"Type": "inventory-retrieval", "SNSTopic": queue.topic_arn}
    )["jobId"]
    arguments = {
        "vault_name": VAULT,
        "job_id": job_id,
        "aws_conn_id": glacier_connection,
        "deferrable": True,
        "poke_interval": 0.1,  # would be ~10 DescribeJob a second if the sensor polled
        "timeout": 600,
        "notification_queue_url": queue.queue_url,
    }
    file = dag_folder.path / "notified_sensor.py"
    file.write_text(
        SENSOR_DAG.format(
            dag_id="notified_sensor", arguments=", ".join(f"{k}={v!r}" for k, v in arguments.items())
        )
    )

    def waiting_on_the_queue() -> bool:  # the sensor saw the job InProgress, then deferred
        return bool(
            glacier_endpoint.request_count("DescribeJob") and glacier_endpoint.request_count("ReceiveMessage")
        )

    with once(waiting_on_the_queue, lambda: glacier_endpoint.complete_job(VAULT, job_id)):
        dag_run = run_dag(import_dag_file(file))

    assert task_state(dag_run, "wait") == "success"
    reference = xcom_result(dag_run, "wait")
    assert reference["job_id"] == job_id and reference["job"]["StatusCode"] == "Succeeded"
    # One look before deferring, one to confirm the notification: no polling in between.
    assert glacier_endpoint.request_count("DescribeJob") == 2
    [(classpath, kwargs)] = [t for t in stored_triggers() if t[1].get("job_id") == job_id]
    assert classpath == "airflow_glacier_select.triggers.notifications.GlacierJobNotificationTrigger"
    assert kwargs["queue_url"] == queue.queue_url and kwargs["fallback_poll_interval"] == 3600.0
    assert kwargs["aws_conn_id"] == glacier_connection and "testing" not in str(kwargs)
    assert time.time() < kwargs["deadline"] <= time.time() + 600


def test_malformed_queue_url_fails_the_sensor_before_any_request(
    glacier_endpoint: Any, glacier_connection: str
) -> None:
    sensor = GlacierJobSensor(
        task_id="wait",
        vault_name=VAULT,
        job_id="job",
        aws_conn_id=glacier_connection,
        deferrable=True,
        notification_queue_url="airflow-glacier-jobs",
    )

    with pytest.raises(
        GlacierValidationError, match=r"^notification_queue_url: 'airflow-glacier-jobs' must be"
    ):
        sensor.execute({})  # type: ignore[arg-type]

    assert glacier_endpoint.request_count() == 0


OPERATOR_DAG = """\
import datetime

from airflow.sdk import DAG

from airflow_glacier_select.operators.glacier import GlacierInventoryRetrievalOperator

with DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
    GlacierInventoryRetrievalOperator(task_id="inventory", {arguments})
"""


def _operator_dag(dag_folder: DagFolder, dag_id: str, **arguments: Any) -> Any:
    file = dag_folder.path / f"{dag_id}.py"
    file.write_text(
        OPERATOR_DAG.format(dag_id=dag_id, arguments=", ".join(f"{k}={v!r}" for k, v in arguments.items()))
    )
    return import_dag_file(file)


def test_deferred_job_operator_completes_on_the_notification(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    queue = notification_queue(glacier_endpoint, "airflow-glacier-operator-jobs")
    glacier_endpoint.client().create_vault(vaultName=VAULT)
    glacier_endpoint.set_tier_delay("Inventory", 3600)
    module = _operator_dag(
        dag_folder,
        "notified_operator",
        vault_name=VAULT,
        aws_conn_id=glacier_connection,
        sns_topic=queue.topic_arn,
        deferrable=True,
        poll_interval=0.1,
        notification_queue_url=queue.queue_url,
    )

    def waiting_on_the_queue() -> bool:
        return bool(glacier_endpoint.request_count("ReceiveMessage"))

    def complete() -> None:
        [job] = glacier_endpoint.client().list_jobs(vaultName=VAULT)["JobList"]
        glacier_endpoint.complete_job(VAULT, job["JobId"])

    with once(waiting_on_the_queue, complete):
        dag_run = run_dag(module)

    assert task_state(dag_run, "inventory") == "success"
    reference = xcom_result(dag_run, "inventory")
    assert reference["job"]["StatusCode"] == "Succeeded"
    [(classpath, kwargs)] = [t for t in stored_triggers() if t[1].get("job_id") == reference["job_id"]]
    assert classpath == "airflow_glacier_select.triggers.notifications.GlacierJobNotificationTrigger"
    assert kwargs["queue_url"] == queue.queue_url
    assert glacier_endpoint.request_count("InitiateJob") == 1


def test_malformed_queue_url_fails_the_job_operator_before_initiate_job(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    glacier_endpoint.client().create_vault(vaultName=VAULT)
    module = _operator_dag(
        dag_folder,
        "bad_queue_operator",
        vault_name=VAULT,
        aws_conn_id=glacier_connection,
        deferrable=True,
        notification_queue_url="arn:aws:sqs:us-east-1:123456789012:jobs",
        retries=0,
    )
    dag_run = run_dag(module)
    assert task_state(dag_run, "inventory") == "failed"
    assert glacier_endpoint.request_count("InitiateJob") == 0
