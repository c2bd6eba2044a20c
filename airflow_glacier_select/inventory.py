"""Streaming parser for vault inventories (the output of an ``inventory-retrieval`` job).

A vault can hold millions of archives, so an inventory can run to gigabytes. The
parser reads the job output in bounded chunks and yields one
:class:`InventoryArchive` at a time: memory stays flat whatever the inventory size
(one chunk and the archives decoded from it, or one record that spans chunks, capped
at :data:`MAX_RECORD_CHARS`).

Both formats the service emits are understood:

``JSON`` (the default)
    ``{"VaultARN": ..., "InventoryDate": ..., "ArchiveList": [{"ArchiveId": ...,
    "ArchiveDescription": ..., "CreationDate": ..., "Size": ..., "SHA256TreeHash": ...},
    ...]}``. The elements of ``ArchiveList`` are decoded with the C JSON scanner over a
    sliding buffer, all the whole elements of the buffer in one call where they have
    the common shape (:mod:`airflow_glacier_select.inventory_batches`), one by one
    otherwise; ``VaultARN`` and ``InventoryDate`` are exposed as
    :attr:`InventoryReader.header`.

``CSV``
    A header ``ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash`` then one
    line per archive. This is not RFC 4180 CSV: inside the quoted description the
    service writes a quote as ``\\"`` and leaves a backslash as it is (a description
    ``a\\"b`` arrives as ``"a\\\\"b"``, and one ending in a backslash as ``"dir\\"``).
    This is undocumented but is what real inventories contain, and a standard CSV
    reader gets both cases wrong. Because descriptions are printable ASCII
    (no line breaks) and the other four fields never hold a comma, each line is split
    around the description by position, which makes the decoding exact. Lines of the
    common shape are split and checked a buffer at a time, the rest one by one.

Continuing a limited inventory: an inventory job started with ``Limit`` returns at
most that many archives; when more remain, DescribeJob carries the next marker in
``InventoryRetrievalParameters.Marker`` (``JobDescription.next_inventory_marker`` in
:mod:`airflow_glacier_select.job_description`). A DAG lists a whole vault by looping:
initiate an inventory job with that ``Marker``, wait, parse its output with this
module, and stop when the marker comes back empty. Each page is parsed
independently; nothing here needs to see the previous page.
"""

from __future__ import annotations

import codecs
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime, timezone
from itertools import chain, repeat
from typing import Any, Literal, Protocol

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.inventory_batches import Columns, csv_columns, json_batch_end, json_columns

__all__ = [
    "CSV_COLUMNS",
    "MAX_RECORD_CHARS",
    "InventoryArchive",
    "InventoryFormat",
    "InventoryHeader",
    "InventoryParseError",
    "InventoryReader",
    "format_glacier_timestamp",
    "iter_inventory_archives",
    "parse_glacier_timestamp",
]

InventoryFormat = Literal["JSON", "CSV"]
_FORMATS: dict[str, InventoryFormat] = {"JSON": "JSON", "CSV": "CSV"}

#: The columns of an inventory CSV, in the order the service writes them.
CSV_COLUMNS = ("ArchiveId", "ArchiveDescription", "CreationDate", "Size", "SHA256TreeHash")

#: Longest archive record (a JSON element or a CSV line) the parser will buffer. A real
#: record is well under 4 KiB (the description is at most 1,024 bytes), so anything
#: longer is malformed input, refused before it can grow the buffer without bound.
MAX_RECORD_CHARS = 1 << 20

DEFAULT_CHUNK_SIZE = 64 * 1024


class ByteStream(Protocol):
    """Anything with ``read(size) -> bytes``: a file, ``io.BytesIO``, botocore's ``StreamingBody``."""

    def read(self, size: int = ..., /) -> bytes: ...


class InventoryParseError(ValueError):
    """The inventory is not what the service emits; the message says where.

    ``line`` (CSV, 1-based) or ``offset`` (JSON, characters from the start of the output)
    locate the fault, so a user can look at the offending bytes of a multi-gigabyte file.
    """

    def __init__(self, message: str, *, line: int | None = None, offset: int | None = None) -> None:
        self.line = line
        self.offset = offset
        where = f"line {line}" if line is not None else f"character offset {offset}"
        super().__init__(f"inventory {where}: {message}")


