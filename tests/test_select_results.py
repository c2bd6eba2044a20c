"""Reading a Select job's output in S3: result keys on success, the quoted errors otherwise."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.s3_copy.errors import GlacierTransferError, SelectJobFailedError
from airflow_glacier_select.s3_copy.select_results import read_select_results
from airflow_glacier_select.testing import LocalGlacierEndpoint
from tests.support.answer_proxy import PROXY_CONN_ID
from tests.support.dag_runs import DAG_HEADER, DagFolder, import_dag_file, run_dag, task_state, xcom_result
from tests.support.transfer_helpers import BUCKET, SCORES_CSV, VAULT, finished_job, select_parameters

GOOD_QUERY = "SELECT s.name FROM archive s WHERE CAST(s.score AS INT) >= 80"
BAD_QUERY = "SELECT s.name FROM archive s ORDER BY s.name"


@pytest.fixture
def hooks(glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str) -> tuple[GlacierJobsHook, S3Hook]:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    return GlacierJobsHook(aws_conn_id=glacier_connection), S3Hook(aws_conn_id=glacier_connection)


def _select(endpoint: LocalGlacierEndpoint, expression: str, prefix: str = "select") -> str:
    archive_id = endpoint.put_archive(VAULT, SCORES_CSV, "scores.csv")
    return finished_job(endpoint, select_parameters(archive_id, expression, prefix))


def _read(endpoint: LocalGlacierEndpoint, key: str) -> str:
    return bytes(endpoint.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()).decode()


def test_succeeded_select_returns_its_result_keys(
    glacier_endpoint: LocalGlacierEndpoint, hooks: tuple[GlacierJobsHook, S3Hook]
) -> None:
    job_id = _select(glacier_endpoint, GOOD_QUERY)
    results = read_select_results(*hooks, VAULT, job_id).to_dict()
    assert results == {
        "vault_name": VAULT,
        "job_id": job_id,
        "bucket": BUCKET,
        "prefix": f"select/{job_id}/",
        "result_keys": [f"select/{job_id}/results/1.csv"],
        "result_uris": [f"s3://{BUCKET}/select/{job_id}/results/1.csv"],
    }
    rows = list(csv.reader(io.StringIO(_read(glacier_endpoint, results["result_keys"][0]))))
    assert rows == [["ann"], ["cy, jr"]]


def test_error_manifest_fails_quoting_the_errors(
    glacier_endpoint: LocalGlacierEndpoint, hooks: tuple[GlacierJobsHook, S3Hook]
) -> None:
    job_id = _select(glacier_endpoint, BAD_QUERY)
    error_text = _read(glacier_endpoint, f"select/{job_id}/errors/1.txt").strip()
    with pytest.raises(SelectJobFailedError) as raised:
        read_select_results(*hooks, VAULT, job_id)
    message = str(raised.value)
    assert f"s3://{BUCKET}/select/{job_id}/error_manifest.txt" in message
    assert f"select/{job_id}/errors/1.txt: {error_text}" in message
    assert "status Failed" in message


def test_an_error_manifest_fails_even_a_succeeded_job(
    glacier_endpoint: LocalGlacierEndpoint, hooks: tuple[GlacierJobsHook, S3Hook]
) -> None:
    job_id = _select(glacier_endpoint, GOOD_QUERY)
    s3 = glacier_endpoint.client("s3")
    for number in range(1, 8):
        s3.put_object(
            Bucket=BUCKET, Key=f"select/{job_id}/errors/{number}.txt", Body=f"error {number}".encode()
        )
    manifest = "".join(f"s3://{BUCKET}/select/{job_id}/errors/{n}.txt\n" for n in range(1, 8))
    s3.put_object(Bucket=BUCKET, Key=f"select/{job_id}/error_manifest.txt", Body=manifest.encode())
    with pytest.raises(
        SelectJobFailedError, match=r"errors/5\.txt: error 5\n\.\.\. and 2 more error object"
    ) as raised:
        read_select_results(*hooks, VAULT, job_id)
    assert "error 6" not in str(raised.value)


def test_a_missing_result_manifest_is_not_success(
    glacier_endpoint: LocalGlacierEndpoint, hooks: tuple[GlacierJobsHook, S3Hook]
) -> None:
    job_id = _select(glacier_endpoint, GOOD_QUERY)
    glacier_endpoint.client("s3").delete_object(Bucket=BUCKET, Key=f"select/{job_id}/result_manifest.txt")
    with pytest.raises(SelectJobFailedError, match=r"succeeded but .*result_manifest\.txt is missing"):
        read_select_results(*hooks, VAULT, job_id)


def test_unfinished_and_non_select_jobs_are_refused(
    glacier_endpoint: LocalGlacierEndpoint, hooks: tuple[GlacierJobsHook, S3Hook]
) -> None:
    archive_id = glacier_endpoint.put_archive(VAULT, SCORES_CSV)
    glacier_endpoint.set_tier_delay("Expedited", 3600)
    running = glacier_endpoint.client().initiate_job(
        vaultName=VAULT, jobParameters=select_parameters(archive_id, GOOD_QUERY)
    )["jobId"]
    with pytest.raises(GlacierTransferError, match="is still in progress"):
        read_select_results(*hooks, VAULT, running)
    retrieval = finished_job(glacier_endpoint, {"Type": "archive-retrieval", "ArchiveId": archive_id})
    with pytest.raises(GlacierTransferError, match="is a archive-retrieval job, not select"):
        read_select_results(*hooks, VAULT, retrieval)
    assert glacier_endpoint.request_count("GetObject") == 0


# --- where the results are: "Initiate Job (POST jobs)" returns x-amz-job-output-path, the
# location of the select results (the guide's example: test/<job id>/), and "Describe Job (GET
# JobID)" reports JobOutputPath; the reader looks there rather than rebuilding <Prefix>/<JobId>/.


def test_a_prefix_ending_in_a_slash_finds_the_results_where_glacier_wrote_them(
    glacier_endpoint: LocalGlacierEndpoint, hooks: tuple[GlacierJobsHook, S3Hook]
) -> None:
    # The guide does not say whether Glacier folds the prefix's trailing "/"; the endpoint keeps
    # it literally (results//<job id>/), and the reader follows JobOutputPath either way.
    job_id = _select(glacier_endpoint, GOOD_QUERY, prefix="results/")
    reported = glacier_endpoint.client().describe_job(vaultName=VAULT, jobId=job_id)["JobOutputPath"]
    assert reported == f"results//{job_id}/"
    results = read_select_results(*hooks, VAULT, job_id)
    assert results.prefix == reported
    assert results.result_keys == (f"{reported}results/1.csv",)
    assert _read(glacier_endpoint, results.result_keys[0]) == 'ann\n"cy, jr"\n'


@pytest.mark.parametrize("form", ["key-prefix", "s3-uri"])
def test_job_output_path_is_read_as_a_key_prefix_or_an_s3_uri(
    glacier_endpoint: LocalGlacierEndpoint, answer_proxy: Any, form: str
) -> None:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    job_id = _select(glacier_endpoint, GOOD_QUERY, prefix="results")
    reported = f"results/{job_id}/" if form == "key-prefix" else f"s3://{BUCKET}/results/{job_id}/"
    answer_proxy(describe_job=lambda answer: {**answer, "JobOutputPath": reported})
    hooks = GlacierJobsHook(aws_conn_id=PROXY_CONN_ID), S3Hook(aws_conn_id=PROXY_CONN_ID)
    results = read_select_results(*hooks, VAULT, job_id)
    assert results.result_keys == (f"results/{job_id}/results/1.csv",)


def test_initiate_jobs_output_path_is_used_when_describe_job_gives_none(
    glacier_endpoint: LocalGlacierEndpoint, answer_proxy: Any
) -> None:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    archive_id = glacier_endpoint.put_archive(VAULT, SCORES_CSV)
    initiated = glacier_endpoint.client().initiate_job(
        vaultName=VAULT, jobParameters=select_parameters(archive_id, GOOD_QUERY, "results/")
    )
    job_id, output_path = initiated["jobId"], initiated["jobOutputPath"]
    glacier_endpoint.complete_job(VAULT, job_id)
    answer_proxy(describe_job=lambda answer: {**answer, "JobOutputPath": None})
    hooks = GlacierJobsHook(aws_conn_id=PROXY_CONN_ID), S3Hook(aws_conn_id=PROXY_CONN_ID)
    results = read_select_results(*hooks, VAULT, job_id, job_output_path=output_path)
    assert results.result_keys == (f"{output_path}results/1.csv",)


def test_a_job_output_path_in_another_bucket_is_refused(
    glacier_endpoint: LocalGlacierEndpoint, answer_proxy: Any
) -> None:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    job_id = _select(glacier_endpoint, GOOD_QUERY)
    answer_proxy(describe_job=lambda answer: {**answer, "JobOutputPath": f"s3://elsewhere/select/{job_id}/"})
    glacier_endpoint.reset_counts()
    hooks = GlacierJobsHook(aws_conn_id=PROXY_CONN_ID), S3Hook(aws_conn_id=PROXY_CONN_ID)
    with pytest.raises(GlacierTransferError, match="is not in the OutputLocation bucket landing"):
        read_select_results(*hooks, VAULT, job_id)
    assert glacier_endpoint.request_count("GetObject") == 0


# --- under dag.test() ------------------------------------------------------------------------

SELECT_DAG = """
from airflow_glacier_select.operators.select_results import GlacierSelectResultsOperator

