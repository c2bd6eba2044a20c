"""The demo's DAG runs, their configuration, and what each must have achieved.

Five runs of the three example DAGs, each configured through its DAG params (the same
way a user triggers them with a config): a Select query, a restore of the 2019 photos,
and a vault migration planned (a dry run that starts no retrieval), then run twice, the
second time to show it resumes from S3 and pays for nothing. Each run has checks that
compare the outcome with what was seeded.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_glacier_select.demo.archives import (
    BACKUPS_VAULT,
    PHOTOS_VAULT,
    SALES_VAULT,
    SeededArchive,
    expected_sales_report,
)
from airflow_glacier_select.demo.observe import RunDelta, object_tree_hash
from airflow_glacier_select.testing.notifications import NotificationQueue

__all__ = ["BUCKETS", "CONN_ID", "Check", "CheckContext", "DemoRun", "demo_runs"]

CONN_ID = "glacier_demo"
SELECT_BUCKET = "demo-select-results"
RESTORE_BUCKET = "demo-restored"
MIGRATION_BUCKET = "demo-migrated"
BUCKETS = (SELECT_BUCKET, RESTORE_BUCKET, MIGRATION_BUCKET)
RESTORE_PATTERN = "photos/2019/*"
MIGRATION_PREFIX = "vaults"
MIGRATION_STORAGE_CLASS = "GLACIER_IR"
MIGRATION_SHARD_THRESHOLD = 64 * 2**20
POLL_SECONDS = 2
"""How often a polling wait asks DescribeJob (the demo's ``GLACIER_EXAMPLE_POLL_SECONDS``)."""
BULK_SECONDS = 30
"""How long a Bulk retrieval takes on the demo's endpoint."""
_KEY_WIDTH = 40


@dataclass(frozen=True)
class Check:
    text: str
    ok: bool


@dataclass
class CheckContext:
    """What a run's checks look at: the S3 client, the run's delta and the seeded archives."""

    s3: Any
    bucket: str
    delta: RunDelta
    seeded: list[SeededArchive]
    initiate_job_requests: int
    requests: Mapping[str, int] = field(default_factory=dict)
    """Requests the endpoint served while the run's wave ran, by operation."""
    waits_in_triggerer: int = 0

    def read_json(self, suffix: str) -> Any:
        """The JSON object the run wrote whose key ends with ``suffix`` (None if there is none)."""
        keys = sorted(key for key in self.delta.written if key.endswith(suffix))
        if not keys:
            return None
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=keys[-1])["Body"].read())

    def verify_copies(
        self, expected: dict[str, SeededArchive], storage_class: str | None = None
    ) -> list[Check]:
        """Every expected key written, its bytes' tree hash (and storage class) as seeded."""
        checks = []
        for key, archive in sorted(expected.items(), key=lambda item: item[1].spec.path):
            shown = key if len(key) <= _KEY_WIDTH else key[: _KEY_WIDTH - 3] + "..."
            if key not in self.delta.written:
                checks.append(Check(f"{archive.spec.path}: s3://{self.bucket}/{shown} not written", False))
                continue
            actual, stored, klass = object_tree_hash(self.s3, self.bucket, key)
            hashed = actual == stored == archive.sha256_tree_hash and self.delta.written[key] == archive.size
            if hashed:
                self.delta.verified.append(key)
            text = f"{archive.spec.path} -> {shown}: {archive.size:,} bytes, tree hash {actual[:12]}..."
            if storage_class is None:
                checks.append(Check(text, hashed))
            else:
                klass = klass or "STANDARD"
                checks.append(Check(f"{text}, {klass}", hashed and klass == storage_class))
        return checks


@dataclass(frozen=True)
class DemoRun:
    label: str
    dag_id: str
    run_id: str
    vault_name: str
    bucket: str
    conf: dict[str, Any]
    checks: Callable[[CheckContext], list[Check]]


