"""What the output should be, and checks that Glacier's figures for it agree.

Glacier states an output's size and tree hash in several places: DescribeJob's
RetrievalByteRange, ArchiveSizeInBytes or InventorySizeInBytes, SHA256TreeHash and
ArchiveSHA256TreeHash, and each GetJobOutput's Content-Length and Content-Range total.
A copy planned from one of them alone can be planned wrong (an endpoint that reports
ArchiveSizeInBytes 0 for a 3 MiB archive would yield a 0-byte "copy"), so every figure
that is present is compared with the others, and a disagreement stops the copy naming
both figures and where each came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_glacier_select.job_description import JobDescription
from airflow_glacier_select.job_rules import split_byte_range
from airflow_glacier_select.s3_copy.errors import OutputSizeMismatchError
from airflow_glacier_select.s3_copy.plan import Chunk, check_transferable

__all__ = ["ExpectedOutput", "body_longer_than_expected", "check_delivered_size", "expected_output"]


@dataclass(frozen=True)
class ExpectedOutput:
    """The output's size and tree hash as DescribeJob states them, with the member each came from."""

    size: int
    size_source: str
    tree_hash: str | None
    tree_hash_source: str | None

    def describe_size(self) -> str:
        return f"DescribeJob reports {self.size} bytes ({self.size_source})"


def expected_output(job: JobDescription, vault_name: str) -> ExpectedOutput:
    """The output's size and tree hash, once DescribeJob's own members are known to agree.

    For a retrieval of the whole archive, ``ArchiveSHA256TreeHash`` vouches for the output
    when ``SHA256TreeHash`` is absent, and the two must be equal when both are given.
    """
    size = check_transferable(job, vault_name)
    where = f"job {job.job_id} in vault {vault_name}"
    if job.action == "InventoryRetrieval":
        tree_hash = job.sha256_tree_hash
        return ExpectedOutput(
            size, "InventorySizeInBytes", tree_hash, "SHA256TreeHash" if tree_hash else None
        )
    archive_size = job.archive_size_in_bytes
    byte_range = split_byte_range(job.retrieval_byte_range)
    if byte_range is not None:
        size_source = "RetrievalByteRange"
        if archive_size is not None and byte_range[1] >= archive_size:
            raise OutputSizeMismatchError(
                f"{where}: DescribeJob's RetrievalByteRange {job.retrieval_byte_range} ({size} bytes) "
                f"reaches beyond its ArchiveSizeInBytes {archive_size}; Glacier's figures for the "
                "output's size disagree, so nothing was copied"
            )
        whole = archive_size is not None and byte_range == (0, archive_size - 1)
    else:
        size_source, whole = "ArchiveSizeInBytes", True
    tree_hash, tree_hash_source = job.sha256_tree_hash, "SHA256TreeHash" if job.sha256_tree_hash else None
    archive_hash = job.archive_sha256_tree_hash
    if whole and archive_hash:
        if tree_hash and tree_hash.lower() != archive_hash.lower():
            raise OutputSizeMismatchError(
                f"{where} retrieved the whole archive, but DescribeJob's SHA256TreeHash {tree_hash} "
                f"differs from its ArchiveSHA256TreeHash {archive_hash}; nothing was copied"
            )
        if not tree_hash:
            tree_hash, tree_hash_source = archive_hash, "ArchiveSHA256TreeHash"
    return ExpectedOutput(size, size_source, tree_hash, tree_hash_source)


def _content_range_total(content_range: str | None) -> int | None:
    """The total of ``bytes a-b/total``; None when absent or ``*``."""
    if not content_range or "/" not in content_range:
        return None
    total = content_range.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None


def _asked(chunk: Chunk) -> str:
    return "the whole output" if chunk.byte_range is None else chunk.describe()


def check_delivered_size(
    expected: ExpectedOutput,
    chunk: Chunk,
    content_length: int | None,
    content_range: str | None,
    where: str,
) -> None:
    """Refuse a GetJobOutput answer whose size headers disagree with DescribeJob.

    Content-Range's total is the whole output's size; Content-Length is the size of what
    was asked for (the whole output when no range was asked). A body that ends short of
    its own Content-Length is a damaged answer, not a disagreement: that is checked when
    the chunk is read.
    """
    total = _content_range_total(content_range)
    if total is not None and total != expected.size:
        raise OutputSizeMismatchError(
            f"{where}: GetJobOutput delivers an output of {total} bytes (Content-Range {content_range}) "
            f"but {expected.describe_size()}; nothing was written"
        )
    if content_length is not None and content_length != chunk.length:
        asked = _asked(chunk)
        raise OutputSizeMismatchError(
            f"{where}: GetJobOutput delivers {content_length} bytes (Content-Length, for {asked}) "
            f"but {expected.describe_size()}, which makes {chunk.length} bytes of {asked}; "
            "nothing was written"
        )


def body_longer_than_expected(expected: ExpectedOutput, chunk: Chunk, where: str) -> OutputSizeMismatchError:
    """The error for a body that goes on past what DescribeJob's size allows (no Content-Length told)."""
    return OutputSizeMismatchError(
        f"{where}: GetJobOutput delivers more than {chunk.length} bytes (the body of {_asked(chunk)} "
        f"goes on) but {expected.describe_size()}; nothing was written"
    )
