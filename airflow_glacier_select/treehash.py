"""Glacier's SHA-256 tree hash, computed while data streams past.

Glacier checks every upload and labels every tree-hash-aligned download with a
*tree hash*: the SHA-256 of each 1 MiB leaf, then SHA-256 of each concatenated
pair of hashes, level by level, an odd node carried up unchanged, until one root
remains (see "Computing Checksums" in the Amazon Glacier Developer Guide,
https://docs.aws.amazon.com/amazonglacier/latest/dev/checksum-calculations.html).
botocore never checks a downloaded body against it, so this package does.

:class:`TreeHash` never holds more than the hashing state of the current leaf
plus one pending hash per tree level (``O(log n)``), so verifying a multi-GiB
archive costs no more memory than verifying a kilobyte. The pending hashes form a
binary counter: two complete subtrees of equal height merge as soon as the
second one is finished, and :meth:`TreeHash.digest` folds whatever is left from
the right, which is exactly what "carry the odd node up" produces.

This module is pure: no Airflow and no boto3 import.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from airflow_glacier_select.exceptions import GlacierValidationError

__all__ = [
    "MIB",
    "TreeHash",
    "aligned_chunks",
    "combine_tree_hashes",
    "is_tree_hash_aligned",
    "tree_hash",
]

MIB = 1024 * 1024
"""Size of a tree-hash leaf: Glacier's "1 MB" is 1,048,576 bytes."""

_sha256 = hashlib.sha256


def _parent(left: bytes, right: bytes) -> bytes:
    return _sha256(left + right).digest()


def _fold_from_right(nodes: Sequence[bytes]) -> bytes:
    """Root of complete subtrees of strictly decreasing height, left to right.

    With leaves grouped into maximal aligned power-of-two blocks, the odd-node rule
    pairs each block with the combination of everything to its right.
    """
    root = nodes[-1]
    for node in reversed(nodes[:-1]):
        root = _parent(node, root)
    return root


class TreeHash:
    """Streaming SHA-256 tree hash with a :mod:`hashlib`-like interface.

    Feed it chunks of any size with :meth:`update`; :meth:`digest` and
    :meth:`hexdigest` may be called at any point (for instance to check each part
    of a transfer) without disturbing the running state.

    Full leaves are hashed straight from a :class:`memoryview` of the caller's
    buffer, and a leaf split across chunks is fed into an incremental SHA-256, so
    no byte is ever copied: the throughput is that of :func:`hashlib.sha256`.
    """

    name = "sha256-tree"
    digest_size = 32

    __slots__ = ("_leaf", "_leaf_fill", "_levels", "_nodes", "size")

    def __init__(self, data: bytes | bytearray | memoryview = b"") -> None:
        self._leaf = _sha256()
        self._leaf_fill = 0
        # One entry per complete subtree not yet merged, heights strictly decreasing.
        self._levels: list[int] = []
        self._nodes: list[bytes] = []
        self.size = 0
        """Number of bytes fed so far."""
        if data:
            self.update(data)

    def _push(self, leaf_hash: bytes) -> None:
        levels, nodes = self._levels, self._nodes
        level = 0
        while levels and levels[-1] == level:
            levels.pop()
            leaf_hash = _parent(nodes.pop(), leaf_hash)
            level += 1
        levels.append(level)
        nodes.append(leaf_hash)

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed the next ``data`` bytes (any length, any bytes-like object)."""
        view = memoryview(data)
        if view.itemsize != 1 or view.ndim != 1:
            view = view.cast("B")
        length = view.nbytes
        self.size += length
        fill = self._leaf_fill
        if fill + length < MIB:
            # The chunk stays inside the current leaf: one hashlib call, nothing else.
            self._leaf.update(view)
            self._leaf_fill = fill + length
            return
        pos = 0
        if fill:
            pos = MIB - fill
            self._leaf.update(view[:pos])
            self._push(self._leaf.digest())
            self._leaf = _sha256()
        last_full = length - MIB
        while pos <= last_full:
            self._push(_sha256(view[pos : pos + MIB]).digest())
            pos += MIB
        rest = length - pos
        if rest:
            self._leaf.update(view[pos:])
        self._leaf_fill = rest

    def digest(self) -> bytes:
        """Root hash of everything fed so far (``sha256(b"")`` for no input)."""
        nodes = list(self._nodes)
        if self._leaf_fill or not nodes:
            nodes.append(self._leaf.copy().digest())
        return _fold_from_right(nodes)

    def hexdigest(self) -> str:
        """Root hash as lowercase hex, the form of Glacier's ``x-amz-sha256-tree-hash``."""
        return self.digest().hex()

    def copy(self) -> TreeHash:
        """An independent hasher with the same state."""
        clone = TreeHash.__new__(TreeHash)
        clone._leaf = self._leaf.copy()
        clone._leaf_fill = self._leaf_fill
        clone._levels = list(self._levels)
        clone._nodes = list(self._nodes)
        clone.size = self.size
        return clone


