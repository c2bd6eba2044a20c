"""The pure rules every wait shares (no Airflow, no endpoint): defaults, backoff, failure message."""

from __future__ import annotations

import pytest

from airflow_glacier_select.jobs import JobDescription
from airflow_glacier_select.waiting import WaitSettings, job_failure_message, poll_retry_delay, resolve_wait


def test_nothing_given_is_a_minute_between_checks_for_up_to_48_hours() -> None:
    assert resolve_wait() == WaitSettings(poll_interval=60.0, max_wait=172_800.0)


def test_defaults_are_the_callers_when_it_has_its_own() -> None:
    assert resolve_wait(default_poll_interval=5.0, default_max_wait=50.0) == WaitSettings(5.0, 50.0)
    assert resolve_wait(waiter_max_attempts=4, default_poll_interval=5.0) == WaitSettings(5.0, 20.0)


@pytest.mark.parametrize("poll_interval", [0.02, 1.0, 60.0])
def test_a_retry_after_a_transient_failure_never_waits_longer_than_a_poll(poll_interval: float) -> None:
    delays = [poll_retry_delay(attempt, poll_interval) for attempt in range(1, 40)]
    assert all(0 < delay <= poll_interval for delay in delays)
    assert delays[0] <= min(1.0, poll_interval)  # the first retry comes within a second
    assert max(delays[-5:]) >= poll_interval / 2  # and the backoff reaches the poll interval's scale


def test_a_failed_jobs_message_names_vault_job_and_glacier_reason() -> None:
    job = JobDescription(job_id="job-1", status_code="Failed", status_message="Archive is corrupt")
    assert (
        job_failure_message("photos", job) == "Glacier job job-1 in vault photos failed: Archive is corrupt"
    )
    silent = JobDescription(job_id="job-2", status_code="Failed")
    assert (
        job_failure_message("photos", silent)
        == "Glacier job job-2 in vault photos failed: no StatusMessage given"
    )
