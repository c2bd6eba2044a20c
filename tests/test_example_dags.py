"""The example DAGs users copy: they import cleanly, and each runs to success against the local endpoint.

Each DAG file is copied unchanged into the test's dags folder and run with ``dag.test()``
(tasks in this process, triggers inline), configured through its DAG params exactly as a
user triggers it; the only thing pointing it at the local endpoint is the ``aws``
connection. Outcomes are checked through the endpoint's own S3 and request counts.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from airflow_glacier_select.s3_copy.destination import TREE_HASH_METADATA_KEY, VERIFICATION_METADATA_KEY
from airflow_glacier_select.testing.notifications import notification_queue
from airflow_glacier_select.treehash import MIB, tree_hash
from tests.support.answer_proxy import PROXY_CONN_ID
from tests.support.dag_runs import RUN_DATE, DagFolder, import_dag_file
from tests.support.example_orders import EXAMPLE_DAGS, orders, orders_csv

DAG_FILES = {
    "example_glacier_select": "example_glacier_select.py",
    "example_glacier_restore": "example_glacier_restore.py",
    "example_glacier_vault_migration": "example_glacier_vault_migration.py",
}


# --- parsing -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dagbag() -> Any:
    """The example folder parsed as the dag-processor parses a dags folder (examples are off in conftest)."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    return DagBag(dag_folder=str(EXAMPLE_DAGS))


def test_every_example_dag_imports_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == set(DAG_FILES)


