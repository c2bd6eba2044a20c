"""Expedited retrievals without capacity: fail at once naming the tier, or fall back once.

Initiate Job (POST jobs) and Error Responses: Glacier answers InsufficientCapacityException
(503 Service Unavailable) when it has no capacity for an Expedited request; Standard and
Bulk are unaffected. The refusal starts no job, so it must neither be retried for max_wait
(48 hours by default) nor, with ``expedited_fallback_tier``, lead to more than one job.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.hooks.glacier import GlacierRefusedError
from airflow_glacier_select.operators.glacier import (
    GlacierArchiveRetrievalOperator,
    GlacierSelectOperator,
)
from tests.support.dag_runs import DagFolder, run_dag, task_state, xcom_result

pytestmark = pytest.mark.slow

VAULT = "expedited"
BUCKET = "capacity-results"
PEOPLE_CSV = b"name,city\nalice,Paris\nbob,Oslo\n"


def _vault_jobs(endpoint: Any) -> list[dict[str, Any]]:
    return endpoint.client().list_jobs(vaultName=VAULT)["JobList"]


def _expedited_restore(dag_folder: DagFolder, endpoint: Any, connection: str, **extra: Any) -> Any:
    """A DAG restoring one archive at Expedited from an endpoint without Expedited capacity."""
    endpoint.set_expedited_capacity(False)
    return dag_folder.load(
        f"expedited_{len(extra)}",
        "recording(GlacierArchiveRetrievalOperator)",
        task_id="restore",
        vault_name=VAULT,
        aws_conn_id=connection,
        archive_id=endpoint.put_archive(VAULT, b"urgent", "urgent"),
        tier="Expedited",
        poll_interval=0.1,  # max_wait stays 48 h: only classifying the refusal ends the task early
        **extra,
    )


def test_no_capacity_fails_the_task_at_once_naming_the_tier(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    dag = _expedited_restore(dag_folder, glacier_endpoint, glacier_connection)
    dag_run = run_dag(dag)
    assert task_state(dag_run, "restore") == "failed"
    [failure] = dag.FAILURES
    assert isinstance(failure, GlacierRefusedError)
    assert "no capacity for Expedited retrievals" in str(failure)
    assert _vault_jobs(glacier_endpoint) == []


def test_fallback_tier_starts_exactly_one_job_at_that_tier(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    dag = _expedited_restore(
        dag_folder, glacier_endpoint, glacier_connection, expedited_fallback_tier="Standard"
    )
    dag_run = run_dag(dag)
    assert task_state(dag_run, "restore") == "success"
    # One resume-token lookup before the first InitiateJob; the refusal started no job, so the
    # fallback is asked for straight away (Error Responses: InsufficientCapacityException).
    assert glacier_endpoint.request_count("ListJobs") == 1
    assert glacier_endpoint.request_count("InitiateJob") == 2
    [job] = _vault_jobs(glacier_endpoint)
    assert job["Tier"] == "Standard"
    assert xcom_result(dag_run, "restore")["job"]["Tier"] == "Standard"


def test_select_fallback_tier(dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str) -> None:
    glacier_endpoint.set_expedited_capacity(False)
    archive_id = glacier_endpoint.put_archive(VAULT, PEOPLE_CSV, "people.csv")
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    dag = dag_folder.load(
        "select_fallback",
        "GlacierSelectOperator",
        task_id="query",
        vault_name=VAULT,
        aws_conn_id=glacier_connection,
        archive_id=archive_id,
        expression="SELECT * FROM archive",
        output_bucket=BUCKET,
        output_prefix="out",
        tier="Expedited",
        expedited_fallback_tier="Bulk",
        poll_interval=0.1,
    )
    dag_run = run_dag(dag)
    assert task_state(dag_run, "query") == "success"
    [job] = _vault_jobs(glacier_endpoint)
    assert job["Tier"] == "Bulk"


@pytest.mark.parametrize(
    ("operator", "arguments", "rule"),
    [
        (
            GlacierArchiveRetrievalOperator,
            {"tier": "Expedited", "expedited_fallback_tier": "Expedited"},
            "is not one of Standard, Bulk",
        ),
        (
            GlacierArchiveRetrievalOperator,
            {"tier": "Expedited", "expedited_fallback_tier": "standard"},
            "is not one of Standard, Bulk",
        ),
        (
            GlacierArchiveRetrievalOperator,
            {"tier": "Bulk", "expedited_fallback_tier": "Standard"},
            "only applies to tier Expedited (tier is 'Bulk')",
        ),
        (
            GlacierArchiveRetrievalOperator,
            {"expedited_fallback_tier": "Standard"},
            "only applies to tier Expedited (tier is None)",
        ),
        (
            GlacierSelectOperator,
            {"tier": "Standard", "expedited_fallback_tier": "Bulk"},
            "only applies to tier Expedited (tier is 'Standard')",
        ),
    ],
)
def test_fallback_tier_is_checked_when_the_dag_is_parsed(
    operator: Any, arguments: dict[str, Any], rule: str
) -> None:
    extra = {"expression": "SELECT * FROM archive", "output_bucket": BUCKET, "output_prefix": "p"}
    with pytest.raises(GlacierValidationError) as caught:
        operator(
            task_id="t",
            vault_name=VAULT,
            archive_id="a",
            **(extra if operator is GlacierSelectOperator else {}),
            **arguments,
        )
    assert caught.value.field == "expedited_fallback_tier"
    assert caught.value.rule == rule
