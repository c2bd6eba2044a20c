"""Recover the original file path from an archive description.

Glacier stores no file names: an archive has an id and a free description of at
most 1,024 printable ASCII characters. Upload tools therefore encode the file's
path (and, for non-ASCII names, its bytes) into the description, each in its own
way. Migrating a vault to S3 wants those paths back as object keys, so this module
understands the common conventions:

- FastGlacier v2-v4 (also Synology/QNAP backup tools):
  ``<m><v>4</v><p>BASE64(UTF-8 path)</p><lm>20120821T170824Z</lm>...</m>``
- FastGlacier v1: ``<ArchiveMetadata><Path>BASE64(UTF-8 path)</Path>...</ArchiveMetadata>``
- mt-aws-glacier: ``mt2 BASE64URL(JSON {"filename": ..., "mtime": ...})`` (and the
  double-encoded ``mt1``)
- JSON with a ``Path`` or ``path`` member; CloudBerry's form (recognised by its
  ``UTCDateModified`` member) stores the path UTF-7 encoded, which is undone
- anything else is taken as the path itself (the description *is* the file name)

The path comes back as the tool recorded it (separators, drive letters and a
leading slash included): turning it into a safe S3 key is the transfer's concern.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

__all__ = ["archive_path"]

_FASTGLACIER = re.compile(r"<m>.*?<p>(?P<path>[^<]*)</p>.*</m>", re.DOTALL)
_FASTGLACIER_V1 = re.compile(
    r"<ArchiveMetadata>.*?<Path>(?P<path>[^<]*)</Path>.*</ArchiveMetadata>", re.DOTALL
)
_MT_AWS = re.compile(r"(?P<version>mt[12]) (?P<payload>[A-Za-z0-9_-]+)")


def archive_path(description: str) -> str | None:
    """The original path recorded in ``description``, or None when there is none to use.

    None means: the description is empty, or it is in one of the structured formats
    above but does not decode (corrupt base64, bytes that are not UTF-8, a JSON object
    without a string ``Path``). The caller then names the object after the archive id
    rather than after garbage.
    """
    text = description.strip()
    if not text:
        return None
    for pattern in (_FASTGLACIER, _FASTGLACIER_V1):
        match = pattern.fullmatch(text)
        if match:
            return _nonempty(_base64_text(match["path"]))
    match = _MT_AWS.fullmatch(text)
    if match:
        return _nonempty(_mt_aws_path(match["version"], match["payload"]))
    if text.startswith("{") and text.endswith("}"):
        return _nonempty(_json_path(text))
    return text


def _nonempty(path: str | None) -> str | None:
    return path if path and path.strip() else None


def _base64_text(encoded: str, *, urlsafe: bool = False) -> str | None:
    """Strict base64 -> UTF-8; None on any defect (whitespace around the value is allowed)."""
    compact = "".join(encoded.split())
    if urlsafe:
        compact = compact.replace("-", "+").replace("_", "/")
        compact += "=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _mt_aws_path(version: str, payload: str) -> str | None:
    decoded = _base64_text(payload, urlsafe=True)
    if decoded is None:
        return None
    if version == "mt1":
        # mt1 encoded its UTF-8 JSON as if it were Latin-1 a second time; undo that layer.
        try:
            decoded = decoded.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return None
    try:
        metadata = json.loads(decoded)
    except json.JSONDecodeError:
        return None
    filename = metadata.get("filename") if isinstance(metadata, dict) else None
    return filename if isinstance(filename, str) else None


def _json_path(text: str) -> str | None:
    try:
        metadata = json.loads(text)
    except json.JSONDecodeError:
        # Looked like JSON but is not: a file may well be called "{draft}".
        return text
    if not isinstance(metadata, dict):
        return text
    path = metadata.get("Path", metadata.get("path"))
    if not isinstance(path, str):
        return None
    if "UTCDateModified" in metadata and "+" in path:
        try:
            return path.encode("ascii").decode("utf-7")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return path
    return path
