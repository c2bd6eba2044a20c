"""Chunk plans: tree-hash aligned, valid S3 parts, within 10,000 parts; only finished retrievals qualify."""

from __future__ import annotations

import itertools
import random

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.errors import GlacierTransferError
from airflow_glacier_select.s3_copy.plan import S3_MAX_PARTS, Chunk, TransferPlan, check_transferable
from airflow_glacier_select.treehash import MIB, is_tree_hash_aligned
from tests.support.transfer_helpers import job_description


@pytest.mark.parametrize(
    ("size", "chunk_size", "expected"),
    [
        (0, 8 * MIB, [(0, -1)]),
        (1, 8 * MIB, [(0, 0)]),
        (8 * MIB, 8 * MIB, [(0, 8 * MIB - 1)]),
        (8 * MIB + 1, 8 * MIB, [(0, 8 * MIB - 1), (8 * MIB, 8 * MIB)]),
        (20 * MIB + 7, 16 * MIB, [(0, 16 * MIB - 1), (16 * MIB, 20 * MIB + 6)]),
    ],
)
def test_plan_chunks(size: int, chunk_size: int, expected: list[tuple[int, int]]) -> None:
    plan = TransferPlan.build(size, chunk_size)
    assert [(c.start, c.end) for c in plan.chunks] == expected
    assert [c.part_number for c in plan.chunks] == list(range(1, len(expected) + 1))
    assert sum(c.length for c in plan.chunks) == size
    assert plan.multipart == (len(expected) > 1)


@pytest.mark.parametrize("size", [1, MIB, 8 * MIB - 1, 8 * MIB, 40 * MIB + 3, 1000 * MIB + 1])
@pytest.mark.parametrize("chunk_size", [8 * MIB, 16 * MIB, 64 * MIB])
def test_every_chunk_is_tree_hash_aligned_and_a_valid_s3_part(size: int, chunk_size: int) -> None:
    plan = TransferPlan.build(size, chunk_size)
    for chunk in plan.chunks:
        assert is_tree_hash_aligned(chunk.start, chunk.end, size)
        if chunk is not plan.chunks[-1]:
            assert chunk.length >= 5 * MIB


def test_empty_output_is_one_chunk_asked_for_without_a_range() -> None:
    (chunk,) = TransferPlan.build(0).chunks
    assert chunk.length == 0
    assert chunk.byte_range is None
    assert Chunk(0, 0, 0).byte_range == (0, 0)


def test_chunk_size_doubles_to_stay_within_s3_part_count() -> None:
    size = S3_MAX_PARTS * 8 * MIB + 1
    plan = TransferPlan.build(size, 8 * MIB)
    assert plan.chunk_size == 16 * MIB
    assert len(plan.chunks) <= S3_MAX_PARTS
    assert TransferPlan.build(S3_MAX_PARTS * 8 * MIB, 8 * MIB).chunk_size == 8 * MIB


def test_peak_memory_is_chunk_size_times_concurrency_whatever_the_size() -> None:
    small, huge = TransferPlan.build(100 * MIB, 16 * MIB), TransferPlan.build(40 * 1024**3, 16 * MIB)
    assert small.peak_memory(4) == huge.peak_memory(4) == 64 * MIB
    assert TransferPlan.build(3 * MIB, 16 * MIB).peak_memory(4) == 3 * MIB


@pytest.mark.parametrize(
    "chunk_size", [0, MIB, 4 * MIB, 12 * MIB, 8 * MIB + 1, 8192 * MIB, -8 * MIB, 8.0 * MIB, True, "16"]
)
def test_bad_chunk_sizes_are_refused(chunk_size: object) -> None:
    with pytest.raises(GlacierValidationError, match=r"^chunk_size: "):
        TransferPlan.build(100, chunk_size)  # type: ignore[arg-type]


def test_negative_sizes_are_refused() -> None:
    with pytest.raises(GlacierValidationError, match="total_size: -1 must not be negative"):
        TransferPlan.build(-1)


def test_part_numbers_are_contiguous_for_random_sizes() -> None:
    rng = random.Random(11)
    for size in itertools.islice((rng.randrange(1, 2**34) for _ in itertools.count()), 60):
        plan = TransferPlan.build(size, 8 * MIB)
        assert plan.chunks[-1].end == size - 1
        assert all(a.end + 1 == b.start for a, b in itertools.pairwise(plan.chunks))


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"Action": "Select"}, "is a select job; only archive-retrieval and inventory-retrieval"),
        ({"Action": "ArchiveRetrieval", "StatusCode": "InProgress"}, "is still in progress"),
        (
            {"Action": "ArchiveRetrieval", "StatusCode": "Failed", "StatusMessage": "boom"},
            r"\(Failed\): boom",
        ),
        ({"Action": "InventoryRetrieval"}, "reports no output size"),
    ],
)
def test_only_succeeded_retrievals_are_transferable(members: dict[str, object], message: str) -> None:
    with pytest.raises(GlacierTransferError, match=message):
        check_transferable(job_description(**members), "photos")
