"""The demo's own parts, without Airflow: seeding, what a run did seen from the endpoint, checks, table."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from airflow_glacier_select.demo.archives import (
    SALES_COLUMNS,
    ArchiveSpec,
    archive_specs,
    expected_sales_report,
    sales_csv,
    seed_archives,
)
from airflow_glacier_select.demo.observe import RunDelta, Snapshot
from airflow_glacier_select.demo.scenario import Check, CheckContext, DemoRun, _notification_waits, demo_runs
from airflow_glacier_select.demo.standalone import RunResult
from airflow_glacier_select.demo.summary import RunOutcome, render_summary
from airflow_glacier_select.s3_copy.destination import TREE_HASH_METADATA_KEY
from airflow_glacier_select.testing.notifications import NotificationQueue
from airflow_glacier_select.treehash import MIB, tree_hash

SMALL = [
    ArchiveSpec("vault-a", "docs/a.bin", "docs/a.bin", MIB + 3, 1),
    ArchiveSpec("vault-b", '{"Path": "b.bin"}', '{"Path": "b.bin"}', 1000, 2),
]


def test_the_demo_seeds_csv_and_binary_archives_two_of_them_over_64_mib() -> None:
    specs = archive_specs()
    sizes = [spec.size for spec in specs if spec.size is not None]
    assert sum(size > 64 * MIB for size in sizes) == 2
    assert [spec.kind for spec in specs].count("csv") == 1
    assert len({spec.vault_name for spec in specs}) == 3
    assert all(spec.description.isascii() and spec.description.isprintable() for spec in specs)


def test_seeded_archives_are_in_their_vaults_with_the_tree_hash_computed_while_writing(
    glacier_endpoint: Any, tmp_path: Path
) -> None:
    seeded = seed_archives(glacier_endpoint, tmp_path / "seed", SMALL)

    glacier = glacier_endpoint.client()
    for archive, spec in zip(seeded, SMALL, strict=True):
        assert archive.size == spec.size
        assert archive.sha256_tree_hash == tree_hash(b"".join(spec.chunks()))
        job_id = glacier.initiate_job(
            vaultName=spec.vault_name,
            jobParameters={"Type": "archive-retrieval", "ArchiveId": archive.archive_id},
        )["jobId"]
        glacier_endpoint.complete_job(spec.vault_name, job_id)
        job = glacier.describe_job(vaultName=spec.vault_name, jobId=job_id)
        assert job["SHA256TreeHash"] == archive.sha256_tree_hash
        assert job["ArchiveSizeInBytes"] == spec.size
    assert list((tmp_path / "seed").iterdir()) == []


def test_expected_sales_report_adds_up_the_generated_csv() -> None:
    reader = csv.DictReader(io.StringIO(sales_csv(2024).decode()))
    assert tuple(reader.fieldnames or ()) == SALES_COLUMNS
    revenue: dict[str, Decimal] = {}
    for row in reader:
        if row["status"] == "shipped" and int(row["quantity"]) >= 2:
            revenue[row["region"]] = revenue.get(row["region"], Decimal(0)) + int(row["quantity"]) * Decimal(
                row["unit_price"]
            )
    report = expected_sales_report()
    assert {region: Decimal(totals["revenue"]) for region, totals in report.items()} == revenue


def test_run_delta_counts_new_jobs_and_new_or_replaced_objects(glacier_endpoint: Any) -> None:
    glacier, s3 = glacier_endpoint.client(), glacier_endpoint.client("s3")
    s3.create_bucket(Bucket="out")
    s3.put_object(Bucket="out", Key="kept", Body=b"same")
    s3.put_object(Bucket="out", Key="replaced", Body=b"old")
    glacier.create_vault(vaultName="v")
    before = Snapshot.take(glacier, s3, "v", "out")

    s3.put_object(Bucket="out", Key="replaced", Body=b"new bytes")
    s3.put_object(Bucket="out", Key="added", Body=b"12345")
    glacier.initiate_job(vaultName="v", jobParameters={"Type": "inventory-retrieval"})
    delta = RunDelta.between(before, Snapshot.take(glacier, s3, "v", "out"))

    assert delta.written == {"replaced": 9, "added": 5}
    assert delta.bytes_written == 14
    assert delta.jobs_started == 1 and delta.job_states == {"InProgress": 1}


def test_verify_copies_passes_only_bytes_and_metadata_matching_the_seeded_tree_hash(
    glacier_endpoint: Any, tmp_path: Path
) -> None:
    seeded = seed_archives(glacier_endpoint, tmp_path, SMALL)
    s3 = glacier_endpoint.client("s3")
    s3.create_bucket(Bucket="out")
    good, bad = seeded
    good_body = b"".join(good.spec.chunks())
    s3.put_object(
        Bucket="out", Key="good", Body=good_body, Metadata={TREE_HASH_METADATA_KEY: good.sha256_tree_hash}
    )
    s3.put_object(
        Bucket="out", Key="bad", Body=b"x" * bad.size, Metadata={TREE_HASH_METADATA_KEY: bad.sha256_tree_hash}
    )
    delta = RunDelta(written={"good": good.size, "bad": bad.size})
    context = CheckContext(s3, "out", delta, seeded, 0)

    checks = context.verify_copies({"good": good, "bad": bad, "missing": good})

    assert [check.ok for check in checks] == [True, False, False]  # good, missing, bad: by archive path
    assert "not written" in checks[1].text
    assert delta.verified == ["good"]


QUEUE = NotificationQueue(
    "arn:aws:sns:us-east-1:123456789012:jobs",
    "http://127.0.0.1:1/123456789012/jobs",
    "arn:aws:sqs:us-east-1:123456789012:jobs",
)


@pytest.mark.parametrize(
    ("requests", "waits", "ok"),
    [
        ({"DescribeJob": 12, "ReceiveMessage": 4}, 2, True),  # 2 per wait, 1 per copy step
        ({"DescribeJob": 40, "ReceiveMessage": 0}, 2, False),  # 2 s polling through 30 s jobs
        ({"DescribeJob": 40, "ReceiveMessage": 4}, 2, False),  # listened, but polled as well
        ({"DescribeJob": 3, "ReceiveMessage": 0}, 0, False),  # nothing waited on the queue
    ],
)
def test_the_migration_check_tells_notification_waits_from_polling(
    requests: dict[str, int], waits: int, ok: bool
) -> None:
    context = CheckContext(None, "out", RunDelta(), [], 0, requests, waits)

    check = _notification_waits(context)

    assert check.ok is ok
    assert (
        f"{requests['DescribeJob']} DescribeJob" in check.text
        and f"about {waits * 15} for the waits" in check.text
    )


def _outcome(run: DemoRun, state: str, checks: list[Check]) -> RunOutcome:
    result = RunResult(
        {"state": state, "start_date": "2024-05-01T10:00:00Z", "end_date": "2024-05-01T10:01:05Z"},
        [{"task_id": "select_orders", "map_index": -1, "state": state}],
    )
    return RunOutcome(run, result, RunDelta(written={"k": 2048}, verified=["k"]), checks, 1)


def test_summary_table_lines_up_and_gives_the_verdict(glacier_endpoint: Any, tmp_path: Path) -> None:
    csv_spec = next(spec for spec in archive_specs() if spec.kind == "csv")
    runs = demo_runs(seed_archives(glacier_endpoint, tmp_path, [csv_spec]), QUEUE)
    passed = _outcome(runs[0], "success", [Check("fine", True)])
    failed = _outcome(runs[1], "failed", [Check("report written", False)])

    good = render_summary([passed], 70)
    bad = render_summary([passed, failed], 70)

    header, rule, row = good.splitlines()[:3]
    assert set(rule) == {"-", " "}
    assert row.startswith(runs[0].label)
    assert row.index("success") == header.index("state")
    assert row.index("2.0 KiB") == header.index("bytes to S3")
    assert row.index("65 s") == header.index("wall time")
    assert good.splitlines()[-1].startswith("All runs succeeded")
    assert "FAILED report written" in bad
    assert "FAILED run, task states: {'select_orders': 'failed'}" in bad
    assert bad.splitlines()[-1].startswith("FAILED")
