"""The account's data retrieval policy, read as limits a migration plan must stay within.

Glacier refuses an InitiateJob that would break the region's data retrieval policy
with ``PolicyEnforcedException`` (Developer Guide, "Amazon S3 Glacier Data Retrieval
Policies"); a refused request costs nothing, but a migration that keeps running into it
never finishes. The guide states three facts used here:

- a policy applies only to **Standard** retrievals (Bulk and Expedited are not limited);
- *Max Retrieval Rate* (``BytesPerHour``) refuses a request that would make the peak
  retrieval rate of the in-progress jobs exceed the quota;
- *Free Tier Only* (``FreeTier``) refuses what exceeds the prorated daily free allowance.

How the service turns a job into a rate is not specified by the guide. The model here
is the one Glacier's FAQ used when the policies were introduced: a Standard retrieval's
bytes count as spread evenly over :data:`STANDARD_RETRIEVAL_HOURS` hours. A run that
starts all its retrievals at once therefore stays within ``BytesPerHour`` when it starts
at most ``4 x BytesPerHour`` bytes of Standard retrievals, and a day of such runs moves
at most ``24 x BytesPerHour``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_glacier_select.exceptions import GlacierValidationError

__all__ = [
    "FREE_TIER_BYTES_PER_DAY",
    "POLICY_STRATEGIES",
    "STANDARD_RETRIEVAL_HOURS",
    "DataRetrievalPolicy",
]

POLICY_STRATEGIES = ("BytesPerHour", "FreeTier", "None")
STANDARD_RETRIEVAL_HOURS = 4
"""Hours over which a Standard retrieval's bytes count towards the retrieval rate (model; see above)."""
FREE_TIER_BYTES_PER_DAY = 10 * 2**30 // 30
"""10 GiB of free retrievals a month, prorated per day (the allowance a ``FreeTier`` policy keeps to)."""


@dataclass(frozen=True)
class DataRetrievalPolicy:
    """One region's policy, as GetDataRetrievalPolicy returns it."""

    strategy: str = "None"
    bytes_per_hour: int | None = None

    def __post_init__(self) -> None:
        if self.strategy not in POLICY_STRATEGIES:
            raise GlacierValidationError(
                "Policy.Rules[0].Strategy", self.strategy, f"must be one of {', '.join(POLICY_STRATEGIES)}"
            )
        if self.strategy == "BytesPerHour":
            value = self.bytes_per_hour
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise GlacierValidationError(
                    "Policy.Rules[0].BytesPerHour", value, "must be a whole number of at least 1"
                )

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> DataRetrievalPolicy:
        """Read GetDataRetrievalPolicy's answer (``{"Policy": {"Rules": [...]}}``); no rule means no limit."""
        rules = (response.get("Policy") or {}).get("Rules") or []
        if not rules:
            return cls()
        rule = rules[0]
        bytes_per_hour = rule.get("BytesPerHour")
        return cls(
            strategy=str(rule.get("Strategy", "None")),
            bytes_per_hour=int(bytes_per_hour) if rule.get("Strategy") == "BytesPerHour" else None,
        )

    def limits(self, tier: str) -> bool:
        """Whether retrievals in ``tier`` are subject to this policy at all."""
        return tier == "Standard" and self.strategy != "None"

    def bytes_at_once(self, tier: str) -> int | None:
        """The most bytes of ``tier`` retrievals that may be started together, or None for no limit."""
        if not self.limits(tier):
            return None
        if self.strategy == "BytesPerHour":
            assert self.bytes_per_hour is not None
            return self.bytes_per_hour * STANDARD_RETRIEVAL_HOURS
        return FREE_TIER_BYTES_PER_DAY

    def bytes_per_day(self, tier: str) -> int | None:
        """The most bytes of ``tier`` retrievals a day can start, or None for no limit."""
        if not self.limits(tier):
            return None
        if self.strategy == "BytesPerHour":
            assert self.bytes_per_hour is not None
            return self.bytes_per_hour * 24
        return FREE_TIER_BYTES_PER_DAY

    def describe(self) -> str:
        if self.strategy == "BytesPerHour":
            return f"Max Retrieval Rate ({self.bytes_per_hour:,} bytes per hour, Standard retrievals only)"
        if self.strategy == "FreeTier":
            return "Free Tier Only (Standard retrievals only)"
        return "No Retrieval Limit"

    def to_dict(self) -> dict[str, Any]:
        return {"strategy": self.strategy, "bytes_per_hour": self.bytes_per_hour}