@pytest.mark.parametrize("dag_id", sorted(DAG_FILES))
def test_example_dag_is_documented_acyclic_and_has_valid_defaults(dagbag: Any, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    if hasattr(dag, "check_cycle"):  # raises on a cycle
        dag.check_cycle()
    else:  # Airflow < 3.1
        from airflow.utils.dag_cycle_tester import check_cycle

        check_cycle(dag)
    assert dag.doc_md and dag.doc_md.strip().splitlines()[0]
    assert "aws_conn_id" in dag.params
    dag.params.validate()
    assert Path(dag.fileloc).name == DAG_FILES[dag_id]


# --- running against the local endpoint -------------------------------------------------


@pytest.fixture
def examples(dag_folder: DagFolder, glacier_connection: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Import an example DAG file from the test's dags folder; job status is polled every 0.2 s."""
    monkeypatch.setenv("GLACIER_EXAMPLE_POLL_SECONDS", "0.2")

    def load(dag_id: str) -> ModuleType:
        file = dag_folder.path / DAG_FILES[dag_id]
        shutil.copy(EXAMPLE_DAGS / DAG_FILES[dag_id], file)
        return import_dag_file(file)

    return load


def _run(module: ModuleType, conf: dict[str, Any], day: int = 0) -> Any:
    """``dag.test()`` with ``conf``; each ``day`` is a run of its own."""
    moment = RUN_DATE + timedelta(days=day)
    return module.dag.test(logical_date=moment, run_after=moment, run_conf=conf)


def _states(dag_run: Any, task_id: str) -> list[str]:
    return [str(ti.state) for ti in dag_run.get_task_instances() if ti.task_id == task_id]


def _read(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_select_example_queries_the_csv_and_writes_a_report(
    examples: Any, glacier_endpoint: Any, glacier_connection: str
) -> None:
    rows = orders()
    archive_id = glacier_endpoint.put_archive("sales", orders_csv(rows), "orders.csv")
    s3 = glacier_endpoint.client("s3")
    s3.create_bucket(Bucket="results")

    dag_run = _run(
        examples("example_glacier_select"),
        {
            "aws_conn_id": glacier_connection,
            "vault_name": "sales",
            "archive_id": archive_id,
            "tier": "Expedited",
            "bucket": "results",
            "results_prefix": "orders",
        },
    )

    assert dag_run.state == "success"
    expected: dict[str, dict[str, Any]] = {}
    for region, quantity, unit_price, status in rows:
        if status == "shipped" and int(quantity) >= 2:
            totals = expected.setdefault(region, {"orders": 0, "units": 0, "revenue": Decimal(0)})
            totals["orders"] += 1
            totals["units"] += int(quantity)
            totals["revenue"] += int(quantity) * Decimal(unit_price)
    reports = [
        item["Key"]
        for item in s3.list_objects_v2(Bucket="results")["Contents"]
        if item["Key"].endswith("report.json")
    ]
    assert len(reports) == 1
    report = json.loads(_read(s3, "results", reports[0]))
    assert report["regions"] == {
        region: {**t, "revenue": str(t["revenue"])} for region, t in sorted(expected.items())
    }
    assert report["records"] == sum(t["orders"] for t in expected.values())
    assert glacier_endpoint.request_count("InitiateJob") == 1


def test_select_example_without_an_archive_id_fails_before_sending_anything(
    examples: Any, glacier_endpoint: Any, glacier_connection: str
) -> None:
    glacier_endpoint.client().create_vault(vaultName="sales")
    dag_run = _run(
        examples("example_glacier_select"), {"aws_conn_id": glacier_connection, "vault_name": "sales"}
    )

    assert dag_run.state == "failed"
    assert _states(dag_run, "select_orders") == ["failed"]
    assert glacier_endpoint.request_count("InitiateJob") == 0


PHOTOS = {
    "photos/2019/beach.raw": b"beach " * 5000,
    "photos/2019/city.raw": b"city " * 7001,
    "photos/2020/forest.raw": b"forest " * 3000,
    "documents/tax.pdf": b"%PDF tax " * 100,
}


def test_restore_example_restores_the_chosen_archives_verified(
    examples: Any, glacier_endpoint: Any, glacier_connection: str
) -> None:
    for path, body in PHOTOS.items():
        description = json.dumps({"Path": path}) if "city" in path else path
        glacier_endpoint.put_archive("photos", body, description)
    s3 = glacier_endpoint.client("s3")
    s3.create_bucket(Bucket="restored")

    dag_run = _run(
        examples("example_glacier_restore"),
        {
            "aws_conn_id": glacier_connection,
            "vault_name": "photos",
            "path_pattern": "photos/2019/*",
            "tier": "Standard",
            "bucket": "restored",
            "prefix": "back",
        },
    )

    assert dag_run.state == "success"
    chosen = {path: body for path, body in PHOTOS.items() if path.startswith("photos/2019/")}
    assert _states(dag_run, "restore_archive.retrieve_archive") == ["success"] * len(chosen)
    assert _states(dag_run, "restore_archive.copy_to_s3") == ["success"] * len(chosen)
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket="restored")["Contents"]}
    assert keys == {f"back/{path}" for path in chosen}
    for path, body in chosen.items():
        response = s3.get_object(Bucket="restored", Key=f"back/{path}")
        assert response["Body"].read() == body
        assert response["Metadata"][TREE_HASH_METADATA_KEY] == tree_hash(body)


BACKUPS = [b"january " * 9000, b"february " * 4000, b"config " * 700]


def _migration_conf(connection: str, budget: int) -> dict[str, Any]:
    return {
        "aws_conn_id": connection,
        "vault_name": "backups",
        "bucket": "migrated",
        "prefix": "vaults",
        "storage_class": "STANDARD_IA",
        "tier": "Bulk",
        "daily_byte_budget": budget,
        "batch_size": 2,
    }


@pytest.fixture
def archive_ids(glacier_endpoint: Any) -> list[str]:
    """The ``backups`` vault holding :data:`BACKUPS` (ids in that order), and an empty ``migrated`` bucket."""
    glacier_endpoint.client("s3").create_bucket(Bucket="migrated")
    return [
        glacier_endpoint.put_archive("backups", body, f"backup-{n}.tar") for n, body in enumerate(BACKUPS)
    ]


def _report(s3: Any, dag_run: Any) -> dict[str, Any]:
    return json.loads(_read(s3, "migrated", f"vaults/_migration/backups/{dag_run.run_id}/report.json"))


def _archive_objects(s3: Any) -> dict[str, str]:
    contents = s3.list_objects_v2(Bucket="migrated", Prefix="vaults/backups/").get("Contents", [])
    return {item["Key"]: item["ETag"] for item in contents}


def test_migration_example_copies_the_vault_then_a_rerun_copies_nothing_and_starts_no_job(
    examples: Any, glacier_endpoint: Any, glacier_connection: str, archive_ids: list[str]
) -> None:
    s3 = glacier_endpoint.client("s3")
    module = examples("example_glacier_vault_migration")
    conf = _migration_conf(glacier_connection, budget=10 * 2**20)
    # An earlier attempt retrieved the first archive but never copied it: that paid job is reused.
    glacier = glacier_endpoint.client()
    earlier = glacier.initiate_job(
        vaultName="backups", jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_ids[0]}
    )["jobId"]
    glacier_endpoint.complete_job("backups", earlier)
    glacier_endpoint.reset_counts()

    first = _run(module, conf, day=0)

    assert first.state == "success"
    copies = _archive_objects(s3)
    assert set(copies) == {f"vaults/backups/{archive_id}" for archive_id in archive_ids}
    for archive_id, body in zip(archive_ids, BACKUPS, strict=True):
        response = s3.get_object(Bucket="migrated", Key=f"vaults/backups/{archive_id}")
        assert response["Body"].read() == body
        assert response["StorageClass"] == "STANDARD_IA"
        assert response["Metadata"][TREE_HASH_METADATA_KEY] == tree_hash(body)
    report = _report(s3, first)
    assert report["copied"] == {"archives": 3, "bytes": sum(map(len, BACKUPS))}
    assert report["failed"]["archives"] == 0
    assert (report["jobs_started"], report["jobs_reused"]) == (2, 1)
    assert [e["job_id"] for e in report["copied_archives"] if e["archive_id"] == archive_ids[0]] == [earlier]
    assert glacier_endpoint.request_count("InitiateJob") == 3  # one inventory, two retrievals

    glacier_endpoint.reset_counts()
    second = _run(module, conf, day=1)

    assert second.state == "success"
    assert glacier_endpoint.request_count("InitiateJob") == 0
    assert _archive_objects(s3) == copies
    report = _report(s3, second)
    assert report["copied"]["archives"] == 0
    assert report["skipped"] == {"archives": 3, "bytes": sum(map(len, BACKUPS))}
    assert report["jobs_started"] == 0
    skipped = _read(s3, "migrated", f"vaults/_migration/backups/{second.run_id}/skipped.jsonl").decode()
    assert {json.loads(line)["archive_id"] for line in skipped.splitlines()} == set(archive_ids)


