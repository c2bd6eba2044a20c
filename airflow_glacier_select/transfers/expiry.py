"""``on_output_expired="re-retrieve-missing"``: finish an expired archive copy from range jobs.

When a job's output expires (Glacier forgets a job about 24 hours after it completes)
with part of an archive copied, the copy's ledger still proves the verified parts. This
step, run by :class:`~airflow_glacier_select.transfers.glacier_to_s3.GlacierJobOutputToS3Operator`
in the same try, starts (or reuses) one archive-retrieval job per missing range, waits for
them in the task, and continues the copy from their output. A retry on another worker
goes through the same steps: the ledger gives the same ranges and the vault's job list the
same jobs (matched by archive and RetrievalByteRange, or by the task instance's resume
token), so no range is ever paid for twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_glacier_select.resumable import TaskInstanceIdentity
from airflow_glacier_select.s3_copy.errors import GlacierTransferError, OutputExpiredMidCopyError
from airflow_glacier_select.s3_copy.progress import format_bytes
from airflow_glacier_select.s3_copy.range_jobs import (
    RangeJobFailedError,
    find_or_start_range_jobs,
    wait_for_range_jobs,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer
    from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator

__all__ = ["ON_OUTPUT_EXPIRED", "RE_RETRIEVE_MISSING", "expiry_message", "re_retrieve_missing"]

RE_RETRIEVE_MISSING = "re-retrieve-missing"
ON_OUTPUT_EXPIRED = ("fail", RE_RETRIEVE_MISSING)


def expiry_message(
    transfer: GlacierToS3Transfer, vault_name: str, job_id: str, bucket: str, error: GlacierTransferError
) -> str:
    """Why the task fails: how much of an expired copy is verified and which ranges are missing.

    A job Glacier has forgotten and a wrong job id look alike (ResourceNotFoundException);
    only a copy of the job left in the bucket tells them apart, so without one the error
    is told as it is.
    """
    if isinstance(error, OutputExpiredMidCopyError):
        return str(error)
    try:
        expired = transfer.find_expired_copy(vault_name, job_id, bucket)
    except Exception as failure:  # the original error matters more than why the ledger is unreadable
        transfer.log.warning("Could not read the ledger of job %s in s3://%s (%s)", job_id, bucket, failure)
        return str(error)
    return str(error) if expired is None else str(expired.error(getattr(error, "completion_date", None)))


def re_retrieve_missing(
    operator: GlacierJobOutputToS3Operator,
    context: Context,
    transfer: GlacierToS3Transfer,
    job_id: str,
    error: GlacierTransferError,
) -> dict[str, Any]:
    """Retrieve only the ranges the expired copy of ``job_id`` lacks, then finish it; the XCom dict.

    The result is the copy's usual dict plus ``re_retrieval``: bytes reused, the ranges
    retrieved again and their jobs.
    """
    from airflow_glacier_select.transfers.glacier_to_s3 import FINAL_ERRORS

    vault_name = operator.vault_name
    expired = transfer.find_expired_copy(vault_name, job_id, operator.bucket)
    if expired is None:
        raise AirflowFailException(
            f"{error} No copy of job {job_id} in s3://{operator.bucket} holds verified parts to "
            "continue from, so there is nothing to re-retrieve by range: initiate the archive "
            "retrieval again."
        ) from error
    missing = expired.missing
    operator.log.warning(
        "The output of job %s in vault %s has expired; %s of %s of the copy to s3://%s/%s is verified "
        "and reused; retrieving only the %d missing range(s) again: %s (%s)",
        job_id,
        vault_name,
        format_bytes(expired.bytes_verified),
        format_bytes(expired.plan.total_size),
        expired.identity.bucket,
        expired.identity.key,
        len(missing),
        ", ".join(retrieval.byte_range for retrieval in missing),
        format_bytes(sum(retrieval.length for retrieval in missing)),
    )
    ti = context["ti"]
    map_index = ti.map_index if ti.map_index is not None else -1
    token = TaskInstanceIdentity(ti.dag_id, ti.task_id, ti.run_id, map_index).token()
    archive = expired.archive
    jobs = find_or_start_range_jobs(
        operator.hook,
        vault_name,
        archive.archive_id,
        archive.archive_size,
        missing,
        token=token,
        tier=operator.re_retrieval_tier,
        log=operator.log,
    )
    try:
        described = wait_for_range_jobs(
            operator.hook,
            vault_name,
            jobs,
            poll_interval=operator.re_retrieval_poll_interval,
            max_wait=operator.re_retrieval_max_wait,
            log=operator.log,
        )
        result = transfer.continue_expired_copy(
            expired, described, require_tree_hash=operator.require_tree_hash
        )
    except (RangeJobFailedError, *FINAL_ERRORS) as failure:
        raise AirflowFailException(str(failure)) from failure
    return {
        **result.to_dict(),
        "re_retrieval": {
            "bytes_reused": expired.bytes_verified,
            "bytes_re_retrieved": sum(retrieval.length for retrieval in missing),
            "ranges": [retrieval.byte_range for retrieval in missing],
            "jobs": [job.job_id for job in jobs],
        },
    }
