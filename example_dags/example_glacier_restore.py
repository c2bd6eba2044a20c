"""Restore chosen archives from a Glacier vault into S3, verified against their tree hashes.

A vault knows archives only by id; which ones to restore is decided from its
inventory. This DAG lists the vault, picks archives by the file path recorded in their
descriptions (and optionally by date and size), restores each one in a task of its own,
and copies it to S3.

Tasks:

1. ``retrieve_inventory`` starts an ``inventory-retrieval`` job and waits in the
   triggerer (Glacier takes hours to prepare an inventory).
2. ``choose_archives`` streams the inventory (constant memory, even for millions of
   archives), keeps the archives that pass the filters and returns their ids; the
   number of mapped tasks is checked against Airflow's ``[core] max_map_length`` here,
   before anything is paid for.
3. ``restore_archive`` is a task group mapped over those ids, so each archive moves on
   its own (one archive failing does not hold back the others):

   - ``retrieve_archive`` starts an ``archive-retrieval`` job and waits in the triggerer.
     A retried task reconnects to its job instead of paying for a second one.
   - ``copy_to_s3`` copies the restored bytes to ``<prefix>/<recorded path>`` in bounded,
     tree-hash-checked chunks; the object is written only once the whole archive
     matched Glacier's SHA-256 tree hash, and the hash is kept in the object's metadata.

Filters (DAG params): ``path_pattern`` is a glob matched against the path recovered
from the description (a bare path, JSON ``Path``, FastGlacier or mt-aws-glacier
metadata); ``created_after``/``created_before`` bound the creation date;
``min_size``/``max_size`` are in bytes. Leave a filter empty to not use it.

Connections: everything goes through the ``aws`` connection named by ``aws_conn_id``,
so the DAG runs unchanged against AWS or against the local Glacier endpoint.
``GLACIER_EXAMPLE_POLL_SECONDS`` (default 300) sets how often job status is checked.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.common.compat.sdk import conf
from airflow.sdk import DAG, Param, task, task_group

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.inventory import iter_inventory_archives
from airflow_glacier_select.inventory_selection import filter_archives, mapped_batches
from airflow_glacier_select.operators.glacier import (
    GlacierArchiveRetrievalOperator,
    GlacierInventoryRetrievalOperator,
)
from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator

POLL_SECONDS = float(os.environ.get("GLACIER_EXAMPLE_POLL_SECONDS", "300"))


def _optional(value: Any) -> Any:
    """An empty DAG param means "no filter"."""
    return None if value in ("", None) else value


with DAG(
    dag_id="example_glacier_restore",
    description="Inventory, choose archives, restore each one and copy it to S3 verified",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "glacier"],
    doc_md=__doc__,
    default_args={
        "aws_conn_id": "{{ params.aws_conn_id }}",
        "vault_name": "{{ params.vault_name }}",
        "deferrable": True,
        "poll_interval": POLL_SECONDS,
    },
    params={
        "aws_conn_id": Param("aws_default", type="string", description="The aws connection to use"),
        "vault_name": Param("photo-backup", type="string", description="Vault to restore from"),
        "inventory_format": Param("CSV", enum=["CSV", "JSON"], description="Inventory format"),
        "path_pattern": Param("photos/2019/*", type=["null", "string"], description="Glob on the path"),
        "created_after": Param(None, type=["null", "string"], description="ISO 8601, inclusive"),
        "created_before": Param(None, type=["null", "string"], description="ISO 8601, exclusive"),
        "min_size": Param(None, type=["null", "integer"], minimum=0, description="Bytes, inclusive"),
        "max_size": Param(None, type=["null", "integer"], minimum=0, description="Bytes, inclusive"),
        "tier": Param("Bulk", enum=["Expedited", "Standard", "Bulk"], description="Retrieval tier"),
        "bucket": Param("my-restored-archives", type="string", description="Destination bucket"),
        "prefix": Param("restored", type="string", description="Destination key prefix"),
    },
) as dag:
    retrieve_inventory = GlacierInventoryRetrievalOperator(
        task_id="retrieve_inventory", format="{{ params.inventory_format }}"
    )

    @task
    def choose_archives(inventory: dict[str, Any], **context: Any) -> list[str]:
        """Stream the inventory through the filters; one archive id per mapped restore."""
        params = context["params"]
        hook = GlacierJobsHook(aws_conn_id=params["aws_conn_id"])
        with hook.get_job_output(inventory["vault_name"], inventory["job_id"]) as output:
            chosen = filter_archives(
                iter_inventory_archives(output.body, params["inventory_format"]),
                path_pattern=_optional(params["path_pattern"]),
                created_after=_optional(params["created_after"]),
                created_before=_optional(params["created_before"]),
                min_size=_optional(params["min_size"]),
                max_size=_optional(params["max_size"]),
            )
            items = mapped_batches(chosen, max_count=1, max_map_length=conf.getint("core", "max_map_length"))
        return [item["archives"][0]["archive_id"] for item in items]

    @task_group
    def restore_archive(archive_id: str) -> None:
        """Retrieve one archive, then copy it to S3 (each mapped instance on its own)."""
        retrieval = GlacierArchiveRetrievalOperator(
            task_id="retrieve_archive", archive_id=archive_id, tier="{{ params.tier }}"
        )
        GlacierJobOutputToS3Operator(
            task_id="copy_to_s3",
            job_id=retrieval.output,
            bucket="{{ params.bucket }}",
            key="{{ params.prefix }}/{archive_path}",
        )

    restore_archive.expand(archive_id=choose_archives(retrieve_inventory.output))
