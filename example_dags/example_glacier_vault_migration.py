"""Migrate a whole Glacier vault into S3, a daily byte budget at a time, resumably.

Each daily run copies the archives not yet in S3, up to ``daily_byte_budget`` bytes,
into ``s3://<bucket>/<prefix>/<vault>/<archive id>`` with the chosen storage class,
and writes a report. Runs until the vault is empty of work; afterwards a run costs a
few listing requests and nothing else.

Resumable, and never paying twice:

- an archive whose object already holds a verified copy (same size, and the tree hash
  the transfer stored in the object's ``sha256-tree-hash`` metadata equals the
  inventory's) is skipped without any retrieval;
- before starting a retrieval, the vault's job list is searched for an in-progress or
  succeeded retrieval of the same archive (Glacier lists jobs for a day after they end),
  and that job is used instead, so a retried task or a re-run never starts a second
  paid retrieval for an archive;
- the inventory is reused the same way: a whole-vault inventory job of the same format
  younger than ``inventory_max_age_hours`` is read again rather than paid for again
  (Glacier refreshes a vault's inventory about once a day).

Tasks:

1. ``find_or_start_inventory``: reuse a recent inventory job or start one;
2. ``wait_for_inventory`` (deferrable sensor): wait in the triggerer;
3. ``plan_migration``: stream the inventory, skip verified copies, take archives in
   inventory order while they fit the byte budget (one archive larger than the whole
   budget goes alone, so it is never stuck), cut them into batches for task mapping,
   and store the list of skipped archives as ``skipped.jsonl``;
4. ``start_retrievals`` (mapped per batch): reuse or initiate one retrieval job per
   archive;
5. ``copy_archive`` (a task group mapped per job, so one failed archive does not hold
   back the others): ``wait_for_retrieval`` waits in the triggerer, then ``copy_to_s3``
   copies in tree-hash-checked chunks and stores the tree hash in the object metadata;
6. ``write_report`` (runs even when copies failed): ``report.json`` with what was
   copied, skipped, failed and left for later runs, next to ``skipped.jsonl`` under
   ``<prefix>/_migration/<vault>/<run id>/``; it fails the run if any archive failed.

Archive ids make the keys: descriptions are free text and not unique, ids are. The
report and ``skipped.jsonl`` give each key's description.

Connections: everything goes through the ``aws`` connection named by ``aws_conn_id``,
so the DAG runs unchanged against AWS or against the local Glacier endpoint.
``GLACIER_EXAMPLE_POLL_SECONDS`` (default 300) sets how often job status is checked.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.common.compat.sdk import AirflowException, conf
from airflow.sdk import DAG, Param, task, task_group

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.inventory import (
    InventoryArchive,
    iter_inventory_archives,
    parse_glacier_timestamp,
)
from airflow_glacier_select.inventory_selection import archives_from_mapped_batch, mapped_batches
from airflow_glacier_select.jobs import ArchiveRetrievalJob, InventoryRetrievalJob, JobDescription
from airflow_glacier_select.s3_copy.destination import is_verified_copy
from airflow_glacier_select.sensors.glacier import GlacierJobSensor
from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator

log = logging.getLogger(__name__)
POLL_SECONDS = float(os.environ.get("GLACIER_EXAMPLE_POLL_SECONDS", "300"))
WAIT_TIMEOUT = timedelta(hours=48).total_seconds()
"""Bulk retrievals take up to 12 hours; leave ample room before a wait gives up."""
_PARTIAL_INVENTORY = ("StartDate", "EndDate", "Limit", "Marker")


def _object_key(prefix: str, vault_name: str, archive_id: str) -> str:
    """The same key ``copy_to_s3`` renders from its ``{vault_name}/{archive_id}`` template."""
    return f"{prefix}/{vault_name}/{archive_id}"


def _report_prefix(params: dict[str, Any], run_id: str) -> str:
    return f"{params['prefix']}/_migration/{params['vault_name']}/{run_id}/"


def _is_reusable_inventory(job: JobDescription, inventory_format: str, oldest: datetime) -> bool:
    """A whole-vault inventory of this format, running or succeeded, created after ``oldest``."""
    parameters = job.inventory_retrieval_parameters or {}
    return (
        job.job_type == "inventory-retrieval"
        and (job.in_progress or job.succeeded)
        and parameters.get("Format") == inventory_format
        and not any(parameters.get(name) for name in _PARTIAL_INVENTORY)
        and job.creation_date is not None
        and parse_glacier_timestamp(job.creation_date) >= oldest
    )


def _reusable_retrievals(hook: GlacierJobsHook, vault_name: str, wanted: dict[str, int]) -> dict[str, str]:
    """Job ids of running or succeeded whole-archive retrievals of the ``wanted`` archives (id -> size)."""
    found: dict[str, str] = {}
    for job in hook.iter_jobs(vault_name):
        archive_id = job.archive_id or ""
        if job.job_type != "archive-retrieval" or archive_id not in wanted or job.failed:
            continue
        whole = job.retrieval_byte_range in (None, f"0-{wanted[archive_id] - 1}")
        if whole and (archive_id not in found or job.succeeded):
            found[archive_id] = job.job_id
    return found


def _mapped_values(ti: Any, task_id: str) -> list[Any]:
    """The return values of every mapped instance of ``task_id`` that pushed one.

    Asking for a list of task ids makes Airflow return a list even for a single instance.
    """
    return [value for value in ti.xcom_pull(task_ids=[task_id]) or [] if value is not None]


def _within_budget(
    pending: Iterable[InventoryArchive], budget: int, deferred: dict[str, int]
) -> Iterator[InventoryArchive]:
    """The archives, in order, that fit in what is left of ``budget`` bytes (the first one always
    does, so an archive larger than the budget is not stuck); the others are counted in ``deferred``."""
    spent = 0
    for archive in pending:
        if spent + archive.size <= budget or spent == 0:
            spent += archive.size
            yield archive
        else:
            deferred["archives"] += 1
            deferred["bytes"] += archive.size


with DAG(
    dag_id="example_glacier_vault_migration",
    description="Copy a whole vault into S3, paced by a daily byte budget, resumable",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "glacier"],
    doc_md=__doc__,
    default_args={
        "aws_conn_id": "{{ params.aws_conn_id }}",
        "vault_name": "{{ params.vault_name }}",
        "deferrable": True,
        "poke_interval": POLL_SECONDS,
        "timeout": WAIT_TIMEOUT,
    },
    params={
        "aws_conn_id": Param("aws_default", type="string", description="The aws connection to use"),
        "vault_name": Param("legacy-backups", type="string", description="Vault to migrate"),
        "bucket": Param("my-vault-migration", type="string", description="Destination bucket"),
        "prefix": Param("vaults", type="string", description="Destination key prefix"),
        "storage_class": Param(
            "GLACIER_IR",
            enum=[
                "STANDARD",
                "STANDARD_IA",
                "ONEZONE_IA",
                "INTELLIGENT_TIERING",
                "GLACIER_IR",
                "GLACIER",
                "DEEP_ARCHIVE",
            ],
            description="S3 storage class of the copies",
        ),
        "tier": Param("Bulk", enum=["Expedited", "Standard", "Bulk"], description="Retrieval tier"),
        "daily_byte_budget": Param(500 * 2**30, type="integer", minimum=1, description="Bytes per run"),
        "batch_size": Param(50, type="integer", minimum=1, description="Archives per mapped batch"),
        "inventory_format": Param("CSV", enum=["CSV", "JSON"], description="Inventory format"),
        "inventory_max_age_hours": Param(24, type="number", minimum=0, description="Reuse window"),
    },
) as dag:

    @task
    def find_or_start_inventory(**context: Any) -> str:
        """The id of a recent whole-vault inventory job, started only when there is none."""
        params = context["params"]
        hook = GlacierJobsHook(aws_conn_id=params["aws_conn_id"])
        oldest = datetime.now(timezone.utc) - timedelta(hours=params["inventory_max_age_hours"])
        reusable = [
            job
            for job in hook.iter_jobs(params["vault_name"])
            if _is_reusable_inventory(job, params["inventory_format"], oldest)
        ]
        if reusable:
            newest = max(reusable, key=lambda job: job.creation_date or "")
            log.info(
                "Reusing inventory job %s (%s, created %s)",
                newest.job_id,
                newest.status_code,
                newest.creation_date,
            )
            return newest.job_id
        job = InventoryRetrievalJob(
            format=params["inventory_format"], description="vault migration inventory"
        )
        return hook.initiate_job(params["vault_name"], job).job_id

    inventory_job_id = find_or_start_inventory()

    wait_for_inventory = GlacierJobSensor(task_id="wait_for_inventory", job_id=inventory_job_id)

    @task
    def plan_migration(**context: Any) -> list[dict[str, Any]]:
        """Stream the inventory: skip verified copies, budget the rest, batch it for mapping.

        Returns the batches; the counts for the report go to the ``summary`` XCom.
        """
        params, ti = context["params"], context["ti"]
        vault_name, bucket, prefix = params["vault_name"], params["bucket"], params["prefix"]
        glacier = GlacierJobsHook(aws_conn_id=params["aws_conn_id"])
        s3_hook = S3Hook(aws_conn_id=params["aws_conn_id"])
        s3 = s3_hook.get_conn()
        existing: dict[str, int] = {}  # archive id -> object size, from one listing
        base = _object_key(prefix, vault_name, "")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
            existing.update({item["Key"][len(base) :]: item["Size"] for item in page.get("Contents", [])})

        skipped = {"archives": 0, "bytes": 0}
        deferred = {"archives": 0, "bytes": 0}
        inventory = {"archives": 0, "bytes": 0}
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as skipped_file:

            def pending(archives: Iterable[InventoryArchive]) -> Iterator[InventoryArchive]:
                for archive in archives:
                    inventory["archives"] += 1
                    inventory["bytes"] += archive.size
                    key = _object_key(prefix, vault_name, archive.archive_id)
                    if existing.get(archive.archive_id) == archive.size:
                        metadata = s3.head_object(Bucket=bucket, Key=key).get("Metadata") or {}
                        if is_verified_copy(archive.size, metadata, archive.size, archive.sha256_tree_hash):
                            skipped["archives"] += 1
                            skipped["bytes"] += archive.size
                            skipped_file.write(json.dumps({**archive.to_dict(), "key": key}) + "\n")
                            continue
                    yield archive

            with glacier.get_job_output(
                vault_name, ti.xcom_pull(task_ids="find_or_start_inventory")
            ) as output:
                chosen = _within_budget(
                    pending(iter_inventory_archives(output.body, params["inventory_format"])),
                    params["daily_byte_budget"],
                    deferred,
                )
                batches = mapped_batches(
                    chosen,
                    max_count=params["batch_size"],
                    max_map_length=conf.getint("core", "max_map_length"),
                )
            skipped_file.flush()
            s3_hook.load_file(
                skipped_file.name,
                _report_prefix(params, context["run_id"]) + "skipped.jsonl",
                bucket,
                replace=True,
            )
        ti.xcom_push(key="summary", value={"inventory": inventory, "skipped": skipped, "deferred": deferred})
        return batches

    @task
    def start_retrievals(batch: dict[str, Any], **context: Any) -> list[dict[str, Any]]:
        """One retrieval job per archive of the batch, reusing any the vault already runs or ran."""
        params = context["params"]
        hook = GlacierJobsHook(aws_conn_id=params["aws_conn_id"])
        archives = archives_from_mapped_batch(batch)
        reusable = _reusable_retrievals(hook, params["vault_name"], {a.archive_id: a.size for a in archives})
        started = []
        for archive in archives:
            job_id = reusable.get(archive.archive_id)
            if job_id is None:
                job = ArchiveRetrievalJob(
                    archive_id=archive.archive_id,
                    tier=params["tier"],
                    description=f"vault migration to s3://{params['bucket']}/{params['prefix']}",
                )
                job_id = hook.initiate_job(params["vault_name"], job).job_id
            started.append(
                {**archive.to_dict(), "job_id": job_id, "reused_job": archive.archive_id in reusable}
            )
        return started

    @task(trigger_rule="none_failed")
    def job_ids(**context: Any) -> list[str]:
        """The jobs of every batch as one list, one mapped wait and copy each.

        It also runs when there was nothing to start (``start_retrievals`` mapped over no
        batch is skipped): an empty list, rather than a skip, tells Airflow the copies
        expand to nothing.
        """
        return [
            entry["job_id"] for batch in _mapped_values(context["ti"], "start_retrievals") for entry in batch
        ]

    @task(trigger_rule="all_done", multiple_outputs=False)
    def write_report(**context: Any) -> dict[str, Any]:
        """Write ``report.json``; fail the run if any archive of this run was not copied verified."""
        params, ti = context["params"], context["ti"]
        plan = ti.xcom_pull(task_ids="plan_migration", key="summary")
        if plan is None:
            raise AirflowException("the migration was not planned (see plan_migration); nothing to report")
        planned = [entry for batch in ti.xcom_pull(task_ids="plan_migration") for entry in batch["archives"]]
        started = {
            entry["archive_id"]: entry for batch in _mapped_values(ti, "start_retrievals") for entry in batch
        }
        copies = {copy["job_id"]: copy for copy in _mapped_values(ti, "copy_archive.copy_to_s3")}
        copied, failed = [], []
        for archive in planned:
            entry = started.get(archive["archive_id"], {**archive, "job_id": None, "reused_job": False})
            copy = copies.get(entry["job_id"])
            if copy is not None and copy.get("verified"):
                copied.append({**entry, "key": copy["key"], "verification": copy.get("verification")})
            else:
                failed.append(entry)
        destination = _object_key(params["prefix"], params["vault_name"], "")
        report = {
            "run_id": context["run_id"],
            "vault_name": params["vault_name"],
            "destination": f"s3://{params['bucket']}/{destination}",
            "inventory": plan["inventory"],
            "copied": {"archives": len(copied), "bytes": sum(e["size"] for e in copied)},
            "skipped": plan["skipped"],
            "failed": {"archives": len(failed), "bytes": sum(e["size"] for e in failed)},
            "left_for_later_runs": plan["deferred"],
            "jobs_started": sum(not e["reused_job"] for e in started.values()),
            "jobs_reused": sum(e["reused_job"] for e in started.values()),
            "copied_archives": copied,
            "failed_archives": failed,
        }
        key = _report_prefix(params, context["run_id"]) + "report.json"
        S3Hook(aws_conn_id=params["aws_conn_id"]).load_string(
            json.dumps(report, indent=2), key, params["bucket"], replace=True
        )
        if failed:
            raise AirflowException(
                f"{len(failed)} archive(s) were not copied; see s3://{params['bucket']}/{key}"
            )
        return {name: value for name, value in report.items() if not name.endswith("_archives")}

    plan = plan_migration()
    started = start_retrievals.expand(batch=plan)
    jobs = job_ids()
    started >> jobs

    @task_group
    def copy_archive(job_id: str) -> None:
        """Wait for one retrieval, then copy its output (each mapped instance on its own)."""
        wait_for_retrieval = GlacierJobSensor(task_id="wait_for_retrieval", job_id=job_id)
        wait_for_retrieval >> GlacierJobOutputToS3Operator(
            task_id="copy_to_s3",
            job_id=job_id,
            bucket="{{ params.bucket }}",
            key="{{ params.prefix }}/{vault_name}/{archive_id}",
            storage_class="{{ params.storage_class }}",
            collision="skip_if_same",
        )

    copies = copy_archive.expand(job_id=jobs)
    report = write_report()
    inventory_job_id >> wait_for_inventory >> plan
    copies >> report
    plan >> report
