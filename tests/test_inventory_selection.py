"""Filters, batches and the mapped-task list built from an inventory."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.inventory import InventoryArchive
from airflow_glacier_select.inventory_selection import (
    DEFAULT_MAX_MAP_LENGTH,
    archives_from_mapped_batch,
    batch_archives,
    filter_archives,
    mapped_batches,
)
from airflow_glacier_select.testing.inventory_fixtures import fastglacier_description, synthetic_archives

UTC = timezone.utc
T0 = datetime(2020, 1, 1, tzinfo=UTC)
HASH = "0" * 64


def archive(name: str, *, size: int = 1, day: int = 0, description: str | None = None) -> InventoryArchive:
    text = name if description is None else description
    return InventoryArchive(name, text, T0 + timedelta(days=day), size, HASH)


def names(archives: object) -> list[str]:
    return [a.archive_id for a in archives]  # type: ignore[attr-defined]


def untouchable() -> Iterator[InventoryArchive]:
    raise AssertionError("the inventory must not be read")
    yield  # pragma: no cover


# -- filters ----------------------------------------------------------------------------------

DAYS = [archive(f"d{day}", day=day) for day in range(5)]


def test_no_filter_keeps_everything_in_order() -> None:
    assert names(filter_archives(DAYS)) == ["d0", "d1", "d2", "d3", "d4"]


def test_created_after_is_inclusive_and_created_before_exclusive() -> None:
    chosen = filter_archives(
        DAYS, created_after=T0 + timedelta(days=1), created_before=T0 + timedelta(days=3)
    )
    assert names(chosen) == ["d1", "d2"]


def test_dates_may_be_glacier_iso_strings_with_or_without_offset() -> None:
    assert names(filter_archives(DAYS, created_after="2020-01-04T00:00:00Z")) == ["d3", "d4"]
    assert names(filter_archives(DAYS, created_before="2020-01-02T01:00:01+01:00")) == ["d0", "d1"]
    assert names(filter_archives(DAYS, created_before="2020-01-02T00:00:00")) == ["d0"]


def test_size_bounds_are_inclusive() -> None:
    sized = [archive(f"s{size}", size=size) for size in (0, 1, 10, 11, 100)]
    assert names(filter_archives(sized, min_size=1, max_size=11)) == ["s1", "s10", "s11"]
    assert names(filter_archives(sized, max_size=0)) == ["s0"]


def test_description_glob_must_match_the_whole_description() -> None:
    archives = [
        archive("a", description="logs/2020/app.log"),
        archive("b", description="old-logs/app.log.gz"),
    ]
    assert names(filter_archives(archives, description_pattern="logs/*.log")) == ["a"]
    assert names(filter_archives(archives, description_pattern="*logs*")) == ["a", "b"]
    assert names(filter_archives(archives, description_pattern="LOGS/*")) == []


def test_description_regex_is_searched() -> None:
    archives = [archive("a", description="db-2020-01.dump"), archive("b", description="db-latest.dump")]
    assert names(filter_archives(archives, description_regex=r"\d{4}-\d{2}")) == ["a"]
    assert names(filter_archives(archives, description_regex=r"^db-latest\.dump$")) == ["b"]


def test_path_glob_sees_the_decoded_fastglacier_path() -> None:
    archives = [
        archive("photo", description=fastglacier_description("Fotos/Straße.jpg", T0)),
        archive("doc", description=fastglacier_description("Docs/Straße.pdf", T0)),
        archive("blank", description=""),
    ]
    assert names(filter_archives(archives, path_pattern="Fotos/*.jpg")) == ["photo"]
    assert names(filter_archives(archives, path_pattern="*")) == ["photo", "doc"]
    assert names(filter_archives(archives, description_pattern="Fotos/*")) == []


def test_all_filters_combine() -> None:
    archives = list(synthetic_archives(2000, seed=4))
    chosen = list(
        filter_archives(
            archives,
            created_after="2015-01-01T00:00:00Z",
            min_size=1024,
            max_size=1 << 30,
            description_regex="a",
        )
    )
    expected = [
        a
        for a in archives
        if a.creation_date >= datetime(2015, 1, 1, tzinfo=UTC)
        and 1024 <= a.size <= 1 << 30
        and "a" in a.description
    ]
    assert chosen == expected
    assert 0 < len(chosen) < len(archives)


def test_filters_are_lazy_over_an_endless_inventory() -> None:
    endless = (archive(f"n{i}", size=i) for i in itertools.count())
    assert names(itertools.islice(filter_archives(endless, min_size=10), 3)) == ["n10", "n11", "n12"]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"created_after": datetime(2020, 1, 1)}, "created_after"),
        ({"created_before": "last tuesday"}, "created_before"),
        ({"created_after": 1577836800}, "created_after"),
        ({"created_after": T0, "created_before": T0}, "created_before"),
        (
            {"created_after": "2021-01-01T00:00:00Z", "created_before": "2020-01-01T00:00:00Z"},
            "created_before",
        ),
        ({"min_size": -1}, "min_size"),
        ({"max_size": 1.5}, "max_size"),
        ({"min_size": 10, "max_size": 9}, "max_size"),
        ({"description_regex": "(unclosed"}, "description_regex"),
        ({"description_pattern": 7}, "description_pattern"),
        ({"path_pattern": ["*"]}, "path_pattern"),
    ],
)
def test_bad_filters_fail_at_the_call_before_the_inventory_is_read(
    arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(GlacierValidationError) as caught:
        filter_archives(untouchable(), **arguments)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert field in str(caught.value)


# -- batches ----------------------------------------------------------------------------------


def test_batches_by_count() -> None:
    archives = [archive(f"a{i}") for i in range(7)]
    assert [names(b) for b in batch_archives(archives, max_count=3)] == [
        ["a0", "a1", "a2"],
        ["a3", "a4", "a5"],
        ["a6"],
    ]


def test_batches_by_bytes_fill_up_to_the_limit_exactly() -> None:
    archives = [archive("a", size=4), archive("b", size=6), archive("c", size=1), archive("d", size=9)]
    assert [names(b) for b in batch_archives(archives, max_count=100, max_bytes=10)] == [
        ["a", "b"],
        ["c", "d"],
    ]


def test_an_archive_over_max_bytes_goes_alone_and_is_never_dropped() -> None:
    archives = [archive("a", size=3), archive("huge", size=50), archive("b", size=3), archive("c", size=3)]
    assert [names(b) for b in batch_archives(archives, max_count=10, max_bytes=8)] == [
        ["a"],
        ["huge"],
        ["b", "c"],
    ]
    assert [names(b) for b in batch_archives([archive("x", size=9)] * 2, max_count=5, max_bytes=8)] == [
        ["x"],
        ["x"],
    ]


def test_empty_archives_still_count() -> None:
    zeros = [archive(f"z{i}", size=0) for i in range(5)]
    assert [len(b) for b in batch_archives(zeros, max_count=2, max_bytes=1)] == [2, 2, 1]


def test_no_archives_no_batches() -> None:
    assert list(batch_archives([], max_count=1, max_bytes=1)) == []


def test_batches_are_lazy() -> None:
    endless = (archive(f"n{i}") for i in itertools.count())
    first, second = itertools.islice(batch_archives(endless, max_count=2), 2)
    assert names(first) == ["n0", "n1"] and names(second) == ["n2", "n3"]


@pytest.mark.parametrize(
    ("max_count", "max_bytes", "field"),
    [(0, None, "max_count"), (-1, None, "max_count"), (True, None, "max_count"), (None, None, "max_count"),
     (1, 0, "max_bytes"), (1, -5, "max_bytes"), (1, 2.5, "max_bytes")],
)  # fmt: skip
def test_bad_batch_limits_fail_at_the_call(max_count: object, max_bytes: object, field: str) -> None:
    with pytest.raises(GlacierValidationError) as caught:
        batch_archives(untouchable(), max_count=max_count, max_bytes=max_bytes)  # type: ignore[arg-type]
    assert caught.value.field == field


sizes = st.lists(st.integers(min_value=0, max_value=100), max_size=60)


@given(sizes=sizes, max_count=st.integers(1, 8), max_bytes=st.none() | st.integers(1, 120))
def test_batches_keep_every_archive_once_in_order_within_limits(
    sizes: list[int], max_count: int, max_bytes: int | None
) -> None:
    archives = [archive(f"a{i}", size=size) for i, size in enumerate(sizes)]
    batches = list(batch_archives(archives, max_count=max_count, max_bytes=max_bytes))
    assert [a for batch in batches for a in batch] == archives
    for batch in batches:
        assert 1 <= len(batch) <= max_count
        if max_bytes is not None and len(batch) > 1:
            assert sum(a.size for a in batch) <= max_bytes
    # greedy: the next batch's first archive would not have fitted into the one before
    for before, after in itertools.pairwise(batches):
        full = len(before) == max_count
        over = max_bytes is not None and sum(a.size for a in before) + after[0].size > max_bytes
        assert full or over


# -- mapped batches ---------------------------------------------------------------------------


def test_mapped_batches_are_plain_json_and_give_the_archives_back() -> None:
    archives = list(synthetic_archives(50, seed=9))
    items = mapped_batches(archives, max_count=7, max_bytes=None)
    assert json.loads(json.dumps(items)) == items
    assert [item["batch"] for item in items] == list(range(8))
    assert [item["archive_count"] for item in items] == [7] * 7 + [1]
    assert [a for item in items for a in archives_from_mapped_batch(item)] == archives
    assert items[0]["total_size"] == sum(a.size for a in archives[:7])
    assert set(items[0]) == {"batch", "archive_count", "total_size", "archives"}


def test_exactly_max_map_length_batches_are_allowed() -> None:
    archives = [archive(f"a{i}") for i in range(12)]
    assert len(mapped_batches(archives, max_count=3, max_map_length=4)) == 4
    assert DEFAULT_MAX_MAP_LENGTH == 1024


def test_more_batches_than_max_map_length_are_refused_naming_the_setting_and_the_need() -> None:
    archives = [archive(f"a{i}") for i in range(13)]
    with pytest.raises(GlacierValidationError) as caught:
        mapped_batches(archives, max_count=3, max_map_length=4)
    assert caught.value.field == "max_map_length"
    message = str(caught.value)
    assert "needs 5 mapped batches" in message
    assert "[core] max_map_length" in message and "max_count=3" in message


def test_the_default_limit_is_airflows_1024() -> None:
    archives = [archive(f"a{i}") for i in range(1025)]
    assert len(mapped_batches(archives[:1024], max_count=1)) == 1024
    with pytest.raises(GlacierValidationError, match="needs 1025 mapped batches"):
        mapped_batches(archives, max_count=1)


@pytest.mark.parametrize("max_map_length", [0, -3, "1024"])
def test_a_bad_max_map_length_is_refused_before_reading(max_map_length: object) -> None:
    with pytest.raises(GlacierValidationError) as caught:
        mapped_batches(untouchable(), max_count=1, max_map_length=max_map_length)  # type: ignore[arg-type]
    assert caught.value.field == "max_map_length"
