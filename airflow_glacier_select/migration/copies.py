"""The copy stage of a migration run: each archive copied whole, or as range shards by many workers.

:func:`~airflow_glacier_select.migration.plan.copy_routes` splits a run's retrievals at
the ``shard_threshold`` param. Archives at or below it go to :func:`copy_archive`, one
mapped task group per archive (wait, then one copy task). Archives above it go to
:func:`copy_large_archives`, which cannot simply map :func:`~airflow_glacier_select.
transfers.sharded.sharded_copy` over them, because Airflow does not expand a task inside
an expanded task group. The same three steps therefore run as flat mappings:

1. ``shard_archive`` (a mapped task group, one per archive): wait for the retrieval, then
   plan its sharded copy (open the multipart upload, cut the shards);
2. ``shard_work`` gathers every archive's shards into one list, ``finish_work`` one
   finishing entry per archive;
3. ``copy_shard`` is mapped over all shards of all archives, so many workers share the large
   archives of a run, and ``finish`` (one per archive) completes each upload once its parts
   are proven, or aborts it.

Both routes take their settings from the run's params (see
:func:`~airflow_glacier_select.migration.tasks.migration_params`): ``require_tree_hash``
(a whole copy no tree hash from Glacier vouched for is refused and nothing is written) and
``shards_per_archive``; waits use ``notification_queue_url`` through the DAG's default args.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import TaskGroup, task, task_group

from airflow_glacier_select.s3_copy.shards import check_shard_count
from airflow_glacier_select.sensors.glacier import GlacierJobSensor
from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator
from airflow_glacier_select.transfers.sharded import (
    GlacierCopyShardOperator,
    GlacierShardedCopyFinishOperator,
    GlacierShardedCopyPlanOperator,
    _finish_trigger_rule,
)

__all__ = [
    "MigrationArchiveCopyOperator",
    "MigrationShardPlanOperator",
    "copy_archive",
    "copy_large_archives",
    "mapped_values",
]

ARCHIVE_KEY = "{{ params.prefix }}/{vault_name}/{archive_id}"
"""Every copy's key; the archive id (not the free-text description) keeps keys unique."""
LARGE = "copy_large_archives"
SHARD_PLAN_TASK = f"{LARGE}.shard_archive.plan_shards"
SHARD_FINISH_TASK = f"{LARGE}.finish"
WHOLE_COPY_TASK = "copy_archive.copy_to_s3"


def mapped_values(ti: Any, task_id: str) -> list[Any]:
    """The return values of every mapped instance of ``task_id`` that pushed one.

    Asking for a list of task ids makes Airflow return a list even for a single instance.
    """
    return [value for value in ti.xcom_pull(task_ids=[task_id]) or [] if value is not None]


def _require_tree_hash(context: Any) -> bool:
    return bool(context["params"].get("require_tree_hash", True))


class MigrationArchiveCopyOperator(GlacierJobOutputToS3Operator):
    """The migration's whole-archive copy: ``require_tree_hash`` comes from the run's params.

    (The operator's own argument is checked when the DAG is parsed, before params exist.)
    """

    def execute(self, context: Any) -> dict[str, Any]:
        self.require_tree_hash = _require_tree_hash(context)
        return super().execute(context)


class MigrationShardPlanOperator(GlacierShardedCopyPlanOperator):
    """The planning step of one sharded copy, its shard count given per archive (templated).

    :param shard_count: the shards for this archive, from
        :func:`~airflow_glacier_select.migration.plan.copy_routes` (a mapped argument).
    """

    template_fields: Sequence[str] = (*GlacierShardedCopyPlanOperator.template_fields, "shard_count")

    def __init__(self, *, shard_count: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shard_count = shard_count

    def execute(self, context: Any) -> list[dict[str, Any]]:  # type: ignore[override]
        self.shards = check_shard_count(self.shard_count)
        return super().execute(context)


def _copy_settings() -> dict[str, Any]:
    return {
        "bucket": "{{ params.bucket }}",
        "key": ARCHIVE_KEY,
        "storage_class": "{{ params.storage_class }}",
        "collision": "skip_if_same",
    }


@task_group
def copy_archive(job_id: str) -> None:
    """Wait for one retrieval, then copy its output (each mapped instance on its own)."""
    wait_for_retrieval = GlacierJobSensor(
        task_id="wait_for_retrieval", vault_name="{{ params.vault_name }}", job_id=job_id
    )
    wait_for_retrieval >> MigrationArchiveCopyOperator(
        task_id="copy_to_s3", job_id=job_id, **_copy_settings()
    )


@task_group
def shard_archive(job_id: str, shards: int) -> None:
    """Wait for one large archive's retrieval, then plan its sharded copy."""
    wait_for_retrieval = GlacierJobSensor(
        task_id="wait_for_retrieval", vault_name="{{ params.vault_name }}", job_id=job_id
    )
    wait_for_retrieval >> MigrationShardPlanOperator(
        task_id="plan_shards", job_id=job_id, shard_count=shards, **_copy_settings()
    )


def _planned(context: Any) -> list[list[dict[str, Any]]]:
    return [plan for plan in mapped_values(context["ti"], SHARD_PLAN_TASK) if plan]


@task(trigger_rule="all_done")
def shard_work(**context: Any) -> list[dict[str, Any]]:
    """Every planned archive's shards as one list to map over.

    Runs whatever the planning steps did: an archive whose planning failed has no shard
    (the report counts it as failed), and the others go on. A copy the planning step
    already finished (a verified copy was there, or one part did it) has no shard to copy.
    """
    return [
        {"job_id": work["job_id"], "shard": work}
        for plan in _planned(context)
        for work in plan
        if work["upload_id"]
    ]


@task(trigger_rule="all_done")
def finish_work(**context: Any) -> list[dict[str, Any]]:
    """One finishing entry per planned archive: its job and its whole shard plan."""
    return [{"job_id": plan[0]["job_id"], "plan": plan} for plan in _planned(context)]


def copy_large_archives(
    sharded: Any, *, shard_retries: int = 2, shard_retry_delay: timedelta = timedelta(seconds=30)
) -> Any:
    """Copy each archive of ``sharded`` (``copy_routes(...)["sharded"]``) as range shards; returns
    the mapped finishing step (a mapped ``GlacierShardedCopyFinishOperator``), whose values are
    the copies' results."""
    with TaskGroup(LARGE):
        planned = shard_archive.expand_kwargs(sharded)
        shards, finishing = shard_work(), finish_work()
        copies = GlacierCopyShardOperator.partial(
            task_id="copy_shard",
            vault_name="{{ params.vault_name }}",
            retries=shard_retries,
            retry_delay=shard_retry_delay,
        ).expand_kwargs(shards)
        finish = GlacierShardedCopyFinishOperator.partial(
            task_id="finish", vault_name="{{ params.vault_name }}", trigger_rule=_finish_trigger_rule()
        ).expand_kwargs(finishing)
        planned >> [shards, finishing]
        copies >> finish
    return finish
