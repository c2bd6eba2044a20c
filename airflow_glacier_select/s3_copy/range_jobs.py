"""Range jobs for the missing parts of an expired copy, started at most once per range.

Every archive-retrieval job is paid for when Glacier accepts it, so before starting one for
a range the vault's jobs are listed, and an in-progress or succeeded archive-retrieval job
of the same archive and RetrievalByteRange is reused, whoever started it (a job carrying
the task instance's resume token first, then a succeeded one). A job this step starts
carries that resume token in its Description (:mod:`airflow_glacier_select.resumable`), so
a retry on another worker recognises it even before it appears in a range-by-range match.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_glacier_select.jobs import ArchiveRetrievalJob, JobDescription
from airflow_glacier_select.resumable import carries_token, with_token
from airflow_glacier_select.s3_copy.errors import GlacierTransferError
from airflow_glacier_select.s3_copy.missing import RangeRetrieval

if TYPE_CHECKING:
    from airflow_glacier_select.hooks.glacier import GlacierJobsHook

__all__ = ["RangeJob", "RangeJobFailedError", "find_or_start_range_jobs", "wait_for_range_jobs"]


class RangeJobFailedError(GlacierTransferError):
    """A range job failed; Glacier's StatusMessage is in the text. A retry would start it again."""


@dataclass(frozen=True)
class RangeJob:
    """The job that retrieves one missing range; ``reused`` when an earlier request started it."""

    retrieval: RangeRetrieval
    job_id: str
    reused: bool


def _same_range(job: JobDescription, archive_id: str, retrieval: RangeRetrieval) -> bool:
    return (
        job.action == "ArchiveRetrieval"
        and job.archive_id == archive_id
        and job.retrieval_byte_range == retrieval.byte_range
        and (job.in_progress or job.succeeded)
    )


def _best(candidates: list[JobDescription], token: str) -> JobDescription | None:
    """Our own job first (the retry of the try that started it), then a succeeded one."""
    ranked = sorted(
        candidates, key=lambda job: (not carries_token(job.job_description, token), not job.succeeded)
    )
    return ranked[0] if ranked else None


def find_or_start_range_jobs(
    hook: GlacierJobsHook,
    vault_name: str,
    archive_id: str,
    archive_size: int,
    ranges: Sequence[RangeRetrieval],
    *,
    token: str,
    tier: str | None = None,
    log: Any,
) -> list[RangeJob]:
    """One job per range: an existing one when the vault lists one, else a new one.

    Every job's parameters are validated before the first InitiateJob, so a bad tier or
    range sends nothing.
    """
    requests = [
        ArchiveRetrievalJob(
            archive_id=archive_id,
            description=with_token(f"missing bytes {retrieval.byte_range}", token),
            retrieval_byte_range=retrieval.byte_range,
            tier=tier,
            archive_size=archive_size,
        )
        for retrieval in ranges
    ]
    listed = list(hook.iter_jobs(vault_name))
    jobs: list[RangeJob] = []
    for retrieval, request in zip(ranges, requests, strict=True):
        existing = _best([job for job in listed if _same_range(job, archive_id, retrieval)], token)
        if existing is not None:
            log.info(
                "Reusing %s job %s for archive bytes %s (%d bytes)",
                existing.status_code,
                existing.job_id,
                retrieval.byte_range,
                retrieval.length,
            )
            jobs.append(RangeJob(retrieval, existing.job_id, reused=True))
            continue
        initiated = hook.initiate_job(vault_name, request)
        log.info(
            "Started archive-retrieval job %s for archive bytes %s (%d bytes)",
            initiated.job_id,
            retrieval.byte_range,
            retrieval.length,
        )
        jobs.append(RangeJob(retrieval, initiated.job_id, reused=False))
    return jobs


def wait_for_range_jobs(
    hook: GlacierJobsHook,
    vault_name: str,
    jobs: Iterable[RangeJob],
    *,
    poll_interval: float,
    max_wait: float,
    log: Any,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, JobDescription]:
    """DescribeJob each range job until all succeeded; their descriptions by RetrievalByteRange.

    A failed job raises :class:`RangeJobFailedError`; jobs still running after ``max_wait``
    seconds raise :class:`GlacierTransferError` (a retry finds the same jobs and waits on).
    """
    pending = {job.retrieval.byte_range: job for job in jobs}
    done: dict[str, JobDescription] = {}
    deadline = time.monotonic() + max_wait
    while True:
        for byte_range, job in list(pending.items()):
            described = hook.get_job_description(vault_name, job.job_id)
            if described.failed:
                raise RangeJobFailedError(
                    f"Range job {job.job_id} for archive bytes {byte_range} in vault {vault_name} "
                    f"failed: {described.status_message or 'no StatusMessage given'}"
                )
            if described.succeeded:
                done[byte_range] = described
                del pending[byte_range]
        if not pending:
            return done
        if time.monotonic() >= deadline:
            raise GlacierTransferError(
                f"{len(pending)} range job(s) in vault {vault_name} still in progress after "
                f"{max_wait:.0f} s: {', '.join(job.job_id for job in pending.values())}"
            )
        log.info("Waiting for %d range job(s) in vault %s", len(pending), vault_name)
        sleep(poll_interval)
