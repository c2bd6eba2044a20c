"""CSV records in and out of a Glacier Select job, with the service's serialization rules.

Glacier Select reads an archive as CSV described by the job's InputSerialization and
writes matching records as CSV described by its OutputSerialization. Python's ``csv``
module cannot honour those settings (it has no comment lines, no arbitrary record
delimiter and no quote escape other than doubling), so records are parsed here with the
service's own rules:

* a field that starts with the QuoteCharacter is quoted: it may contain field and record
  delimiters, and QuoteEscapeCharacter followed by QuoteCharacter stands for a literal
  quote (with the default escape, the quote character itself, that is ``""``);
* a record starting with the Comments character is skipped, and so is an empty record;
* with the default ``\\n`` RecordDelimiter a ``\\r\\n`` pair also ends a record, so files
  written on Windows read the same.

Input arrives as an iterable of byte chunks and records are yielded as soon as they are
complete, so memory stays bounded by the longest record, not by the archive.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CsvInput", "CsvOutput", "SelectError", "read_records"]

FILE_HEADER_INFO = ("USE", "IGNORE", "NONE")
QUOTE_FIELDS = ("ALWAYS", "ASNEEDED")


class SelectError(Exception):
    """A Select job failed the way Glacier reports it: an error code and a message.

    The codes are the S3 / Glacier Select ones (``UnsupportedSyntax``,
    ``ParseUnexpectedToken``, ``CastFailed`` ...), so the endpoint can write them to the
    job's ``errors/`` output and a client can branch on them as it would on the service.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _csv_settings(serialization: Mapping[str, Any], what: str) -> Mapping[str, Any]:
    """The ``csv`` member of an Input/OutputSerialization (Glacier spells it lower case)."""
    if not serialization:
        return {}
    for key in ("csv", "CSV"):
        if key in serialization:
            settings = serialization[key]
            if settings is None:
                return {}
            if not isinstance(settings, Mapping):
                raise SelectError("InvalidRequestParameter", f"{what}.csv must be a mapping")
            return settings
    raise SelectError(
        "InvalidDataSource",
        f"{what} must describe CSV (Glacier Select reads and writes only CSV), got {sorted(serialization)}",
    )


def _setting(settings: Mapping[str, Any], name: str, default: str, *, single: bool = True) -> str:
    value = settings.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise SelectError("InvalidRequestParameter", f"{name}: {value!r} must be a string")
    if single and len(value) != 1:
        raise SelectError("InvalidRequestParameter", f"{name}: {value!r} must be a single character")
    if not single and not 1 <= len(value) <= 2:
        raise SelectError("InvalidRequestParameter", f"{name}: {value!r} must be one or two characters")
    return value


def _choice(settings: Mapping[str, Any], name: str, default: str, allowed: Sequence[str], code: str) -> str:
    value = settings.get(name, default)
    value = default if value is None else value
    if not isinstance(value, str) or value.upper() not in allowed:
        raise SelectError(code, f"{name}: {value!r} is not one of {', '.join(allowed)}")
    return value.upper()


def _layout(settings: Mapping[str, Any]) -> dict[str, str]:
    """The delimiter and quote settings input and output share, with their defaults.

    A field delimiter equal to the record delimiter or the quote could never be read back,
    so that is refused up front.
    """
    quote = _setting(settings, "QuoteCharacter", '"')
    layout = {
        # without an explicit escape a quote is escaped by doubling it, whichever it is
        "quote_escape_character": _setting(settings, "QuoteEscapeCharacter", quote),
        "record_delimiter": _setting(settings, "RecordDelimiter", "\n", single=False),
        "field_delimiter": _setting(settings, "FieldDelimiter", ","),
        "quote_character": quote,
    }
    seen: dict[str, str] = {}
    for key, name in (
        ("field_delimiter", "FieldDelimiter"),
        ("record_delimiter", "RecordDelimiter"),
        ("quote_character", "QuoteCharacter"),
    ):
        char = layout[key]
        if char in seen:
            raise SelectError(
                "InvalidRequestParameter", f"{name} and {seen[char]} must differ, both are {char!r}"
            )
        seen[char] = name
    return layout


