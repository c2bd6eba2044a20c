"""Fast paths of the inventory parser: many archive records decoded and checked per call.

A million-archive inventory spends its time in per-record Python, not in the C JSON
scanner or the regex engine. So for the common shape of a record the parser hands a
whole buffer to this module, which decodes it in one C call (one ``json`` scan of many
``ArchiveList`` elements, or one regex ``findall`` over many CSV lines) and checks and
converts the fields column by column with C-level ``map``/``set`` loops.

Each function here is all-or-nothing: it returns the five columns of
:data:`~airflow_glacier_select.inventory.CSV_COLUMNS` (archive id, description, creation
date, size, tree hash), all valid and converted, or ``None``. ``None`` sends the same
records through the exact record-by-record parser in
:mod:`airflow_glacier_select.inventory`, which stays the only authority on what is
accepted and on the error message and position of what is not. A fast path therefore
may only ever accept a subset of what the exact parser accepts, with the same result.
"""

from __future__ import annotations

import json
import operator
import re
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

__all__ = ["Columns", "csv_columns", "json_batch_end", "json_columns"]

#: archive ids, descriptions, creation dates, sizes, tree hashes (same length each).
Columns = tuple[Sequence[str], Sequence[str], Sequence[datetime], Sequence[int], Sequence[str]]

_UTC = timezone.utc
_DECODER = json.JSONDecoder()

# CreationDate as the service writes it: ``2012-03-20T17:03:43Z`` or ``...43.221Z``.
_FIXED_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z")
_TZINFO = operator.attrgetter("tzinfo")

if sys.version_info >= (3, 11):
    # 3.11's C ``fromisoformat`` reads the ``Z`` itself and returns ``timezone.utc``; it is
    # the function the exact parser ends in, so whatever it reads as UTC, the exact
    # parser reads the same.

    def _creation_dates(texts: tuple[Any, ...]) -> list[datetime] | None:
        """Every CreationDate as an aware UTC datetime, or None to leave them to the exact parser."""
        try:
            created = list(map(datetime.fromisoformat, texts))
        except (ValueError, TypeError):  # not ISO 8601, or not a string at all
            return None
        return created if set(map(_TZINFO, created)) == {_UTC} else None

else:  # pragma: no cover - exercised on Python 3.10 only, whose fromisoformat has no ``Z``

    def _creation_dates(texts: tuple[Any, ...]) -> list[datetime] | None:
        """Every CreationDate as an aware UTC datetime, or None to leave them to the exact parser."""
        try:
            if not all(map(_FIXED_DATE.fullmatch, texts)):
                return None
            return [datetime.fromisoformat(text[:-1]).replace(tzinfo=_UTC) for text in texts]
        except (ValueError, TypeError):  # a calendar-impossible date, or not a string at all
            return None


# Printable ASCII but for the space, the quote and the comma: the bytes a bare field is made of.
_BARE_BYTES = bytes(sorted(set(range(0x21, 0x7F)) - {ord('"'), ord(",")}))


def _bare(texts: tuple[str, ...]) -> bool:
    """Only :data:`_BARE_BYTES` in ``texts`` (a few C passes over them all, none per field).

    Such a field is what the exact parser's strip-and-unquote leaves unchanged. Anything
    else, non-ASCII included, is left to the exact parser.
    """
    joined = "".join(texts)
    return joined.isascii() and not joined.encode("ascii").translate(None, _BARE_BYTES)


# -- JSON ---------------------------------------------------------------------------------------

_JSON_FIELDS = operator.itemgetter(
    "ArchiveId", "ArchiveDescription", "CreationDate", "Size", "SHA256TreeHash"
)