with DAG("select_then_results", schedule=None, start_date=datetime.datetime(2024, 1, 1)) as dag:
    query = GlacierSelectOperator(
        task_id="query", vault_name={vault!r}, aws_conn_id={conn!r}, archive_id={archive!r},
        expression={expression!r}, input_file_header_info="USE", output_bucket={bucket!r},
        output_prefix="results/",
        tier="Expedited", deferrable=False, poll_interval=0.1,
    )
    results = recording(GlacierSelectResultsOperator)(
        task_id="results", vault_name={vault!r}, aws_conn_id={conn!r}, job_id={job_id},
    )
    query >> results
"""


def _select_dag(folder: DagFolder, job_id: str, **values: Any) -> Any:
    path = folder.path / "select_then_results.py"
    path.write_text(DAG_HEADER + SELECT_DAG.format(job_id=job_id, vault=VAULT, bucket=BUCKET, **values))
    return import_dag_file(path)


def test_select_then_results_under_dag_test(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    archive_id = glacier_endpoint.put_archive(VAULT, SCORES_CSV)
    module = _select_dag(
        dag_folder, "query.output", conn=glacier_connection, archive=archive_id, expression=GOOD_QUERY
    )
    dag_run = run_dag(module)
    assert task_state(dag_run, "results") == "success", module.FAILURES
    results = xcom_result(dag_run, "results")
    query = xcom_result(dag_run, "query")
    assert query["job_output_path"] == f"results//{query['job_id']}/"
    assert results["result_keys"] == [f"{query['job_output_path']}results/1.csv"]
    assert _read(glacier_endpoint, results["result_keys"][0]) == 'ann\n"cy, jr"\n'


def test_results_task_fails_without_retry_on_an_error_manifest(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    failed_job = _select(glacier_endpoint, BAD_QUERY)
    archive_id = glacier_endpoint.put_archive(VAULT, SCORES_CSV)
    module = _select_dag(
        dag_folder,
        repr(f"{{{{ '{failed_job}' }}}}"),  # rendered by Jinja like any templated job id
        conn=glacier_connection,
        archive=archive_id,
        expression=GOOD_QUERY,
    )
    dag_run = run_dag(module)
    assert task_state(dag_run, "results") == "failed"
    (failure,) = module.FAILURES
    assert type(failure).__name__ == "AirflowFailException"
    assert f"select/{failed_job}/errors/1.txt" in str(failure)


def test_results_task_reads_where_the_select_tasks_initiate_job_said(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, answer_proxy: Any
) -> None:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    archive_id = glacier_endpoint.put_archive(VAULT, SCORES_CSV)
    # DescribeJob without JobOutputPath: only InitiateJob's x-amz-job-output-path, carried in the
    # Select task's XCom, says where the results are.
    answer_proxy(describe_job=lambda answer: {**answer, "JobOutputPath": None})
    module = _select_dag(
        dag_folder, "query.output", conn=PROXY_CONN_ID, archive=archive_id, expression=GOOD_QUERY
    )
    dag_run = run_dag(module)
    assert task_state(dag_run, "results") == "success", module.FAILURES
    query = xcom_result(dag_run, "query")
    assert query["job_output_path"] == f"results//{query['job_id']}/"
    assert xcom_result(dag_run, "results")["result_keys"] == [f"{query['job_output_path']}results/1.csv"]
