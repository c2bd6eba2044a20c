"""The object lists a Glacier Select job writes next to its output.

``result_manifest.txt`` lists the result objects and ``error_manifest.txt`` the error
objects, one per line, as keys or ``s3://`` URIs. Reading them is the only reliable way to
tell success from failure, so their parsing is kept strict and separate from the S3 reads.
"""

from __future__ import annotations

from airflow_glacier_select.s3_copy.errors import GlacierTransferError

__all__ = ["parse_manifest"]


def parse_manifest(text: str, bucket: str) -> list[str]:
    """Object keys listed by a Select ``result_manifest.txt`` / ``error_manifest.txt``.

    One entry per line, as a key or an ``s3://bucket/key`` URI; blank lines are ignored.
    An entry in another bucket is refused rather than silently read from the wrong place.
    """
    keys = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry:
            continue
        if entry.startswith("s3://"):
            entry_bucket, _, key = entry[len("s3://") :].partition("/")
            if entry_bucket != bucket or not key:
                raise GlacierTransferError(f"manifest entry {entry!r} is not an object in bucket {bucket}")
            entry = key
        keys.append(entry)
    return keys
