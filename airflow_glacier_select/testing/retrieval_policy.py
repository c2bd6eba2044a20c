"""The local endpoint's data retrieval policy: Get/SetDataRetrievalPolicy and its check at InitiateJob.

Follows the Developer Guide ("Amazon S3 Glacier Data Retrieval Policies", "Get Data
Retrieval Policy (GET policy)", "Set Data Retrieval Policy (PUT policy)"): one policy per
account and region, ``Strategy`` ``BytesPerHour`` (with ``BytesPerHour``), ``FreeTier`` or
``None``; it applies only to Standard retrievals; a refused InitiateJob answers
``PolicyEnforcedException`` ("InitiateJob request denied by current data retrieval
policy."). The guide does not say how a job becomes a rate; this endpoint counts a
Standard retrieval's bytes as spread over four hours (the model Glacier's FAQ described)
and the free tier as 10 GiB a month prorated per day.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from airflow_glacier_select.testing.errors import ServiceError, invalid, missing
from airflow_glacier_select.testing.models import LocalJob, utcnow

__all__ = ["RetrievalPolicy", "check_initiate_job", "parse_policy"]

_HOURS_PER_RETRIEVAL = 4
_FREE_BYTES_PER_DAY = 10 * 2**30 // 30
_MAX_BYTES_PER_HOUR = 2**63 - 1


@dataclass(frozen=True)
class RetrievalPolicy:
    strategy: str = "None"
    bytes_per_hour: int | None = None

    def to_dict(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"Strategy": self.strategy}
        if self.bytes_per_hour is not None:
            rule["BytesPerHour"] = self.bytes_per_hour
        return {"Policy": {"Rules": [rule]}}


def parse_policy(body: bytes | str | None) -> RetrievalPolicy:
    """The policy of a SetDataRetrievalPolicy body, refused as the service refuses it."""
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        raise invalid("The policy is not valid JSON") from None
    rules = (document.get("Policy") or {}).get("Rules")
    if not isinstance(rules, list) or len(rules) != 1:
        raise invalid("The policy must contain exactly one rule")
    rule = rules[0]
    strategy = rule.get("Strategy")
    if strategy is None:
        raise missing("Required parameter missing: Strategy")
    if strategy not in ("BytesPerHour", "FreeTier", "None"):
        raise invalid(f"Invalid Strategy: {strategy!r}; valid values are BytesPerHour, FreeTier, None")
    value = rule.get("BytesPerHour")
    if strategy != "BytesPerHour":
        if value is not None:
            raise invalid("BytesPerHour may be set only with the BytesPerHour strategy")
        return RetrievalPolicy(strategy)
    if value is None:
        raise missing("Required parameter missing: BytesPerHour")
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= _MAX_BYTES_PER_HOUR:
        raise invalid(f"Invalid BytesPerHour: {value!r}; must be from 1 to 2^63-1")
    return RetrievalPolicy(strategy, value)


def _retrieved_bytes(job: LocalJob) -> int:
    if job.request.byte_range is not None:
        start, end = job.request.byte_range
        return end - start
    return job.archive.size if job.archive is not None else 0


def _is_standard_retrieval(job: LocalJob) -> bool:
    return job.request.type == "archive-retrieval" and job.request.tier == "Standard"


def check_initiate_job(policy: RetrievalPolicy, new_job: LocalJob, jobs: Iterable[LocalJob]) -> None:
    """Refuse ``new_job`` with PolicyEnforcedException when it would break ``policy``."""
    if policy.strategy == "None" or not _is_standard_retrieval(new_job):
        return
    standard = [job for job in jobs if _is_standard_retrieval(job)]
    if policy.strategy == "BytesPerHour":
        assert policy.bytes_per_hour is not None
        in_flight = sum(
            _retrieved_bytes(job) for job in standard if job.status == "InProgress" and not job.is_due
        )
        allowed = policy.bytes_per_hour * _HOURS_PER_RETRIEVAL
    else:
        since = utcnow() - timedelta(days=1)
        in_flight = sum(_retrieved_bytes(job) for job in standard if job.created >= since)
        allowed = _FREE_BYTES_PER_DAY
    if in_flight + _retrieved_bytes(new_job) > allowed:
        raise ServiceError(
            "PolicyEnforcedException", "InitiateJob request denied by current data retrieval policy."
        )