def tree_hash(data: bytes | bytearray | memoryview) -> str:
    """Hex tree hash of an in-memory payload."""
    return TreeHash(data).hexdigest()


def combine_tree_hashes(subtree_roots: Sequence[bytes]) -> bytes:
    """Root of a whole payload from the roots of its consecutive aligned parts.

    The parts must be what :func:`aligned_chunks` yields: equal sizes of 2^k MiB
    starting at offset 0, the last one possibly shorter. Each part's root is then
    a node at height ``k`` of the whole tree, so the whole root is the ordinary
    tree-hash reduction over the part roots. This is how a ranged download (or a
    multipart upload, whose part size follows the same rule) verifies the whole
    archive without reading it twice. No parts means an empty payload.
    """
    level = [bytes(root) for root in subtree_roots]
    for root in level:
        if len(root) != TreeHash.digest_size:
            raise GlacierValidationError(
                "subtree_roots", root, f"must be raw {TreeHash.digest_size}-byte SHA-256 digests"
            )
    if not level:
        return _sha256(b"").digest()
    while len(level) > 1:
        paired = [_parent(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def is_tree_hash_aligned(start: int, end: int, total_size: int) -> bool:
    """Whether bytes ``start..end`` (inclusive) of a ``total_size``-byte output are tree-hash aligned.

    Glacier returns ``x-amz-sha256-tree-hash`` for a GetJobOutput range only when it
    is tree-hash aligned. The Developer Guide ("Receiving Checksums When Downloading
    Data", https://docs.aws.amazon.com/amazonglacier/latest/dev/checksum-calculations-range.html)
    defines it: a range is tree-hash aligned "if and only if the root of the tree
    hash built over the range is equivalent to a node in the tree hash of the whole
    archive". Every such range is also megabyte aligned (start divisible by 1 MiB;
    end + 1 divisible by 1 MiB or equal to the size).

    Worked out on leaves: the nodes at height ``k`` cover leaves
    ``[j * 2^k, min((j + 1) * 2^k, n))`` of an ``n``-leaf tree (a carried-up odd
    node covers the truncated tail). So a range of ``m`` leaves starting at leaf
    ``s`` is a node exactly when, with ``P`` the smallest power of two ``>= m``,
    ``s`` is a multiple of ``P`` and either ``m == P`` (a complete subtree) or the
    range runs to the end of the output (a truncated last subtree). For example, in
    a 5 MiB output ``0-2MiB-1`` and ``4MiB-end`` are aligned, ``1MiB-2MiB-1`` is
    aligned (a single leaf), but ``0-3MiB-1`` (3 leaves) and ``2MiB-end`` (3 leaves
    from leaf 2) are not.

    Offsets are relative to the output being downloaded. When a job retrieved an
    aligned byte range of an archive, a range aligned within that output is also
    aligned within the archive, so the same test applies.

    Raises :class:`GlacierValidationError` for a range that is not inside the output.
    """
    if total_size < 0:
        raise GlacierValidationError("total_size", total_size, "must not be negative")
    if not 0 <= start <= end < total_size:
        raise GlacierValidationError(
            "range", f"{start}-{end}", f"must satisfy 0 <= start <= end < total size {total_size}"
        )
    if start % MIB:
        return False
    to_end = end == total_size - 1
    length = end + 1 - start
    if length % MIB and not to_end:
        return False
    leaves = -(-length // MIB)
    span = 1 << (leaves - 1).bit_length()
    first_leaf = start // MIB
    return first_leaf % span == 0 and (leaves == span or to_end)


def aligned_chunks(total_size: int, chunk_size: int) -> list[tuple[int, int]]:
    """Split an output into inclusive byte ranges that are each tree-hash aligned.

    ``chunk_size`` must be a power-of-two multiple of 1 MiB (1, 2, 4, 8 ... MiB),
    the only sizes for which every chunk, including the short last one, is a node
    of the whole tree. Downloading by these ranges lets a transfer verify each
    chunk against its ``x-amz-sha256-tree-hash`` and then the whole output with
    :func:`combine_tree_hashes`. An empty output has no chunks.
    """
    if total_size < 0:
        raise GlacierValidationError("total_size", total_size, "must not be negative")
    if chunk_size % MIB or not _is_power_of_two(chunk_size // MIB):
        raise GlacierValidationError(
            "chunk_size", chunk_size, f"must be a power-of-two multiple of 1 MiB ({MIB})"
        )
    return [(start, min(start + chunk_size, total_size) - 1) for start in range(0, total_size, chunk_size)]
