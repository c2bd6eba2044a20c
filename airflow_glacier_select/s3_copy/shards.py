"""One archive copied by many workers: the plan's chunks cut into contiguous range shards.

A shard is a run of consecutive chunks, so each of its parts is still one tree-hash-aligned
chunk: a shard task downloads, verifies and uploads its own parts into the shared
multipart upload, and the finishing step combines every chunk's tree hash into the
archive's. Shards are as even as whole chunks allow (sizes differ by at most one chunk),
and a shard is described by plain numbers so it travels through XCom and task mapping.

Pure core: no Airflow and no boto3 import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.plan import Chunk, TransferPlan, check_int

__all__ = ["MAX_SHARDS", "RangeShard", "check_shard_count", "plan_shards"]

MAX_SHARDS = 1000
"""More mapped tasks than this for one archive is a scheduler problem, not a speed-up."""


@dataclass(frozen=True)
class RangeShard:
    """Chunks ``first_chunk..last_chunk`` (0-based, inclusive) of a plan: parts ``first+1..last+1``."""

    index: int
    count: int
    first_chunk: int
    last_chunk: int
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end + 1 - self.start

    def chunks(self, plan: TransferPlan) -> tuple[Chunk, ...]:
        return plan.chunks[self.first_chunk : self.last_chunk + 1]

    def describe(self) -> str:
        return (
            f"shard {self.index + 1} of {self.count} (parts {self.first_chunk + 1}-{self.last_chunk + 1}, "
            f"bytes {self.start}-{self.end})"
        )

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RangeShard:
        try:
            values = {name: data[name] for name in cls.__dataclass_fields__}
        except (KeyError, TypeError):
            raise GlacierValidationError(
                "shard", data, f"must be a dict with {', '.join(cls.__dataclass_fields__)}"
            ) from None
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise GlacierValidationError(f"shard.{name}", value, "must be a non-negative integer")
        return cls(**values)

    def check_against(self, plan: TransferPlan) -> RangeShard:
        """Refuse a shard that is not a run of this plan's chunks (another plan, a hand-edited XCom)."""
        chunks = plan.chunks
        if not 0 <= self.first_chunk <= self.last_chunk < len(chunks):
            raise GlacierValidationError(
                "shard", self.to_dict(), f"names chunks outside the plan's {len(chunks)} chunks"
            )
        if (chunks[self.first_chunk].start, chunks[self.last_chunk].end) != (self.start, self.end):
            raise GlacierValidationError(
                "shard",
                self.to_dict(),
                f"byte range does not match the plan's chunks (bytes {chunks[self.first_chunk].start}-"
                f"{chunks[self.last_chunk].end} at chunk size {plan.chunk_size})",
            )
        return self


def check_shard_count(value: object) -> int:
    """A shard count fit for DAG parse time; whether it fits the output is known only at planning."""
    value = check_int("shards", value)
    if not 1 <= value <= MAX_SHARDS:
        raise GlacierValidationError("shards", value, f"must be from 1 to {MAX_SHARDS}")
    return value


def plan_shards(plan: TransferPlan, count: int) -> tuple[RangeShard, ...]:
    """``count`` contiguous shards covering every chunk once; more shards than parts is refused.

    The first ``len(chunks) % count`` shards take one chunk more than the rest.
    """
    count = check_shard_count(count)
    parts = len(plan.chunks)
    if count > parts:
        raise GlacierValidationError(
            "shards",
            count,
            f"must be at most the number of parts ({parts} of {plan.chunk_size} bytes for "
            f"{plan.total_size} bytes): every shard needs at least one part",
        )
    base, extra = divmod(parts, count)
    shards = []
    first = 0
    for index in range(count):
        last = first + base + (1 if index < extra else 0) - 1
        shards.append(RangeShard(index, count, first, last, plan.chunks[first].start, plan.chunks[last].end))
        first = last + 1
    return tuple(shards)
