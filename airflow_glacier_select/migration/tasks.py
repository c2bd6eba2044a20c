"""Airflow tasks of a vault migration: compose them in a DAG (see the migration example).

The tasks read their settings from the DAG's params (:func:`migration_params` declares
them with defaults and descriptions), so a DAG is a wiring of these tasks and nothing
else, and a run can be re-configured from the trigger form.

A run: find or start the inventory -> wait -> plan (stream the inventory, skip verified
copies, pace to the byte budget and the data retrieval policy; with ``dry_run`` stop
here) -> start or reuse one retrieval per chosen archive (mapped per batch) -> wait and
copy each archive (mapped per job; archives above ``shard_threshold`` as range shards over
many workers, see :mod:`.copies`) -> report. Waits listen on ``notification_queue_url``
when it is set.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.common.compat.sdk import AirflowException, conf
from airflow.sdk import Param, task

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.inventory_selection import archives_from_mapped_batch, mapped_batches
from airflow_glacier_select.migration import vault
from airflow_glacier_select.migration.copies import (
    SHARD_FINISH_TASK,
    WHOLE_COPY_TASK,
    copy_archive,
    copy_large_archives,
    mapped_values,
)
from airflow_glacier_select.migration.plan import MigrationSettings, copy_routes
from airflow_glacier_select.migration.report import REPORT_NAME, SKIPPED_NAME, build_report, report_prefix

__all__ = [
    "copy_archive",
    "copy_large_archives",
    "find_or_start_inventory",
    "job_ids",
    "large_archive_jobs",
    "migration_default_args",
    "migration_params",
    "plan_migration",
    "start_retrievals",
    "write_report",
]

log = logging.getLogger(__name__)
PLAN_NAME = "plan.json"
STORAGE_CLASSES = [
    "STANDARD",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
]


def migration_params(**defaults: Any) -> dict[str, Param]:
    """The DAG params the migration tasks read, with ``defaults`` overriding the built-in ones."""
    values: dict[str, Any] = {
        "aws_conn_id": "aws_default",
        "vault_name": "legacy-backups",
        "bucket": "my-vault-migration",
        "prefix": "vaults",
        "storage_class": "GLACIER_IR",
        "tier": "Bulk",
        "daily_byte_budget": 500 * 2**30,
        "batch_size": 50,
        "inventory_format": "CSV",
        "inventory_max_age_hours": 24,
        "shard_threshold": 0,
        "shards_per_archive": 4,
        "require_tree_hash": True,
        "notification_queue_url": "",
        "sns_topic": "",
        "dry_run": False,
        **defaults,
    }

    def param(name: str, description: str, **schema: Any) -> Param:
        return Param(values[name], description=description, **schema)

    return {
        "aws_conn_id": param("aws_conn_id", "The aws connection to use", type="string"),
        "vault_name": param("vault_name", "Vault to migrate", type="string"),
        "bucket": param("bucket", "Destination bucket", type="string"),
        "prefix": param("prefix", "Destination key prefix", type="string"),
        "storage_class": param("storage_class", "S3 storage class", enum=STORAGE_CLASSES),
        "tier": param("tier", "Retrieval tier", enum=["Expedited", "Standard", "Bulk"]),
        "daily_byte_budget": param("daily_byte_budget", "Bytes retrieved per run", type="integer", minimum=1),
        "batch_size": param("batch_size", "Archives per batch", type="integer", minimum=1),
        "inventory_format": param("inventory_format", "Inventory format", enum=["CSV", "JSON"]),
        "inventory_max_age_hours": param(
            "inventory_max_age_hours", "Inventory reuse window", type="number", minimum=0
        ),
        "shard_threshold": param(
            "shard_threshold",
            "Archives above this many bytes are copied as range shards by many workers (0: none)",
            type="integer",
            minimum=0,
        ),
        "shards_per_archive": param(
            "shards_per_archive",
            "Range shards per archive above the threshold (at most its parts)",
            type="integer",
            minimum=1,
            maximum=1000,
        ),
        "require_tree_hash": param(
            "require_tree_hash",
            "Count a copy as done only when a tree hash from Glacier vouched for its bytes",
            type="boolean",
        ),
        "notification_queue_url": param(
            "notification_queue_url",
            "SQS queue subscribed to the jobs' SNS topic: waits listen on it (empty: poll)",
            type="string",
        ),
        "sns_topic": param(
            "sns_topic",
            "SNS topic ARN the jobs this migration starts notify (empty: the vault's own)",
            type="string",
        ),
        "dry_run": param("dry_run", "Plan and report only; start no retrieval", type="boolean"),
    }


def migration_default_args(
    poll_interval: float, wait_timeout: timedelta = timedelta(hours=48)
) -> dict[str, Any]:
    """Arguments every migration operator shares: the connection and vault from params, deferred waits
    (on the ``notification_queue_url`` param's queue when it is set, polling every ``poll_interval``
    seconds when it is empty)."""
    return {
        "aws_conn_id": "{{ params.aws_conn_id }}",
        "vault_name": "{{ params.vault_name }}",
        "notification_queue_url": "{{ params.notification_queue_url }}",
        "deferrable": True,
        "poke_interval": poll_interval,
        "timeout": wait_timeout.total_seconds(),
    }


def _glacier(params: dict[str, Any]) -> GlacierJobsHook:
    return GlacierJobsHook(aws_conn_id=params["aws_conn_id"])


def _settings(params: dict[str, Any], glacier: GlacierJobsHook) -> MigrationSettings:
    return MigrationSettings(
        tier=params["tier"],
        run_byte_budget=params["daily_byte_budget"],
        shard_threshold=params["shard_threshold"] or None,
        policy=vault.read_retrieval_policy(glacier),
    )


@task
def find_or_start_inventory(**context: Any) -> str:
    """The id of a recent whole-vault inventory job, started only when there is none."""
    params = context["params"]
    job_id, _ = vault.find_or_start_inventory(
        _glacier(params),
        params["vault_name"],
        params["inventory_format"],
        params["inventory_max_age_hours"],
        sns_topic=params["sns_topic"],
    )
    return job_id


@task
def plan_migration(inventory_job_id: str, **context: Any) -> list[dict[str, Any]]:
    """Plan the run from the inventory; returns the batches of archives to retrieve (none on a dry run).

    The plan's figures go to the ``plan`` XCom, the task log and ``plan.json`` next to the report.
    """
    params, ti = context["params"], context["ti"]
    glacier = _glacier(params)
    s3_hook = S3Hook(aws_conn_id=params["aws_conn_id"])
    where = report_prefix(params["prefix"], params["vault_name"], context["run_id"])
    plan, chosen = vault.plan_from_inventory(
        glacier,
        s3_hook,
        vault_name=params["vault_name"],
        inventory_job_id=inventory_job_id,
        inventory_format=params["inventory_format"],
        bucket=params["bucket"],
        prefix=params["prefix"],
        settings=_settings(params, glacier),
        skipped_key=where + SKIPPED_NAME,
    )
    for line in plan.lines():
        log.info("%s", line)
    figures = plan.to_dict()
    s3_hook.load_string(json.dumps(figures, indent=2), where + PLAN_NAME, params["bucket"], replace=True)
    ti.xcom_push(key="plan", value=figures)
    if params["dry_run"]:
        log.info("Dry run: no retrieval is started")
        return []
    return mapped_batches(
        chosen, max_count=params["batch_size"], max_map_length=conf.getint("core", "max_map_length")
    )


@task
def start_retrievals(batch: dict[str, Any], **context: Any) -> list[dict[str, Any]]:
    """One retrieval job per archive of the batch, reusing any the vault already runs or ran."""
    params = context["params"]
    return vault.start_retrievals(
        _glacier(params),
        params["vault_name"],
        archives_from_mapped_batch(batch),
        tier=params["tier"],
        description=f"vault migration to s3://{params['bucket']}/{params['prefix']}",
        sns_topic=params["sns_topic"],
    )


def _copy_routes(context: Any) -> dict[str, list[Any]]:
    params = context["params"]
    started = [entry for batch in mapped_values(context["ti"], "start_retrievals") for entry in batch]
    return copy_routes(started, params["shard_threshold"] or None, params["shards_per_archive"])


@task(trigger_rule="none_failed")
def job_ids(**context: Any) -> list[str]:
    """The jobs of every batch copied whole (at most ``shard_threshold`` bytes) as one list, one
    mapped wait and copy each.

    It also runs when there was nothing to start (``start_retrievals`` mapped over no
    batch is skipped): an empty list, rather than a skip, tells Airflow the copies
    expand to nothing.
    """
    return list(_copy_routes(context)["whole"])


@task(trigger_rule="none_failed")
def large_archive_jobs(**context: Any) -> list[dict[str, Any]]:
    """The jobs of archives above ``shard_threshold``, each with its shard count, for
    :func:`~airflow_glacier_select.migration.copies.copy_large_archives` (an empty list when none)."""
    return list(_copy_routes(context)["sharded"])


@task(trigger_rule="all_done", multiple_outputs=False)
def write_report(**context: Any) -> dict[str, Any]:
    """Write ``report.json``; fail the run if any archive of this run was not copied verified."""
    params, ti = context["params"], context["ti"]
    plan = ti.xcom_pull(task_ids="plan_migration", key="plan")
    if plan is None:
        raise AirflowException("the migration was not planned (see plan_migration); nothing to report")
    planned = [
        entry for batch in ti.xcom_pull(task_ids="plan_migration") or [] for entry in batch["archives"]
    ]
    destination = vault.archive_key(params["prefix"], params["vault_name"], "")
    report = build_report(
        run_id=context["run_id"],
        vault_name=params["vault_name"],
        destination=f"s3://{params['bucket']}/{destination}",
        plan=plan,
        planned=planned,
        started=[entry for batch in mapped_values(ti, "start_retrievals") for entry in batch],
        copies=mapped_values(ti, WHOLE_COPY_TASK),
        sharded_copies=mapped_values(ti, SHARD_FINISH_TASK),
    )
    report["dry_run"] = bool(params["dry_run"])
    report["require_tree_hash"] = bool(params["require_tree_hash"])
    key = report_prefix(params["prefix"], params["vault_name"], context["run_id"]) + REPORT_NAME
    S3Hook(aws_conn_id=params["aws_conn_id"]).load_string(
        json.dumps(report, indent=2), key, params["bucket"], replace=True
    )
    if report["failed"]["archives"]:
        raise AirflowException(
            f"{report['failed']['archives']} archive(s) were not copied; see s3://{params['bucket']}/{key}"
        )
    return {name: value for name, value in report.items() if not name.endswith("_archives")}