def parse_glacier_timestamp(text: str) -> datetime:
    """Parse a Glacier timestamp (``2012-03-20T17:03:43.221Z``) into an aware UTC datetime.

    Glacier writes ISO 8601 in UTC with a ``Z``; Python 3.10's ``fromisoformat`` does not
    accept the ``Z``, hence the rewrite. A value without an offset is taken as UTC, the
    only zone the service uses. The compact form ``20120320T170343Z`` is accepted too.
    """
    value = text.strip()
    iso = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        try:
            parsed = datetime.strptime(value, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def format_glacier_timestamp(moment: datetime) -> str:
    """Write a datetime the way Glacier does (UTC, ``Z``), keeping all its precision."""
    utc = moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    micro = utc.microsecond
    timespec = "seconds" if micro == 0 else "milliseconds" if micro % 1000 == 0 else "microseconds"
    return utc.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


@dataclass(frozen=True, slots=True)
class InventoryArchive:
    """One archive as the vault inventory lists it."""

    archive_id: str
    description: str
    creation_date: datetime
    size: int
    sha256_tree_hash: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types with stable keys, for XCom and mapped task arguments."""
        return {
            "archive_id": self.archive_id,
            "description": self.description,
            "creation_date": format_glacier_timestamp(self.creation_date),
            "size": self.size,
            "sha256_tree_hash": self.sha256_tree_hash,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InventoryArchive:
        """Rebuild an archive from :meth:`to_dict` output (e.g. in a mapped task)."""
        return cls(
            archive_id=data["archive_id"],
            description=data["description"],
            creation_date=parse_glacier_timestamp(data["creation_date"]),
            size=int(data["size"]),
            sha256_tree_hash=data["sha256_tree_hash"],
        )


@dataclass(frozen=True)
class InventoryHeader:
    """What the inventory says about itself. Only JSON carries it; for CSV both are None."""

    vault_arn: str | None = None
    inventory_date: datetime | None = None


def _build_archive(
    archive_id: object, description: object, creation_date: object, size: object, tree_hash: object
) -> InventoryArchive:
    """Check and convert one record's fields; raises ValueError naming the bad field."""
    if not isinstance(archive_id, str) or not archive_id:
        raise ValueError(f"ArchiveId must be a non-empty string, got {archive_id!r}")
    if description is None:
        description = ""
    if not isinstance(description, str):
        raise ValueError(f"ArchiveDescription must be a string, got {description!r}")
    if not isinstance(creation_date, str):
        raise ValueError(f"CreationDate must be a string, got {creation_date!r}")
    try:
        created = parse_glacier_timestamp(creation_date)
    except ValueError as exc:
        raise ValueError(f"CreationDate: {exc}") from None
    if isinstance(size, str) and size.isascii() and size.isdigit():
        size = int(size)
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"Size must be a non-negative integer, got {size!r}")
    if not isinstance(tree_hash, str):
        raise ValueError(f"SHA256TreeHash must be a string, got {tree_hash!r}")
    return InventoryArchive(archive_id, description, created, size, tree_hash)


# The slot of each field of InventoryArchive, in field order. A frozen dataclass's __init__
# is five ``object.__setattr__`` calls in Python, half the cost of a fast-path record; the
# same slots set column by column from C (``map`` over the slot's ``__set__``) build the
# same objects, valid or not exactly as __init__ would (it checks nothing).
_ARCHIVE_SLOTS = tuple(
    InventoryArchive.__dict__[field.name].__set__ for field in dataclass_fields(InventoryArchive)
)
_new_object = object.__new__


def _archives(columns: Columns) -> list[InventoryArchive]:
    """Records from the checked columns of a fast-path batch (what ``InventoryArchive(*row)`` builds)."""
    archives = list(map(_new_object, repeat(InventoryArchive, len(columns[0]))))
    for set_slot, column in zip(_ARCHIVE_SLOTS, columns, strict=True):
        deque(map(set_slot, archives, column), maxlen=0)
    return archives


class _ChunkReader:
    """Bytes from the stream in bounded chunks; rejects a stream that hands back text."""

    def __init__(self, stream: ByteStream, chunk_size: int) -> None:
        self._stream = stream
        self._chunk_size = chunk_size

    def read(self) -> bytes:
        chunk = self._stream.read(self._chunk_size)
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise TypeError(f"inventory stream must return bytes from read(), got {type(chunk).__name__}")
        return bytes(chunk)


