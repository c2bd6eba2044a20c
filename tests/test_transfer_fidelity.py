"""The copy trusts no single figure: sizes and tree hashes cross-checked, unverified copies labelled,
not-found told apart from expired, and the operator's region honoured on the S3 side.

Glacier answers that the local endpoint does not give (stock moto's DescribeJob, answers
without tree hashes) are played by :class:`tests.support.answer_proxy.AnswerProxy`, a real HTTP proxy in
front of the endpoint, so the clients under test stay real boto3 clients.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.config import Config

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.s3_copy.destination import TREE_HASH_METADATA_KEY, VERIFICATION_METADATA_KEY
from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer
from airflow_glacier_select.s3_copy.errors import (
    JobNotFoundError,
    JobOutputExpiredError,
    OutputSizeMismatchError,
    UnverifiedOutputError,
)
from airflow_glacier_select.s3_copy.retry import RetryPolicy
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.treehash import MIB
from tests.support.answer_proxy import PROXY_CONN_ID
from tests.support.dag_runs import DagFolder, run_dag, task_state, xcom_result
from tests.support.transfer_helpers import (
    BUCKET,
    SCORES_CSV,
    VAULT,
    dangling_uploads,
    keys,
    load_transfer_dag,
    object_sha256,
    retrieval_job,
    select_parameters,
)

NO_BOTOCORE_RETRIES = Config(retries={"total_max_attempts": 1})
ARCHIVE = hashlib.shake_256(b"under-reported").digest(3 * MIB)


def stock_moto_describe_job(answer: dict[str, Any]) -> dict[str, Any]:
    """DescribeJob as moto 5.2.5's own Glacier answers for a finished archive retrieval."""
    return {
        **answer,
        "ArchiveSizeInBytes": 0,
        "ArchiveSHA256TreeHash": None,
        "SHA256TreeHash": None,
        "RetrievalByteRange": None,
        "InventorySizeInBytes": 10000,
    }


def without_tree_hashes(answer: dict[str, Any]) -> dict[str, Any]:
    """DescribeJob with the sizes intact but no tree hash at all."""
    return {**answer, "SHA256TreeHash": None, "ArchiveSHA256TreeHash": None}


@pytest.fixture
def s3(glacier_endpoint: LocalGlacierEndpoint) -> Any:
    client = glacier_endpoint.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def _transfer(conn_id: str, **options: Any) -> GlacierToS3Transfer:
    return GlacierToS3Transfer(
        GlacierJobsHook(aws_conn_id=conn_id, config=NO_BOTOCORE_RETRIES),
        S3Hook(aws_conn_id=conn_id, config=NO_BOTOCORE_RETRIES),
        chunk_size=8 * MIB,
        concurrency=2,
        retry=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02),
        sleep=lambda _: None,
        **options,
    )


def _assert_nothing_written(endpoint: LocalGlacierEndpoint) -> None:
    assert keys(endpoint) == []
    assert dangling_uploads(endpoint) == []


# --- sizes: "Get Job Output (GET output)": verify the downloaded size against the size returned in
# the headers; "Describe Job (GET JobID)": ArchiveSizeInBytes, RetrievalByteRange, SHA256TreeHash.


def test_describe_job_under_reporting_the_size_fails_naming_both_figures(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, answer_proxy: Any
) -> None:
    job_id = retrieval_job(glacier_endpoint, ARCHIVE, "photos/beach.raw")
    proxy = answer_proxy(describe_job=stock_moto_describe_job, drop_tree_hashes=True)

    with pytest.raises(OutputSizeMismatchError) as raised:
        _transfer(PROXY_CONN_ID).copy_job_output(VAULT, job_id, BUCKET, "beach.raw")

    message = str(raised.value)
    assert f"GetJobOutput delivers {len(ARCHIVE)} bytes (Content-Length, for the whole output)" in message
    assert "DescribeJob reports 0 bytes (ArchiveSizeInBytes)" in message
    assert job_id in message
    _assert_nothing_written(glacier_endpoint)
    assert {request.method for request in proxy.requests if request.service == "s3"} <= {"HEAD"}


