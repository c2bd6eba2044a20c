"""Retry policy: capped exponential backoff with jitter, checked when built."""

from __future__ import annotations

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.retry import RetryPolicy


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=5.0)
    assert [policy.delay(n, jitter=lambda: 1.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert [policy.delay(n, jitter=lambda: 0.0) for n in range(1, 4)] == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("max_attempts", {"max_attempts": 0}),
        ("base_delay", {"base_delay": -1}),
        ("max_delay", {"max_delay": "1"}),
    ],
)
def test_bad_retry_policies_are_refused(field: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(GlacierValidationError, match=f"^{field}: "):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
