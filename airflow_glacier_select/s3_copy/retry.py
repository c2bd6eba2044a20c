"""How often and how patiently one chunk is tried again before the copy gives up.

Kept apart from the engine so the policy (attempts, capped backoff, jitter) is a value an
operator builds and checks at DAG parse time; which errors deserve a retry is the engine's
:func:`~airflow_glacier_select.s3_copy.engine.is_transient`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.plan import check_int
from airflow_glacier_select.waiting import backoff_delay

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per chunk and capped exponential backoff with jitter between them.

    A chunk whose bytes fail their tree-hash check is downloaded again like any other
    transient failure: GetJobOutput costs no new retrieval (Glacier charges per job), and a
    body damaged on the way is far likelier than a wrong hash. After ``max_attempts`` the
    transfer stops.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if check_int("max_attempts", self.max_attempts) < 1:
            raise GlacierValidationError("max_attempts", self.max_attempts, "must be at least 1")
        for name in ("base_delay", "max_delay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise GlacierValidationError(name, value, "must be a finite number of seconds >= 0")

    def delay(self, attempt: int, jitter: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): half fixed, half random."""
        return backoff_delay(attempt, base=self.base_delay, cap=self.max_delay, uniform=jitter)
