"""GlacierJobOutputToS3Operator under dag.test(): chained after a retrieval, templated, failing cleanly."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.destination import TREE_HASH_METADATA_KEY
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator
from airflow_glacier_select.treehash import MIB
from tests.support.dag_runs import DagFolder, run_dag, task_state, xcom_result
from tests.support.transfer_helpers import (
    BUCKET,
    VAULT,
    dangling_uploads,
    keys,
    load_transfer_dag,
    object_sha256,
    retrieval_job,
)

RESTORE_DAG = """
from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator

with DAG("restore_to_s3", schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
    restore = GlacierArchiveRetrievalOperator(
        task_id="restore", vault_name={vault!r}, aws_conn_id={conn!r}, archive_id={archive!r},
        tier="Expedited", deferrable=False, poll_interval=0.1,
    )
    copy = recording(GlacierJobOutputToS3Operator)(
        task_id="copy", vault_name={vault!r}, aws_conn_id={conn!r}, job_id=restore.output,
        bucket={bucket!r}, key="restored/{{{{ ds }}}}/{{archive_path}}", storage_class="STANDARD_IA",
        tags={{"run": "{{{{ ds }}}}"}}, chunk_size={chunk_size}, concurrency=2,
    )
    restore >> copy
"""

COPY_DAG = """
from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator

with DAG("copy_only", schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
    recording(GlacierJobOutputToS3Operator)(
        task_id="copy", vault_name={vault!r}, aws_conn_id={conn!r}, job_id={job_id!r}, bucket={bucket!r},
        retries=3,
    )
"""


@pytest.mark.slow
def test_retrieval_then_copy_under_dag_test(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    s3 = glacier_endpoint.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    data = hashlib.shake_256(b"dag").digest(2 * 8 * MIB + 4321)
    archive_id = glacier_endpoint.put_archive(VAULT, data, '{"Path": "/srv/photos/cat.raw"}')
    module = load_transfer_dag(
        dag_folder,
        "restore_to_s3",
        RESTORE_DAG,
        conn=glacier_connection,
        archive=archive_id,
        chunk_size=8 * MIB,
    )

    dag_run = run_dag(module)

    assert task_state(dag_run, "copy") == "success", module.FAILURES
    result = xcom_result(dag_run, "copy")
    job_id = xcom_result(dag_run, "restore")["job_id"]
    assert result["job_id"] == job_id
    assert result["key"] == "restored/2024-05-01/srv/photos/cat.raw"
    assert result["s3_uri"] == f"s3://{BUCKET}/restored/2024-05-01/srv/photos/cat.raw"
    assert (result["size"], result["chunks"], result["verified"]) == (len(data), 3, True)
    assert object_sha256(glacier_endpoint, result["key"]) == hashlib.sha256(data).hexdigest()
    head = s3.head_object(Bucket=BUCKET, Key=result["key"])
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["Metadata"][TREE_HASH_METADATA_KEY] == result["sha256_tree_hash"]
    tags = s3.get_object_tagging(Bucket=BUCKET, Key=result["key"])["TagSet"]
    assert tags == [{"Key": "run", "Value": "2024-05-01"}]


def test_expired_output_fails_the_task_without_retries(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    job_id = retrieval_job(glacier_endpoint, b"too late")
    glacier_endpoint.expire_job_output(VAULT, job_id)
    module = load_transfer_dag(dag_folder, "copy_only", COPY_DAG, conn=glacier_connection, job_id=job_id)

    dag_run = run_dag(module)

    assert task_state(dag_run, "copy") == "failed"
    (failure,) = module.FAILURES
    assert type(failure).__name__ == "AirflowFailException"
    assert "Initiate the retrieval job again" in str(failure)
    assert keys(glacier_endpoint) == []
    assert dangling_uploads(glacier_endpoint) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"chunk_size": 3 * MIB}, "chunk_size"),
        ({"concurrency": 64}, "concurrency"),
        ({"max_attempts": 0}, "max_attempts"),
    ],
)
def test_static_settings_are_checked_when_the_dag_is_parsed(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(GlacierValidationError, match=f"^{field}: "):
        GlacierJobOutputToS3Operator(task_id="copy", vault_name=VAULT, job_id="j", bucket=BUCKET, **kwargs)


def test_templated_settings_are_checked_before_any_request(
    glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    operator = GlacierJobOutputToS3Operator(
        task_id="copy",
        vault_name=VAULT,
        job_id={"job_id": "from-xcom"},
        bucket=BUCKET,
        aws_conn_id=glacier_connection,
        storage_class="FROZEN",
    )
    glacier_endpoint.reset_counts()
    with pytest.raises(GlacierValidationError, match=r"^storage_class: 'FROZEN' is not one of"):
        operator.execute({})  # type: ignore[arg-type]
    operator.storage_class, operator.job_id = None, {"no": "job id"}
    with pytest.raises(GlacierValidationError, match=r"^job_id: "):
        operator.execute({})  # type: ignore[arg-type]
    assert glacier_endpoint.request_count() == 0


def test_a_wrong_job_id_fails_the_task_without_retries_and_is_not_called_expired(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    retrieval_job(glacier_endpoint, b"the vault exists")
    module = load_transfer_dag(
        dag_folder, "copy_only", COPY_DAG, conn=glacier_connection, job_id="no-such-job"
    )

    dag_run = run_dag(module)

    assert task_state(dag_run, "copy") == "failed"
    (failure,) = module.FAILURES
    assert type(failure).__name__ == "AirflowFailException"
    assert f"DescribeJob found no job no-such-job in vault {VAULT}" in str(failure)
    assert "has expired" not in str(failure)
    assert keys(glacier_endpoint) == []
