"""The streaming inventory parser: round trips, the service's CSV escaping, chunk boundaries, errors."""

from __future__ import annotations

import io
import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.inventory import (
    MAX_RECORD_CHARS,
    InventoryArchive,
    InventoryParseError,
    format_glacier_timestamp,
    iter_inventory_archives,
    parse_glacier_timestamp,
)
from airflow_glacier_select.testing.inventory_fixtures import (
    DEFAULT_INVENTORY_DATE,
    DEFAULT_VAULT_ARN,
    NON_ASCII_PATHS,
    TRICKY_DESCRIPTIONS,
    fastglacier_description,
    synthetic_archives,
    write_inventory,
)

BIG = 100_000
UTC = timezone.utc
HASH = "ab" * 32


class TrickleStream:
    """Hands out 1-7 bytes per read (seeded), so every token gets cut somewhere; records each request."""

    def __init__(self, data: bytes, seed: int) -> None:
        self._data = data
        self._pos = 0
        self._rng = random.Random(seed)
        self.requests: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.requests.append(size)
        step = self._rng.randint(1, 7)
        chunk = self._data[self._pos : self._pos + step]
        self._pos += len(chunk)
        return chunk


class EndlessStream:
    """A stream that never ends: only a parser with bounded buffers can give up on it."""

    def __init__(self, prefix: bytes, filler: bytes) -> None:
        self._prefix = prefix
        self._filler = filler * 4096
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self._prefix or self._filler
        self._prefix = b""
        self.bytes_read += len(chunk)
        return chunk


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk


def _small_archives() -> list[InventoryArchive]:
    """Every tricky description and non-ASCII path once, plus some random ones."""
    base = datetime(2013, 3, 20, 17, 3, 43, 221000, tzinfo=UTC)
    descriptions = [*TRICKY_DESCRIPTIONS, *(fastglacier_description(p, base) for p in NON_ASCII_PATHS)]
    archives = [
        InventoryArchive(f"id-{i:03d}", text, base + timedelta(seconds=i), i * 1000, HASH)
        for i, text in enumerate(descriptions)
    ]
    return archives + list(synthetic_archives(40, seed=11))


def _encoded(archives: list[InventoryArchive], format: str, newline: str = "\n") -> bytes:
    out = io.BytesIO()
    write_inventory(out, archives, format=format, newline=newline)
    return out.getvalue()


def _parse_bytes(data: bytes, format: str, **kwargs: int) -> list[InventoryArchive]:
    return list(iter_inventory_archives(io.BytesIO(data), format, **kwargs))


@pytest.fixture(scope="module")
def big_archives() -> list[InventoryArchive]:
    return list(synthetic_archives(BIG, seed=2024))


@pytest.fixture(scope="module", params=["JSON", "CSV"])
def big_inventory(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    big_archives: list[InventoryArchive],
) -> tuple[str, Path]:
    path = tmp_path_factory.mktemp("inventory") / f"inventory.{request.param.lower()}"
    with path.open("wb") as out:
        write_inventory(out, big_archives, format=request.param)
    return request.param, path


# -- round trips ------------------------------------------------------------------------------


@pytest.mark.slow
def test_100k_archive_inventory_round_trips_from_a_file(
    big_inventory: tuple[str, Path], big_archives: list[InventoryArchive]
) -> None:
    format, path = big_inventory
    with path.open("rb") as stream:
        reader = iter_inventory_archives(stream, format)
        parsed = list(reader)
    assert len(parsed) == BIG
    assert parsed == big_archives
    descriptions = {archive.description for archive in parsed}
    assert set(TRICKY_DESCRIPTIONS) <= descriptions
    if format == "JSON":
        assert reader.header.vault_arn == DEFAULT_VAULT_ARN
        assert reader.header.inventory_date == DEFAULT_INVENTORY_DATE
    else:
        assert reader.header.vault_arn is None and reader.header.inventory_date is None


