"""Reading S3 objects that may not be there: an absent object is an answer, not an error.

The engine asks whether the destination key is taken (HeadObject) and the Select results
reader whether a manifest exists (GetObject); both need S3's "no such key" told apart from
every other failure, which still propagates.
"""

from __future__ import annotations

from typing import Any

import botocore.exceptions

from airflow_glacier_select.hooks.glacier import error_code

__all__ = ["error_code", "head_object", "read_text"]

_NOT_FOUND = ("404", "NoSuchKey", "NotFound")


def head_object(s3: Any, bucket: str, key: str) -> tuple[int, dict[str, str]] | None:
    """Size and user metadata of ``s3://bucket/key``, or None when no object is there."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except botocore.exceptions.ClientError as error:
        if error_code(error) in _NOT_FOUND:
            return None
        raise
    return int(head["ContentLength"]), dict(head.get("Metadata") or {})


def read_text(s3: Any, bucket: str, key: str, limit: int | None = None) -> str | None:
    """An object's text (at most ``limit`` bytes), or None when it does not exist."""
    try:
        response = s3.get_object(
            Bucket=bucket, Key=key, **({"Range": f"bytes=0-{limit - 1}"} if limit else {})
        )
    except botocore.exceptions.ClientError as error:
        if error_code(error) in _NOT_FOUND:
            return None
        raise
    with response["Body"] as body:
        return bytes(body.read()).decode("utf-8", "replace")