def _jobs(delta: RunDelta, expected: int) -> Check:
    states = ", ".join(f"{count} {state}" for state, count in sorted(delta.job_states.items())) or "none"
    ok = delta.jobs_started == expected and delta.job_states.get("Succeeded", 0) == expected
    return Check(f"Glacier jobs started: {delta.jobs_started} ({states}), expected {expected} succeeded", ok)


def _select_checks(context: CheckContext) -> list[Check]:
    report = context.read_json("report.json")
    results = [key for key in context.delta.written if "/results/" in key]
    expected = expected_sales_report()
    regions = report.get("regions") if isinstance(report, dict) else None
    return [
        _jobs(context.delta, 1),
        Check(f"Select wrote {len(results)} result object(s)", bool(results)),
        Check(
            "report.json totals per region equal the totals computed from the seeded CSV",
            regions == expected,
        ),
    ]


def _by_path(
    seeded: list[SeededArchive], vault_name: str, pattern: str, prefix: str
) -> dict[str, SeededArchive]:
    return {
        f"{prefix}/{archive.spec.path}": archive
        for archive in seeded
        if archive.spec.vault_name == vault_name and fnmatch.fnmatchcase(archive.spec.path, pattern)
    }


def _restore_checks(context: CheckContext) -> list[Check]:
    expected = _by_path(context.seeded, PHOTOS_VAULT, RESTORE_PATTERN, "restored")
    extra = sorted(set(context.delta.written) - set(expected))
    return [
        _jobs(context.delta, 1 + len(expected)),
        *context.verify_copies(expected),
        Check(f"nothing restored beyond {RESTORE_PATTERN} ({len(extra)} other keys)", not extra),
    ]


def _migrated_keys(seeded: list[SeededArchive]) -> dict[str, SeededArchive]:
    return {
        f"{MIGRATION_PREFIX}/{BACKUPS_VAULT}/{archive.archive_id}": archive
        for archive in seeded
        if archive.spec.vault_name == BACKUPS_VAULT
    }


def _plan_checks(context: CheckContext) -> list[Check]:
    expected = _migrated_keys(context.seeded)
    plan = context.read_json("plan.json") or {}
    to_move = plan.get("to_move") or {}
    requests = (plan.get("retrieval_requests") or {}).get("Bulk") or {}
    written = sorted(set(context.delta.written) & set(expected))
    return [
        _jobs(context.delta, 1),
        Check(
            f"plan.json: {to_move.get('archives')} archives ({to_move.get('bytes', 0):,} bytes) to move, "
            f"{(plan.get('already_copied') or {}).get('archives')} already copied, "
            f"{requests.get('requests_this_run')} Bulk retrievals this run, "
            f"{(plan.get('sharded') or {}).get('archives')} above the shard threshold, "
            f"{plan.get('runs_needed')} run(s) needed",
            to_move.get("archives") == len(expected) and requests.get("requests_this_run") == len(expected),
        ),
        Check(f"archive objects written by the dry run: {len(written)}", not written),
    ]


def _notification_waits(context: CheckContext) -> Check:
    """The run's waits listened on the queue: far fewer DescribeJob than polling would have sent.

    A polling wait asks every POLL_SECONDS through a BULK_SECONDS job; a notification wait
    asks once before deferring and once to confirm the message.
    """
    describes = context.requests.get("DescribeJob", 0)
    received = context.requests.get("ReceiveMessage", 0)
    waits = context.waits_in_triggerer
    polling = waits * BULK_SECONDS // POLL_SECONDS
    return Check(
        f"waits on queue notifications: {waits} deferred wait(s), {received} ReceiveMessage, "
        f"{describes} DescribeJob in the whole run (waits and copies); polling every {POLL_SECONDS} s "
        f"would take about {polling} for the waits alone",
        waits > 0 and received > 0 and describes < polling,
    )


