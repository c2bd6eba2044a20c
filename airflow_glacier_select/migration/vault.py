"""The Glacier and S3 calls of a vault migration, through the package's hooks.

Each function does one step a migration task needs and returns plain values, so the
Airflow tasks in :mod:`.tasks` stay a few lines and these steps can be tested against
the local endpoint without a DAG.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from airflow_glacier_select.inventory import InventoryArchive, iter_inventory_archives
from airflow_glacier_select.jobs import ArchiveRetrievalJob, InventoryRetrievalJob
from airflow_glacier_select.migration.plan import MigrationPlan, MigrationPlanner, MigrationSettings
from airflow_glacier_select.migration.policy import DataRetrievalPolicy
from airflow_glacier_select.migration.reuse import newest_reusable_inventory, reusable_retrievals
from airflow_glacier_select.s3_copy.destination import is_verified_copy

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_glacier_select.hooks.glacier import GlacierJobsHook

__all__ = [
    "archive_key",
    "find_or_start_inventory",
    "plan_from_inventory",
    "read_retrieval_policy",
    "start_retrievals",
]

log = logging.getLogger(__name__)


def archive_key(prefix: str, vault_name: str, archive_id: str) -> str:
    """Where an archive's copy goes: archive ids make the keys (descriptions are free text, not unique)."""
    return f"{prefix}/{vault_name}/{archive_id}"


def read_retrieval_policy(glacier: GlacierJobsHook) -> DataRetrievalPolicy:
    """The region's data retrieval policy (GetDataRetrievalPolicy), which the plan paces to."""
    return DataRetrievalPolicy.from_response({"Policy": glacier.get_data_retrieval_policy()})


def find_or_start_inventory(
    glacier: GlacierJobsHook,
    vault_name: str,
    inventory_format: str,
    max_age_hours: float,
    *,
    sns_topic: str | None = None,
) -> tuple[str, bool]:
    """The id of a recent whole-vault inventory job, and whether it was reused rather than started.

    A job started here notifies ``sns_topic`` when it ends (its InitiateJob ``SNSTopic``).
    """
    oldest = datetime.now(timezone.utc) - timedelta(hours=max_age_hours)
    reusable = newest_reusable_inventory(glacier.iter_jobs(vault_name), inventory_format, oldest)
    if reusable is not None:
        log.info(
            "Reusing inventory job %s (%s, created %s)",
            reusable.job_id,
            reusable.status_code,
            reusable.creation_date,
        )
        return reusable.job_id, True
    job = InventoryRetrievalJob(
        format=inventory_format, description="vault migration inventory", sns_topic=sns_topic or None
    )
    return glacier.initiate_job(vault_name, job).job_id, False


def _object_sizes(s3: Any, bucket: str, base: str) -> dict[str, int]:
    """Archive id -> size of every object under ``base``, from one listing (not a HEAD per archive)."""
    sizes: dict[str, int] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base):
        sizes.update({item["Key"][len(base) :]: item["Size"] for item in page.get("Contents", [])})
    return sizes


def plan_from_inventory(
    glacier: GlacierJobsHook,
    s3_hook: S3Hook,
    *,
    vault_name: str,
    inventory_job_id: str,
    inventory_format: str,
    bucket: str,
    prefix: str,
    settings: MigrationSettings,
    skipped_key: str | None = None,
) -> tuple[MigrationPlan, list[InventoryArchive]]:
    """Stream the inventory through the planner: the plan and the archives this run retrieves.

    An archive counts as already copied when S3 holds an object of its size whose stored
    tree hash equals the inventory's (only those get a HEAD request). The skipped archives
    are written, one JSON line each, to ``skipped_key`` in ``bucket`` when given.
    Raises :class:`~.plan.MigrationPlanError` before anything is started when an archive can
    never be retrieved under the data retrieval policy.
    """
    s3 = s3_hook.get_conn()
    base = archive_key(prefix, vault_name, "")
    sizes = _object_sizes(s3, bucket, base)
    planner = MigrationPlanner(settings)
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as skipped_file:

        def with_copy_state(archives: Iterable[InventoryArchive]) -> Iterator[tuple[InventoryArchive, bool]]:
            for archive in archives:
                verified = False
                if sizes.get(archive.archive_id) == archive.size:
                    key = base + archive.archive_id
                    metadata = s3.head_object(Bucket=bucket, Key=key).get("Metadata") or {}
                    verified = is_verified_copy(
                        archive.size, metadata, archive.size, archive.sha256_tree_hash
                    )
                    if verified:
                        skipped_file.write(json.dumps({**archive.to_dict(), "key": key}) + "\n")
                yield archive, verified

        with glacier.get_job_output(vault_name, inventory_job_id) as output:
            chosen = list(
                planner.choose(with_copy_state(iter_inventory_archives(output.body, inventory_format)))
            )
        skipped_file.flush()
        if skipped_key is not None:
            s3_hook.load_file(skipped_file.name, skipped_key, bucket, replace=True)
    return planner.check(), chosen


def start_retrievals(
    glacier: GlacierJobsHook,
    vault_name: str,
    archives: list[InventoryArchive],
    *,
    tier: str,
    description: str,
    sns_topic: str | None = None,
) -> list[dict[str, Any]]:
    """One retrieval job per archive, reusing any running or succeeded one the vault already has.

    A job started here notifies ``sns_topic`` when it ends; a reused job notifies whatever
    its own InitiateJob (or the vault's notification configuration) named.

    Returns one entry per archive: the inventory fields, ``job_id`` and ``reused_job``.
    """
    reusable = reusable_retrievals(glacier.iter_jobs(vault_name), {a.archive_id: a.size for a in archives})
    started = []
    for archive in archives:
        job_id = reusable.get(archive.archive_id)
        if job_id is None:
            job = ArchiveRetrievalJob(
                archive_id=archive.archive_id, tier=tier, description=description, sns_topic=sns_topic or None
            )
            job_id = glacier.initiate_job(vault_name, job).job_id
        started.append({**archive.to_dict(), "job_id": job_id, "reused_job": archive.archive_id in reusable})
    return started
