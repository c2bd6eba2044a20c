"""A copy whose job output expired: what its ledger proves, and which archive ranges it lacks.

Once Glacier has forgotten a job, DescribeJob no longer says which archive it retrieved,
how large the output is or what its tree hash must be. The copy's own records do: the
job's pointer (:class:`~airflow_glacier_select.s3_copy.ledger.CopyPointer`) leads to the
key and multipart upload, whose upload record holds the archive, the output's place in it,
the chunk size and the tree hash, and whose part records (checked against ListParts, as
for any resumed copy) prove which chunks need no byte retrieved again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_glacier_select.s3_copy.errors import OutputExpiredMidCopyError
from airflow_glacier_select.s3_copy.ledger import ArchiveSource, CopyIdentity, CopyPointer, PartRecord
from airflow_glacier_select.s3_copy.missing import RangeRetrieval, missing_ranges
from airflow_glacier_select.s3_copy.plan import TransferPlan
from airflow_glacier_select.s3_copy.resume import LedgerStore, Retrying, read_copy_pointer

__all__ = ["ExpiredCopy", "load_expired_copy"]


@dataclass(frozen=True)
class ExpiredCopy:
    """An open, trusted copy of an archive-retrieval job's output, and what it still lacks."""

    pointer: CopyPointer
    identity: CopyIdentity
    archive: ArchiveSource
    plan: TransferPlan
    verified: dict[int, PartRecord]

    @property
    def bytes_verified(self) -> int:
        return sum(record.length for record in self.verified.values())

    @property
    def missing(self) -> tuple[RangeRetrieval, ...]:
        return missing_ranges(self.plan, self.verified, self.archive)

    def error(self, completion_date: str | None = None) -> OutputExpiredMidCopyError:
        """The error that tells the user how far the copy got and which ranges are missing."""
        return OutputExpiredMidCopyError(
            self.identity.vault_name,
            self.identity.job_id,
            completion_date,
            s3_uri=f"s3://{self.identity.bucket}/{self.identity.key}",
            upload_id=self.pointer.upload_id,
            bytes_verified=self.bytes_verified,
            total_size=self.plan.total_size,
            missing_ranges=tuple(missing.byte_range for missing in self.missing),
        )


def load_expired_copy(
    s3: Any, bucket: str, vault_name: str, job_id: str, retrying: Retrying
) -> ExpiredCopy | None:
    """The copy of job ``job_id`` left open in ``bucket``; None when none can be continued.

    None when no pointer names the job, its upload is gone or records no archive (an
    inventory, or a copy written before archives were recorded), or its ledger cannot
    vouch for the upload (then the upload is left for :func:`open_or_resume` to judge).
    """
    pointer = read_copy_pointer(s3, bucket, vault_name, job_id, retrying)
    if pointer is None:
        return None
    store = LedgerStore(s3, bucket, pointer.key, retrying)
    if pointer.upload_id not in store.open_uploads():
        return None
    record = store.read_upload(pointer.upload_id)
    if record is None or record.archive is None:
        return None
    plan = TransferPlan.build(record.identity.total_size, record.identity.chunk_size)
    decision = store.decide(plan, record.identity, pointer.upload_id)
    if not decision.trusted:
        return None
    return ExpiredCopy(pointer, record.identity, record.archive, plan, dict(decision.reusable))
