"""Airflow tasks of a vault migration: compose them in a DAG (see the migration example).

The tasks read their settings from the DAG's params (:func:`migration_params` declares
them with defaults and descriptions), so a DAG is a wiring of these tasks and nothing
else, and a run can be re-configured from the trigger form.

A run: find or start the inventory -> wait -> plan (stream the inventory, skip verified
copies, pace to the byte budget and the data retrieval policy; with ``dry_run`` stop
here) -> start or reuse one retrieval per chosen archive (mapped per batch) -> wait and
copy each archive (mapped per job) -> report.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.common.compat.sdk import AirflowException, conf
from airflow.sdk import Param, task, task_group

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.inventory_selection import archives_from_mapped_batch, mapped_batches
from airflow_glacier_select.migration import vault
from airflow_glacier_select.migration.plan import MigrationSettings
from airflow_glacier_select.migration.report import REPORT_NAME, SKIPPED_NAME, build_report, report_prefix
from airflow_glacier_select.sensors.glacier import GlacierJobSensor
from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator

__all__ = [
    "copy_archive",
    "find_or_start_inventory",
    "job_ids",
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
        "dry_run": False,
        **defaults,
    }
    return {
        "aws_conn_id": Param(values["aws_conn_id"], type="string", description="The aws connection to use"),
        "vault_name": Param(values["vault_name"], type="string", description="Vault to migrate"),
        "bucket": Param(values["bucket"], type="string", description="Destination bucket"),
        "prefix": Param(values["prefix"], type="string", description="Destination key prefix"),
        "storage_class": Param(values["storage_class"], enum=STORAGE_CLASSES, description="S3 storage class"),
        "tier": Param(values["tier"], enum=["Expedited", "Standard", "Bulk"], description="Retrieval tier"),
        "daily_byte_budget": Param(
            values["daily_byte_budget"], type="integer", minimum=1, description="Bytes retrieved per run"
        ),
        "batch_size": Param(
            values["batch_size"], type="integer", minimum=1, description="Archives per batch"
        ),
        "inventory_format": Param(
            values["inventory_format"], enum=["CSV", "JSON"], description="Inventory format"
        ),
        "inventory_max_age_hours": Param(
            values["inventory_max_age_hours"], type="number", minimum=0, description="Inventory reuse window"
        ),
        "shard_threshold": Param(
            values["shard_threshold"],
            type="integer",
            minimum=0,
            description="Archives above this many bytes are counted as sharded copies in the plan (0: none)",
        ),
        "dry_run": Param(
            values["dry_run"], type="boolean", description="Plan and report only; start no retrieval"
        ),
    }


def migration_default_args(
    poll_interval: float, wait_timeout: timedelta = timedelta(hours=48)
) -> dict[str, Any]:
    """Arguments every migration operator shares: the connection and vault from params, deferred waits."""
    return {
        "aws_conn_id": "{{ params.aws_conn_id }}",
        "vault_name": "{{ params.vault_name }}",
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


def _mapped_values(ti: Any, task_id: str) -> list[Any]:
    """The return values of every mapped instance of ``task_id`` that pushed one.

    Asking for a list of task ids makes Airflow return a list even for a single instance.
    """
    return [value for value in ti.xcom_pull(task_ids=[task_id]) or [] if value is not None]


@task
def find_or_start_inventory(**context: Any) -> str:
    """The id of a recent whole-vault inventory job, started only when there is none."""
    params = context["params"]
    job_id, _ = vault.find_or_start_inventory(
        _glacier(params), params["vault_name"], params["inventory_format"], params["inventory_max_age_hours"]
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
    )


@task(trigger_rule="none_failed")
def job_ids(**context: Any) -> list[str]:
    """The jobs of every batch as one list, one mapped wait and copy each.

    It also runs when there was nothing to start (``start_retrievals`` mapped over no
    batch is skipped): an empty list, rather than a skip, tells Airflow the copies
    expand to nothing.
    """
    return [entry["job_id"] for batch in _mapped_values(context["ti"], "start_retrievals") for entry in batch]


@task_group
def copy_archive(job_id: str) -> None:
    """Wait for one retrieval, then copy its output (each mapped instance on its own)."""
    wait_for_retrieval = GlacierJobSensor(
        task_id="wait_for_retrieval", vault_name="{{ params.vault_name }}", job_id=job_id
    )
    wait_for_retrieval >> GlacierJobOutputToS3Operator(
        task_id="copy_to_s3",
        job_id=job_id,
        bucket="{{ params.bucket }}",
        key="{{ params.prefix }}/{vault_name}/{archive_id}",
        storage_class="{{ params.storage_class }}",
        collision="skip_if_same",
    )


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
        started=[entry for batch in _mapped_values(ti, "start_retrievals") for entry in batch],
        copies=_mapped_values(ti, "copy_archive.copy_to_s3"),
    )
    report["dry_run"] = bool(params["dry_run"])
    key = report_prefix(params["prefix"], params["vault_name"], context["run_id"]) + REPORT_NAME
    S3Hook(aws_conn_id=params["aws_conn_id"]).load_string(
        json.dumps(report, indent=2), key, params["bucket"], replace=True
    )
    if report["failed"]["archives"]:
        raise AirflowException(
            f"{report['failed']['archives']} archive(s) were not copied; see s3://{params['bucket']}/{key}"
        )
    return {name: value for name, value in report.items() if not name.endswith("_archives")}