def _migration_checks(context: CheckContext) -> list[Check]:
    expected = _migrated_keys(context.seeded)
    report = context.read_json("report.json") or {}
    copied = (report.get("copied") or {}).get("archives")
    sharded = report.get("copied_as_shards") or {}
    large = [a for a in expected.values() if a.size > MIGRATION_SHARD_THRESHOLD]
    return [
        _jobs(context.delta, len(expected)),  # the dry run's inventory is reused
        *context.verify_copies(expected, MIGRATION_STORAGE_CLASS),
        Check(f"report.json: {copied} copied, expected {len(expected)}", copied == len(expected)),
        Check(
            f"report.json: {sharded.get('archives')} archive(s) ({sharded.get('bytes', 0):,} bytes) "
            f"copied as range shards, expected {len(large)} ({', '.join(a.spec.path for a in large)})",
            sharded == {"archives": len(large), "bytes": sum(a.size for a in large)},
        ),
        _notification_waits(context),
    ]


def _rerun_checks(context: CheckContext) -> list[Check]:
    expected = _migrated_keys(context.seeded)
    report = context.read_json("report.json") or {}
    copied = (report.get("copied") or {}).get("archives")
    skipped = (report.get("skipped") or {}).get("archives")
    rewritten = sorted(set(context.delta.written) & set(expected))
    return [
        _jobs(context.delta, 0),
        Check(f"InitiateJob requests: {context.initiate_job_requests}", context.initiate_job_requests == 0),
        Check(f"archive objects rewritten: {len(rewritten)}", not rewritten),
        Check(
            f"report.json: {copied} copied, {skipped} skipped as verified copies",
            copied == 0 and skipped == len(expected),
        ),
    ]


def demo_runs(seeded: list[SeededArchive], queue: NotificationQueue) -> list[DemoRun]:
    """The runs, in order; their configs name the seeded vaults, archives and demo buckets, and the
    migration's jobs notify ``queue``'s topic, on whose queue its waits listen."""
    csv_archive = next(archive for archive in seeded if archive.spec.kind == "csv")
    migration = {
        "aws_conn_id": CONN_ID,
        "vault_name": BACKUPS_VAULT,
        "bucket": MIGRATION_BUCKET,
        "prefix": MIGRATION_PREFIX,
        "storage_class": MIGRATION_STORAGE_CLASS,
        "tier": "Bulk",
        "daily_byte_budget": 2**30,
        "batch_size": 2,
        "shard_threshold": MIGRATION_SHARD_THRESHOLD,
        "notification_queue_url": queue.queue_url,
        "sns_topic": queue.topic_arn,
    }
    return [
        DemoRun(
            "select (CSV query)",
            "example_glacier_select",
            "demo_select",
            SALES_VAULT,
            SELECT_BUCKET,
            {
                "aws_conn_id": CONN_ID,
                "vault_name": SALES_VAULT,
                "archive_id": csv_archive.archive_id,
                "tier": "Expedited",
                "bucket": SELECT_BUCKET,
                "results_prefix": "orders",
            },
            _select_checks,
        ),
        DemoRun(
            "restore (2019 photos)",
            "example_glacier_restore",
            "demo_restore",
            PHOTOS_VAULT,
            RESTORE_BUCKET,
            {
                "aws_conn_id": CONN_ID,
                "vault_name": PHOTOS_VAULT,
                "path_pattern": RESTORE_PATTERN,
                "tier": "Standard",
                "bucket": RESTORE_BUCKET,
                "prefix": "restored",
            },
            _restore_checks,
        ),
        DemoRun(
            "migration (plan, dry run)",
            "example_glacier_vault_migration",
            "demo_migration_plan",
            BACKUPS_VAULT,
            MIGRATION_BUCKET,
            {**migration, "dry_run": True},
            _plan_checks,
        ),
        DemoRun(
            "migration",
            "example_glacier_vault_migration",
            "demo_migration_1",
            BACKUPS_VAULT,
            MIGRATION_BUCKET,
            migration,
            _migration_checks,
        ),
        DemoRun(
            "migration (re-run)",
            "example_glacier_vault_migration",
            "demo_migration_2",
            BACKUPS_VAULT,
            MIGRATION_BUCKET,
            migration,
            _rerun_checks,
        ),
    ]