def test_json_inventory_matches_an_independent_json_loads() -> None:
    data = _encoded(_small_archives(), "JSON")
    document = json.loads(data)
    expected = [
        (
            item["ArchiveId"],
            item["ArchiveDescription"],
            datetime.fromisoformat(item["CreationDate"].replace("Z", "+00:00")),
            item["Size"],
            item["SHA256TreeHash"],
        )
        for item in document["ArchiveList"]
    ]
    parsed = [
        (a.archive_id, a.description, a.creation_date, a.size, a.sha256_tree_hash)
        for a in _parse_bytes(data, "JSON")
    ]
    assert parsed == expected
    assert any('"' in row[1] and "\\" in row[1] for row in parsed)


# Lines as the service writes them (quote -> \" inside a quoted field, backslash left alone)
# and the description each one stands for.
SERVICE_CSV_DESCRIPTIONS = [
    (
        r'"{\"Path\":\"glacier-ui.exe\",\"UTCDateModified\":\"20130313T040002Z\"}"',
        '{"Path":"glacier-ui.exe","UTCDateModified":"20130313T040002Z"}',
    ),
    (r'""', ""),
    (r'","', ","),
    (r'"\""', '"'),
    (r'"x\"x"', 'x"x'),
    (r'"a\b"', "a\\b"),
    (r'"\"', "\\"),
    (r'"x\"', "x\\"),
    (r'"\\""', '\\"'),
    (r'"\\"\"', '\\"\\'),
    (r'"a,b\",\"c"', 'a,b","c'),
    (r'"C:\Users\me\file.txt"', "C:\\Users\\me\\file.txt"),
    (r'" spaced "', " spaced "),
    ("plain-unquoted", "plain-unquoted"),
]


def test_csv_as_the_service_writes_it_decodes_to_the_original_descriptions() -> None:
    lines = ["ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash"]
    for number, (field, _) in enumerate(SERVICE_CSV_DESCRIPTIONS):
        lines.append(f"id{number},{field},2013-03-22T12:00:43.{number:03d}Z,{number},{HASH}")
    parsed = _parse_bytes("\n".join(lines).encode(), "CSV")
    assert [a.description for a in parsed] == [text for _, text in SERVICE_CSV_DESCRIPTIONS]
    assert [a.archive_id for a in parsed] == [f"id{n}" for n in range(len(SERVICE_CSV_DESCRIPTIONS))]
    assert parsed[3].creation_date == datetime(2013, 3, 22, 12, 0, 43, 3000, tzinfo=UTC)
    assert [a.size for a in parsed] == list(range(len(SERVICE_CSV_DESCRIPTIONS)))


def test_csv_with_crlf_bom_blank_lines_quoted_header_and_reordered_columns() -> None:
    data = (
        b'\xef\xbb\xbf"Size","ArchiveDescription",ArchiveId,SHA256TreeHash,CreationDate\r\n'
        b'\r\n12,"a, \\"b\\"",first,' + HASH.encode() + b",2012-03-20T17:03:43Z\r\n"
        b'0,"",second,' + HASH.encode() + b",2012-03-21T00:00:00Z\r\n\r\n"
    )
    parsed = _parse_bytes(data, "CSV")
    assert [(a.archive_id, a.description, a.size) for a in parsed] == [
        ("first", 'a, "b"', 12),
        ("second", "", 0),
    ]
    assert parsed[0].creation_date == datetime(2012, 3, 20, 17, 3, 43, tzinfo=UTC)


def test_csv_with_a_header_only_has_no_archives_and_json_with_an_empty_list_neither() -> None:
    assert _parse_bytes(b"ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n", "CSV") == []
    reader = iter_inventory_archives(io.BytesIO(b'{"VaultARN":"arn:x","ArchiveList":[ ]}'), "JSON")
    assert list(reader) == []
    assert reader.header.vault_arn == "arn:x"


def test_json_header_after_the_archive_list_is_known_once_iteration_ends() -> None:
    data = _encoded(_small_archives()[:3], "JSON")
    document = json.loads(data)
    reordered = {"ArchiveList": document["ArchiveList"], "Extra": [1, {"x": None}], **document}
    reader = iter_inventory_archives(io.BytesIO(json.dumps(reordered, indent=2).encode()), "JSON")
    assert len(list(reader)) == 3
    assert reader.header.vault_arn == DEFAULT_VAULT_ARN
    assert reader.header.inventory_date == DEFAULT_INVENTORY_DATE


