"""Archive bodies kept in files, with their tree-hash leaves computed once at upload.

Benchmarks push archives of several GiB through the endpoint, so a body never lives
in memory: it is streamed to a file in the endpoint's storage directory while each
1 MiB leaf is hashed. The list of leaf digests (32 bytes per MiB) is kept beside
the file, which makes the tree hash of *any* 1 MiB-aligned slice (a retrieval byte
range, a GetJobOutput range, a multipart part) a cheap reduction over stored
digests instead of a second pass over the bytes.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from airflow_glacier_select.treehash import MIB, combine_tree_hashes

__all__ = [
    "MIB",
    "ArchiveStore",
    "Readable",
    "StoredBody",
    "range_is_tree_hash_node",
    "tree_hash_of_leaves",
    "write_at",
]

_COPY_CHUNK = 8 * MIB


def tree_hash_of_leaves(leaves: Sequence[bytes]) -> str:
    """Hex root over consecutive 1 MiB leaf digests (no leaves: the empty payload)."""
    return combine_tree_hashes(leaves).hex()


def range_is_tree_hash_node(start: int, end_exclusive: int, size: int) -> bool:
    """Whether ``[start, end_exclusive)`` of a ``size``-byte output is a node of its tree hash.

    The service's own reading of "tree-hash aligned": there is a height ``k`` whose
    nodes are blocks of ``2^k`` MiB, the range starts on such a block and ends where the
    block ends or, for the carried-up last block, at the end of the output.
    """
    if start % MIB or not 0 <= start < end_exclusive <= size:
        return False
    block = MIB
    while block < 2 * max(size, MIB):
        if start % block == 0 and end_exclusive == min(start + block, size):
            return True
        block *= 2
    return False


@dataclass(frozen=True)
class StoredBody:
    """A byte sequence on disk and the SHA-256 digest of each of its 1 MiB leaves."""

    path: Path
    size: int
    leaves: tuple[bytes, ...]

    @property
    def tree_hash(self) -> str:
        return tree_hash_of_leaves(self.leaves)

    def range_tree_hash(self, start: int, end_exclusive: int) -> str:
        """Tree hash of a slice starting on a leaf boundary and ending on one (or at the end)."""
        if start % MIB or (end_exclusive % MIB and end_exclusive != self.size):
            raise ValueError(f"range {start}-{end_exclusive - 1} is not 1 MiB aligned")
        return tree_hash_of_leaves(self.leaves[start // MIB : -(-end_exclusive // MIB)])

    def chunks(self, start: int, length: int, chunk_size: int = _COPY_CHUNK) -> Iterator[bytes]:
        """Read ``length`` bytes from ``start`` in bounded chunks."""
        with self.path.open("rb") as handle:
            handle.seek(start)
            remaining = length
            while remaining > 0:
                data = handle.read(min(chunk_size, remaining))
                if not data:
                    raise OSError(f"{self.path} ended {remaining} bytes early")
                remaining -= len(data)
                yield data


class Readable(Protocol):
    """Anything with ``read(size)``: an open file, a socket stream, a request body."""

    def read(self, size: int = -1, /) -> bytes: ...


def _read_leaf(source: Readable) -> bytes:
    """Up to one full MiB: file objects may return short reads before their end."""
    parts: list[bytes] = []
    wanted = MIB
    while wanted:
        data = source.read(wanted)
        if not data:
            break
        parts.append(data)
        wanted -= len(data)
    return b"".join(parts)


class ArchiveStore:
    """Files of one endpoint: archives, multipart uploads in progress, job outputs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def new_path(self, kind: str) -> Path:
        return self.directory / f"{kind}-{secrets.token_hex(12)}"

    def write_stream(self, source: Readable, kind: str = "archive") -> StoredBody:
        """Copy a stream to a new file, hashing each leaf on the way."""
        path = self.new_path(kind)
        leaves: list[bytes] = []
        size = 0
        with path.open("wb") as target:
            while leaf := _read_leaf(source):
                leaves.append(hashlib.sha256(leaf).digest())
                target.write(leaf)
                size += len(leaf)
        return StoredBody(path, size, tuple(leaves))

    def write_bytes(self, data: bytes, kind: str = "archive") -> StoredBody:
        path = self.new_path(kind)
        path.write_bytes(data)
        leaves = tuple(hashlib.sha256(data[i : i + MIB]).digest() for i in range(0, len(data), MIB))
        return StoredBody(path, len(data), leaves)

    def write_path(self, source: Path) -> StoredBody:
        """Store a file: hard-linked when it shares the filesystem (no copy of GiBs), else copied.

        A linked file must not be modified in place while the endpoint serves it;
        replacing or deleting the source is fine.
        """
        path = self.new_path("archive")
        try:
            os.link(source, path)
        except OSError:
            with source.open("rb") as handle:
                return self.write_stream(handle)
        leaves: list[bytes] = []
        with path.open("rb") as handle:
            while leaf := _read_leaf(handle):
                leaves.append(hashlib.sha256(leaf).digest())
        return StoredBody(path, path.stat().st_size, tuple(leaves))

    def remove(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def clear(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def write_at(path: Path, offset: int, data: bytes) -> None:
    """Write a multipart part at its offset; the file grows sparse until every part arrives."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.pwrite(fd, data, offset)
    finally:
        os.close(fd)
