"""One archive copied as shards by a real Airflow, shard tasks running at the same time.

``dag.test()`` runs mapped tasks one after another in one process; what sharding is for is
several workers at once. Here ``airflow standalone`` runs the scheduler with the
LocalExecutor (Airflow 3 forces it for ``standalone``; ``core.parallelism`` 8): tasks talk
to the metadata database only through the API server, so SQLite does not keep two task
processes from running at once. The endpoint's network model caps each GetJobOutput
connection at 4 MB/s, so each shard takes seconds and the overlap of their
start and end times shows in the task instances the REST API reports.
"""

from __future__ import annotations

import hashlib
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from airflow_glacier_select.demo.standalone import AirflowProcesses
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.testing.network import NetworkModel
from airflow_glacier_select.treehash import MIB, tree_hash

from .airflow_connection import glacier_connection_env

pytestmark = [pytest.mark.processes, pytest.mark.slow, pytest.mark.timeout(900)]

VAULT = "sharded-vault"
BUCKET = "sharded-in-airflow"
KEY = "restored/archive.bin"
DAG_ID = "glacier_sharded_copy"
ARCHIVE = hashlib.sha256(b"seed").digest() * (32 * MIB // 32) + b"end"  # 4 chunks of 8 MiB and 3 bytes

DAG_FILE = textwrap.dedent(
    f'''
    """One archive copied as four range shards."""
    from __future__ import annotations

    import datetime

    from airflow.sdk import DAG

    from airflow_glacier_select.transfers.sharded import sharded_copy

    with DAG(
        "{DAG_ID}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False,
        params={{"job_id": ""}},
    ):
        sharded_copy(
            vault_name="{VAULT}", job_id="{{{{ params.job_id }}}}", bucket="{BUCKET}", key="{KEY}",
            shards=4, chunk_size={8 * MIB}, concurrency=1, aws_conn_id="glacier_local",
        )
    '''
)


def _instant(value: object) -> datetime:
    # Python 3.10's fromisoformat does not read the API's trailing "Z".
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _interval(task: dict[str, object]) -> tuple[datetime, datetime]:
    return _instant(task["start_date"]), _instant(task["end_date"])


def test_shards_of_one_archive_run_at_once_and_land_one_verified_object(
    glacier_endpoint: LocalGlacierEndpoint, tmp_path: Path
) -> None:
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    archive_id = glacier_endpoint.put_archive(VAULT, ARCHIVE, "archive.bin")
    glacier = glacier_endpoint.client()
    job_id = glacier.initiate_job(
        vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )["jobId"]
    glacier_endpoint.complete_job(VAULT, job_id)
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(DAG_FILE)

    with AirflowProcesses(
        tmp_path / "home",
        dags,
        {**glacier_connection_env(glacier_endpoint.url), "AIRFLOW__CORE__EXECUTOR": "LocalExecutor"},
    ) as airflow:
        airflow.start(timeout=300)
        airflow.wait_for_dags([DAG_ID], timeout=300)
        glacier_endpoint.set_network(NetworkModel(glacier_bandwidth=4e6))
        glacier_endpoint.reset_counts()
        airflow.trigger(DAG_ID, "sharded-run", conf={"job_id": job_id})
        result = airflow.wait_for_run(DAG_ID, "sharded-run", timeout=600)
        finished = airflow.xcom(DAG_ID, "sharded-run", "sharded_copy.finish")
    glacier_endpoint.set_network(NetworkModel())

    assert result.state == "success", result.task_states()
    shards = [task for task in result.tasks if task["task_id"] == "sharded_copy.copy_shard"]
    assert sorted(task["map_index"] for task in shards) == [0, 1, 2, 3]
    intervals = sorted(_interval(task) for task in shards)
    overlapping = [(a, b) for i, a in enumerate(intervals) for b in intervals[i + 1 :] if b[0] < a[1]]
    assert overlapping, f"no two shard tasks ran at the same time: {intervals}"
    body = glacier_endpoint.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(ARCHIVE).digest()
    assert (finished["size"], finished["verified"], finished["sha256_tree_hash"]) == (
        len(ARCHIVE),
        True,
        tree_hash(ARCHIVE),
    )
    assert len(glacier_endpoint.job_output_ranges(job_id)) == 5  # every chunk fetched once
    listed = glacier_endpoint.client("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])
    assert [item["Key"] for item in listed] == [KEY]
    print("shard task intervals:", [(a.isoformat(), b.isoformat()) for a, b in intervals])