def test_a_body_longer_than_describe_job_allows_fails_even_without_content_length(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, answer_proxy: Any
) -> None:
    job_id = retrieval_job(glacier_endpoint, ARCHIVE)
    answer_proxy(describe_job=stock_moto_describe_job, drop_tree_hashes=True, drop_content_length=True)
    with pytest.raises(OutputSizeMismatchError) as raised:
        _transfer(PROXY_CONN_ID).copy_job_output(VAULT, job_id, BUCKET, "beach.raw")
    message = str(raised.value)
    assert "GetJobOutput delivers more than 0 bytes (the body of the whole output goes on)" in message
    assert "DescribeJob reports 0 bytes (ArchiveSizeInBytes)" in message
    _assert_nothing_written(glacier_endpoint)


def test_content_range_total_disagreeing_with_describe_job_fails_before_any_upload(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, answer_proxy: Any
) -> None:
    data = bytes(9 * MIB)  # two chunks: ranged GetJobOutput, multipart upload
    job_id = retrieval_job(glacier_endpoint, data)

    def larger(answer: dict[str, Any]) -> dict[str, Any]:
        size = 17 * MIB
        return {
            **without_tree_hashes(answer),
            "ArchiveSizeInBytes": size,
            "RetrievalByteRange": f"0-{size - 1}",
        }

    answer_proxy(describe_job=larger)
    with pytest.raises(
        OutputSizeMismatchError, match=r"delivers an output of 9437184 bytes \(Content-Range"
    ) as raised:
        _transfer(PROXY_CONN_ID).copy_job_output(VAULT, job_id, BUCKET, "big.bin")
    assert "DescribeJob reports 17825792 bytes (RetrievalByteRange)" in str(raised.value)
    _assert_nothing_written(glacier_endpoint)
    assert glacier_endpoint.request_count("AbortMultipartUpload") == 1


@pytest.mark.parametrize(
    ("rewrite", "message"),
    [
        (
            lambda answer: {**answer, "ArchiveSizeInBytes": 0},
            r"RetrievalByteRange 0-3145727 \(3145728 bytes\) reaches beyond its ArchiveSizeInBytes 0",
        ),
        (
            lambda answer: {**answer, "ArchiveSHA256TreeHash": "ab" * 32},
            r"SHA256TreeHash [0-9a-f]{64} differs from its ArchiveSHA256TreeHash abab",
        ),
    ],
    ids=["range-beyond-archive-size", "tree-hashes-differ"],
)
def test_describe_job_contradicting_itself_fails_before_any_download(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, answer_proxy: Any, rewrite: Any, message: str
) -> None:
    job_id = retrieval_job(glacier_endpoint, ARCHIVE)
    answer_proxy(describe_job=rewrite)
    glacier_endpoint.reset_counts()
    with pytest.raises(OutputSizeMismatchError, match=message):
        _transfer(PROXY_CONN_ID).copy_job_output(VAULT, job_id, BUCKET, "x.bin")
    assert glacier_endpoint.request_count("GetJobOutput") == 0
    _assert_nothing_written(glacier_endpoint)


def test_archive_tree_hash_vouches_for_a_whole_archive_retrieval(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, answer_proxy: Any
) -> None:
    job_id = retrieval_job(glacier_endpoint, ARCHIVE)
    answer_proxy(describe_job=lambda answer: {**answer, "SHA256TreeHash": None}, drop_tree_hashes=True)
    result = _transfer(PROXY_CONN_ID).copy_job_output(VAULT, job_id, BUCKET, "x.bin")
    assert (result.verification, result.verified) == ("job-tree-hash", True)
    metadata = s3.head_object(Bucket=BUCKET, Key="x.bin")["Metadata"]
    assert metadata == {
        TREE_HASH_METADATA_KEY: result.sha256_tree_hash,
        VERIFICATION_METADATA_KEY: "tree-hash",
    }


# --- copies no tree hash vouched for --------------------------------------------------------------


