"""Synthetic vault inventories, deterministic from a seed, for tests, benchmarks and the demo.

Real inventories hold whatever upload tools put into archive descriptions, and the
service's CSV escaping is unusual (a quote becomes ``\\"``, a backslash stays as it
is), so the generated descriptions lean on exactly what breaks parsers: quotes,
commas, backslashes (including a trailing one and ``\\"`` pairs), JSON-in-description,
1,024-character descriptions and FastGlacier metadata whose base64 path is non-ASCII.
Every description obeys the service's own rule (at most 1,024 printable ASCII
characters), so the files are ones the service could have produced.

Output is streamed to any binary file object, a few hundred records at a time, so a
million-archive inventory never sits in memory here either.
"""

from __future__ import annotations

import base64
import json
import random
import string
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Protocol

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.inventory import CSV_COLUMNS, InventoryArchive, format_glacier_timestamp

__all__ = [
    "DEFAULT_INVENTORY_DATE",
    "DEFAULT_VAULT_ARN",
    "NON_ASCII_PATHS",
    "TRICKY_DESCRIPTIONS",
    "csv_description",
    "fastglacier_description",
    "synthetic_archives",
    "write_inventory",
    "write_synthetic_inventory",
]

DEFAULT_VAULT_ARN = "arn:aws:glacier:us-east-1:123456789012:vaults/examplevault"
DEFAULT_INVENTORY_DATE = datetime(2024, 5, 1, 6, 30, 12, 345000, tzinfo=timezone.utc)

#: Descriptions that each break a naive CSV or JSON reader in their own way.
TRICKY_DESCRIPTIONS: tuple[str, ...] = (
    "",
    " ",
    "plain/path/file.txt",
    "report, final, v2.pdf",
    'say "hello".txt',
    '"',
    '""',
    '","',
    ",",
    "\\",
    "dir\\",
    "C:\\Users\\me\\Documents\\file.txt",
    '\\"',
    'a\\"b',
    '\\\\"',
    'ends with backslash quote \\"',
    '"starts and ends with quotes"',
    'x","y',
    "  leading and trailing spaces  ",
    '{"Path":"backup/\\"quoted\\" name.tar","UTCDateModified":"20130313T040002Z"}',
    "{not json}",
    "<m><v>4</v><p>!!!not base64!!!</p><lm>20190121T085242Z</lm></m>",
    "".join(chr(c) for c in range(0x20, 0x7F)),
    "~" * 1024,
)

#: Paths that cannot travel in a description except base64-encoded.
NON_ASCII_PATHS: tuple[str, ...] = (
    "Fotos/Ünïcödé/Straße.jpg",
    "写真/日本語のファイル.png",
    'документы/файл, "кавычки".txt',
    "emoji/🎉 party.gif",
    "naïve café/résumé.pdf",
)

_PRINTABLE = "".join(chr(c) for c in range(0x20, 0x7F))
_PATH_CHARS = string.ascii_letters + string.digits + "-_. ,'\"\\"


def _byte_table(alphabet: str) -> bytes:
    """Maps every byte value onto ``alphabet``: random bytes become random text in one C call."""
    return bytes(ord(alphabet[value % len(alphabet)]) for value in range(256))


_PRINTABLE_TABLE = _byte_table(_PRINTABLE)
_PATH_TABLE = _byte_table(_PATH_CHARS)
_FIRST_CREATION = datetime(2012, 8, 21, tzinfo=timezone.utc)
_CREATION_SPAN_MS = 12 * 365 * 24 * 3600 * 1000
_TIB = 1 << 40


class _BinaryWriter(Protocol):
    def write(self, data: bytes, /) -> object: ...


def fastglacier_description(path: str, modified: datetime) -> str:
    """FastGlacier v4 metadata: the UTF-8 path base64-encoded, last-modified time in UTC."""
    encoded = base64.b64encode(path.encode("utf-8")).decode("ascii")
    return f"<m><v>4</v><p>{encoded}</p><lm>{_compact_time(modified)}</lm></m>"


def _compact_time(moment: datetime) -> str:
    """``yyyyMMddTHHmmssZ``, the timestamp form upload tools put into descriptions."""
    return (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"T{moment.hour:02d}{moment.minute:02d}{moment.second:02d}Z"
    )


def csv_description(description: str) -> str:
    """The description as the service writes it into an inventory CSV."""
    return '"' + description.replace('"', '\\"') + '"'


def _text(rng: random.Random, table: bytes, length: int) -> str:
    return rng.randbytes(length).translate(table).decode("ascii")


