"""Data retrieval policies of the local endpoint (S3 Glacier Data Retrieval Policies).

Glacier keeps one policy per account and Region, "No Retrieval Limit" (Strategy ``None``)
unless set otherwise; Get/Set Data Retrieval Policy read and replace it, with the rules the
Set page documents. A policy governs Standard retrievals only.

Enforcement is a documented simplification: under ``BytesPerHour`` a Standard archive
retrieval or select job is refused with PolicyEnforcedException when its bytes, together
with those of the Region's Standard retrievals still in progress, exceed what the rate
allows over the four hours a Standard retrieval takes (the model Glacier's FAQ described).
Under ``FreeTier`` the Standard retrievals started in the last 24 hours may not exceed the
free allowance of 10 GiB a month prorated per day (10 GiB / 30). Refused jobs do not exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from airflow_glacier_select.testing.errors import ServiceError, invalid, missing
from airflow_glacier_select.testing.models import LocalJob, utcnow
from airflow_glacier_select.testing.rules import JobRequest

__all__ = ["DEFAULT_POLICY", "check_retrieval_policy", "validated_policy"]

STRATEGIES = ("BytesPerHour", "FreeTier", "None")
DEFAULT_POLICY: Mapping[str, Any] = {"Rules": [{"Strategy": "None"}]}
STANDARD_RETRIEVAL_HOURS = 4
_BYTES_PER_HOUR_MAX = 2**63 - 1
FREE_TIER_BYTES_PER_DAY = 10 * 2**30 // 30


def validated_policy(body: object) -> dict[str, Any]:
    """The ``Policy`` of a SetDataRetrievalPolicy body, checked: one rule, a known strategy,
    BytesPerHour (1 .. 2^63-1) exactly when the strategy is BytesPerHour."""
    if not isinstance(body, Mapping) or not isinstance(body.get("Policy"), Mapping):
        raise missing("Required parameter is missing: Policy")
    rules = body["Policy"].get("Rules")
    if not isinstance(rules, list) or len(rules) != 1 or not isinstance(rules[0], Mapping):
        raise invalid("Policy.Rules must hold exactly one rule")
    rule = rules[0]
    strategy = rule.get("Strategy")
    if strategy not in STRATEGIES:
        raise invalid(f"Invalid Strategy: {strategy!r}; valid values are {', '.join(STRATEGIES)}")
    rate = rule.get("BytesPerHour")
    if strategy != "BytesPerHour":
        if rate is not None:
            raise invalid(f"BytesPerHour is only valid with Strategy BytesPerHour, not {strategy}")
        return {"Rules": [{"Strategy": strategy}]}
    if isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= _BYTES_PER_HOUR_MAX:
        raise invalid(f"Invalid BytesPerHour: {rate!r}; must be an integer from 1 to {_BYTES_PER_HOUR_MAX}")
    return {"Rules": [{"Strategy": strategy, "BytesPerHour": rate}]}


def _standard_retrieval_bytes(request: JobRequest, archive_size: int) -> int:
    if request.tier != "Standard" or request.type == "inventory-retrieval":
        return 0
    if request.byte_range is not None:
        return request.byte_range[1] - request.byte_range[0]
    return archive_size


def check_retrieval_policy(
    policy: Mapping[str, Any], request: JobRequest, archive_size: int, jobs: Iterable[LocalJob]
) -> None:
    """Refuse ``request`` (PolicyEnforcedException, 400) when the Region's policy does not allow it."""
    rule = policy["Rules"][0]
    if rule["Strategy"] == "None":
        return
    wanted = _standard_retrieval_bytes(request, archive_size)
    if not wanted:
        return
    jobs = list(jobs)
    if rule["Strategy"] == "FreeTier":
        since = utcnow() - timedelta(days=1)
        started = sum(
            _standard_retrieval_bytes(job.request, job.archive.size if job.archive else 0)
            for job in jobs
            if job.created >= since
        )
        if started + wanted > FREE_TIER_BYTES_PER_DAY:
            raise ServiceError(
                "PolicyEnforcedException",
                f"Retrieving {wanted} bytes with {started} bytes of Standard retrievals started in the "
                f"last 24 hours would exceed the free tier's {FREE_TIER_BYTES_PER_DAY} bytes per day",
            )
        return
    running = sum(
        _standard_retrieval_bytes(job.request, job.archive.size if job.archive else 0)
        for job in jobs
        if job.status == "InProgress" and not job.is_due
    )
    allowed = rule["BytesPerHour"] * STANDARD_RETRIEVAL_HOURS
    if running + wanted > allowed:
        raise ServiceError(
            "PolicyEnforcedException",
            f"Retrieving {wanted} bytes with {running} bytes of Standard retrievals in progress would "
            f"exceed the data retrieval policy's rate of {rule['BytesPerHour']} bytes per hour",
        )
