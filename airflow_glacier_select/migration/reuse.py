"""Never pay twice: which existing Glacier jobs a migration run can use instead of starting new ones.

Glacier lists a job for at least a day after it ends ("List Jobs (GET jobs)"), and its
output stays downloadable for at least 24 hours after completion, so a re-run or a retried
task finds the inventory and the retrievals an earlier attempt paid for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from airflow_glacier_select.inventory import parse_glacier_timestamp
from airflow_glacier_select.job_description import JobDescription

__all__ = ["is_reusable_inventory", "newest_reusable_inventory", "reusable_retrievals"]

_PARTIAL_INVENTORY = ("StartDate", "EndDate", "Limit", "Marker")


def is_reusable_inventory(job: JobDescription, inventory_format: str, oldest: datetime) -> bool:
    """A whole-vault inventory of this format, running or succeeded, created after ``oldest``.

    A partial inventory (date range, limit or marker) does not list the whole vault, so a
    migration planned from it would miss archives.
    """
    parameters = job.inventory_retrieval_parameters or {}
    return (
        job.job_type == "inventory-retrieval"
        and (job.in_progress or job.succeeded)
        and parameters.get("Format") == inventory_format
        and not any(parameters.get(name) for name in _PARTIAL_INVENTORY)
        and job.creation_date is not None
        and parse_glacier_timestamp(job.creation_date) >= oldest
    )


def newest_reusable_inventory(
    jobs: Iterable[JobDescription], inventory_format: str, oldest: datetime
) -> JobDescription | None:
    """The newest reusable inventory job among ``jobs``, if any."""
    reusable = [job for job in jobs if is_reusable_inventory(job, inventory_format, oldest)]
    return max(reusable, key=lambda job: job.creation_date or "") if reusable else None


def reusable_retrievals(jobs: Iterable[JobDescription], wanted: Mapping[str, int]) -> dict[str, str]:
    """Job ids of running or succeeded whole-archive retrievals of the ``wanted`` archives (id -> size).

    A succeeded job wins over a running one (its output can be copied now); a failed job
    or a retrieval of only a byte range is never reused.
    """
    found: dict[str, str] = {}
    succeeded: set[str] = set()
    for job in jobs:
        archive_id = job.archive_id or ""
        if job.job_type != "archive-retrieval" or archive_id not in wanted or job.failed:
            continue
        whole = job.retrieval_byte_range in (None, f"0-{wanted[archive_id] - 1}")
        if whole and archive_id not in succeeded:
            found[archive_id] = job.job_id
            if job.succeeded:
                succeeded.add(archive_id)
    return found
