"""The amazon provider's ``waiter_delay`` / ``waiter_max_attempts`` beside this package's own names.

The job operators call their two settings ``poll_interval`` and ``max_wait``; the sensor,
like every Airflow sensor, ``poke_interval`` and ``timeout``. Both map the amazon names
the same way, so both are tested against the same table, named in each one's terms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError

DEFAULT_INTERVAL = 60.0
ATTEMPTS_RULE = "must be a whole number of status checks, at least 1"
SECONDS_RULE = "must be a number of seconds above 0"


def mapped_cases(
    interval: str, total: str, default_total: float
) -> list[tuple[dict[str, Any], float, float]]:
    """(arguments, resulting interval, resulting total wait) for a task whose settings are named so."""
    return [
        ({"waiter_delay": 30, "waiter_max_attempts": 10}, 30.0, 300.0),
        ({interval: 30, "waiter_max_attempts": 10}, 30.0, 300.0),
        ({interval: 30, "waiter_delay": 30.0, total: 300, "waiter_max_attempts": 10}, 30.0, 300.0),
        ({"waiter_delay": 20}, 20.0, default_total),
        ({"waiter_max_attempts": 5}, DEFAULT_INTERVAL, 5 * DEFAULT_INTERVAL),
    ]


class Refused(NamedTuple):
    """Wait arguments and the error they raise: its field, value and rule."""

    arguments: dict[str, Any]
    field: str
    value: Any
    rule: str


def refused_cases(interval: str, total: str) -> list[Refused]:
    """Each bad or disagreeing setting, with the error it raises."""
    cases = [
        (
            {interval: 30, "waiter_delay": 60},
            "waiter_delay",
            60,
            f"disagrees with {interval}=30; give one of them (waiter_delay is {interval})",
        ),
        (
            {"waiter_delay": 60, "waiter_max_attempts": 10, total: 3600},
            "waiter_max_attempts",
            10,
            f"disagrees with {total}=3600: 10 checks 60s apart wait 600s; "
            f"give one of them ({total} = waiter_delay x waiter_max_attempts)",
        ),
        ({"waiter_delay": 0}, "waiter_delay", 0, SECONDS_RULE),
        ({"waiter_delay": "60"}, "waiter_delay", "60", SECONDS_RULE),
        ({"waiter_delay": float("inf")}, "waiter_delay", float("inf"), SECONDS_RULE),
        ({"waiter_max_attempts": 0}, "waiter_max_attempts", 0, ATTEMPTS_RULE),
        ({"waiter_max_attempts": 2.5}, "waiter_max_attempts", 2.5, ATTEMPTS_RULE),
        ({"waiter_max_attempts": "3"}, "waiter_max_attempts", "3", ATTEMPTS_RULE),
        ({"waiter_max_attempts": True}, "waiter_max_attempts", True, ATTEMPTS_RULE),
    ]
    return [Refused(*case) for case in cases]


def assert_refused(build: Callable[..., Any], case: Refused, endpoint: Any) -> None:
    """``build(**case.arguments)`` raises the case's error, naming field, value and rule; nothing is sent."""
    with pytest.raises(GlacierValidationError) as raised:
        build(**case.arguments)
    assert (raised.value.field, raised.value.value, raised.value.rule) == (case.field, case.value, case.rule)
    assert str(raised.value) == f"{case.field}: {case.value!r} {case.rule}"
    assert endpoint.request_count() == 0
