"""Why a copy into S3 stopped: one exception class per cause a caller may act on differently.

Every one of them but :class:`OutputExpiredMidCopyError` means the destination was left as
it was before (no partial object, no open multipart upload); that one keeps the verified
parts, so only the missing byte ranges need retrieving again. The operators fail without
retry on the causes no retry can mend (expired output, a taken key, a Select error
manifest); the engine itself retries :class:`TreeHashMismatchError` and
:class:`IncompleteChunkError` chunk by chunk.
"""

from __future__ import annotations

__all__ = [
    "DestinationExistsError",
    "GlacierTransferError",
    "IncompleteChunkError",
    "JobNotFoundError",
    "JobOutputExpiredError",
    "OutputExpiredMidCopyError",
    "OutputSizeMismatchError",
    "SelectJobFailedError",
    "TreeHashMismatchError",
    "UnverifiedOutputError",
]


class GlacierTransferError(RuntimeError):
    """Job output could not be copied; the destination was left as it was before."""


class TreeHashMismatchError(GlacierTransferError):
    """Bytes received do not hash to the tree hash Glacier gave for them."""


class JobNotFoundError(GlacierTransferError):
    """DescribeJob answered ResourceNotFoundException: the vault name or job id is wrong."""

    def __init__(self, vault_name: str, job_id: str, account_id: str, service_message: str) -> None:
        self.vault_name = vault_name
        self.job_id = job_id
        super().__init__(
            f"DescribeJob found no job {job_id} in vault {vault_name} (account {account_id}): "
            f"Glacier answered ResourceNotFoundException ({service_message}). Check vault_name, "
            "job_id and account_id (and the connection's region): a job is described for as long "
            "as Glacier lists it, so this is not an expired output."
        )


class JobOutputExpiredError(GlacierTransferError):
    """DescribeJob knows the job but GetJobOutput no longer serves its output (kept about 24 hours)."""

    def __init__(self, vault_name: str, job_id: str, completion_date: str | None = None) -> None:
        self.vault_name = vault_name
        self.job_id = job_id
        self.completion_date = completion_date
        completed = (
            f"completed at {completion_date}" if completion_date else "completed (no CompletionDate given)"
        )
        super().__init__(
            f"The output of job {job_id} in vault {vault_name} has expired: DescribeJob still "
            f"describes the job ({completed}) but GetJobOutput answered ResourceNotFoundException. "
            "Glacier keeps job output for about 24 hours after the job completes. Initiate the "
            "retrieval job again and copy its output within that window."
        )


class OutputExpiredMidCopyError(JobOutputExpiredError):
    """The output expired with part of an archive copied: the verified parts are kept, the rest listed.

    ``missing_ranges`` are the archive RetrievalByteRanges (``start-end``) still to be
    retrieved; the multipart upload and its ledger stay in the bucket for the copy that
    continues from range jobs' output (``on_output_expired="re-retrieve-missing"``).
    """

    def __init__(
        self,
        vault_name: str,
        job_id: str,
        completion_date: str | None,
        *,
        s3_uri: str,
        upload_id: str,
        bytes_verified: int,
        total_size: int,
        missing_ranges: tuple[str, ...],
    ) -> None:
        super().__init__(vault_name, job_id, completion_date)
        self.s3_uri = s3_uri
        self.upload_id = upload_id
        self.bytes_verified = bytes_verified
        self.total_size = total_size
        self.missing_ranges = missing_ranges
        missing = sum(int(end) + 1 - int(start) for start, end in (r.split("-") for r in missing_ranges))
        share = 100 * bytes_verified / total_size if total_size else 0.0
        self.args = (
            f"{self.args[0]} {bytes_verified} of {total_size} bytes ({share:.0f} %) are uploaded and "
            f"verified in multipart upload {upload_id} of {s3_uri}, kept with its ledger; missing "
            f"archive byte ranges: {', '.join(missing_ranges)} ({missing} bytes). Set "
            "on_output_expired='re-retrieve-missing' to retrieve only those ranges, or abort the "
            "upload (a bucket lifecycle rule on incomplete multipart uploads also does).",
        )


class OutputSizeMismatchError(GlacierTransferError):
    """Two of Glacier's figures for the output's size (or tree hash) disagree; neither can be trusted."""


class UnverifiedOutputError(GlacierTransferError):
    """``require_tree_hash`` is set and no tree hash from Glacier vouched for the bytes."""


class IncompleteChunkError(GlacierTransferError):
    """A chunk arrived short or for the wrong range; downloading it again may well succeed."""


class DestinationExistsError(GlacierTransferError):
    """The destination key is taken and the collision policy is ``fail``."""


class SelectJobFailedError(GlacierTransferError):
    """A Select job wrote an error manifest (or no result manifest) instead of results."""