# -- JSON ---------------------------------------------------------------------------------------

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class _JsonCursor:
    """Decoded text of the stream with a read position; holds only what is not yet consumed."""

    def __init__(self, chunks: _ChunkReader) -> None:
        self._chunks = chunks
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.pos = 0
        self.dropped = 0  # characters discarded before text[0]
        self.eof = False

    @property
    def offset(self) -> int:
        return self.dropped + self.pos

    def fill(self) -> bool:
        """Append the next chunk; False once the stream is exhausted."""
        if self.eof:
            return False
        chunk = self._chunks.read()
        try:
            piece = self._decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise InventoryParseError(
                f"not UTF-8 ({exc.reason})", offset=self.dropped + len(self.text)
            ) from None
        if not chunk:
            self.eof = True
            self.text += piece
            return False
        if self.pos:
            self.dropped += self.pos
            self.text = self.text[self.pos :]
            self.pos = 0
        self.text += piece
        return True

    def peek(self) -> str | None:
        """The next non-whitespace character (not consumed), or None at the end of the stream."""
        while True:
            self.pos = _WHITESPACE.match(self.text, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.text):
                return self.text[self.pos]
            if not self.fill():
                return None

    def expect(self, char: str, context: str) -> None:
        found = self.peek()
        if found != char:
            shown = "end of input" if found is None else repr(found)
            raise InventoryParseError(f"expected {char!r} {context}, found {shown}", offset=self.offset)
        self.pos += 1

    def value(self, context: str) -> Any:
        """Decode one JSON value at the cursor, reading more input until it is complete."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as exc:
                if len(self.text) - self.pos > MAX_RECORD_CHARS:
                    raise InventoryParseError(
                        f"{context} is longer than {MAX_RECORD_CHARS} characters or malformed ({exc.msg})",
                        offset=self.offset,
                    ) from None
                if self.fill():
                    continue
                raise InventoryParseError(f"{context}: {exc.msg}", offset=self.dropped + exc.pos) from None
            # A number cut by the chunk boundary decodes "successfully"; make sure it was whole.
            if end == len(self.text) and self.fill():
                continue
            self.pos = end
            return value


def _iter_json(cursor: _JsonCursor, header: dict[str, Any]) -> Iterator[Iterable[InventoryArchive]]:
    cursor.expect("{", "at the start of a JSON inventory")
    saw_list = False
    first = True
    while True:
        if cursor.peek() == "}":
            cursor.pos += 1
            break
        if not first:
            cursor.expect(",", "between inventory fields")
        first = False
        cursor.peek()
        key_offset = cursor.offset
        key = cursor.value("inventory field name")
        if not isinstance(key, str):
            raise InventoryParseError(f"expected a field name, found {key!r}", offset=key_offset)
        cursor.expect(":", f"after {key!r}")
        if key == "ArchiveList":
            saw_list = True
            yield from _iter_json_archive_list(cursor)
            continue
        cursor.peek()
        value_offset = cursor.offset
        value = cursor.value(key)
        if key in ("VaultARN", "InventoryDate"):
            if not isinstance(value, str):
                raise InventoryParseError(f"{key} must be a string, got {value!r}", offset=value_offset)
            if key == "InventoryDate":
                try:
                    header[key] = parse_glacier_timestamp(value)
                except ValueError as exc:
                    raise InventoryParseError(f"InventoryDate: {exc}", offset=value_offset) from None
            else:
                header[key] = value
    if cursor.peek() is not None:
        raise InventoryParseError("unexpected data after the inventory object", offset=cursor.offset)
    if not saw_list:
        raise InventoryParseError("the JSON inventory has no ArchiveList", offset=cursor.offset)


def _iter_json_archive_list(cursor: _JsonCursor) -> Iterator[Iterable[InventoryArchive]]:
    cursor.expect("[", "to open ArchiveList")
    if cursor.peek() == "]":
        cursor.pos += 1
        return
    index = 0
    exact_until = 0  # offset up to which elements go one by one (a batch there did not decode)
    while True:
        if cursor.offset >= exact_until:
            batch = json_batch_end(cursor.text, cursor.pos)
            if isinstance(batch, tuple):
                elements, after = batch
                columns = json_columns(elements)
                if columns is not None:
                    cursor.pos = after
                    index += len(elements)
                    yield _archives(columns)
                    continue
                exact_until = cursor.dropped + after
            elif batch:
                exact_until = cursor.dropped + batch
            elif len(cursor.text) - cursor.pos <= MAX_RECORD_CHARS and cursor.fill():
                continue  # no element ends in the buffer yet: read on rather than decode a part
        where = f"ArchiveList[{index}]"
        cursor.peek()
        start = cursor.offset
        record = cursor.value(where)
        if not isinstance(record, dict):
            raise InventoryParseError(f"{where} must be an object, got {record!r}", offset=start)
        try:
            archive = _build_archive(
                record.get("ArchiveId"),
                record.get("ArchiveDescription"),
                record.get("CreationDate"),
                record.get("Size"),
                record.get("SHA256TreeHash"),
            )
        except ValueError as exc:
            raise InventoryParseError(f"{where}: {exc}", offset=start) from None
        yield (archive,)
        index += 1
        after_element = cursor.peek()
        if after_element == ",":
            cursor.pos += 1
        elif after_element == "]":
            cursor.pos += 1
            return
        else:
            shown = "end of input" if after_element is None else repr(after_element)
            raise InventoryParseError(
                f"expected ',' or ']' after {where}, found {shown}", offset=cursor.offset
            )


# -- CSV ----------------------------------------------------------------------------------------


def _line_blocks(chunks: _ChunkReader) -> Iterator[bytes]:
    """Runs of whole lines, each ending in LF, one per chunk read: the fast path takes many at once.

    The line being read is never allowed past the cap; when it is, :class:`_LineTooLong`
    tells the caller, who knows the line number.
    """
    pending = b""
    while True:
        chunk = chunks.read()
        if not chunk:
            break
        pending += chunk
        cut = pending.rfind(b"\n") + 1
        if cut:
            block, pending = pending[:cut], pending[cut:]
            yield block
        if len(pending) > MAX_RECORD_CHARS:
            raise _LineTooLong
    if pending:
        yield pending + b"\n"


class _LineTooLong(Exception):
    """The CSV line being read is past :data:`MAX_RECORD_CHARS` bytes."""


def _unquote(token: str) -> str:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] == '"':
        return token[1:-1]
    return token


def _decode_description(token: str) -> str:
    """Undo the service's escaping: the field is quoted and each quote inside it became ``\\"``."""
    stripped = token.strip()
    if stripped.startswith('"'):
        if len(stripped) < 2 or not stripped.endswith('"'):
            raise ValueError(f"ArchiveDescription has an unterminated quote: {token!r}")
        return stripped[1:-1].replace('\\"', '"')
    if '"' in token:
        raise ValueError(f"ArchiveDescription has a quote outside a quoted field: {token!r}")
    return token