def test_crlf_csv_round_trip_and_lowercase_format() -> None:
    archives = _small_archives()
    assert _parse_bytes(_encoded(archives, "CSV", newline="\r\n"), "csv") == archives


# -- streaming --------------------------------------------------------------------------------


@pytest.mark.parametrize("format", ["JSON", "CSV"])
@pytest.mark.parametrize("seed", range(4))
def test_reads_of_one_to_seven_bytes_cut_every_token_and_change_nothing(format: str, seed: int) -> None:
    archives = _small_archives()
    stream = TrickleStream(_encoded(archives, format), seed)
    assert list(iter_inventory_archives(stream, format, chunk_size=4096)) == archives
    assert set(stream.requests) == {4096}  # always a bounded read, never read-it-all


def test_multibyte_utf8_split_across_reads_is_decoded() -> None:
    data = (
        '{"ArchiveList":[{"ArchiveId":"x","ArchiveDescription":"Straße/日本/🎉","CreationDate":'
        f'"2020-01-01T00:00:00Z","Size":5,"SHA256TreeHash":"{HASH}"}}]}}'
    ).encode()
    for seed in range(3):
        (archive,) = iter_inventory_archives(TrickleStream(data, seed), "JSON")
        assert archive.description == "Straße/日本/🎉"


@pytest.mark.parametrize("format", ["JSON", "CSV"])
def test_first_archive_arrives_before_the_stream_is_read_through(format: str) -> None:
    data = _encoded(list(synthetic_archives(5000, seed=5)), format)
    stream = CountingStream(data)
    reader = iter_inventory_archives(stream, format, chunk_size=8192)
    first = next(reader)
    assert first.archive_id
    assert stream.bytes_read <= 2 * 8192 < len(data)


@pytest.mark.parametrize(
    ("format", "prefix", "filler"),
    [
        ("JSON", b'{"ArchiveList":[{"ArchiveId":"', b"a"),
        ("JSON", b'{"VaultARN":"', b"b"),
        ("CSV", b"ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\nid,", b"c"),
    ],
)
def test_a_record_that_never_ends_is_refused_without_reading_forever(
    format: str, prefix: bytes, filler: bytes
) -> None:
    stream = EndlessStream(prefix, filler)
    with pytest.raises(InventoryParseError, match=f"longer than {MAX_RECORD_CHARS}"):
        list(iter_inventory_archives(stream, format))
    assert stream.bytes_read < 4 * MAX_RECORD_CHARS


# -- malformed input --------------------------------------------------------------------------

GOOD_ELEMENT = (
    '{"ArchiveId":"a","ArchiveDescription":"d","CreationDate":"2012-03-20T17:03:43Z","Size":1,'
    f'"SHA256TreeHash":"{HASH}"}}'
)
LIST = '{"ArchiveList":['
AFTER = len(LIST) + len(GOOD_ELEMENT)  # offset just past the first element
CUT = GOOD_ELEMENT.index(',"Size"')


