"""The output of an inventory-retrieval job, in Glacier's JSON or CSV format.

Glacier's CSV inventory is not standard CSV: a quote inside a quoted field is written
as ``\\"`` (not doubled) and a backslash is left as it is. Descriptions are the only
free text, so they are always quoted here.

StartDate is inclusive and EndDate exclusive (on the archive's CreationDate); Limit
caps the archives in one output and the Marker in the job description continues
where it stopped. Markers are opaque to clients: here they encode the position of the
next archive in upload order, which stays valid when earlier archives are deleted.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from datetime import datetime

from airflow_glacier_select.testing.models import Archive, iso_date
from airflow_glacier_select.testing.rules import InventoryRequest

__all__ = ["CSV_HEADER", "decode_marker", "render_inventory"]

CSV_HEADER = "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash"
_MARKER_PREFIX = "inventory-position:"


def encode_marker(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_MARKER_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_marker(marker: str) -> int | None:
    """The archive position a marker continues from, or None when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text.startswith(_MARKER_PREFIX) or not text[len(_MARKER_PREFIX) :].isdigit():
        return None
    return int(text[len(_MARKER_PREFIX) :])


def _selected(archives: Iterable[Archive], request: InventoryRequest) -> tuple[list[Archive], str | None]:
    first = decode_marker(request.marker) if request.marker else 0
    chosen: list[Archive] = []
    for archive in sorted(archives, key=lambda item: item.seq):
        if archive.seq < (first or 0):
            continue
        if request.start_date and archive.created < request.start_date:
            continue
        if request.end_date and archive.created >= request.end_date:
            continue
        if request.limit is not None and len(chosen) == request.limit:
            return chosen, encode_marker(archive.seq)
        chosen.append(archive)
    return chosen, None


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def render_inventory(
    vault_arn: str, archives: Iterable[Archive], request: InventoryRequest, inventory_date: datetime
) -> tuple[bytes, str | None]:
    """The inventory body and the marker of the next page (None when nothing is left)."""
    chosen, marker = _selected(archives, request)
    if request.format == "CSV":
        lines = [CSV_HEADER] + [
            f"{a.archive_id},{_csv_field(a.description)},{iso_date(a.created)},{a.size},{a.tree_hash}"
            for a in chosen
        ]
        return ("\n".join(lines) + "\n").encode(), marker
    document = {
        "VaultARN": vault_arn,
        "InventoryDate": iso_date(inventory_date),
        "ArchiveList": [
            {
                "ArchiveId": a.archive_id,
                "ArchiveDescription": a.description,
                "CreationDate": iso_date(a.created),
                "Size": a.size,
                "SHA256TreeHash": a.tree_hash,
            }
            for a in chosen
        ],
    }
    return json.dumps(document).encode(), marker
