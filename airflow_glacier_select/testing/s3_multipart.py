"""S3 CompleteMultipartUpload that joins parts by reference instead of copying their bytes.

moto completes a multipart upload by reading every part into one ``bytearray``, copying
that into ``bytes``, building a second full copy for the default CRC64NVME checksum,
checksumming it, and spooling the result into the new object's temporary file: four
passes over the object in one thread while the request waits. Real S3 answers in
seconds whatever the size, so on this test bed the call dominated the copy of a 2 GiB
archive (see ``benchmarks/complete_multipart.py`` for the measurement).

Here the completed object's buffer is a read-only view that reads straight from the
parts' own buffers in order: completing costs the same whatever the size (part checks and
the ETag of the part ETags, as S3 computes it). Parts stay owned by the multipart upload,
which moto already keeps on the object and disposes with it. When the upload asked for a
checksum (``x-amz-checksum-algorithm``) moto's own completion runs unchanged.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

from moto.s3 import models as s3_models
from moto.s3.exceptions import EntityTooSmall, InvalidPart, MalformedXML
from moto.utilities.utils import md5_hash

__all__ = ["ConcatenatedParts", "install"]

_S3_UPLOAD_PART_MIN_SIZE = getattr(s3_models, "S3_UPLOAD_PART_MIN_SIZE", 5 * 1024 * 1024)
_original_complete = s3_models.S3Backend.complete_multipart_upload


class ConcatenatedParts(io.RawIOBase):
    """A seekable read-only file whose bytes are those of ``parts`` (moto FakeKeys) one after another.

    Written to only when moto replaces the object's value in place; the parts are then
    forgotten and the new bytes kept in memory.
    """

    def __init__(self, parts: list[Any]) -> None:
        super().__init__()
        self._parts = parts
        self._sizes = [int(part.contentsize) for part in parts]
        self._size = sum(self._sizes)
        self._position = 0
        self._replaced: io.BytesIO | None = None

    @property
    def size(self) -> int:
        return self._size if self._replaced is None else len(self._replaced.getbuffer())

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position if self._replaced is None else self._replaced.tell()

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if self._replaced is not None:
            return self._replaced.seek(offset, whence)
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._position, os.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def _pieces(self, start: int, length: int) -> Iterator[bytes]:
        offset = 0
        for part, size in zip(self._parts, self._sizes, strict=True):
            if length <= 0:
                return
            if start < offset + size:
                within = start - offset
                take = min(size - within, length)
                buffer = part._value_buffer
                buffer.seek(within)
                yield buffer.read(take)
                start += take
                length -= take
            offset += size

    def read(self, size: int | None = -1) -> bytes:
        if self._replaced is not None:
            return self._replaced.read(size)
        remaining = self._size - self._position
        wanted = remaining if size is None or size < 0 else min(size, remaining)
        data = b"".join(self._pieces(self._position, wanted))
        self._position += len(data)
        return data

    def readinto(self, target: Any) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def truncate(self, size: int | None = None) -> int:
        self._replaced = io.BytesIO()
        self._parts, self._sizes, self._size = [], [], 0
        return 0

    def write(self, data: Any) -> int:
        if self._replaced is None:
            self.truncate()
        assert self._replaced is not None
        return self._replaced.write(data)


def _checked_parts(multipart: Any, body: Iterator[tuple[int, str]]) -> tuple[list[Any], str]:
    """The parts named by the request, checked as S3 checks them, and the object's ETag."""
    parts: list[Any] = []
    md5s = bytearray()
    for number, etag in body:
        part = multipart.parts.get(number)
        if part is None or part.etag.replace('"', "") != etag.replace('"', ""):
            raise InvalidPart()
        if parts and parts[-1].contentsize < _S3_UPLOAD_PART_MIN_SIZE:
            raise EntityTooSmall()
        md5s.extend(bytes.fromhex(part.etag.replace('"', "")))
        parts.append(part)
    if not parts:
        raise MalformedXML
    whole = md5_hash()
    whole.update(bytes(md5s))
    return parts, f"{whole.hexdigest()}-{len(parts)}"


def _complete_multipart_upload(
    self: Any, bucket_name: str, multipart_id: str, body: Iterator[tuple[int, str]]
) -> Any:
    bucket = self.get_bucket(bucket_name)
    multipart = bucket.multiparts[multipart_id]
    if multipart.metadata.get("x-amz-checksum-algorithm"):
        return _original_complete(self, bucket_name, multipart_id, body)
    parts, etag = _checked_parts(multipart, body)
    # Not ``del``: moto's MultipartDict disposes of the parts on deletion; the object now owns them.
    dict.__delitem__(bucket.multiparts, multipart_id)
    key = self.put_object(
        bucket_name,
        multipart.key_name,
        b"",
        storage=multipart.storage,
        etag=etag,
        multipart=multipart,
        encryption=multipart.sse_encryption,
        kms_key_id=multipart.kms_key_id,
    )
    with key.lock:
        key._value_buffer.close()
        key._value_buffer = ConcatenatedParts(parts)
        key.contentsize = key._value_buffer.size
    key.set_metadata(multipart.metadata)
    self.put_object_tagging(key, multipart.tags)
    self.put_object_acl(
        bucket_name=bucket_name, key_name=key.name, acl=multipart.acl, disable_notification=True
    )
    return key


def install() -> None:
    """Complete multipart uploads by reference in every S3 backend of this process (idempotent)."""
    s3_models.S3Backend.complete_multipart_upload = _complete_multipart_upload  # type: ignore[method-assign]
