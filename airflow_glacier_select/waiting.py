"""How long and how often to wait for a Glacier job: the rules every wait shares.

A job operator polling in the worker, a sensor poking or rescheduling, and the trigger
polling in the triggerer all wait for the same thing, so they share one poll interval
default, one way of reading the amazon provider's ``waiter_delay`` /
``waiter_max_attempts``, one backoff after a transient failure, one grace for Airflow's
own deferral timeout, and one failure message. No Airflow import: this is the pure core.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_description import JobDescription
from airflow_glacier_select.job_rules import check_seconds

__all__ = [
    "DEFAULT_MAX_WAIT",
    "DEFAULT_POLL_INTERVAL",
    "DEFERRAL_GRACE_SECONDS",
    "WaitSettings",
    "backoff_delay",
    "job_failure_message",
    "poll_retry_delay",
    "resolve_wait",
]

DEFAULT_POLL_INTERVAL = 60.0
"""Seconds between DescribeJob calls: Expedited jobs end in minutes, Standard and Bulk in hours."""

DEFAULT_MAX_WAIT = 48 * 60 * 60.0
"""Seconds to wait for a job: Bulk takes up to 12 hours, with ample room for a busy service."""

DEFERRAL_GRACE_SECONDS = 120.0
"""How long Airflow waits past the trigger's own deadline before timing the deferral out itself,
so the trigger's timeout event (which names the job and its last status) normally comes first."""


@dataclass(frozen=True)
class WaitSettings:
    """Seconds between DescribeJob calls and seconds to wait in all, both checked."""

    poll_interval: float
    max_wait: float


def _check_attempts(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GlacierValidationError(
            "waiter_max_attempts", value, "must be a whole number of status checks, at least 1"
        )
    return value


def resolve_wait(
    *,
    poll_interval: object = None,
    max_wait: object = None,
    waiter_delay: object = None,
    waiter_max_attempts: object = None,
    poll_interval_field: str = "poll_interval",
    max_wait_field: str = "max_wait",
    default_poll_interval: float = DEFAULT_POLL_INTERVAL,
    default_max_wait: float = DEFAULT_MAX_WAIT,
) -> WaitSettings:
    """Read a wait given in this package's terms, the amazon provider's, or both.

    ``waiter_delay`` is the poll interval under another name, and ``waiter_max_attempts``
    checks ``waiter_delay`` apart make ``max_wait = waiter_delay x waiter_max_attempts``.
    ``None`` means "not given". Both names of one setting may be given only when they
    agree; otherwise the error names the amazon-style field, its value and the other one.
    The field names are parameters because the sensor calls its two settings
    ``poke_interval`` and ``timeout``, as every Airflow sensor does.
    """
    interval = None if poll_interval is None else check_seconds(poll_interval_field, poll_interval)
    delay = None if waiter_delay is None else check_seconds("waiter_delay", waiter_delay)
    if interval is not None and delay is not None and not math.isclose(interval, delay):
        raise GlacierValidationError(
            "waiter_delay",
            waiter_delay,
            f"disagrees with {poll_interval_field}={poll_interval!r}; give one of them "
            f"(waiter_delay is {poll_interval_field})",
        )
    interval = next((value for value in (interval, delay) if value is not None), default_poll_interval)

    total = None if max_wait is None else check_seconds(max_wait_field, max_wait)
    if waiter_max_attempts is not None:
        attempts = _check_attempts(waiter_max_attempts)
        implied = interval * attempts
        if total is not None and not math.isclose(total, implied):
            raise GlacierValidationError(
                "waiter_max_attempts",
                waiter_max_attempts,
                f"disagrees with {max_wait_field}={max_wait!r}: {attempts} checks {interval:g}s apart "
                f"wait {implied:g}s; give one of them "
                f"({max_wait_field} = waiter_delay x waiter_max_attempts)",
            )
        total = implied
    return WaitSettings(poll_interval=interval, max_wait=default_max_wait if total is None else total)


def backoff_delay(
    attempt: int, *, base: float, cap: float, uniform: Callable[[], float] = random.random
) -> float:
    """Seconds to wait before retry ``attempt`` (1-based): doubling from ``base``, never above ``cap``.

    "Equal jitter": half of the step is fixed so retries never bunch up at zero, the
    other half is random so many waits throttled together do not retry in lockstep.
    """
    if attempt < 1:
        raise ValueError(f"attempt: {attempt!r} must be at least 1")
    step = min(cap, base * 2 ** min(attempt - 1, 32))
    return step / 2 + uniform() * step / 2


def poll_retry_delay(attempt: int, poll_interval: float) -> float:
    """Backoff after transient failure ``attempt`` of a wait: from 1 s (or less) up to ``poll_interval``.

    A retry is never spaced further apart than a regular poll, and a short ``poll_interval``
    (as in tests) keeps every retry short too.
    """
    base = min(1.0, poll_interval)
    return backoff_delay(attempt, base=base, cap=max(poll_interval, base))


def job_failure_message(vault_name: str, job: JobDescription) -> str:
    """What a failed job's task log and exception say: vault, job and Glacier's own reason."""
    reason = job.status_message or "no StatusMessage given"
    return f"Glacier job {job.job_id} in vault {vault_name} failed: {reason}"