@pytest.mark.parametrize(
    ("data", "message", "offset"),
    [
        ("", "expected '{' at the start of a JSON inventory, found end of input", 0),
        ("[]", "expected '{' at the start of a JSON inventory, found '['", 0),
        ('{"VaultARN":"x"}', "the JSON inventory has no ArchiveList", 16),
        ('{"ArchiveList":{}}', "expected '[' to open ArchiveList, found '{'", 15),
        (LIST + GOOD_ELEMENT + "] } trailing", "unexpected data after the inventory object", AFTER + 4),
        (LIST + GOOD_ELEMENT + " x", "expected ',' or ']' after ArchiveList[0], found 'x'", AFTER + 1),
        (LIST + GOOD_ELEMENT + ", ", "ArchiveList[1]: Expecting value", AFTER + 2),
        (LIST + GOOD_ELEMENT[:CUT], "ArchiveList[0]: Expecting ',' delimiter", len(LIST) + CUT),
        (LIST + GOOD_ELEMENT[:40], "ArchiveList[0]: Unterminated string", len(LIST) + 38),
        (LIST + GOOD_ELEMENT + ",\n  [1]]}", "ArchiveList[1] must be an object, got [1]", AFTER + 4),
        (LIST + GOOD_ELEMENT.replace('"Size":1', '"Size":-1') + "]}", "Size must be", 16),
        (LIST + GOOD_ELEMENT.replace('"Size":1', '"Size":"1x"') + "]}", "Size must be", 16),
        (LIST + GOOD_ELEMENT.replace('"Size":1', '"Size":1.5') + "]}", "Size must be", 16),
        (LIST + GOOD_ELEMENT.replace('"Size":1', '"Size":true') + "]}", "Size must be", 16),
        (LIST + GOOD_ELEMENT.replace("2012-03-20T17:03:43Z", "yesterday") + "]}", "CreationDate", 16),
        (LIST + GOOD_ELEMENT.replace('"ArchiveId":"a"', '"ArchiveId":""') + "]}", "ArchiveId", 16),
        (LIST + GOOD_ELEMENT.replace(f',"SHA256TreeHash":"{HASH}"', "") + "]}", "SHA256TreeHash", 16),
        ('{"VaultARN":7,"ArchiveList":[]}', "VaultARN must be a string, got 7", 12),
        (
            '{"InventoryDate":"soon","ArchiveList":[]}',
            "InventoryDate: 'soon' is not an ISO 8601 timestamp",
            17,
        ),
        ('{7:1,"ArchiveList":[]}', "expected a field name, found 7", 1),
        ('{"ArchiveList" []}', "expected ':' after 'ArchiveList', found '['", 15),
    ],
)
def test_malformed_json_names_the_fault_and_its_offset(data: str, message: str, offset: int) -> None:
    for stream in (io.BytesIO(data.encode()), TrickleStream(data.encode(), 1)):
        with pytest.raises(InventoryParseError) as caught:
            list(iter_inventory_archives(stream, "JSON"))
        assert message in str(caught.value)
        assert caught.value.offset == offset
        assert f"character offset {offset}" in str(caught.value)


def test_json_that_is_not_utf8_is_refused_with_its_offset() -> None:
    with pytest.raises(InventoryParseError, match="not UTF-8") as caught:
        list(iter_inventory_archives(io.BytesIO(b'{"ArchiveList":["\xff"]}'), "JSON"))
    assert caught.value.offset == 0


def test_archives_before_a_fault_are_still_yielded() -> None:
    data = ('{"ArchiveList":[' + GOOD_ELEMENT + "," + GOOD_ELEMENT + ",oops]}").encode()
    reader = iter_inventory_archives(io.BytesIO(data), "JSON")
    assert next(reader).archive_id == "a"
    assert next(reader).archive_id == "a"
    with pytest.raises(InventoryParseError, match=r"ArchiveList\[2\]"):
        next(reader)


CSV_HEADER = "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"
CSV_GOOD = f'a,"d",2012-03-20T17:03:43Z,1,{HASH}\n'


@pytest.mark.parametrize(
    ("data", "message", "line"),
    [
        ("", "the CSV inventory is empty", 1),
        ("ArchiveId,Description,CreationDate,Size,SHA256TreeHash\n", "is not the inventory header", 1),
        ("\n\nArchiveId,ArchiveDescription,Size\n", "is not the inventory header", 3),
        (CSV_HEADER + CSV_GOOD + "a,b,c\n", "expected 5 fields", 3),
        (CSV_HEADER + CSV_GOOD + f'a,"unterminated,2012-03-20T17:03:43Z,1,{HASH}\n', "unterminated quote", 3),
        (CSV_HEADER + 'a,"\n', "expected 5 fields", 2),
        (CSV_HEADER + f'a,say "hi",2012-03-20T17:03:43Z,1,{HASH}\n', "quote outside a quoted field", 2),
        (CSV_HEADER + f'a,"d",2012-03-20T17:03:43Z,12a,{HASH}\n', "Size must be a non-negative integer", 2),
        (CSV_HEADER + f'a,"d",2012-03-20T17:03:43Z,-1,{HASH}\n', "Size must be a non-negative integer", 2),
        (CSV_HEADER + f'a,"d",not-a-date,1,{HASH}\n', "CreationDate", 2),
        (CSV_HEADER + f',"d",2012-03-20T17:03:43Z,1,{HASH}\n', "ArchiveId must be a non-empty string", 2),
    ],
)
def test_malformed_csv_names_the_fault_and_its_line(data: str, message: str, line: int) -> None:
    for stream in (io.BytesIO(data.encode()), TrickleStream(data.encode(), 2)):
        with pytest.raises(InventoryParseError) as caught:
            list(iter_inventory_archives(stream, "CSV"))
        assert message in str(caught.value)
        assert caught.value.line == line
        assert str(caught.value).startswith(f"inventory line {line}: ")