def _description(rng: random.Random, created: datetime) -> str:
    roll = rng.random()
    if roll < 0.35:
        return _text(rng, _PRINTABLE_TABLE, rng.randrange(0, 80))
    if roll < 0.55:
        return rng.choice(TRICKY_DESCRIPTIONS)
    if roll < 0.75:
        name = rng.choice(NON_ASCII_PATHS) if rng.random() < 0.5 else _text(rng, _PATH_TABLE, 24)
        return fastglacier_description(name, created)
    if roll < 0.85:
        path = _text(rng, _PATH_TABLE, rng.randrange(1, 40))
        return json.dumps({"Path": path, "UTCDateModified": _compact_time(created)})
    if roll < 0.99:
        return "/".join(_text(rng, _PATH_TABLE, 8) for _ in range(rng.randrange(1, 5)))
    return _text(rng, _PRINTABLE_TABLE, 1024)


def _size(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.05:
        return 0
    if roll < 0.65:
        return rng.randrange(1, 10 << 20)
    if roll < 0.95:
        return rng.randrange(1, 4 << 30)
    return rng.randrange(1, 40 * _TIB)


def synthetic_archives(count: int, *, seed: int = 0) -> Iterator[InventoryArchive]:
    """``count`` archives, the same ones for the same seed, generated lazily."""
    if not isinstance(count, int) or count < 0:
        raise GlacierValidationError("count", count, "must be a non-negative integer")
    rng = random.Random(seed)
    for _ in range(count):
        created = _FIRST_CREATION + timedelta(milliseconds=rng.randrange(_CREATION_SPAN_MS))
        yield InventoryArchive(
            # Real archive ids are 138 characters of the base64url alphabet.
            archive_id=base64.urlsafe_b64encode(rng.randbytes(104)).decode("ascii")[:138],
            description=_description(rng, created),
            creation_date=created,
            size=_size(rng),
            sha256_tree_hash=rng.randbytes(32).hex(),
        )


def _json_record(archive: InventoryArchive) -> str:
    return json.dumps(
        {
            "ArchiveId": archive.archive_id,
            "ArchiveDescription": archive.description,
            "CreationDate": format_glacier_timestamp(archive.creation_date),
            "Size": archive.size,
            "SHA256TreeHash": archive.sha256_tree_hash,
        },
        separators=(",", ":"),
    )


def _csv_record(archive: InventoryArchive) -> str:
    return ",".join(
        (
            archive.archive_id,
            csv_description(archive.description),
            format_glacier_timestamp(archive.creation_date),
            str(archive.size),
            archive.sha256_tree_hash,
        )
    )


def write_inventory(
    out: _BinaryWriter,
    archives: Iterable[InventoryArchive],
    *,
    format: str = "JSON",
    vault_arn: str = DEFAULT_VAULT_ARN,
    inventory_date: datetime = DEFAULT_INVENTORY_DATE,
    newline: str = "\n",
    group: int = 512,
) -> int:
    """Write ``archives`` as inventory-retrieval output in ``format``; returns the bytes written.

    JSON is written compactly on one line, as the service does; CSV with the service's
    header and quoting. ``newline`` sets the CSV line terminator (``"\\r\\n"`` to test CRLF).
    """
    if format not in ("JSON", "CSV"):
        raise GlacierValidationError("format", format, "is not one of JSON, CSV")
    written = 0

    def emit(text: str) -> None:
        nonlocal written
        data = text.encode("utf-8")
        out.write(data)
        written += len(data)

    if format == "JSON":
        header = {"VaultARN": vault_arn, "InventoryDate": format_glacier_timestamp(inventory_date)}
        emit(json.dumps(header, separators=(",", ":"))[:-1] + ',"ArchiveList":[')
        record, separator, terminator = _json_record, ",", "]}"
    else:
        emit(",".join(CSV_COLUMNS) + newline)
        record, separator, terminator = _csv_record, newline, newline
    pending: list[str] = []
    started = False
    for archive in archives:
        pending.append(record(archive))
        if len(pending) == group:
            emit((separator if started else "") + separator.join(pending))
            started, pending = True, []
    if pending:
        emit((separator if started else "") + separator.join(pending))
        started = True
    if format == "JSON" or started:
        emit(terminator)
    return written


def write_synthetic_inventory(
    out: _BinaryWriter, count: int, *, format: str = "JSON", seed: int = 0, newline: str = "\n"
) -> int:
    """Write :func:`synthetic_archives` ``(count, seed=seed)`` as an inventory; returns bytes written."""
    return write_inventory(out, synthetic_archives(count, seed=seed), format=format, newline=newline)
