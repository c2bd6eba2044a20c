"""How job output is cut for the copy: chunks that are both tree-hash aligned and valid S3 parts.

One ranged GetJobOutput becomes exactly one UploadPart, so every chunk must satisfy two
sets of rules at once: Glacier's (a tree hash header comes only for 1 MiB-aligned ranges of
2^k MiB, or to the end) and S3's (parts of 5 MiB to 5 GiB, at most 10,000 of them). A
power-of-two number of MiB from 8 MiB up meets both. Memory is ``chunk_size x
concurrency``, which is why both are checked before anything is sent.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_description import JobDescription
from airflow_glacier_select.s3_copy.errors import GlacierTransferError
from airflow_glacier_select.treehash import MIB

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CONCURRENCY",
    "MAX_CHUNK_SIZE",
    "MAX_CONCURRENCY",
    "MIN_CHUNK_SIZE",
    "S3_MAX_PARTS",
    "Chunk",
    "TransferPlan",
    "check_chunk_size",
    "check_concurrency",
    "check_int",
    "check_transferable",
]

MIN_CHUNK_SIZE = 8 * MIB
"""The smallest power-of-two MiB above S3's 5 MiB minimum part size (only the last part may be smaller)."""
MAX_CHUNK_SIZE = 4096 * MIB
"""The largest power-of-two MiB below S3's 5 GiB maximum part size."""
DEFAULT_CHUNK_SIZE = 16 * MIB
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 32
S3_MAX_PARTS = 10_000

_TRANSFERABLE_ACTIONS = ("ArchiveRetrieval", "InventoryRetrieval")


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def check_int(field: str, value: object) -> int:
    """An integer (``bool`` refused): sizes, counts and attempts of a copy."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise GlacierValidationError(field, value, "must be an integer")
    return value


def check_chunk_size(value: object) -> int:
    """A chunk must be tree-hash aligned (power-of-two MiB) and a valid S3 part (5 MiB - 5 GiB)."""
    size = check_int("chunk_size", value)
    if size % MIB or not _is_power_of_two(size // MIB) or not MIN_CHUNK_SIZE <= size <= MAX_CHUNK_SIZE:
        raise GlacierValidationError(
            "chunk_size",
            value,
            f"must be a power-of-two number of MiB from {MIN_CHUNK_SIZE // MIB} "
            f"to {MAX_CHUNK_SIZE // MIB} MiB "
            "(tree-hash aligned and at least S3's 5 MiB minimum part size)",
        )
    return size


def check_concurrency(value: object) -> int:
    """Chunks in flight at once; memory use is ``chunk_size x concurrency``."""
    count = check_int("concurrency", value)
    if not 1 <= count <= MAX_CONCURRENCY:
        raise GlacierValidationError("concurrency", value, f"must be from 1 to {MAX_CONCURRENCY}")
    return count


@dataclass(frozen=True)
class Chunk:
    """Bytes ``start..end`` (inclusive) of the output: one ranged GetJobOutput and one S3 part."""

    index: int
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end + 1 - self.start

    @property
    def part_number(self) -> int:
        return self.index + 1

    @property
    def byte_range(self) -> tuple[int, int] | None:
        """GetJobOutput's range; None for an empty output, which cannot be asked for by range."""
        return (self.start, self.end) if self.length else None

    def describe(self) -> str:
        return f"chunk {self.part_number} (bytes {self.start}-{self.end})"


@dataclass(frozen=True)
class TransferPlan:
    """How an output of ``total_size`` bytes is moved: chunk size, chunks and single PUT or multipart.

    Outputs no larger than one chunk are verified whole and then written with one
    PutObject (S3 multipart upload needs no part below 5 MiB but the last, and a single
    PUT cannot leave a half-written object). Anything larger becomes a multipart upload
    with one part per chunk. An empty output is a single chunk of length 0.
    """

    total_size: int
    chunk_size: int
    chunks: tuple[Chunk, ...]

    @classmethod
    def build(cls, total_size: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> TransferPlan:
        """Plan with ``chunk_size``, doubled as often as needed to stay within S3's 10,000 parts.

        Doubling keeps every chunk tree-hash aligned; it raises memory use, which is why
        the engine logs it.
        """
        total_size = check_int("total_size", total_size)
        if total_size < 0:
            raise GlacierValidationError("total_size", total_size, "must not be negative")
        chunk_size = check_chunk_size(chunk_size)
        while math.ceil(total_size / chunk_size) > S3_MAX_PARTS:
            chunk_size *= 2
        if chunk_size > MAX_CHUNK_SIZE:
            raise GlacierValidationError(
                "total_size", total_size, f"is too large for {S3_MAX_PARTS} parts of at most 4 GiB"
            )
        starts = range(0, total_size, chunk_size) if total_size else range(1)
        chunks = tuple(
            Chunk(index, start, min(start + chunk_size, total_size) - 1) for index, start in enumerate(starts)
        )
        return cls(total_size, chunk_size, chunks)

    @property
    def multipart(self) -> bool:
        return len(self.chunks) > 1

    def peak_memory(self, concurrency: int) -> int:
        """Bytes of chunk buffers held at most: the pool never has more than ``concurrency`` chunks."""
        return min(self.chunk_size, max(self.total_size, 0)) * min(concurrency, len(self.chunks))


def check_transferable(job: JobDescription, vault_name: str) -> int:
    """The job's output size, once the job is known to have output to copy."""
    where = f"job {job.job_id} in vault {vault_name}"
    if job.action not in _TRANSFERABLE_ACTIONS:
        hint = " (its results are already in S3; read them with the Select results check)"
        raise GlacierTransferError(
            f"{where} is a {job.job_type or job.action} job; only archive-retrieval and "
            "inventory-retrieval output can be copied" + (hint if job.action == "Select" else "")
        )
    if job.in_progress:
        raise GlacierTransferError(f"{where} is still in progress; wait for it to succeed first")
    if not job.succeeded:
        raise GlacierTransferError(f"{where} did not succeed ({job.status_code}): {job.status_message}")
    size = job.output_size
    if size is None:
        raise GlacierTransferError(f"{where} reports no output size")
    return size
