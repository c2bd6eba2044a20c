"""Range shards (pure): contiguous runs of tree-hash-aligned chunks, refused when they cannot be."""

from __future__ import annotations

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.plan import TransferPlan
from airflow_glacier_select.s3_copy.shards import RangeShard, check_shard_count, plan_shards
from airflow_glacier_select.treehash import MIB

PLAN = TransferPlan.build(10 * 8 * MIB + 123, 8 * MIB)  # 11 chunks


@pytest.mark.parametrize("count", [1, 2, 3, 4, 11])
def test_shards_cover_every_chunk_once_in_order_and_differ_by_at_most_one_chunk(count: int) -> None:
    shards = plan_shards(PLAN, count)
    assert len(shards) == count
    covered = [chunk for shard in shards for chunk in shard.chunks(PLAN)]
    assert covered == list(PLAN.chunks)
    assert [shard.start for shard in shards] == [shard.chunks(PLAN)[0].start for shard in shards]
    assert shards[-1].end == PLAN.total_size - 1
    sizes = {shard.last_chunk - shard.first_chunk + 1 for shard in shards}
    assert max(sizes) - min(sizes) <= 1
    assert all(RangeShard.from_dict(shard.to_dict()).check_against(PLAN) == shard for shard in shards)


@pytest.mark.parametrize(
    ("count", "rule"),
    [
        (0, "shards: 0 must be from 1 to 1000"),
        (True, "shards: True must be an integer"),
        ("2", "shards: '2' must be an integer"),
        (12, "shards: 12 must be at most the number of parts (11 of 8388608 bytes"),
    ],
)
def test_a_shard_count_that_cannot_be_planned_is_refused(count: object, rule: str) -> None:
    with pytest.raises(GlacierValidationError) as raised:
        plan_shards(PLAN, count)  # type: ignore[arg-type]
    assert str(raised.value).startswith(rule)


def test_check_shard_count_accepts_the_parse_time_range() -> None:
    assert check_shard_count(1000) == 1000


def test_a_shard_from_another_plan_is_refused() -> None:
    shard = plan_shards(PLAN, 2)[1]
    other = TransferPlan.build(PLAN.total_size, 16 * MIB)
    with pytest.raises(GlacierValidationError, match="names chunks outside the plan's 6 chunks"):
        shard.check_against(other)
    moved = RangeShard(0, 2, 0, 1, 0, 5)
    with pytest.raises(GlacierValidationError, match="byte range does not match"):
        moved.check_against(PLAN)
    with pytest.raises(GlacierValidationError, match=r"shard\.start"):
        RangeShard.from_dict({**shard.to_dict(), "start": -1})
    with pytest.raises(GlacierValidationError, match="must be a dict with"):
        RangeShard.from_dict({"index": 0})