@dataclass(frozen=True)
class CsvInput:
    """How an archive's CSV is laid out (a job's ``InputSerialization.csv``)."""

    file_header_info: str = "NONE"
    comments: str = "#"
    quote_escape_character: str = '"'
    record_delimiter: str = "\n"
    field_delimiter: str = ","
    quote_character: str = '"'

    @classmethod
    def from_serialization(cls, serialization: Mapping[str, Any] | None) -> CsvInput:
        """Build from a job's InputSerialization, applying the service defaults."""
        settings = _csv_settings(serialization or {}, "InputSerialization")
        comments = settings.get("Comments", "#")
        if comments is None:
            comments = "#"
        if not isinstance(comments, str) or len(comments) > 1:
            raise SelectError("InvalidRequestParameter", f"Comments: {comments!r} must be a single character")
        return cls(
            file_header_info=_choice(
                settings, "FileHeaderInfo", "NONE", FILE_HEADER_INFO, "InvalidFileHeaderInfo"
            ),
            comments=comments,
            **_layout(settings),
        )


@dataclass(frozen=True)
class CsvOutput:
    """How matching records are written (a job's ``OutputSerialization.csv``)."""

    quote_fields: str = "ASNEEDED"
    quote_escape_character: str = '"'
    record_delimiter: str = "\n"
    field_delimiter: str = ","
    quote_character: str = '"'

    @classmethod
    def from_serialization(cls, serialization: Mapping[str, Any] | None) -> CsvOutput:
        """Build from a job's OutputSerialization, applying the service defaults."""
        settings = _csv_settings(serialization or {}, "OutputSerialization")
        return cls(
            quote_fields=_choice(settings, "QuoteFields", "ASNEEDED", QUOTE_FIELDS, "InvalidQuoteFields"),
            **_layout(settings),
        )

    def writer(self) -> RecordWriter:
        return RecordWriter(self)


class RecordWriter:
    """Formats output records; ASNEEDED quotes only fields a reader could misread."""

    def __init__(self, fmt: CsvOutput) -> None:
        self._fmt = fmt
        special = {fmt.field_delimiter, fmt.quote_character, fmt.quote_escape_character, "\r", "\n"}
        special.update(fmt.record_delimiter)
        self._needs_quotes = re.compile("[" + "".join(re.escape(c) for c in sorted(special)) + "]")
        self._always = fmt.quote_fields == "ALWAYS"

    def _field(self, value: str) -> str:
        fmt = self._fmt
        if self._always or self._needs_quotes.search(value):
            escaped = value.replace(fmt.quote_character, fmt.quote_escape_character + fmt.quote_character)
            return f"{fmt.quote_character}{escaped}{fmt.quote_character}"
        return value

    def format(self, values: Sequence[str]) -> str:
        """One record, terminated by the RecordDelimiter."""
        fmt = self._fmt
        if not self._always and not self._needs_quotes.search("".join(values)):
            return fmt.field_delimiter.join(values) + fmt.record_delimiter  # the common case
        return fmt.field_delimiter.join(self._field(v) for v in values) + fmt.record_delimiter


_NEED_MORE = -1


