"""Plan a vault migration before paying for it: what moves, what is already safe, what it costs.

The planner reads the inventory once, as a stream, and decides for each archive:
already copied and verified (skip), too large for the account's data retrieval policy
(the plan is refused, see :class:`MigrationPlanError`), chosen for this run (it fits
what is left of the run's byte budget), or left for a later run. It keeps only counters,
so planning a vault of a million archives holds a few hundred bytes besides the batches
it hands to task mapping.

The same planner serves a dry run (``MigrationPlan`` is the answer) and a real run (the
chosen archives are what the run retrieves), so what a dry run prints is what a run does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.inventory import InventoryArchive
from airflow_glacier_select.job_rules import check_tier
from airflow_glacier_select.migration.policy import DataRetrievalPolicy
from airflow_glacier_select.s3_copy.plan import TransferPlan
from airflow_glacier_select.s3_copy.progress import format_bytes
from airflow_glacier_select.s3_copy.shards import check_shard_count

__all__ = [
    "MigrationPlan",
    "MigrationPlanError",
    "MigrationPlanner",
    "MigrationSettings",
    "Tally",
    "copied_as_shards",
    "copy_routes",
    "shards_for",
]

_REFUSALS_SHOWN = 5


class MigrationPlanError(ValueError):
    """The migration cannot be done as configured; nothing has been started."""


@dataclass
class Tally:
    """A count of archives and their bytes."""

    archives: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.archives += 1
        self.bytes += size

    def to_dict(self) -> dict[str, int]:
        return {"archives": self.archives, "bytes": self.bytes}


def _positive(field_name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise GlacierValidationError(field_name, value, "must be a whole number of bytes, at least 1")
    return value


def copied_as_shards(size: int, shard_threshold: int | None) -> bool:
    """Whether an archive of ``size`` bytes is copied as range shards by many workers."""
    return shard_threshold is not None and size > shard_threshold


def shards_for(size: int, shards_per_archive: int) -> int:
    """Shards for one archive: as asked, but never more than its output has parts (chunks)."""
    check_shard_count(shards_per_archive)
    return max(1, min(shards_per_archive, len(TransferPlan.build(size).chunks)))


def copy_routes(
    started: Iterable[Mapping[str, Any]], shard_threshold: int | None, shards_per_archive: int
) -> dict[str, list[Any]]:
    """Split a run's retrievals into whole copies and sharded copies.

    ``started`` holds one entry per archive (with ``job_id`` and ``size``). Returns
    ``{"whole": [job id, ...], "sharded": [{"job_id": ..., "shards": n}, ...]}``, each list
    in the order given, ready for task mapping.
    """
    routes: dict[str, list[Any]] = {"whole": [], "sharded": []}
    for entry in started:
        if copied_as_shards(entry["size"], shard_threshold):
            shards = shards_for(entry["size"], shards_per_archive)
            routes["sharded"].append({"job_id": entry["job_id"], "shards": shards})
        else:
            routes["whole"].append(entry["job_id"])
    return routes


@dataclass(frozen=True)
class MigrationSettings:
    """What a migration run may do.

    :param tier: retrieval tier of the archive retrievals.
    :param run_byte_budget: bytes a run may retrieve (one run a day for a daily schedule).
    :param shard_threshold: archives larger than this are copied as range shards by many
        workers; None copies every archive in one task.
    :param policy: the region's data retrieval policy (GetDataRetrievalPolicy).
    """

    tier: str = "Bulk"
    run_byte_budget: int = 500 * 2**30
    shard_threshold: int | None = None
    policy: DataRetrievalPolicy = field(default_factory=DataRetrievalPolicy)

    def __post_init__(self) -> None:
        check_tier(self.tier, "tier")
        _positive("run_byte_budget", self.run_byte_budget)
        if self.shard_threshold is not None:
            _positive("shard_threshold", self.shard_threshold)
        if not isinstance(self.policy, DataRetrievalPolicy):
            raise GlacierValidationError("policy", self.policy, "must be a DataRetrievalPolicy")

    @property
    def run_budget(self) -> int:
        """The byte budget a run really has: the configured one, capped by the policy.

        A run starts its retrievals together, so under a policy it may start no more
        than the policy accepts at once.
        """
        at_once = self.policy.bytes_at_once(self.tier)
        return self.run_byte_budget if at_once is None else min(self.run_byte_budget, at_once)


@dataclass
class MigrationPlan:
    """The figures of a plan: what a run (and the whole migration) retrieves, skips and leaves."""

    tier: str
    run_byte_budget: int
    run_budget: int
    policy: DataRetrievalPolicy
    inventory: Tally = field(default_factory=Tally)
    already_copied: Tally = field(default_factory=Tally)
    to_move: Tally = field(default_factory=Tally)
    this_run: Tally = field(default_factory=Tally)
    left_for_later: Tally = field(default_factory=Tally)
    larger_than_budget: Tally = field(default_factory=Tally)
    sharded: Tally = field(default_factory=Tally)
    shard_threshold: int | None = None
    refused: list[dict[str, Any]] = field(default_factory=list)
    refused_count: int = 0

    @property
    def runs_needed(self) -> int:
        """Runs (days, on a daily schedule) to move everything at this budget.

        Each run takes what fits its budget, and an archive larger than the budget goes
        alone in a run of its own, so the count is at least both of those bounds.
        """
        if self.to_move.archives == 0:
            return 0
        return max(math.ceil(self.to_move.bytes / self.run_budget), self.larger_than_budget.archives, 1)

    def retrieval_requests(self) -> dict[str, dict[str, int]]:
        """InitiateJob requests and bytes per tier, this run and for the whole migration (at most:
        a run reuses a retrieval the vault already has for the same archive)."""
        return {
            self.tier: {
                "requests_this_run": self.this_run.archives,
                "bytes_this_run": self.this_run.bytes,
                "requests_in_all": self.to_move.archives,
                "bytes_in_all": self.to_move.bytes,
            }
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "run_byte_budget": self.run_byte_budget,
            "run_budget": self.run_budget,
            "policy": self.policy.to_dict(),
            "inventory": self.inventory.to_dict(),
            "already_copied": self.already_copied.to_dict(),
            "to_move": self.to_move.to_dict(),
            "this_run": self.this_run.to_dict(),
            "left_for_later": self.left_for_later.to_dict(),
            "larger_than_budget": self.larger_than_budget.to_dict(),
            "shard_threshold": self.shard_threshold,
            "sharded": self.sharded.to_dict(),
            "runs_needed": self.runs_needed,
            "retrieval_requests": self.retrieval_requests(),
            "refused": self.refused,
            "refused_count": self.refused_count,
        }

    def lines(self) -> list[str]:
        """The plan as a small table for a task log or a terminal."""

        def row(name: str, tally: Tally) -> str:
            return f"  {name:<34} {tally.archives:>12,} archives {format_bytes(tally.bytes):>12}"

        lines = [
            f"Migration plan ({self.tier} retrievals, policy: {self.policy.describe()})",
            row("inventory", self.inventory),
            row("already copied and verified", self.already_copied),
            row("to move", self.to_move),
            row("retrieved by this run", self.this_run),
            row("left for later runs", self.left_for_later),
            row("larger than one run's budget", self.larger_than_budget),
        ]
        if self.shard_threshold is not None:
            lines.append(row(f"copied as shards (> {format_bytes(self.shard_threshold)})", self.sharded))
        budget = format_bytes(self.run_budget)
        if self.run_budget < self.run_byte_budget:
            budget += f" (the policy caps the configured {format_bytes(self.run_byte_budget)})"
        lines.append(f"  run budget {budget}; runs needed at this budget: {self.runs_needed:,}")
        lines.append(
            f"  InitiateJob requests: {self.this_run.archives:,} this run, at most "
            f"{self.to_move.archives:,} in all ({self.tier})"
        )
        if self.refused_count:
            lines.append(
                f"  REFUSED: {self.refused_count:,} archive(s) can never be retrieved under the policy"
            )
        return lines


class MigrationPlanner:
    """Streams an inventory through the plan; :meth:`choose` yields the archives this run retrieves."""

    def __init__(self, settings: MigrationSettings) -> None:
        self.settings = settings
        self.plan = MigrationPlan(
            tier=settings.tier,
            run_byte_budget=settings.run_byte_budget,
            run_budget=settings.run_budget,
            policy=settings.policy,
            shard_threshold=settings.shard_threshold,
        )
        self._spent = 0

    def choose(self, archives: Iterable[tuple[InventoryArchive, bool]]) -> Iterator[InventoryArchive]:
        """Yield, in inventory order, the archives this run retrieves.

        ``archives`` pairs each inventory archive with whether S3 already holds a verified
        copy of it. The first archive to move is always taken, even when larger than the
        budget, so a large archive is never stuck behind the budget.
        """
        plan, settings = self.plan, self.settings
        at_once = settings.policy.bytes_at_once(settings.tier)
        for archive, verified in archives:
            size = archive.size
            plan.inventory.add(size)
            if verified:
                plan.already_copied.add(size)
                continue
            plan.to_move.add(size)
            if copied_as_shards(size, settings.shard_threshold):
                plan.sharded.add(size)
            if size > plan.run_budget:
                plan.larger_than_budget.add(size)
            if at_once is not None and size > at_once:
                plan.refused_count += 1
                if len(plan.refused) < _REFUSALS_SHOWN:
                    plan.refused.append({"archive_id": archive.archive_id, "size": size})
                continue
            if self._spent + size <= plan.run_budget or self._spent == 0:
                self._spent += size
                plan.this_run.add(size)
                yield archive
            else:
                plan.left_for_later.add(size)

    def check(self) -> MigrationPlan:
        """The finished plan, or :class:`MigrationPlanError` when some archive can never be retrieved."""
        plan = self.plan
        if plan.refused_count:
            at_once = self.settings.policy.bytes_at_once(plan.tier)
            examples = ", ".join(f"{r['archive_id'][:20]}... ({r['size']:,} bytes)" for r in plan.refused)
            raise MigrationPlanError(
                f"{plan.refused_count:,} archive(s) are larger than the {at_once:,} bytes of {plan.tier} "
                f"retrievals the data retrieval policy ({plan.policy.describe()}) accepts at once, so "
                f"Glacier would refuse them with PolicyEnforcedException: {examples}. Retrieve them in the "
                "Bulk or Expedited tier (the policy applies only to Standard retrievals), or raise the "
                "policy's BytesPerHour. Nothing was started."
            )
        return plan