def _csv_layout(header: str, line: int) -> list[int]:
    """Where each of :data:`CSV_COLUMNS` sits in this file, from its header line."""
    names = [_unquote(name) for name in header.lstrip("\ufeff").split(",")]
    if sorted(names) != sorted(CSV_COLUMNS):
        raise InventoryParseError(
            f"CSV header {header!r} is not the inventory header {','.join(CSV_COLUMNS)}", line=line
        )
    return [names.index(column) for column in CSV_COLUMNS]


_SERVICE_LAYOUT = list(range(len(CSV_COLUMNS)))


def _iter_csv(chunks: _ChunkReader) -> Iterator[Iterable[InventoryArchive]]:
    layout: list[int] | None = None
    number = 0  # lines read so far
    blocks = _line_blocks(chunks)
    while True:
        try:
            block = next(blocks)
        except StopIteration:
            break
        except _LineTooLong:
            raise InventoryParseError(f"longer than {MAX_RECORD_CHARS} bytes", line=number + 1) from None
        if layout is None:
            layout, number, block = _csv_header(block, number)
            if layout is None or not block:
                continue
        if layout == _SERVICE_LAYOUT:
            try:
                columns = csv_columns(block.decode("utf-8"))
            except UnicodeDecodeError:
                columns = None  # the exact path names the line
            if columns is not None:
                number += len(columns[0])
                yield _archives(columns)
                continue
        lines = block.split(b"\n")
        lines.pop()  # the empty piece after the block's last LF
        for raw in lines:
            number += 1
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InventoryParseError(f"not UTF-8 ({exc.reason})", line=number) from None
            if text.endswith("\r"):
                text = text[:-1]
            if text.strip():
                yield (_csv_archive(text, layout, number),)
    if layout is None:
        raise InventoryParseError("the CSV inventory is empty (no header line)", line=1)


