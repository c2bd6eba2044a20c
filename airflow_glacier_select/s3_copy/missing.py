"""Which archive byte ranges a copy still lacks once its job's output has expired.

Glacier keeps a job's output for about 24 hours after the job completes; a copy that was
interrupted (or simply slow) may find it gone with part of the archive already uploaded
and verified (see :mod:`airflow_glacier_select.s3_copy.ledger`). Retrieving the whole
archive again would pay for those bytes twice. Instead, the chunks the ledger does not
prove become archive-retrieval ranges (Range Retrievals: ``RetrievalByteRange``), each

* whole chunks of the copy's plan, so one ranged GetJobOutput of a range job is still one
  S3 part, at the same part number;
* megabyte aligned (Initiate Job (POST jobs); "Range Retrievals": start a multiple of
  1 MiB, end one less than a multiple of 1 MiB or the archive's last byte), which
  :func:`~airflow_glacier_select.job_rules.parse_byte_range` checks; and
* tree-hash aligned ("Receiving Checksums When Downloading Data"), so Glacier gives the
  range job's SHA256TreeHash and every chunk inside it its ``x-amz-sha256-tree-hash``.

Adjacent missing chunks are merged as far as tree-hash alignment allows: a run of them
becomes the fewest aligned blocks of ``2^k`` chunks (a block reaching the end of the output
may be truncated), so a typical tail is one job.

Pure core: no Airflow and no boto3 import.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_rules import parse_byte_range, split_byte_range
from airflow_glacier_select.s3_copy.ledger import ArchiveSource
from airflow_glacier_select.s3_copy.plan import Chunk, TransferPlan
from airflow_glacier_select.treehash import is_tree_hash_aligned

__all__ = ["RangeRetrieval", "archive_source", "missing_ranges", "range_retrieval"]


@dataclass(frozen=True)
class RangeRetrieval:
    """Chunks ``first_chunk..last_chunk`` of a copy, as archive bytes ``start..end`` (inclusive)."""

    first_chunk: int
    last_chunk: int
    start: int
    end: int

    @property
    def byte_range(self) -> str:
        """The RetrievalByteRange to ask for (and that DescribeJob reports back)."""
        return f"{self.start}-{self.end}"

    @property
    def length(self) -> int:
        return self.end + 1 - self.start

    @property
    def chunk_indexes(self) -> range:
        return range(self.first_chunk, self.last_chunk + 1)

    def output_chunk(self, chunk: Chunk, archive_offset: int) -> Chunk:
        """``chunk`` of the copy as a range of this range job's output (which starts at ``start``)."""
        shift = self.start - archive_offset
        return Chunk(chunk.index, chunk.start - shift, chunk.end - shift)


def _runs(indexes: list[int]) -> Iterator[tuple[int, int]]:
    """Maximal runs of consecutive indexes, as (first, last)."""
    first = previous = None
    for index in indexes:
        if previous is not None and index == previous + 1:
            previous = index
            continue
        if first is not None and previous is not None:
            yield first, previous
        first = previous = index
    if first is not None and previous is not None:
        yield first, previous


def _aligned_blocks(first: int, last: int, count: int) -> Iterator[tuple[int, int]]:
    """Split chunks ``first..last`` of ``count`` into the fewest tree-hash-aligned blocks.

    A block of ``2^k`` chunks starting at a multiple of ``2^k`` is a node of the whole tree
    (chunks are ``2^c`` MiB); a block that runs to the last chunk may be shorter than its
    power of two when it starts at a multiple of it (the carried-up odd node).
    """
    position = first
    while position <= last:
        remaining = count - position
        span = 1 << (remaining - 1).bit_length()
        if last == count - 1 and position % span == 0:
            yield position, last
            return
        size = 1
        while position % (size * 2) == 0 and position + size * 2 - 1 <= last:
            size *= 2
        yield position, position + size - 1
        position += size


def range_retrieval(plan: TransferPlan, archive: ArchiveSource, byte_range: str) -> RangeRetrieval:
    """Check a requested RetrievalByteRange against the copy, before anything is sent.

    It must be megabyte aligned within the archive, cover whole chunks of the copy's plan
    and be tree-hash aligned; the error names the rule it breaks.
    """
    field = "RetrievalByteRange"
    start, end = parse_byte_range(byte_range, archive.archive_size, field)
    first, last = start - archive.archive_offset, end - archive.archive_offset
    starts = {chunk.start: chunk.index for chunk in plan.chunks}
    ends = {chunk.end: chunk.index for chunk in plan.chunks}
    if first not in starts or last not in ends:
        raise GlacierValidationError(
            field,
            byte_range,
            f"must cover whole chunks of the copy ({plan.chunk_size} bytes each, the output starting "
            f"at archive byte {archive.archive_offset}), so each chunk stays one S3 part",
        )
    if not is_tree_hash_aligned(first, last, plan.total_size):
        raise GlacierValidationError(
            field,
            byte_range,
            "must be tree-hash aligned (Receiving Checksums When Downloading Data), so Glacier "
            "returns the tree hash of the range",
        )
    return RangeRetrieval(starts[first], ends[last], start, end)


def missing_ranges(
    plan: TransferPlan, verified: Collection[int], archive: ArchiveSource
) -> tuple[RangeRetrieval, ...]:
    """The archive ranges holding every chunk of ``plan`` not in ``verified`` (chunk indexes).

    Each range passes :func:`range_retrieval`, the one place its rules are checked.
    """
    missing = [chunk.index for chunk in plan.chunks if chunk.index not in verified]
    ranges = []
    for first, last in _runs(missing):
        for block_first, block_last in _aligned_blocks(first, last, len(plan.chunks)):
            start = archive.archive_offset + plan.chunks[block_first].start
            end = archive.archive_offset + plan.chunks[block_last].end
            ranges.append(range_retrieval(plan, archive, f"{start}-{end}"))
    return tuple(ranges)


def archive_source(
    archive_id: str | None, archive_size: int | None, retrieval_byte_range: str | None
) -> ArchiveSource | None:
    """Where an archive-retrieval job's output sits in its archive; None when DescribeJob does not say."""
    if not archive_id or archive_size is None:
        return None
    byte_range = split_byte_range(retrieval_byte_range)
    return ArchiveSource(archive_id, archive_size, byte_range[0] if byte_range else 0)