class _RecordParser:
    """Parses records out of a text buffer that may end mid-record.

    One compiled pattern matches a whole field and what ends it, so the scanning runs in
    the regex engine rather than character by character in Python. A quoted body is
    captured inside a lookahead, which never backtracks, so a quote can only close a
    field where the service would close it.
    """

    def __init__(self, fmt: CsvInput) -> None:
        quote, escape = re.escape(fmt.quote_character), re.escape(fmt.quote_escape_character)
        field, record = re.escape(fmt.field_delimiter), re.escape(fmt.record_delimiter)
        if fmt.quote_escape_character == fmt.quote_character:
            body = f"(?:[^{quote}]|{quote}{quote})*"
        else:
            body = f"(?:[^{quote}{escape}]|{escape}{quote}|{escape}(?!{quote}))*"
        if len(fmt.record_delimiter) == 1:
            unquoted = f"[^{field}{record}]*"
        else:
            unquoted = f"(?:(?!{record})[^{field}])*"
        self._field = re.compile(
            f"(?:{quote}(?=(?P<body>{body}))(?P=body){quote}(?P<rest>{unquoted})|(?!{quote})(?P<plain>{unquoted}))"
            f"(?P<end>{field}|{record}|\\Z)"
        )
        self._escaped_quote = fmt.quote_escape_character + fmt.quote_character
        self._quote = fmt.quote_character
        self._field_delimiter = fmt.field_delimiter
        self._record_delimiter = fmt.record_delimiter
        self._comment = fmt.comments
        # with the default "\n" delimiter a "\r\n" pair ends a record too
        self._strip_cr = fmt.record_delimiter == "\n"
        self._record_end = re.compile(record)
        self._blank = re.compile(f"\r?{record}" if self._strip_cr else record)

    def parse(self, buf: str, pos: int, final: bool) -> tuple[list[str] | None, int]:
        """One record starting at ``pos``.

        Returns ``(record, next_pos)``; ``record`` is None for a skipped comment or empty
        line, and ``next_pos`` is ``_NEED_MORE`` when the buffer ends before the record
        does and more input may follow.
        """
        if self._comment and buf.startswith(self._comment, pos):
            match = self._record_end.search(buf, pos)
            if match is None:
                return None, len(buf) if final else _NEED_MORE
            return None, match.end()
        blank = self._blank.match(buf, pos)
        if blank is not None:
            return None, blank.end()
        record_end = buf.find(self._record_delimiter, pos)
        if record_end >= 0 and buf.find(self._quote, pos, record_end) < 0:
            # no quote in the record: a plain split finds every field
            fields = buf[pos:record_end].split(self._field_delimiter)
            if self._strip_cr and fields[-1].endswith("\r"):
                fields[-1] = fields[-1][:-1]
            return fields, record_end + len(self._record_delimiter)
        fields = []
        while True:
            match = self._field.match(buf, pos)
            if match is None:  # a quoted field whose closing quote is not (yet) in the buffer
                if final:
                    raise SelectError(
                        "CSVParsingError",
                        f"quoted field starting {buf[pos : pos + 20]!r} has no closing quote",
                    )
                return None, _NEED_MORE
            body, rest, plain, end = match.group("body", "rest", "plain", "end")
            value = plain if body is None else body.replace(self._escaped_quote, self._quote) + rest
            pos = match.end()
            if end == self._field_delimiter:
                fields.append(value)
                continue
            if not end and not final:
                return None, _NEED_MORE
            if self._strip_cr and end and value.endswith("\r"):
                value = value[:-1]
            fields.append(value)
            return fields, pos


def read_records(chunks: Iterable[bytes], fmt: CsvInput) -> Iterator[list[str]]:
    """Yield the records of a UTF-8 CSV archive given as byte chunks.

    Comment and empty lines are skipped; the header line, if any, is yielded like any
    other record (the caller knows what FileHeaderInfo means for it).
    """
    parser = _RecordParser(fmt)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    buf = ""
    pos = 0
    for chunk in chunks:
        text = _decode(decoder, chunk, final=False)
        if not text:
            continue
        buf = buf[pos:] + text
        pos = yield from _drain(parser, buf, 0, final=False)
    buf = buf[pos:] + _decode(decoder, b"", final=True)
    yield from _drain(parser, buf, 0, final=True)


def _decode(decoder: codecs.IncrementalDecoder, chunk: bytes, *, final: bool) -> str:
    try:
        return decoder.decode(chunk, final)
    except UnicodeDecodeError as error:
        raise SelectError("InvalidTextEncoding", f"the archive is not valid UTF-8 ({error.reason})") from None


def _drain(parser: _RecordParser, buf: str, pos: int, *, final: bool) -> Generator[list[str], None, int]:
    """Yield every complete record in ``buf``; return where the incomplete rest begins."""
    end = len(buf)
    while pos < end:
        record, next_pos = parser.parse(buf, pos, final)
        if next_pos == _NEED_MORE:
            return pos
        pos = next_pos
        if record is not None:
            yield record
    return pos