def json_batch_end(text: str, start: int) -> tuple[list[Any], int] | int:
    """Decode the whole ``ArchiveList`` elements of ``text`` that begin at ``start``.

    ``start`` must be where an element begins (after ``[`` or ``,``). The batch ends at
    the last ``},`` of the buffer: the decoded elements and the index just past that
    comma come back. A ``},`` inside a string (a description holding ``},``) cannot pass
    for the boundary: the text up to it then leaves a string unterminated, which no JSON
    decode accepts, so that cut fails and the ``},`` before it is tried. Returns the end
    of the span tried when no cut decodes (the caller parses that span element by
    element), or 0 when the buffer holds no ``},`` at all.
    """
    cut = text.rfind("},", start)
    if cut < 0:
        return 0
    span_end = cut + 1
    for _ in range(2):
        body = "[" + text[start : cut + 1] + "]"
        try:
            elements, end = _DECODER.raw_decode(body)
        except ValueError:
            elements, end = None, -1
        if end == len(body) and elements:
            return elements, cut + 2
        cut = text.rfind("},", start, cut)
        if cut < 0:
            break
    return span_end


def json_columns(elements: list[Any]) -> Columns | None:
    """The five checked, converted columns of decoded ``ArchiveList`` elements, or None."""
    try:
        ids, descriptions, dates, sizes, hashes = zip(*map(_JSON_FIELDS, elements), strict=True)
        # str.join refuses anything but strings (a null description included): a type
        # check of a whole column in one C call.
        "".join(ids), "".join(descriptions), "".join(hashes)
    except (KeyError, TypeError):  # a missing field, an element that is no object, a wrong type
        return None
    if not all(ids) or set(map(type, sizes)) != {int} or min(sizes) < 0:
        return None
    created = _creation_dates(dates)
    if created is None:
        return None
    return ids, descriptions, created, sizes, hashes


# -- CSV ---------------------------------------------------------------------------------------

_LAST_THREE = operator.methodcaller("rsplit", ",", 3)
_FIRST = operator.methodcaller("partition", ",")
_FIRST_CHAR = operator.itemgetter(0)
_LAST_CHAR = operator.itemgetter(-1)
_INSIDE_QUOTES = operator.itemgetter(slice(1, -1))
_END = "\x00"  # separates the descriptions while their escapes are undone in one pass


def csv_columns(lines: str) -> Columns | None:
    """The five columns of ``lines`` (whole lines in the service's column order, each ending in LF), or None.

    The exact parser's cuts (the first comma and the last three), made on all lines by
    C loops (``map`` of ``partition``/``rsplit``), then every column checked at once; the
    descriptions' ``\\"`` escapes are undone in one pass over all of them joined. None
    unless every line has that shape (a quoted description, bare id, date, size and hash:
    no comma, quote or space); blank lines, stray quotes or spaces and anything malformed
    are the exact parser's.
    """
    if _END in lines:
        return None
    if "\r" in lines:
        lines = lines.replace("\r\n", "\n")
    rows = lines.split("\n")
    rows.pop()  # the empty piece after the last LF
    try:
        heads, dates, sizes, hashes = zip(*map(_LAST_THREE, rows), strict=True)
    except ValueError:  # a line with fewer than three commas: zip stops at the shortest row
        return None
    ids, _, tokens = zip(*map(_FIRST, heads), strict=True)
    # Dates need no check here: fromisoformat refuses spaces, quotes and commas.
    if not all(ids) or not _bare(ids) or not _bare(hashes):
        return None
    joined_sizes = "".join(sizes)
    if not all(sizes) or not (joined_sizes.isascii() and joined_sizes.isdigit()):
        return None
    # The description token between the cuts is quoted: at least two characters, a quote at each end.
    if min(map(len, tokens)) < 2 or {*map(_FIRST_CHAR, tokens), *map(_LAST_CHAR, tokens)} != {'"'}:
        return None
    created = _creation_dates(dates)
    if created is None:
        return None
    descriptions = _END.join(map(_INSIDE_QUOTES, tokens)).replace('\\"', '"').split(_END)
    return ids, descriptions, created, list(map(int, sizes)), hashes
