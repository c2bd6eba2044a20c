"""Glacier Select's CSV serialisation settings (InputSerialization.csv, OutputSerialization.csv).

Glacier Select reads only CSV archives and writes CSV results. Every delimiter, quote,
escape and comment marker is a single character; unset members take Glacier's defaults
(comma, double quote, newline records), so they are omitted from the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_rules import ApiStruct, check_one_of, check_single_char

FILE_HEADER_INFO = ("USE", "IGNORE", "NONE")
QUOTE_FIELDS = ("ALWAYS", "ASNEEDED")
EXPRESSION_TYPES = ("SQL",)

_CSV_CHARACTER_NAMES = {
    "quote_escape_character": "QuoteEscapeCharacter",
    "record_delimiter": "RecordDelimiter",
    "field_delimiter": "FieldDelimiter",
    "quote_character": "QuoteCharacter",
}


def _check_characters(struct: ApiStruct) -> None:
    for attribute in struct.API_NAMES:
        value = getattr(struct, attribute)
        if value is not None and attribute in _SINGLE_CHARACTER_MEMBERS:
            check_single_char(struct.api_field(attribute), value)


_SINGLE_CHARACTER_MEMBERS = frozenset({*_CSV_CHARACTER_NAMES, "comments"})


@dataclass(frozen=True)
class CsvInput(ApiStruct):
    """How Glacier Select reads the archive: header handling, comment marker, quoting, delimiters."""

    file_header_info: str | None = None
    comments: str | None = None
    quote_escape_character: str | None = None
    record_delimiter: str | None = None
    field_delimiter: str | None = None
    quote_character: str | None = None

    API_NAMES: ClassVar = {
        "file_header_info": "FileHeaderInfo",
        "comments": "Comments",
        **_CSV_CHARACTER_NAMES,
    }
    PATH: ClassVar = "SelectParameters.InputSerialization.csv"

    def __post_init__(self) -> None:
        if self.file_header_info is not None:
            check_one_of(self.api_field("file_header_info"), self.file_header_info, FILE_HEADER_INFO)
        _check_characters(self)
        delimiter = self.field_delimiter
        # Glacier's CSVInput reference limits FieldDelimiter to \n, \r or ASCII 32-126.
        if delimiter is not None and delimiter not in "\n\r" and not " " <= delimiter <= "~":
            raise GlacierValidationError(
                self.api_field("field_delimiter"),
                delimiter,
                "must be \\n, \\r or printable ASCII (0x20-0x7E)",
            )


@dataclass(frozen=True)
class CsvOutput(ApiStruct):
    """How Glacier Select writes results: when to quote fields, quoting, delimiters."""

    quote_fields: str | None = None
    quote_escape_character: str | None = None
    record_delimiter: str | None = None
    field_delimiter: str | None = None
    quote_character: str | None = None

    API_NAMES: ClassVar = {"quote_fields": "QuoteFields", **_CSV_CHARACTER_NAMES}
    PATH: ClassVar = "SelectParameters.OutputSerialization.csv"

    def __post_init__(self) -> None:
        if self.quote_fields is not None:
            check_one_of(self.api_field("quote_fields"), self.quote_fields, QUOTE_FIELDS)
        _check_characters(self)
