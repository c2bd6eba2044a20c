"""The pure parts of the view: migration report rules and progress, output expiry, escaping."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_glacier_select.jobs import JobDescription
from airflow_glacier_select.ui.charts import history_chart, progress_bar
from airflow_glacier_select.ui.render import format_age
from airflow_glacier_select.ui.reports import ReportError, parse_report, report_prefix
from airflow_glacier_select.ui.vaults import output_expires_in

GIB = 2**30


def _report(**overrides: object) -> dict[str, object]:
    report: dict[str, object] = {
        "run_id": "scheduled__2026-11-21T00:00:00+00:00",
        "vault_name": "photos",
        "inventory": {"archives": 100, "bytes": 100 * GIB},
        "copied": {"archives": 9, "bytes": 9 * GIB},
        "skipped": {"archives": 50, "bytes": 50 * GIB},
        "failed": {"archives": 1, "bytes": 1 * GIB},
        "left_for_later_runs": {"archives": 40, "bytes": 40 * GIB},
    }
    report.update(overrides)
    return report


def test_report_prefix_is_where_the_migration_dag_writes() -> None:
    # example_glacier_vault_migration: f"{prefix}/_migration/{vault_name}/{run_id}/report.json"
    assert report_prefix("vaults", "photos") == "vaults/_migration/photos/"
    assert report_prefix("/vaults/", "photos") == "vaults/_migration/photos/"
    assert report_prefix("", "photos") == "_migration/photos/"


def test_progress_and_days_left_at_the_runs_pace() -> None:
    report = parse_report(json.dumps(_report()), "photos")
    assert report.planned_bytes == 10 * GIB  # copied + failed: what the budget let in
    assert report.in_s3_bytes == 59 * GIB
    assert report.remaining_bytes == 41 * GIB  # left + failed (a later run retries failures)
    assert report.days_left == 5  # ceil(41 / 10)


@pytest.mark.parametrize(
    ("overrides", "days"),
    [
        ({"failed": {"archives": 0, "bytes": 0}, "left_for_later_runs": {"archives": 0, "bytes": 0}}, 0),
        ({"copied": {"archives": 0, "bytes": 0}, "failed": {"archives": 0, "bytes": 0}}, None),
    ],
)
def test_days_left_when_done_or_when_nothing_was_planned(
    overrides: dict[str, object], days: int | None
) -> None:
    assert parse_report(json.dumps(_report(**overrides)), "photos").days_left == days


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xfe", "report: b'\\xff\\xfe' is not JSON"),
        (b"{oops", "report: b'{oops' is not JSON (Expecting property name"),
        (b"null", "report: None must be a JSON object"),
        (json.dumps(_report(run_id="")), "run_id: '' must be a non-empty string"),
        (
            json.dumps(_report(vault_name="other")),
            "vault_name: 'other' must be 'photos', the vault it is filed under",
        ),
        (json.dumps(_report(copied=None)), "copied: None must be an object with 'archives' and 'bytes'"),
        (json.dumps(_report(copied={"archives": 1})), "copied.bytes: None must be a whole number >= 0"),
        (json.dumps(_report(skipped={"archives": True, "bytes": 0})), "skipped.archives: True must be"),
        (json.dumps(_report(failed={"archives": 1.5, "bytes": 0})), "failed.archives: 1.5 must be"),
    ],
)
def test_malformed_reports_name_the_field_value_and_rule(body: bytes | str, message: str) -> None:
    with pytest.raises(ReportError) as raised:
        parse_report(body, "photos")
    assert str(raised.value).startswith(message)


def test_output_is_guaranteed_for_24_hours_after_completion() -> None:
    """Glacier Developer Guide, "Get Job Output (GET output)": output is available for at
    least 24 hours after the job completes."""
    job = JobDescription(job_id="j", status_code="Succeeded", completion_date="2026-11-30T10:00:00.000Z")
    now = datetime(2026, 11, 30, 12, 30, tzinfo=timezone.utc)
    assert output_expires_in(job, now) == timedelta(hours=21, minutes=30)
    assert output_expires_in(job, now + timedelta(days=1)) == timedelta(hours=-2, minutes=-30)
    # A server clock behind Glacier's must not promise more than the 24 hours.
    assert output_expires_in(job, now - timedelta(hours=3)) == timedelta(hours=24)
    assert output_expires_in(JobDescription(job_id="j", status_code="InProgress"), now) is None
    assert (
        output_expires_in(JobDescription(job_id="j", status_code="Failed", completion_date="x"), now) is None
    )


def test_ages_read_at_a_glance() -> None:
    assert format_age(timedelta(days=2, hours=3, minutes=5)) == "2 d 3h 05m"
    assert format_age(timedelta(hours=5, minutes=12)) == "5h 12m"
    assert format_age(timedelta(minutes=-7)) == "7m 00s"
    assert format_age(timedelta(hours=24)) == "1 d"


def test_charts_escape_what_comes_from_s3() -> None:
    report = parse_report(json.dumps(_report(run_id="<script>alert(1)</script>")), "photos")
    svg = history_chart([report]) + progress_bar(report)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
