"""Migrate a whole Glacier vault into S3, a daily byte budget at a time, resumably.

Each daily run copies the archives not yet in S3, up to ``daily_byte_budget`` bytes (and
within the region's data retrieval policy), into ``s3://<bucket>/<prefix>/<vault>/<archive
id>``, and writes ``plan.json``, ``skipped.jsonl`` and ``report.json`` under
``<prefix>/_migration/<vault>/<run id>/``. Trigger it with ``dry_run`` to see the plan
(what moves, what is already copied, requests and bytes per tier, runs needed) before
paying for any retrieval. A re-run starts no job for an archive whose verified copy
exists or whose retrieval is running or done, and reuses a recent inventory.

Archives above ``shard_threshold`` bytes are copied as ``shards_per_archive`` range shards by
many workers; every copy must be vouched for by Glacier's tree hash (``require_tree_hash``).
With ``notification_queue_url`` (an SQS queue subscribed to ``sns_topic``, the topic the
migration's jobs notify) every wait listens on the queue instead of polling DescribeJob.

The logic lives in :mod:`airflow_glacier_select.migration` (tested there); this file only
wires its tasks. ``GLACIER_EXAMPLE_POLL_SECONDS`` (default 300) sets how often job status
is checked.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG

from airflow_glacier_select.migration.tasks import (
    copy_archive,
    copy_large_archives,
    find_or_start_inventory,
    job_ids,
    large_archive_jobs,
    migration_default_args,
    migration_params,
    plan_migration,
    start_retrievals,
    write_report,
)
from airflow_glacier_select.sensors.glacier import GlacierJobSensor

with DAG(
    dag_id="example_glacier_vault_migration",
    description="Copy a whole vault into S3, paced by a daily byte budget, resumable",
    schedule="@daily",
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "glacier"],
    doc_md=__doc__,
    default_args=migration_default_args(float(os.environ.get("GLACIER_EXAMPLE_POLL_SECONDS", "300"))),
    params=migration_params(),
) as dag:
    inventory = find_or_start_inventory()
    wait_for_inventory = GlacierJobSensor(task_id="wait_for_inventory", job_id=inventory)
    batches = plan_migration(inventory)
    jobs, large_jobs = job_ids(), large_archive_jobs()
    report = write_report()
    inventory >> wait_for_inventory >> batches
    start_retrievals.expand(batch=batches) >> [jobs, large_jobs]
    copy_archive.expand(job_id=jobs) >> report
    copy_large_archives(large_jobs) >> report
    batches >> report