@pytest.mark.parametrize("size", [3 * MIB, 9 * MIB], ids=["single-put", "multipart"])
def test_a_copy_no_tree_hash_verified_says_so_in_result_log_and_metadata(
    glacier_endpoint: LocalGlacierEndpoint,
    s3: Any,
    answer_proxy: Any,
    caplog: pytest.LogCaptureFixture,
    size: int,
) -> None:
    data = hashlib.shake_256(b"no hash").digest(size)
    job_id = retrieval_job(glacier_endpoint, data)
    answer_proxy(describe_job=without_tree_hashes, drop_tree_hashes=True)

    with caplog.at_level(logging.INFO, logger="airflow_glacier_select.s3_copy.engine"):
        result = _transfer(PROXY_CONN_ID).copy_job_output(VAULT, job_id, BUCKET, "plain.bin")

    assert (result.verification, result.verified, result.size) == ("size-only", False, size)
    assert object_sha256(glacier_endpoint, "plain.bin") == hashlib.sha256(data).hexdigest()
    assert s3.head_object(Bucket=BUCKET, Key="plain.bin")["Metadata"] == {
        VERIFICATION_METADATA_KEY: "size-only"
    }
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("s3://landing/plain.bin is verified by size only" in line for line in warnings), warnings


@pytest.mark.parametrize("size", [3 * MIB, 9 * MIB], ids=["single-put", "multipart"])
def test_require_tree_hash_refuses_an_unverified_copy_and_leaves_nothing(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, answer_proxy: Any, size: int
) -> None:
    job_id = retrieval_job(glacier_endpoint, bytes(size))
    answer_proxy(describe_job=without_tree_hashes, drop_tree_hashes=True)
    with pytest.raises(UnverifiedOutputError, match=r"no tree hash from Glacier vouched for the \d+ bytes"):
        _transfer(PROXY_CONN_ID).copy_job_output(VAULT, job_id, BUCKET, "plain.bin", require_tree_hash=True)
    _assert_nothing_written(glacier_endpoint)


def test_require_tree_hash_accepts_what_chunk_tree_hashes_verified(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, answer_proxy: Any
) -> None:
    job_id = retrieval_job(glacier_endpoint, bytes(9 * MIB))
    answer_proxy(describe_job=without_tree_hashes)  # GetJobOutput still sends x-amz-sha256-tree-hash
    result = _transfer(PROXY_CONN_ID).copy_job_output(
        VAULT, job_id, BUCKET, "hashed.bin", require_tree_hash=True
    )
    assert result.verification == "chunk-tree-hashes"
    assert keys(glacier_endpoint) == ["hashed.bin"]


def test_require_tree_hash_refuses_an_inventory_before_downloading(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, glacier_connection: str
) -> None:
    glacier_endpoint.put_archive(VAULT, b"x")
    job_id = str(
        glacier_endpoint.client().initiate_job(
            vaultName=VAULT, jobParameters={"Type": "inventory-retrieval"}
        )["jobId"]
    )
    glacier_endpoint.complete_job(VAULT, job_id)
    glacier_endpoint.reset_counts()
    with pytest.raises(UnverifiedOutputError, match="Glacier gives no tree hash for inventory output"):
        _transfer(glacier_connection).copy_job_output(VAULT, job_id, BUCKET, require_tree_hash=True)
    assert glacier_endpoint.request_count("GetJobOutput") == 0
    _assert_nothing_written(glacier_endpoint)


# --- ResourceNotFoundException: "Describe Job (GET JobID)" vs "Get Job Output (GET output)"
# (job output is kept at least 24 hours after the job completes).


@pytest.mark.parametrize("wrong", ["job", "vault"])
def test_a_wrong_vault_or_job_id_is_not_reported_as_expired(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, glacier_connection: str, wrong: str
) -> None:
    job_id = retrieval_job(glacier_endpoint, b"here")
    vault, job = (VAULT, "no-such-job") if wrong == "job" else ("no-such-vault", job_id)
    glacier_endpoint.reset_counts()
    with pytest.raises(JobNotFoundError) as raised:
        _transfer(glacier_connection).copy_job_output(vault, job, BUCKET, "x.bin")
    message = str(raised.value)
    assert f"DescribeJob found no job {job} in vault {vault} (account -)" in message
    assert "ResourceNotFoundException" in message
    assert "not an expired output" in message
    assert glacier_endpoint.request_count("GetJobOutput") == 0
    _assert_nothing_written(glacier_endpoint)