def test_csv_line_that_is_not_utf8_is_refused_with_its_line() -> None:
    data = (CSV_HEADER + CSV_GOOD).encode() + b'b,"\xff",2012-03-20T17:03:43Z,1,x\n'
    with pytest.raises(InventoryParseError, match="inventory line 3: not UTF-8"):
        list(iter_inventory_archives(io.BytesIO(data), "CSV"))


# -- arguments --------------------------------------------------------------------------------


class UntouchableStream:
    def read(self, size: int = -1) -> bytes:
        raise AssertionError("the stream must not be read")


@pytest.mark.parametrize(
    ("format", "chunk_size", "field"), [("XML", 1024, "Format"), ("JSON", 0, "chunk_size")]
)
def test_bad_arguments_are_refused_before_the_stream_is_touched(
    format: str, chunk_size: int, field: str
) -> None:
    with pytest.raises(GlacierValidationError) as caught:
        iter_inventory_archives(UntouchableStream(), format, chunk_size=chunk_size)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_a_text_stream_is_refused_clearly() -> None:
    with pytest.raises(TypeError, match="must return bytes"):
        list(iter_inventory_archives(io.StringIO("{}"), "JSON"))  # type: ignore[arg-type]


# -- the record and timestamps ----------------------------------------------------------------


def test_archive_to_dict_is_plain_json_and_round_trips() -> None:
    for archive in _small_archives():
        as_json = json.dumps(archive.to_dict())
        assert InventoryArchive.from_dict(json.loads(as_json)) == archive


def test_to_dict_keys_and_timestamp_form() -> None:
    archive = InventoryArchive("id", "d", datetime(2012, 3, 20, 17, 3, 43, 221000, tzinfo=UTC), 7, HASH)
    assert archive.to_dict() == {
        "archive_id": "id",
        "description": "d",
        "creation_date": "2012-03-20T17:03:43.221Z",
        "size": 7,
        "sha256_tree_hash": HASH,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2012-03-20T17:03:43Z", datetime(2012, 3, 20, 17, 3, 43, tzinfo=UTC)),
        ("2012-03-20T17:03:43.221Z", datetime(2012, 3, 20, 17, 3, 43, 221000, tzinfo=UTC)),
        ("2012-03-20T19:03:43+02:00", datetime(2012, 3, 20, 17, 3, 43, tzinfo=UTC)),
        ("2012-03-20T17:03:43", datetime(2012, 3, 20, 17, 3, 43, tzinfo=UTC)),
        ("20120320T170343Z", datetime(2012, 3, 20, 17, 3, 43, tzinfo=UTC)),
    ],
)
def test_glacier_timestamps_parse_to_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_glacier_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


def test_bad_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="not an ISO 8601 timestamp"):
        parse_glacier_timestamp("20/03/2012")


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2012, 3, 20, 17, 3, 43, tzinfo=UTC), "2012-03-20T17:03:43Z"),
        (datetime(2012, 3, 20, 17, 3, 43, 5000, tzinfo=UTC), "2012-03-20T17:03:43.005Z"),
        (datetime(2012, 3, 20, 17, 3, 43, 5, tzinfo=UTC), "2012-03-20T17:03:43.000005Z"),
        (datetime(2012, 3, 20, 19, 3, 43, tzinfo=timezone(timedelta(hours=2))), "2012-03-20T17:03:43Z"),
    ],
)
def test_timestamps_format_like_glacier(moment: datetime, text: str) -> None:
    assert format_glacier_timestamp(moment) == text
