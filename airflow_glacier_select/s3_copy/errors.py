"""Why a copy into S3 stopped: one exception class per cause a caller may act on differently.

Every one of them means the destination was left as it was before (no partial object, no
open multipart upload). The operators fail without retry on the causes no retry can mend
(expired output, a taken key, a Select error manifest); the engine itself retries
:class:`TreeHashMismatchError` and :class:`IncompleteChunkError` chunk by chunk.
"""

from __future__ import annotations

__all__ = [
    "DestinationExistsError",
    "GlacierTransferError",
    "IncompleteChunkError",
    "JobOutputExpiredError",
    "SelectJobFailedError",
    "TreeHashMismatchError",
]


class GlacierTransferError(RuntimeError):
    """Job output could not be copied; the destination was left as it was before."""


class TreeHashMismatchError(GlacierTransferError):
    """Bytes received do not hash to the tree hash Glacier gave for them."""


class JobOutputExpiredError(GlacierTransferError):
    """Glacier no longer has the job (its output is kept about 24 hours after completion)."""

    def __init__(self, vault_name: str, job_id: str) -> None:
        self.vault_name = vault_name
        self.job_id = job_id
        super().__init__(
            f"The output of job {job_id} in vault {vault_name} has expired or the job is unknown: "
            "Glacier keeps job output for about 24 hours after the job completes. "
            "Initiate the retrieval job again and copy its output within that window."
        )


class IncompleteChunkError(GlacierTransferError):
    """A chunk arrived short or for the wrong range; downloading it again may well succeed."""


class DestinationExistsError(GlacierTransferError):
    """The destination key is taken and the collision policy is ``fail``."""


class SelectJobFailedError(GlacierTransferError):
    """A Select job wrote an error manifest (or no result manifest) instead of results."""
