"""The three job operators under ``dag.test()`` against the local Glacier endpoint.

Each operator runs once polling in the worker and once deferred to the trigger (run
inline by ``dag.test()``); the XCom value, the job Glacier actually received and, for
Select, the objects written to S3 are checked.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.links import GlacierVaultLink
from airflow_glacier_select.resumable import TaskInstanceIdentity, with_token
from tests.support.dag_runs import Code, DagFolder, run_dag, task_state, xcom_result

pytestmark = pytest.mark.slow

VAULT = "restores"
BUCKET = "results-bucket"
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
MODES = ["poll", "defer"]
COMMON_KEYS = {"vault_name", "job_id", "job_type", "location"}
PEOPLE_CSV = b"name,city\nalice,Paris\nbob,Oslo\ncarol,Paris\n"


def _waiting(mode: str) -> dict[str, Any]:
    return {"deferrable": mode == "defer", "wait_for_completion": True, "poll_interval": 0.1}


def _token(dag_run: Any, task_id: str) -> str:
    return TaskInstanceIdentity(dag_run.dag_id, task_id, dag_run.run_id, -1).token()


def _vault_jobs(endpoint: Any) -> list[dict[str, Any]]:
    return endpoint.client().list_jobs(vaultName=VAULT)["JobList"]


def _succeeded_result(dag_run: Any, task_id: str, endpoint: Any, job_type: str) -> dict[str, Any]:
    """The task's XCom value, checked for what every successful, waiting run returns."""
    assert task_state(dag_run, task_id) == "success"
    result = xcom_result(dag_run, task_id)
    assert json.loads(json.dumps(result)) == result
    assert result["vault_name"] == VAULT
    assert result["job_type"] == job_type
    assert result["location"] == f"/{endpoint.account_id}/vaults/{VAULT}/jobs/{result['job_id']}"
    assert result["job"]["JobId"] == result["job_id"]
    assert result["job"]["StatusCode"] == "Succeeded"
    assert endpoint.request_count("InitiateJob") == 1
    assert [job["JobId"] for job in _vault_jobs(endpoint)] == [result["job_id"]]
    return result


