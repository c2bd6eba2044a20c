"""What a copy proved about its bytes: per-chunk checks and the whole output's tree hash.

Glacier vouches for bytes in two places: the ``x-amz-sha256-tree-hash`` header of a ranged
GetJobOutput (only for tree-hash-aligned ranges) and the job's SHA256TreeHash. The ledger
keeps each chunk's tree-hash root, so the whole output's hash is combined from them without
hashing any byte twice, and records which of the two vouched, so a copy nobody vouched for
is reported as ``size-only`` rather than passed off as verified.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_glacier_select.s3_copy.errors import (
    GlacierTransferError,
    IncompleteChunkError,
    TreeHashMismatchError,
)
from airflow_glacier_select.s3_copy.plan import Chunk, TransferPlan
from airflow_glacier_select.treehash import combine_tree_hashes

__all__ = ["VerificationLedger", "VerificationResult"]


@dataclass(frozen=True)
class VerificationResult:
    """What the whole output hashed to and what it was checked against.

    ``verification`` is ``job-tree-hash`` (the job's SHA256TreeHash matched: every byte
    proven), ``chunk-tree-hashes`` (no job hash, but every chunk matched the tree hash
    Glacier sent with it), ``size-only`` (Glacier gave no tree hash, as for inventories) or
    ``existing-copy`` (the destination already held a copy verified against the job's hash).
    """

    size: int
    sha256_tree_hash: str
    verification: str

    @property
    def verified(self) -> bool:
        return self.verification != "size-only"


class VerificationLedger:
    """Per-chunk tree hashes of one transfer and the checks against Glacier's hashes.

    Chunks may finish in any order; the whole-output root is combined from the chunk
    roots in output order (:func:`combine_tree_hashes`), so no byte is hashed twice.
    """

    def __init__(self, plan: TransferPlan, expected_tree_hash: str | None) -> None:
        self.plan = plan
        self.expected_tree_hash = expected_tree_hash.lower() if expected_tree_hash else None
        self._roots: dict[int, bytes] = {}
        self._service_checked: set[int] = set()

    def check_chunk(self, chunk: Chunk, received: int, root: bytes, service_tree_hash: str | None) -> None:
        """Refuse a chunk that is short or does not match the tree hash Glacier sent with it.

        Does not record the chunk: it is recorded once it is also safely written.
        """
        if received != chunk.length:
            raise IncompleteChunkError(
                f"{chunk.describe()}: received {received} bytes instead of {chunk.length}"
            )
        if service_tree_hash is not None and service_tree_hash.lower() != root.hex():
            raise TreeHashMismatchError(
                f"{chunk.describe()}: tree hash {root.hex()} does not match "
                f"x-amz-sha256-tree-hash {service_tree_hash.lower()}"
            )

    def record(self, chunk: Chunk, root: bytes, service_tree_hash: str | None) -> None:
        self._roots[chunk.index] = root
        if service_tree_hash is not None:
            self._service_checked.add(chunk.index)

    @property
    def bytes_done(self) -> int:
        return sum(self.plan.chunks[index].length for index in self._roots)

    def finish(self) -> VerificationResult:
        """The whole output's tree hash, checked against the job's; raises when it differs."""
        missing = [chunk.part_number for chunk in self.plan.chunks if chunk.index not in self._roots]
        if missing:
            raise GlacierTransferError(f"chunks {missing} were never received")
        if self.plan.total_size == 0:
            root = combine_tree_hashes([])
        else:
            root = combine_tree_hashes([self._roots[chunk.index] for chunk in self.plan.chunks])
        whole = root.hex()
        if self.expected_tree_hash is not None:
            if whole != self.expected_tree_hash:
                raise TreeHashMismatchError(
                    f"the output's tree hash {whole} does not match the job's SHA256TreeHash "
                    f"{self.expected_tree_hash}"
                )
            verification = "job-tree-hash"
        elif self.plan.total_size and len(self._service_checked) == len(self.plan.chunks):
            verification = "chunk-tree-hashes"
        else:
            verification = "size-only"
        return VerificationResult(self.plan.total_size, whole, verification)
