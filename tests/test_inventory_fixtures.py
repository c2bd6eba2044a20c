"""The synthetic inventories are deterministic and only ever contain what the service could emit."""

from __future__ import annotations

import io
import re

import pytest

from airflow_glacier_select.archive_descriptions import archive_path
from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.testing.inventory_fixtures import (
    NON_ASCII_PATHS,
    TRICKY_DESCRIPTIONS,
    csv_description,
    synthetic_archives,
    write_inventory,
    write_synthetic_inventory,
)

PRINTABLE_ASCII = {chr(c) for c in range(0x20, 0x7F)}
TREE_HASH = re.compile(r"[0-9a-f]{64}")
"""A SHA256TreeHash as inventories carry it: 64 lowercase hex digits."""


@pytest.mark.parametrize("format", ["JSON", "CSV"])
def test_same_seed_same_bytes_other_seed_other_bytes(format: str) -> None:
    first, again, other = io.BytesIO(), io.BytesIO(), io.BytesIO()
    written = write_synthetic_inventory(first, 300, format=format, seed=7)
    write_synthetic_inventory(again, 300, format=format, seed=7)
    write_synthetic_inventory(other, 300, format=format, seed=8)
    assert written == len(first.getvalue())
    assert first.getvalue() == again.getvalue() != other.getvalue()


def test_archives_obey_the_service_rules_and_cover_the_tricky_cases() -> None:
    archives = list(synthetic_archives(3000, seed=1))
    assert len({a.archive_id for a in archives}) == 3000
    for archive in archives:
        assert len(archive.archive_id) == 138
        assert len(archive.description) <= 1024
        assert set(archive.description) <= PRINTABLE_ASCII
        assert TREE_HASH.fullmatch(archive.sha256_tree_hash), archive.sha256_tree_hash
        assert archive.size >= 0
        assert archive.creation_date.utcoffset() is not None
    assert len({a.sha256_tree_hash for a in archives}) == len(archives)  # not one hash repeated
    descriptions = {a.description for a in archives}
    assert set(TRICKY_DESCRIPTIONS) <= descriptions
    assert set(NON_ASCII_PATHS) <= {archive_path(d) for d in descriptions}
    assert any(len(d) == 1024 for d in descriptions)


def test_csv_description_escapes_quotes_only() -> None:
    assert csv_description('a\\"b') == '"a\\\\"b"'
    assert csv_description("dir\\") == '"dir\\"'


def test_empty_inventories_are_well_formed() -> None:
    json_out, csv_out = io.BytesIO(), io.BytesIO()
    write_inventory(json_out, [], format="JSON")
    write_inventory(csv_out, [], format="CSV")
    assert json_out.getvalue().endswith(b',"ArchiveList":[]}')
    assert csv_out.getvalue() == b"ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"


def test_a_negative_count_is_refused() -> None:
    with pytest.raises(GlacierValidationError) as caught:
        list(synthetic_archives(-1))
    assert caught.value.field == "count"


def test_an_unknown_format_is_refused_before_anything_is_written() -> None:
    out = io.BytesIO()
    with pytest.raises(GlacierValidationError) as caught:
        write_inventory(out, synthetic_archives(3), format="XML")
    assert caught.value.field == "format"
    assert out.getvalue() == b""