@pytest.mark.parametrize("mode", MODES)
def test_inventory_retrieval(
    mode: str, dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    glacier_endpoint.put_archive(VAULT, b"x" * 100, "first")
    dag = dag_folder.load(
        f"inventory_{mode}",
        "GlacierInventoryRetrievalOperator",
        task_id="inventory",
        vault_name=VAULT,
        aws_conn_id=glacier_connection,
        format="CSV",
        limit="{{ 10 * 5 }}",
        description="audit {{ ds }}",
        **_waiting(mode),
    )
    dag_run = run_dag(dag)
    result = _succeeded_result(dag_run, "inventory", glacier_endpoint, "inventory-retrieval")
    assert set(result) == COMMON_KEYS | {"job"}
    job = result["job"]
    assert job["Action"] == "InventoryRetrieval"
    assert job["JobDescription"] == with_token("audit 2024-05-01", _token(dag_run, "inventory"))
    assert job["InventoryRetrievalParameters"]["Format"] == "CSV"
    assert job["InventoryRetrievalParameters"]["Limit"] == "50"


@pytest.mark.parametrize("mode", MODES)
def test_archive_retrieval(
    mode: str, dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    body = b"0123456789" * 1000
    archive_id = glacier_endpoint.put_archive(VAULT, body, "ten thousand digits")
    dag = dag_folder.load(
        f"archive_{mode}",
        "GlacierArchiveRetrievalOperator",
        params={"archive": archive_id},
        task_id="restore",
        vault_name=VAULT,
        aws_conn_id=glacier_connection,
        archive_id="{{ params.archive }}",
        tier="Expedited",
        retrieval_byte_range=f"0-{len(body) - 1}",
        archive_size=len(body),
        **_waiting(mode),
    )
    dag_run = run_dag(dag)
    result = _succeeded_result(dag_run, "restore", glacier_endpoint, "archive-retrieval")
    assert set(result) == COMMON_KEYS | {"job"}
    job = result["job"]
    assert job["ArchiveId"] == archive_id
    assert job["Tier"] == "Expedited"
    assert job["RetrievalByteRange"] == f"0-{len(body) - 1}"
    assert job["JobDescription"] == _token(dag_run, "restore")
    output = glacier_endpoint.client().get_job_output(vaultName=VAULT, jobId=result["job_id"])
    assert output["body"].read() == body


def test_mapped_restores_start_one_job_per_map_index(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    archives = [glacier_endpoint.put_archive(VAULT, body, "part") for body in (b"first", b"second")]
    dag = dag_folder.load(
        "mapped_restores",
        f"GlacierArchiveRetrievalOperator.partial(task_id='restore', vault_name={VAULT!r}, "
        f"aws_conn_id={glacier_connection!r}, wait_for_completion=False, deferrable=False).expand",
        archive_id=archives,
    )
    dag_run = run_dag(dag)
    tis = sorted(dag_run.get_task_instances(), key=lambda ti: ti.map_index)
    assert [(ti.map_index, str(ti.state)) for ti in tis] == [(0, "success"), (1, "success")]
    jobs = {job["JobId"]: job for job in _vault_jobs(glacier_endpoint)}
    assert len(jobs) == 2
    for ti in tis:
        result = ti.xcom_pull(task_ids="restore", map_indexes=ti.map_index)
        job = jobs[result["job_id"]]
        assert job["ArchiveId"] == archives[ti.map_index]
        token = TaskInstanceIdentity(dag_run.dag_id, "restore", dag_run.run_id, ti.map_index).token()
        assert job["JobDescription"] == token


def _load_select_dag(
    dag_folder: DagFolder, dag_id: str, conn: str, archive_id: str, expression: str, **kwargs: Any
) -> Any:
    return dag_folder.load(
        dag_id,
        "recording(GlacierSelectOperator)",
        params={"owner": OWNER},
        task_id="query",
        vault_name=VAULT,
        aws_conn_id=conn,
        archive_id=archive_id,
        expression=expression,
        input_file_header_info="USE",
        output_quote_fields="ALWAYS",
        output_bucket=BUCKET,
        output_prefix="select/{{ ds_nodash }}",
        storage_class="STANDARD_IA",
        encryption="AES256",
        tags={"dag": "{{ dag.dag_id }}", "fixed": "yes"},
        user_metadata={"run-date": "{{ ds }}"},
        grants=[{"Grantee": {"Type": "CanonicalUser", "ID": "{{ params.owner }}"}, "Permission": "READ"}],
        **kwargs,
    )


@pytest.mark.parametrize("mode", MODES)
def test_select(mode: str, dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str) -> None:
    archive_id = glacier_endpoint.put_archive(VAULT, PEOPLE_CSV, "people.csv")
    s3 = glacier_endpoint.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    dag_id = f"select_{mode}"
    expression = "SELECT s.name FROM archive s WHERE s.city = 'Paris'"
    dag = _load_select_dag(dag_folder, dag_id, glacier_connection, archive_id, expression, **_waiting(mode))
    dag_run = run_dag(dag)
    result = _succeeded_result(dag_run, "query", glacier_endpoint, "select")
    assert set(result) == COMMON_KEYS | {"job", "job_output_path", "s3_output"}
    job_prefix = f"select/20240501/{result['job_id']}/"
    assert result["s3_output"] == {"bucket": BUCKET, "prefix": "select/20240501", "job_prefix": job_prefix}
    assert result["job_output_path"] == result["job"]["JobOutputPath"] == job_prefix
    assert result["job"]["OutputLocation"]["S3"]["Tagging"] == {"dag": dag_id, "fixed": "yes"}

    manifest = s3.get_object(Bucket=BUCKET, Key=job_prefix + "result_manifest.txt")["Body"].read()
    result_key = manifest.decode().split()[0]
    assert result_key.startswith(job_prefix + "results/")
    rows = s3.get_object(Bucket=BUCKET, Key=result_key)["Body"].read().decode()
    assert list(csv.reader(io.StringIO(rows))) == [["alice"], ["carol"]]
    # Nested templated values arrive rendered on every result object.
    tags = s3.get_object_tagging(Bucket=BUCKET, Key=result_key)["TagSet"]
    assert {tag["Key"]: tag["Value"] for tag in tags} == {"dag": dag_id, "fixed": "yes"}
    head = s3.head_object(Bucket=BUCKET, Key=result_key)
    assert head["Metadata"] == {"run-date": "2024-05-01"}
    assert head["StorageClass"] == "STANDARD_IA"
    grantees = [grant["Grantee"] for grant in s3.get_object_acl(Bucket=BUCKET, Key=result_key)["Grants"]]
    assert {"Type": "CanonicalUser", "ID": OWNER} in [
        {"Type": g["Type"], "ID": g.get("ID")} for g in grantees
    ]


@pytest.mark.parametrize("mode", MODES)
def test_failed_job_fails_the_task_with_glacier_status_message(
    mode: str, dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    archive_id = glacier_endpoint.put_archive(VAULT, PEOPLE_CSV, "people.csv")
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    dag = _load_select_dag(
        dag_folder,
        f"select_fails_{mode}",
        glacier_connection,
        archive_id,
        "SELECT s.name archive s",
        retries=2,
        retry_delay=Code("datetime.timedelta(0)"),
        **_waiting(mode),
    )
    dag_run = run_dag(dag)
    assert task_state(dag_run, "query") == "failed"
    # Not retried: a new job would fail the same way, and cost again.
    assert dag_run.get_task_instance("query").try_number == 1
    [job] = _vault_jobs(glacier_endpoint)
    assert job["StatusCode"] == "Failed"
    assert job["StatusMessage"].startswith("ParseUnexpectedToken")
    [failure] = dag.FAILURES
    assert isinstance(failure, AirflowFailException)
    assert str(failure) == f"Glacier job {job['JobId']} in vault {VAULT} failed: {job['StatusMessage']}"


@pytest.mark.parametrize(
    "wait",
    [
        {"poll_interval": 0.1, "max_wait": 0.3},
        # The amazon provider's names for the same wait: 3 checks 0.1 s apart.
        {"waiter_delay": 0.1, "waiter_max_attempts": 3},
    ],
    ids=["max_wait", "waiter_max_attempts"],
)
@pytest.mark.parametrize("mode", MODES)
def test_max_wait_fails_the_task_while_the_job_keeps_running(
    mode: str, wait: dict[str, float], dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    glacier_endpoint.set_tier_delay("Bulk", 3600)
    archive_id = glacier_endpoint.put_archive(VAULT, b"slow", "slow")
    dag = dag_folder.load(
        f"max_wait_{mode}_{len(wait)}{sorted(wait)[0]}",
        "recording(GlacierArchiveRetrievalOperator)",
        task_id="restore",
        vault_name=VAULT,
        aws_conn_id=glacier_connection,
        archive_id=archive_id,
        tier="Bulk",
        deferrable=mode == "defer",
        **wait,
    )
    dag_run = run_dag(dag)
    assert task_state(dag_run, "restore") == "failed"
    [job] = _vault_jobs(glacier_endpoint)
    assert job["StatusCode"] == "InProgress"
    [failure] = dag.FAILURES
    if mode == "defer":
        job_id = job["JobId"]
        assert (
            str(failure)
            == f"Glacier job {job_id} in vault {VAULT}: job {job_id} still InProgress at the deadline"
        )
    else:
        assert str(failure) == (
            f"Glacier job {job['JobId']} still InProgress after 0.3s (max_wait); a retry reconnects to it"
        )


def test_without_waiting_the_job_is_left_running_and_the_vault_link_is_stored(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    glacier_endpoint.put_archive(VAULT, b"x", "x")
    dag = dag_folder.load(
        "not_waiting",
        "GlacierInventoryRetrievalOperator",
        task_id="inventory",
        vault_name=VAULT,
        aws_conn_id=glacier_connection,
        wait_for_completion=False,
        deferrable=False,
    )
    dag_run = run_dag(dag)
    assert task_state(dag_run, "inventory") == "success"
    result = xcom_result(dag_run, "inventory")
    assert set(result) == COMMON_KEYS
    assert [job["StatusCode"] for job in _vault_jobs(glacier_endpoint)] == ["InProgress"]
    assert glacier_endpoint.request_count("DescribeJob") == 0

    ti = dag_run.get_task_instance("inventory")
    link = ti.xcom_pull(task_ids="inventory", key=GlacierVaultLink.key)
    assert link == {"region_name": "us-east-1", "aws_domain": "aws.amazon.com", "vault_name": VAULT}
    assert GlacierVaultLink().format_link(**link) == (
        "https://console.aws.amazon.com/glacier/home?region=us-east-1#/vault/restores/view/properties"
    )


def test_templated_value_is_validated_once_rendered_and_nothing_is_sent(
    dag_folder: DagFolder, glacier_endpoint: Any, glacier_connection: str
) -> None:
    dag = dag_folder.load(
        "render_invalid",
        "recording(GlacierInventoryRetrievalOperator)",
        params={"format": "XML"},
        task_id="inventory",
        vault_name=VAULT,
        aws_conn_id=glacier_connection,
        format="{{ params.format }}",
    )
    glacier_endpoint.reset_counts()
    dag_run = run_dag(dag)
    assert task_state(dag_run, "inventory") == "failed"
    [failure] = dag.FAILURES
    assert isinstance(failure, GlacierValidationError)
    assert str(failure) == "Format: 'XML' is not one of JSON, CSV"
    assert glacier_endpoint.request_count() == 0
