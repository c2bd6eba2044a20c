"""The Select example under real Airflow processes: its wait runs in the triggerer.

``dag.test()`` runs triggers inline; here ``airflow standalone`` (scheduler, triggerer,
dag-processor, API server, driven by the demo's runner over the REST API) runs the
unchanged example file, so the select job's wait is serialised, rebuilt in the
triggerer process and polled from there while the worker slot is free.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from airflow_glacier_select.demo.standalone import AirflowProcesses
from tests.support.example_orders import EXAMPLE_DAGS, orders, orders_csv

pytestmark = [pytest.mark.processes, pytest.mark.slow, pytest.mark.timeout(900)]

DAG_ID = "example_glacier_select"


def test_select_example_defers_to_the_triggerer_process(glacier_endpoint: Any, tmp_path: Path) -> None:
    archive_id = glacier_endpoint.put_archive("sales", orders_csv(orders()), "orders.csv")
    s3 = glacier_endpoint.client("s3")
    s3.create_bucket(Bucket="results")
    glacier_endpoint.set_tier_delay("Expedited", 8)  # long enough to be seen waiting in the triggerer
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(EXAMPLE_DAGS / f"{DAG_ID}.py", dags)
    # Fake keys: the local endpoint accepts any signature.
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": glacier_endpoint.url, "region_name": "us-east-1"},
    }
    env = {"AIRFLOW_CONN_GLACIER_LOCAL": json.dumps(connection), "GLACIER_EXAMPLE_POLL_SECONDS": "1"}
    conf = {
        "aws_conn_id": "glacier_local",
        "vault_name": "sales",
        "archive_id": archive_id,
        "tier": "Expedited",
        "bucket": "results",
        "results_prefix": "orders",
    }

    with AirflowProcesses(tmp_path / "home", dags, env) as airflow:
        airflow.start(timeout=600)
        airflow.wait_for_dags([DAG_ID], timeout=300)
        airflow.trigger(DAG_ID, "in-triggerer", conf)
        result = airflow.wait_for_run(DAG_ID, "in-triggerer", timeout=600)
        report = airflow.xcom(DAG_ID, "in-triggerer", "write_report")

    assert result.state == "success", result.task_states()
    assert result.task_states() == {
        "select_orders": "success",
        "collect_results": "success",
        "write_report": "success",
    }
    # The triggerer logs a trigger into "<attempt log>.trigger.<triggerer job id>.log": the file
    # exists only because a triggerer process ran the select job's wait.
    task_logs = (
        tmp_path / "home" / "logs" / f"dag_id={DAG_ID}" / "run_id=in-triggerer" / "task_id=select_orders"
    )
    trigger_logs = sorted(task_logs.glob("attempt=1.log.trigger.*.log"))
    assert trigger_logs, sorted(path.name for path in task_logs.iterdir())
    assert "Trigger fired event" in trigger_logs[0].read_text()
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket="results")["Contents"]}
    assert report["report_uri"].removeprefix("s3://results/") in keys
    assert glacier_endpoint.request_count("InitiateJob") == 1