def test_migration_example_paces_runs_by_the_daily_byte_budget(
    examples: Any, glacier_endpoint: Any, glacier_connection: str, archive_ids: list[str]
) -> None:
    s3 = glacier_endpoint.client("s3")
    module = examples("example_glacier_vault_migration")
    # The first archive fits, the second would overflow the budget, the third still fits after the first.
    budget = len(BACKUPS[0]) + len(BACKUPS[2])
    assert budget < len(BACKUPS[0]) + len(BACKUPS[1])
    conf = _migration_conf(glacier_connection, budget=budget)

    first = _run(module, conf, day=0)

    assert first.state == "success"
    assert set(_archive_objects(s3)) == {f"vaults/backups/{archive_ids[n]}" for n in (0, 2)}
    report = _report(s3, first)
    assert report["copied"]["archives"] == 2
    assert report["left_for_later_runs"] == {"archives": 1, "bytes": len(BACKUPS[1])}

    glacier_endpoint.reset_counts()
    second = _run(module, conf, day=1)

    assert second.state == "success"
    assert set(_archive_objects(s3)) == {f"vaults/backups/{archive_id}" for archive_id in archive_ids}
    assert glacier_endpoint.request_count("InitiateJob") == 1  # the deferred archive's retrieval only
    report = _report(s3, second)
    assert [entry["archive_id"] for entry in report["copied_archives"]] == [archive_ids[1]]
    assert report["skipped"]["archives"] == 2
    assert report["left_for_later_runs"] == {"archives": 0, "bytes": 0}


def _settle_retrievals(endpoint: Any, failing_archive_id: str, expected: int, stop: threading.Event) -> None:
    """When ``expected`` retrievals are in progress, fail ``failing_archive_id``'s and finish the rest."""
    glacier = endpoint.client()
    deadline = time.monotonic() + 120
    while not stop.is_set() and time.monotonic() < deadline:
        jobs = glacier.list_jobs(vaultName="backups", statuscode="InProgress")["JobList"]
        retrievals = [job for job in jobs if job["Action"] == "ArchiveRetrieval"]
        if len(retrievals) == expected:
            for job in retrievals:
                if job["ArchiveId"] == failing_archive_id:
                    endpoint.fail_job("backups", job["JobId"], "Archive is corrupted")
                else:
                    endpoint.complete_job("backups", job["JobId"])
            return
        stop.wait(0.1)