def _csv_header(block: bytes, number: int) -> tuple[list[int] | None, int, bytes]:
    """The layout from the first non-blank line of ``block`` if it has one, the lines read, the rest."""
    lines = block.split(b"\n")
    for index, raw in enumerate(lines[:-1]):
        number += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InventoryParseError(f"not UTF-8 ({exc.reason})", line=number) from None
        if text.strip():
            return _csv_layout(text.removesuffix("\r"), number), number, b"\n".join(lines[index + 1 :])
    return None, number, b""


def _csv_archive(text: str, layout: list[int], number: int) -> InventoryArchive:
    """The exact decoding of one CSV line (``text``, without its line terminator)."""
    at_id, at_description, at_date, at_size, at_hash = layout
    # The description is the only field that may hold commas: split the others off
    # from the left and from the right, and whatever lies between is the description.
    fields = text.split(",", at_description)
    fields += fields.pop().rsplit(",", len(CSV_COLUMNS) - 1 - at_description)
    if len(fields) != len(CSV_COLUMNS):
        raise InventoryParseError(f"expected {len(CSV_COLUMNS)} fields, got {text!r}", line=number)
    try:
        return _build_archive(
            _unquote(fields[at_id]),
            _decode_description(fields[at_description]),
            _unquote(fields[at_date]),
            _unquote(fields[at_size]),
            _unquote(fields[at_hash]),
        )
    except ValueError as exc:
        raise InventoryParseError(str(exc), line=number) from None


# -- entry points -------------------------------------------------------------------------------


class InventoryReader(Iterator[InventoryArchive]):
    """Iterate the archives of one inventory; :attr:`header` fills in as the parser passes it."""

    def __init__(self, stream: ByteStream, format: str = "JSON", *, chunk_size: int = DEFAULT_CHUNK_SIZE):
        kind = _FORMATS.get(format.upper()) if isinstance(format, str) else None
        if kind is None:
            raise GlacierValidationError("Format", format, "is not one of JSON, CSV")
        if not isinstance(chunk_size, int) or chunk_size < 1:
            raise GlacierValidationError("chunk_size", chunk_size, "must be a positive number of bytes")
        self.format: InventoryFormat = kind
        self._header: dict[str, Any] = {}
        chunks = _ChunkReader(stream, chunk_size)
        batches = _iter_json(_JsonCursor(chunks), self._header) if kind == "JSON" else _iter_csv(chunks)
        # Batches flattened in C: no Python frame runs per archive between parser and caller.
        self._archives: Iterator[InventoryArchive] = chain.from_iterable(batches)

    @property
    def header(self) -> InventoryHeader:
        """VaultARN and InventoryDate of a JSON inventory.

        The service writes them before ArchiveList, so they are known once the first
        archive has been yielded (and always once iteration is over).
        """
        return InventoryHeader(
            vault_arn=self._header.get("VaultARN"), inventory_date=self._header.get("InventoryDate")
        )

    def __iter__(self) -> Iterator[InventoryArchive]:
        # The flattened archives themselves, so a ``for`` loop pulls each archive without a
        # call into :meth:`__next__`; both draw from the same iterator.
        return self._archives

    def __next__(self) -> InventoryArchive:
        return next(self._archives)


def iter_inventory_archives(
    stream: ByteStream, format: str = "JSON", *, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> InventoryReader:
    """Stream the archives of an inventory job's output, one :class:`InventoryArchive` at a time.

    ``stream`` is read ``chunk_size`` bytes at a time and never as a whole, so a
    multi-gigabyte inventory parses in constant memory. ``format`` is the job's
    ``Format`` (``JSON`` or ``CSV``). Malformed input raises :class:`InventoryParseError`
    naming the CSV line or the JSON character offset. The returned reader also exposes
    the JSON inventory's ``VaultARN``/``InventoryDate`` as ``.header``.
    """
    return InventoryReader(stream, format, chunk_size=chunk_size)
