"""One archive copied as range shards by mapped tasks, under ``dag.test()`` against the local endpoint.

The DAG is what a user writes: ``sharded_copy(...)`` (plan, mapped shard copies, finish).
Checked: the exact bytes land verified, each chunk is downloaded once, the ledger and the
multipart upload are gone afterwards; a shard that fails is retried alone and its retry
downloads only its unproven parts; bad shard counts fail before anything is written; a
shard that can never finish makes the finishing step abort the upload.
"""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path
from typing import Any

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.plan import TransferPlan
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.treehash import MIB, tree_hash
from tests.support.dag_runs import DAG_HEADER, DagFolder, import_dag_file, run_dag, xcom_result
from tests.support.transfer_helpers import BUCKET, VAULT, dangling_uploads, keys, retrieval_job

KEY = "restored/big.bin"
CHUNK = 8 * MIB
ARCHIVE = (bytes(range(256)) * (CHUNK // 256)) * 5 + b"tail of the archive" * 1000  # 6 chunks
PLAN = TransferPlan.build(len(ARCHIVE), CHUNK)


@pytest.fixture
def job_id(glacier_endpoint: LocalGlacierEndpoint) -> str:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    job = retrieval_job(glacier_endpoint, ARCHIVE, "big.bin")
    glacier_endpoint.reset_counts()
    return job


def sharded_dag(folder: DagFolder, dag_id: str, conn_id: str, job_id: str, **arguments: Any) -> Any:
    call = {
        "vault_name": VAULT,
        "job_id": job_id,
        "bucket": BUCKET,
        "key": KEY,
        "aws_conn_id": conn_id,
        "chunk_size": CHUNK,
        "concurrency": 2,
        "max_attempts": 2,
        "retry_base_delay": 0.001,
        "retry_max_delay": 0.01,
        "shard_retry_delay": datetime.timedelta(0),
        "botocore_config": {"retries": {"mode": "standard", "total_max_attempts": 1}},
        **arguments,
    }
    source = (
        DAG_HEADER
        + "from airflow_glacier_select.transfers.sharded import sharded_copy\n\n"
        + f"with DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:\n"
        + "    sharded_copy("
        + ", ".join(f"{name}={value!r}" for name, value in call.items())
        + ")\n"
    )
    file = folder.path / f"{dag_id}.py"
    file.write_text(source)
    return import_dag_file(file)


def shard_tries(dag_run: Any) -> dict[int, tuple[str, int]]:
    return {
        ti.map_index: (str(ti.state), ti.try_number)
        for ti in dag_run.get_task_instances()
        if ti.task_id == "sharded_copy.copy_shard"
    }


def leftovers(endpoint: LocalGlacierEndpoint) -> tuple[list[str], list[str]]:
    return keys(endpoint), [upload["Key"] for upload in dangling_uploads(endpoint)]


def test_archive_copied_as_three_shards_lands_verified_with_each_chunk_fetched_once(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, job_id: str
) -> None:
    dag_run = run_dag(sharded_dag(dag_folder, "sharded_three", glacier_connection, job_id, shards=3))

    assert shard_tries(dag_run) == {0: ("success", 1), 1: ("success", 1), 2: ("success", 1)}
    plan = xcom_result(dag_run, "sharded_copy.plan")
    assert [(item["shard"]["first_chunk"], item["shard"]["last_chunk"]) for item in plan] == [
        (0, 1),
        (2, 3),
        (4, 5),
    ]
    result = xcom_result(dag_run, "sharded_copy.finish")
    assert (result["key"], result["size"], result["verified"], result["verification"]) == (
        KEY,
        len(ARCHIVE),
        True,
        "job-tree-hash",
    )
    assert result["sha256_tree_hash"] == tree_hash(ARCHIVE)
    body = glacier_endpoint.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(ARCHIVE).digest()
    assert sorted(glacier_endpoint.job_output_ranges(job_id)) == [(c.start, c.end) for c in PLAN.chunks]
    assert leftovers(glacier_endpoint) == ([KEY], [])
    assert glacier_endpoint.request_count("CreateMultipartUpload") == 1


def test_a_failed_shard_is_retried_alone_and_fetches_only_its_unproven_parts(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, job_id: str
) -> None:
    # Shards run one after another under dag.test(), one chunk at a time here: the first shard to
    # run has its first chunk served and its second refused on both attempts, so its first try
    # fails with one part uploaded and recorded.
    glacier_endpoint.inject_fault("GetJobOutput", "http500", count=2, after=1)
    dag_run = run_dag(
        sharded_dag(
            dag_folder, "sharded_retry", glacier_connection, job_id, shards=3, shard_retries=1, concurrency=1
        )
    )

    tries = shard_tries(dag_run)
    assert sorted(tries.values()) == [("success", 1), ("success", 1), ("success", 2)]
    assert str(dag_run.get_task_instance("sharded_copy.finish").state) == "success"
    # every chunk served exactly once: the retry skipped the part its first try had proven
    assert sorted(glacier_endpoint.job_output_ranges(job_id)) == [(c.start, c.end) for c in PLAN.chunks]
    body = glacier_endpoint.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert body == ARCHIVE
    assert leftovers(glacier_endpoint) == ([KEY], [])


def test_a_shard_that_never_finishes_makes_the_finishing_step_abort_the_upload(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, job_id: str
) -> None:
    glacier_endpoint.inject_fault("GetJobOutput", "http500", count=2, after=1)
    dag = sharded_dag(
        dag_folder, "sharded_abort", glacier_connection, job_id, shards=3, shard_retries=0, concurrency=1
    )
    dag_run = run_dag(dag)

    assert sorted(shard_tries(dag_run).values()) == [("failed", 1), ("success", 1), ("success", 1)]
    assert str(dag_run.get_task_instance("sharded_copy.finish").state) == "failed"
    assert leftovers(glacier_endpoint) == ([], [])  # no object, no upload, no ledger
    assert glacier_endpoint.request_count("AbortMultipartUpload") == 1
    assert glacier_endpoint.request_count("CompleteMultipartUpload") == 0


def test_more_shards_than_parts_fails_the_plan_before_anything_is_written(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, job_id: str
) -> None:
    dag_run = run_dag(sharded_dag(dag_folder, "sharded_too_many", glacier_connection, job_id, shards=7))

    assert str(dag_run.get_task_instance("sharded_copy.plan").state) == "failed"
    # upstream_failed, or failed on Airflow 3.0 (all_done: it runs, and there is no plan to finish)
    assert str(dag_run.get_task_instance("sharded_copy.finish").state) in {"upstream_failed", "failed"}
    assert leftovers(glacier_endpoint) == ([], [])
    assert glacier_endpoint.request_count("CreateMultipartUpload") == 0
    assert glacier_endpoint.request_count("GetJobOutput") == 0


@pytest.mark.parametrize(
    ("shards", "message"),
    [(0, "shards: 0 must be from 1 to 1000"), ("4", "shards: '4' must be an integer")],
)
def test_a_bad_shard_count_is_refused_when_the_dag_is_parsed(
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    shards: object,
    message: str,
) -> None:
    with pytest.raises(GlacierValidationError) as raised:
        sharded_dag(dag_folder, "sharded_bad_count", glacier_connection, "job", shards=shards)
    assert str(raised.value) == message
    assert glacier_endpoint.request_count() == 0


def test_a_one_chunk_output_with_one_shard_is_copied_by_the_plan_and_the_rest_do_nothing(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, tmp_path: Path
) -> None:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    small = b"small archive\n" * 1000
    job = retrieval_job(glacier_endpoint, small, "small.bin")

    dag_run = run_dag(sharded_dag(dag_folder, "sharded_small", glacier_connection, job, shards=1))

    assert shard_tries(dag_run) == {0: ("success", 1)}
    result = xcom_result(dag_run, "sharded_copy.finish")
    assert (result["size"], result["verified"]) == (len(small), True)
    assert glacier_endpoint.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == small
    assert glacier_endpoint.request_count("CreateMultipartUpload") == 0
    assert leftovers(glacier_endpoint) == ([KEY], [])