def test_expired_output_names_when_the_job_completed(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, glacier_connection: str
) -> None:
    job_id = retrieval_job(glacier_endpoint, b"old news")
    completed = glacier_endpoint.client().describe_job(vaultName=VAULT, jobId=job_id)["CompletionDate"]
    glacier_endpoint.expire_job_output(VAULT, job_id)
    with pytest.raises(JobOutputExpiredError) as raised:
        _transfer(glacier_connection).copy_job_output(VAULT, job_id, BUCKET, "x.bin")
    message = str(raised.value)
    assert f"DescribeJob still describes the job (completed at {completed})" in message
    assert "GetJobOutput answered ResourceNotFoundException" in message
    assert "about 24 hours after the job completes" in message
    _assert_nothing_written(glacier_endpoint)


# --- the operators, under dag.test() ------------------------------------------------------------

REGION_DAG = """
from airflow_glacier_select.operators.select_results import GlacierSelectResultsOperator
from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator

with DAG("copy_in_region", schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
    recording(GlacierJobOutputToS3Operator)(
        task_id="copy", vault_name={vault!r}, aws_conn_id={conn!r}, region_name="eu-west-1",
        job_id={copy_job!r}, bucket={bucket!r}, key="restored.bin",
    )
    recording(GlacierSelectResultsOperator)(
        task_id="results", vault_name={vault!r}, aws_conn_id={conn!r}, region_name="eu-west-1",
        job_id={select_job!r},
    )
"""

COPY_DAG = """
from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator

with DAG("copy", schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
    recording(GlacierJobOutputToS3Operator)(
        task_id="copy", vault_name={vault!r}, aws_conn_id={conn!r}, job_id={job_id!r},
        bucket={bucket!r}, key="beach.raw", retries=3, require_tree_hash={require_tree_hash!r},
    )
"""


def test_operators_sign_s3_requests_for_their_region_name(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, s3: Any, answer_proxy: Any
) -> None:
    glacier = glacier_endpoint.client(region_name="eu-west-1")
    archive_id = glacier_endpoint.put_archive(VAULT, ARCHIVE, region="eu-west-1")
    copy_job = glacier.initiate_job(
        vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )["jobId"]
    csv_id = glacier_endpoint.put_archive(VAULT, SCORES_CSV, region="eu-west-1")
    select_job = glacier.initiate_job(
        vaultName=VAULT, jobParameters=select_parameters(csv_id, "SELECT s.name FROM archive s")
    )["jobId"]
    for job_id in (copy_job, select_job):
        glacier_endpoint.complete_job(VAULT, job_id)
    proxy = answer_proxy()
    module = load_transfer_dag(
        dag_folder, "copy_in_region", REGION_DAG, conn=PROXY_CONN_ID, copy_job=copy_job, select_job=select_job
    )

    dag_run = run_dag(module)

    assert task_state(dag_run, "copy") == "success", module.FAILURES
    assert task_state(dag_run, "results") == "success", module.FAILURES
    assert xcom_result(dag_run, "copy")["size"] == len(ARCHIVE)
    assert proxy.regions("glacier") == {"eu-west-1"}
    assert proxy.regions("s3") == {"eu-west-1"}  # the connection's own region is us-east-1


@pytest.mark.parametrize(
    ("describe_job", "require_tree_hash", "messages"),
    [
        (
            stock_moto_describe_job,
            False,
            [
                "DescribeJob reports 0 bytes (ArchiveSizeInBytes)",
                f"delivers {len(ARCHIVE)} bytes (Content-Length",
            ],
        ),
        (
            without_tree_hashes,
            True,
            ["require_tree_hash is set, so nothing was written to s3://landing/beach.raw"],
        ),
    ],
    ids=["under-reported-size", "require-tree-hash"],
)
def test_operator_fails_without_retries_and_writes_nothing(
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    s3: Any,
    answer_proxy: Any,
    describe_job: Any,
    require_tree_hash: bool,
    messages: list[str],
) -> None:
    job_id = retrieval_job(glacier_endpoint, ARCHIVE, "photos/beach.raw")
    answer_proxy(describe_job=describe_job, drop_tree_hashes=True)
    module = load_transfer_dag(
        dag_folder, "copy", COPY_DAG, conn=PROXY_CONN_ID, job_id=job_id, require_tree_hash=require_tree_hash
    )

    dag_run = run_dag(module)

    assert task_state(dag_run, "copy") == "failed"
    (failure,) = module.FAILURES
    assert type(failure).__name__ == "AirflowFailException"
    for message in messages:
        assert message in str(failure)
    _assert_nothing_written(glacier_endpoint)
