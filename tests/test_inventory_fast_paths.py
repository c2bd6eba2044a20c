"""The batch fast paths of the inventory parser agree with the exact one wherever a batch can end.

The parser decodes many ``ArchiveList`` elements (or CSV lines) per call and hands
anything unusual to the record-by-record parser. These tests cut the input at every
byte, put element and line boundaries' look-alikes inside descriptions, and compare
with an independent decode (``json.loads``, or the archives the file was written from),
so a fast path that accepted something differently would show up here.
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_glacier_select.inventory import (
    InventoryArchive,
    InventoryParseError,
    _build_archive,
    _csv_archive,
    iter_inventory_archives,
    parse_glacier_timestamp,
)
from airflow_glacier_select.inventory_batches import csv_columns, json_batch_end, json_columns
from airflow_glacier_select.testing.inventory_fixtures import synthetic_archives, write_inventory

UTC = timezone.utc
HASH = "0123456789abcdef" * 4
BASE = datetime(2013, 3, 20, 17, 3, 43, 221000, tzinfo=UTC)

# Descriptions that look like the batch boundaries the fast paths search for.
BOUNDARY_LOOKALIKES = (
    '},{"ArchiveId":"fake","Size":1},{',
    "]",
    "}]",
    "},",
    '"},',
    "}",
    '",',
    ',"',
    '\\",',
    "ends with },",
    '{"a":[1,2]},{"b":"]"}',
    "dir\\",
    '\\"',
    'a\\"b',
    '","',
    "",
)
NON_ASCII = ("Straße/日本/🎉", "ü", '日本語のファイル, "引用".png')


class SplitStream:
    """Hands out the first ``first`` bytes of ``data`` (at least one), then reads of at most ``size``."""

    def __init__(self, data: bytes, first: int) -> None:
        self._data = data
        self._first = first
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = self._first if self._pos == 0 else self._pos + size
        chunk = self._data[self._pos : end]
        self._pos += len(chunk)
        return chunk


def _archives(descriptions: tuple[str, ...]) -> list[InventoryArchive]:
    return [
        InventoryArchive(f"id-{i:03d}-{'x' * (i % 7)}", text, BASE + timedelta(seconds=i), i * 1001, HASH)
        for i, text in enumerate(descriptions)
    ]


def _encoded(archives: list[InventoryArchive], format: str, newline: str = "\n") -> bytes:
    out = io.BytesIO()
    write_inventory(out, archives, format=format, newline=newline)
    return out.getvalue()


def _json_loads_archives(data: bytes) -> list[InventoryArchive]:
    """An independent reading of a JSON inventory: json.loads and the documented fields."""
    return [
        InventoryArchive(
            item["ArchiveId"],
            item["ArchiveDescription"],
            datetime.fromisoformat(item["CreationDate"].replace("Z", "+00:00")),
            item["Size"],
            item["SHA256TreeHash"],
        )
        for item in json.loads(data)["ArchiveList"]
    ]


def _parse(data: bytes, format: str, first: int, chunk_size: int = 64) -> list[InventoryArchive]:
    return list(iter_inventory_archives(SplitStream(data, first), format, chunk_size=chunk_size))


# -- every cut ----------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [64, 4096])
def test_json_archive_list_cut_at_every_byte_matches_json_loads(chunk_size: int) -> None:
    data = _encoded(_archives(BOUNDARY_LOOKALIKES), "JSON")
    expected = _json_loads_archives(data)
    assert [a.description for a in expected] == list(BOUNDARY_LOOKALIKES)
    for first in range(1, len(data) + 1):
        assert _parse(data, "JSON", first, chunk_size) == expected, f"cut at byte {first}"


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_cut_at_every_byte_gives_back_the_archives_written(newline: str) -> None:
    archives = _archives(BOUNDARY_LOOKALIKES)
    data = _encoded(archives, "CSV", newline)
    for first in range(1, len(data) + 1):
        assert _parse(data, "CSV", first) == archives, f"cut at byte {first}"


def test_multibyte_utf8_cut_at_every_byte_in_both_formats() -> None:
    archives = _archives(NON_ASCII * 3)
    document = {
        "VaultARN": "arn:aws:glacier:us-east-1:123456789012:vaults/v",
        "ArchiveList": [
            {
                "ArchiveId": a.archive_id,
                "ArchiveDescription": a.description,
                "CreationDate": a.creation_date.isoformat().replace("+00:00", "Z"),
                "Size": a.size,
                "SHA256TreeHash": a.sha256_tree_hash,
            }
            for a in archives
        ],
    }
    raw_json = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    raw_csv = _encoded(archives, "CSV")
    assert len(raw_json) > len(raw_json.decode())  # multi-byte characters, cut inside by some reads
    for first in range(1, len(raw_json) + 1):
        assert _parse(raw_json, "JSON", first) == archives, f"JSON cut at byte {first}"
    for first in range(1, len(raw_csv) + 1):
        assert _parse(raw_csv, "CSV", first) == archives, f"CSV cut at byte {first}"


def test_pretty_printed_json_with_crlf_between_elements() -> None:
    data = _encoded(_archives(BOUNDARY_LOOKALIKES), "JSON")
    pretty = json.dumps(json.loads(data), indent=2).replace("\n", "\r\n").encode()
    expected = _json_loads_archives(data)
    for first in range(1, len(pretty) + 1, 7):
        assert _parse(pretty, "JSON", first) == expected


# -- the boundaries themselves ------------------------------------------------------------------


def test_json_batch_never_ends_inside_a_string_that_holds_the_boundary() -> None:
    elements = [
        {"ArchiveId": "a", "ArchiveDescription": "x},{y"},
        {"ArchiveId": "b", "ArchiveDescription": "tail },"},
    ]
    text = json.dumps(elements, separators=(",", ":"))[1:-1]  # elements as inside ArchiveList
    # The buffer ends inside the second element's description, right after its '},'.
    buffered = text[: text.index("tail },") + len("tail },")]
    decoded, after = json_batch_end(buffered, 0)  # type: ignore[misc]
    assert decoded == elements[:1]
    assert buffered[after:].startswith('{"ArchiveId":"b"')
    # With the only '},' inside a string, nothing decodes: the span up to it is handed back.
    lonely = text[text.index('{"ArchiveId":"b"') :]
    assert json_batch_end(lonely, 0) == lonely.index("},") + 1
    assert json_batch_end('{"ArchiveId":"x"}]', 0) == 0


@pytest.mark.parametrize(
    "element",
    [
        {"ArchiveId": "a", "ArchiveDescription": None, "CreationDate": "2012-03-20T17:03:43Z", "Size": 1},
        {"ArchiveId": "", "ArchiveDescription": "d", "CreationDate": "2012-03-20T17:03:43Z", "Size": 1},
        {"ArchiveId": "a", "ArchiveDescription": "d", "CreationDate": "2012-03-20T19:03:43+02:00", "Size": 1},
        {"ArchiveId": "a", "ArchiveDescription": "d", "CreationDate": "2012-03-20T17:03:43", "Size": 1},
        {"ArchiveId": "a", "ArchiveDescription": "d", "CreationDate": " 2012-03-20T17:03:43Z", "Size": 1},
        {"ArchiveId": "a", "ArchiveDescription": "d", "CreationDate": "2012-03-20T17:03:43Z", "Size": True},
        {"ArchiveId": "a", "ArchiveDescription": "d", "CreationDate": "2012-03-20T17:03:43Z", "Size": 1.0},
        {"ArchiveId": "a", "ArchiveDescription": "d", "CreationDate": "2012-03-20T17:03:43Z", "Size": "7"},
        {"ArchiveId": "a", "ArchiveDescription": "d", "CreationDate": 7, "Size": 1},
        {"ArchiveId": 7, "ArchiveDescription": "d", "CreationDate": "2012-03-20T17:03:43Z", "Size": 1},
        {"ArchiveDescription": "d", "CreationDate": "2012-03-20T17:03:43Z", "Size": 1},
    ],
)
def test_json_records_off_the_common_shape_go_to_the_exact_parser(element: dict[str, object]) -> None:
    element = {**element, "SHA256TreeHash": HASH}
    good = {"ArchiveId": "g", "ArchiveDescription": "", "CreationDate": "2012-03-20T17:03:43Z", "Size": 0}
    good["SHA256TreeHash"] = HASH
    assert json_columns([good]) is not None
    assert json_columns([good, element]) is None
    # ... whose verdict on the record (an archive, or an error naming it) is what comes out.
    fields = ("ArchiveId", "ArchiveDescription", "CreationDate", "Size", "SHA256TreeHash")
    text = json.dumps({"ArchiveList": [good] * 300 + [element]})
    offset = text.rindex("{")
    try:
        expected = _build_archive(*(element.get(name) for name in fields))
    except ValueError as exc:
        with pytest.raises(InventoryParseError) as caught:
            list(iter_inventory_archives(io.BytesIO(text.encode()), "JSON"))
        assert str(caught.value) == f"inventory character offset {offset}: ArchiveList[300]: {exc}"
    else:
        parsed = list(iter_inventory_archives(io.BytesIO(text.encode()), "JSON"))
        assert len(parsed) == 301 and parsed[-1] == expected
        assert expected.creation_date == parse_glacier_timestamp(str(element["CreationDate"]))


CSV_GOOD = f'good,"d",2012-03-20T17:03:43Z,1,{HASH}\n'


@pytest.mark.parametrize(
    "line",
    [
        "\n",
        "   \n",
        f"plain,unquoted,2012-03-20T17:03:43Z,1,{HASH}\n",
        f' spaced,"d",2012-03-20T17:03:43Z,1,{HASH}\n',
        f'"quoted-id","d",2012-03-20T17:03:43Z,1,{HASH}\n',
        f'a,"d", 2012-03-20T17:03:43Z,1,{HASH}\n',
        f'a,"d",2012-03-20T17:03:43Z,+1,{HASH}\n',
        f'a,"d",2012-03-20T17:03:43Z,\u0661,{HASH}\n',  # an Arabic-Indic digit one
        f'a,"d",2012-03-20T17:03:43+02:00,1,{HASH}\n',
        'a,"d",2012-03-20T17:03:43Z,1,"quoted hash"\n',
        f'a,",2012-03-20T17:03:43Z,1,{HASH}\n',
        f'a,"d,2012-03-20T17:03:43Z,1,{HASH}\n',
        f'a,d",2012-03-20T17:03:43Z,1,{HASH}\n',
        f'a,"\x00",2012-03-20T17:03:43Z,1,{HASH}\n',
        f'ü,"d",2012-03-20T17:03:43Z,1,{HASH}\n',
        "a,b,c\n",
    ],
)
def test_csv_lines_off_the_common_shape_go_to_the_exact_parser(line: str) -> None:
    assert csv_columns(CSV_GOOD * 3) is not None
    assert csv_columns(CSV_GOOD * 3 + line) is None
    header = "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"
    data = (header + CSV_GOOD * 500 + line + CSV_GOOD).encode()
    # The exact parser's verdict on the line alone (line 502 of the file): an archive, an error or a skip.
    expected: list[InventoryArchive] = []
    try:
        if line.strip():
            expected.append(_csv_archive(line.removesuffix("\n"), [0, 1, 2, 3, 4], 502))
    except InventoryParseError as exc:
        with pytest.raises(InventoryParseError) as caught:
            list(iter_inventory_archives(io.BytesIO(data), "CSV"))
        assert (str(caught.value), caught.value.line) == (str(exc), 502)
    else:
        parsed = list(iter_inventory_archives(io.BytesIO(data), "CSV"))
        assert parsed[500:-1] == expected and len(parsed) == 501 + len(expected)


def test_csv_description_that_ends_in_a_backslash_keeps_it() -> None:
    """``"dir\\",`` is a description ``dir\\`` closed by its quote, not an escaped quote."""
    lines = f'a,"dir\\",2012-03-20T17:03:43Z,1,{HASH}\nb,"x\\",\\"y",2012-03-20T17:03:43Z,2,{HASH}\n'
    columns = csv_columns(lines)
    assert columns is not None
    assert list(columns[1]) == ["dir\\", 'x","y']


# -- large inputs, positions, records -----------------------------------------------------------


@pytest.mark.parametrize("format", ["JSON", "CSV"])
def test_a_description_larger_than_the_buffer_among_ordinary_archives(format: str) -> None:
    huge = 'big "quoted" },{ ] \\ ' * 10_000  # ~210 KB: several 64 KiB reads
    archives = [*synthetic_archives(500, seed=3), *_archives((huge,)), *synthetic_archives(500, seed=4)]
    data = _encoded(archives, format)
    assert list(iter_inventory_archives(io.BytesIO(data), format)) == archives
    if format == "JSON":
        assert _json_loads_archives(data) == archives


def test_json_fault_deep_in_a_large_inventory_names_its_element_and_offset() -> None:
    data = _encoded(list(synthetic_archives(3000, seed=9)), "JSON")
    document = json.loads(data)
    document["ArchiveList"][2500]["Size"] = -5
    text = json.dumps(document, separators=(",", ":"))
    offset = text.index('{"ArchiveId":"' + document["ArchiveList"][2500]["ArchiveId"])
    reader = iter_inventory_archives(io.BytesIO(text.encode()), "JSON")
    parsed = []
    with pytest.raises(InventoryParseError, match=r"ArchiveList\[2500\]: Size must be") as caught:
        for archive in reader:
            parsed.append(archive)
    assert caught.value.offset == offset
    assert len(parsed) == 2500  # every archive before the fault, none after


def test_csv_fault_deep_in_a_large_inventory_names_its_line() -> None:
    lines = _encoded(list(synthetic_archives(3000, seed=9)), "CSV").decode().split("\n")
    lines[2401] = lines[2401].replace(",", ",,", 1)  # line 2402 of the file: an empty description field
    parsed = []
    with pytest.raises(InventoryParseError) as caught:
        for archive in iter_inventory_archives(io.BytesIO("\n".join(lines).encode()), "CSV"):
            parsed.append(archive)
    assert caught.value.line == 2402
    assert len(parsed) == 2400


def test_fast_path_records_are_ordinary_frozen_archives() -> None:
    # The fast path sets the slots that __init__ would set; a __post_init__ would be skipped.
    assert not hasattr(InventoryArchive, "__post_init__")
    data = _encoded(list(synthetic_archives(800, seed=1)), "CSV")
    for archive in list(iter_inventory_archives(io.BytesIO(data), "CSV"))[::97]:
        rebuilt = InventoryArchive(
            archive.archive_id,
            archive.description,
            archive.creation_date,
            archive.size,
            archive.sha256_tree_hash,
        )
        assert type(archive) is InventoryArchive
        assert archive == rebuilt and hash(archive) == hash(rebuilt) and repr(archive) == repr(rebuilt)
        assert archive.creation_date.tzinfo is UTC
        with pytest.raises(dataclasses.FrozenInstanceError):
            archive.size = 0  # type: ignore[misc]
        assert dataclasses.replace(archive, size=1).size == 1


def test_for_loop_and_next_draw_from_the_same_archives() -> None:
    archives = list(synthetic_archives(1000, seed=6))
    reader = iter_inventory_archives(io.BytesIO(_encoded(archives, "JSON")), "JSON")
    first = next(reader)
    rest = []
    for archive in reader:
        rest.append(archive)
        if len(rest) == 500:
            break
    assert [first, *rest, *reader] == archives