def test_migration_example_reports_a_failed_retrieval_and_fails_the_run(
    examples: Any, glacier_endpoint: Any, glacier_connection: str, archive_ids: list[str]
) -> None:
    s3 = glacier_endpoint.client("s3")
    glacier_endpoint.set_tier_delay("Bulk", 3600)  # retrievals end only when the helper thread says so
    stop = threading.Event()
    settler = threading.Thread(
        target=_settle_retrievals,
        args=(glacier_endpoint, archive_ids[1], len(archive_ids), stop),
        daemon=True,
    )
    settler.start()
    try:
        dag_run = _run(
            examples("example_glacier_vault_migration"), _migration_conf(glacier_connection, 2**30)
        )
    finally:
        stop.set()
        settler.join(timeout=30)

    assert dag_run.state == "failed"
    assert sorted(_states(dag_run, "copy_archive.wait_for_retrieval")) == ["failed", "success", "success"]
    assert _states(dag_run, "write_report") == ["failed"]
    report = _report(s3, dag_run)
    assert [entry["archive_id"] for entry in report["failed_archives"]] == [archive_ids[1]]
    assert sorted(entry["archive_id"] for entry in report["copied_archives"]) == sorted(
        archive_ids[n] for n in (0, 2)
    )
    assert set(_archive_objects(s3)) == {f"vaults/backups/{archive_ids[n]}" for n in (0, 2)}


def test_migration_example_dry_run_plans_and_reports_without_starting_a_retrieval(
    examples: Any, glacier_endpoint: Any, glacier_connection: str, archive_ids: list[str]
) -> None:
    s3 = glacier_endpoint.client("s3")
    conf = {**_migration_conf(glacier_connection, budget=len(BACKUPS[0]) + len(BACKUPS[2])), "dry_run": True}

    dag_run = _run(examples("example_glacier_vault_migration"), conf)

    assert dag_run.state == "success"
    assert glacier_endpoint.request_count("InitiateJob") == 1  # the inventory only
    assert _archive_objects(s3) == {}
    where = f"vaults/_migration/backups/{dag_run.run_id}/"
    plan = json.loads(_read(s3, "migrated", where + "plan.json"))
    assert plan["to_move"] == {"archives": 3, "bytes": sum(map(len, BACKUPS))}
    assert plan["this_run"] == {"archives": 2, "bytes": len(BACKUPS[0]) + len(BACKUPS[2])}
    assert plan["retrieval_requests"]["Bulk"]["requests_in_all"] == 3
    assert plan["runs_needed"] == 2
    report = _report(s3, dag_run)
    assert report["dry_run"] is True
    assert (report["jobs_started"], report["copied"]["archives"], report["failed"]["archives"]) == (0, 0, 0)


def _stored_triggers() -> list[tuple[str, dict[str, Any]]]:
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return [(t.classpath, dict(t.kwargs)) for t in session.scalars(select(Trigger))]


LARGE_BACKUP = bytes(range(256)) * (40 * MIB // 256)  # 3 parts of 16 MiB: 16 + 16 + 8


def test_migration_example_waits_on_notifications_and_copies_a_large_archive_as_shards(
    examples: Any, glacier_endpoint: Any, glacier_connection: str, archive_ids: list[str]
) -> None:
    # "Configuring Vault Notifications in Amazon S3 Glacier": a job started with SNSTopic
    # publishes its DescribeJob JSON there when it ends; the queue is subscribed to the topic.
    s3, glacier = glacier_endpoint.client("s3"), glacier_endpoint.client()
    large_id = glacier_endpoint.put_archive("backups", LARGE_BACKUP, "disk-image.raw")
    queue = notification_queue(glacier_endpoint, "migration-jobs")
    glacier_endpoint.set_tier_delay("Inventory", 3)  # every wait defers before its job ends
    glacier_endpoint.set_tier_delay("Bulk", 5)
    conf = {
        **_migration_conf(glacier_connection, budget=2**30),
        "shard_threshold": 8 * MIB,
        "shards_per_archive": 4,  # capped at the archive's 3 parts
        "notification_queue_url": queue.queue_url,
        "sns_topic": queue.topic_arn,
    }
    module = examples("example_glacier_vault_migration")
    glacier_endpoint.reset_counts()

    first = _run(module, conf, day=0)

    assert first.state == "success"
    response = s3.get_object(Bucket="migrated", Key=f"vaults/backups/{large_id}")
    assert response["Body"].read() == LARGE_BACKUP
    assert response["Metadata"][TREE_HASH_METADATA_KEY] == tree_hash(LARGE_BACKUP)
    assert response["StorageClass"] == "STANDARD_IA"
    assert _states(first, "copy_large_archives.copy_shard") == ["success"] * 3
    assert _states(first, "copy_large_archives.finish") == ["success"]
    assert _states(first, "copy_archive.copy_to_s3") == ["success"] * 3
    report = _report(s3, first)
    everything = {"archives": 4, "bytes": sum(map(len, BACKUPS)) + len(LARGE_BACKUP)}
    assert report["copied"] == everything
    assert report["copied_as_shards"] == {"archives": 1, "bytes": len(LARGE_BACKUP)}
    assert report["require_tree_hash"] is True
    assert {e["archive_id"]: e["verification"] for e in report["copied_archives"] if e["sharded"]} == {
        large_id: "job-tree-hash"
    }
    jobs = glacier.list_jobs(vaultName="backups")["JobList"]
    assert len(jobs) == 5 and {job["SNSTopic"] for job in jobs} == {queue.topic_arn}
    # dag.test() runs a deferred task's trigger inline until it fires, so the inventory's wait and
    # the first retrieval's defer, and the later waits find their jobs already done.
    job_ids = {job["JobId"] for job in jobs}
    triggers = [
        (classpath, kwargs) for classpath, kwargs in _stored_triggers() if kwargs.get("job_id") in job_ids
    ]
    assert [classpath for classpath, _ in triggers if classpath.endswith("GlacierJobTrigger")] == []
    notified = [
        kwargs for classpath, kwargs in triggers if classpath.endswith("GlacierJobNotificationTrigger")
    ]
    assert len(notified) >= 2 and {kwargs["queue_url"] for kwargs in notified} == {queue.queue_url}
    assert glacier_endpoint.request_count("ReceiveMessage") >= 1
    # Polling every 0.2 s through jobs of 3 and 5 s would take 15-25 DescribeJob per deferred wait.
    # A notification wait takes two (one look before deferring, one to confirm the message), a
    # wait whose job is done one, and each copy step looks once (3 whole copies; plan, 3 shards
    # and finish of the sharded one).
    describes = glacier_endpoint.request_count("DescribeJob")
    assert describes <= 2 * len(notified) + (5 - len(notified)) + 3 + 5, describes

    glacier_endpoint.reset_counts()
    objects = _archive_objects(s3)
    second = _run(module, conf, day=1)

    assert second.state == "success"
    assert glacier_endpoint.request_count("InitiateJob") == 0
    assert _archive_objects(s3) == objects
    report = _report(s3, second)
    assert (report["copied"]["archives"], report["skipped"]) == (0, everything)
    assert _states(second, "copy_large_archives.copy_shard") == ["skipped"]


def test_migration_example_refuses_copies_no_glacier_tree_hash_vouched_for(
    examples: Any,
    glacier_endpoint: Any,
    answer_proxy: Any,
    archive_ids: list[str],
) -> None:
    # A Glacier whose answers carry no tree hash (no SHA256TreeHash in DescribeJob, no
    # x-amz-sha256-tree-hash on GetJobOutput): the bytes could be anything of the right size.
    s3 = glacier_endpoint.client("s3")
    large_id = glacier_endpoint.put_archive("backups", LARGE_BACKUP[: 20 * MIB], "disk-image.raw")
    answer_proxy(
        describe_job=lambda answer: {**answer, "SHA256TreeHash": None, "ArchiveSHA256TreeHash": None},
        drop_tree_hashes=True,
    )
    conf = {**_migration_conf(PROXY_CONN_ID, budget=2**30), "shard_threshold": 8 * MIB}

    dag_run = _run(examples("example_glacier_vault_migration"), conf)

    assert dag_run.state == "failed"
    assert _states(dag_run, "copy_archive.copy_to_s3") == ["failed"] * 3
    assert _states(dag_run, "write_report") == ["failed"]
    report = _report(s3, dag_run)
    assert report["copied"] == {"archives": 0, "bytes": 0}
    assert sorted(e["archive_id"] for e in report["failed_archives"]) == sorted([*archive_ids, large_id])
    # The whole copies wrote nothing. The sharded copy has no refusal of its own yet: its object
    # stands, marked size-only, and the migration counts it as not copied.
    assert set(_archive_objects(s3)) == {f"vaults/backups/{large_id}"}
    metadata = s3.head_object(Bucket="migrated", Key=f"vaults/backups/{large_id}")["Metadata"]
    assert metadata[VERIFICATION_METADATA_KEY] == "size-only"
