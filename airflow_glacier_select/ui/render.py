"""HTML of the Glacier view: server-rendered, escaped, with relative links so it works inside
Airflow's iframe and on its own.

Rendering never raises on AWS data: a failed read arrives here as a message
(:class:`~airflow_glacier_select.ui.vaults.ViewError` text) and is shown in its place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any
from urllib.parse import urlencode

from airflow_glacier_select.inventory import parse_glacier_timestamp
from airflow_glacier_select.job_description import STATUS_CODES
from airflow_glacier_select.jobs import JobDescription
from airflow_glacier_select.s3_copy.progress import format_bytes, format_duration
from airflow_glacier_select.ui.charts import history_chart, progress_bar
from airflow_glacier_select.ui.vaults import JobPage, MigrationStatus, output_expires_in

__all__ = ["error_page", "overview_page", "vault_error_page", "vault_page"]

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:16px 24px;color:#1f2933}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:24px 0 8px} h3{font-size:15px;margin:16px 0 6px}
.sub{color:#52606d;font-size:13px;margin-bottom:12px}
table{border-collapse:collapse;font-size:13px;margin:6px 0} th,td{border-bottom:1px solid #e4e7eb;
padding:4px 10px;text-align:left;vertical-align:top} th{background:#f5f7fa}
td.num{text-align:right;font-variant-numeric:tabular-nums} td.nowrap{white-space:nowrap}
.error{background:#fdecea;border-left:4px solid #c62828;padding:8px 12px;margin:8px 0;font-size:13px}
.note{color:#52606d;font-size:12px}
.InProgress{color:#1565c0}.Succeeded{color:#2e7d32}.Failed{color:#c62828}
.expired{color:#c62828}
a{color:#0b5cad} code{font-size:12px}
nav.pager a{margin-right:12px}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def _error(message: str) -> str:
    return f'<div class="error" role="alert">{escape(message)}</div>'


def _link(path: str, text: str, **query: Any) -> str:
    params = {key: value for key, value in query.items() if value not in (None, "")}
    href = f"{path}?{urlencode(params)}" if params else path
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def format_age(since: timedelta) -> str:
    """``2 d 3h 05m``, ``5h 12m``, ``7m 00s``: coarse enough to read at a glance."""
    days, rest = divmod(abs(since.total_seconds()), 86_400)
    if not days:
        return format_duration(rest)
    return f"{int(days)} d {format_duration(rest)}" if rest >= 60 else f"{int(days)} d"


def _size(size: object) -> str:
    return format_bytes(size) if isinstance(size, int) else "-"


def inventory_age(last_inventory: str | None, now: datetime) -> str:
    """How old the vault's inventory is; Glacier refreshes it about once a day."""
    if not last_inventory:
        return "no inventory yet"
    try:
        return f"{format_age(now - parse_glacier_timestamp(last_inventory))} ago"
    except ValueError:
        return f"unreadable date {last_inventory!r}"


def _expiry(job: JobDescription, now: datetime) -> str:
    left = output_expires_in(job, now)
    if left is None:
        return ""
    if left.total_seconds() <= 0:
        return f'<span class="expired">24 h passed {escape(format_age(left))} ago: may be gone</span>'
    return f"at least {escape(format_age(left))}"


def _counts(counts: dict[str, str] | str) -> str:
    if isinstance(counts, str):  # the message of a failed read
        return f'<td colspan="3">{_error(counts)}</td>'
    return "".join(f'<td class="num {status}">{escape(counts[status])}</td>' for status in STATUS_CODES)


def _migration_cell(status: MigrationStatus) -> str:
    latest = status.latest
    problems = "".join(_error(problem) for problem in status.problems)
    if latest is None:
        return problems or '<span class="note">no report</span>'
    total = latest.inventory.bytes or 1
    return (
        f"{escape(format_bytes(latest.in_s3_bytes))} of {escape(format_bytes(latest.inventory.bytes))} "
        f"({100 * latest.in_s3_bytes / total:.0f}%)" + problems
    )


def overview_page(connections: Iterable[dict[str, Any]], now: datetime | None = None) -> str:
    """Every ``aws`` connection, its vaults, their jobs by status, inventory age and migration.

    ``connections`` holds per connection ``conn_id`` and either ``error`` (a message) or
    ``vaults``: dicts with ``vault`` (ListVaults entry), ``counts`` and ``migration``.
    """
    now = now or datetime.now(timezone.utc)
    sections = []
    for connection in connections:
        conn_id = connection["conn_id"]
        heading = f"<h2>Connection <code>{escape(conn_id)}</code></h2>"
        if connection.get("error"):
            sections.append(heading + _error(connection["error"]))
            continue
        rows = []
        for entry in connection["vaults"]:
            vault = entry["vault"]
            name = vault.get("VaultName", "")
            rows.append(
                "<tr>"
                f'<td class="nowrap">{_link("vault", name, conn_id=conn_id, vault=name)}</td>'
                f'<td class="num">{escape(str(vault.get("NumberOfArchives", "-")))}</td>'
                f'<td class="num">{escape(_size(vault.get("SizeInBytes")))}</td>'
                f'<td class="nowrap">{escape(inventory_age(vault.get("LastInventoryDate"), now))}</td>'
                f"{_counts(entry['counts'])}<td>{_migration_cell(entry['migration'])}</td></tr>"
            )
        if not rows:
            sections.append(heading + '<p class="note">No vaults in this account and region.</p>')
            continue
        more = (
            f"<p>{_link('', 'more vaults', conn_id=conn_id, vault_marker=connection['next_marker'])}</p>"
            if connection.get("next_marker")
            else ""
        )
        sections.append(
            heading + "<table><thead><tr><th>Vault</th><th>Archives</th><th>Size</th><th>Inventory</th>"
            '<th class="InProgress">InProgress</th><th class="Succeeded">Succeeded</th>'
            '<th class="Failed">Failed</th><th>Migration to S3</th></tr></thead><tbody>'
            + "".join(rows)
            + "</tbody></table>"
            + more
        )
    if not sections:
        sections.append(
            '<p class="note">No <code>aws</code> connection found. Add one (Admin &gt; Connections) '
            "or list ids in <code>[glacier_select] ui_aws_conn_ids</code>.</p>"
        )
    body = (
        "<h1>Glacier vaults</h1>"
        '<div class="sub">Read-only: jobs by status (counts from the first ListJobs page of each '
        "status, so 50+ means more), inventory age from ListVaults, migration progress from the "
        f"migration DAG's reports. {_link('', 'Refresh')}</div>" + "".join(sections)
    )
    return _page("Glacier vaults", body)


def _job_rows(jobs: list[JobDescription], now: datetime) -> str:
    rows = []
    for job in jobs:
        target = job.archive_id or (job.job_type or "")
        rows.append(
            f'<tr data-job-id="{escape(job.job_id)}">'
            f'<td><code title="{escape(job.job_id)}">{escape(job.job_id[:16])}…</code></td>'
            f"<td>{escape(job.job_type or job.action or '-')}</td>"
            f"<td>{escape(job.tier or '-')}</td>"
            f'<td class="{escape(job.status_code or "")}">{escape(job.status_code or "-")}</td>'
            f"<td>{escape(job.creation_date or '-')}</td>"
            f"<td>{escape(job.completion_date or '')}</td>"
            f"<td>{_expiry(job, now)}</td>"
            f'<td class="note">{escape(job.status_message or "")}</td>'
            f'<td class="note" title="{escape(target)}">{escape(job.job_description or "")}</td></tr>'
        )
    return "".join(rows)


def _vault_heading(conn_id: str, vault_name: str, statuscode: str | None) -> str:
    return (
        f'<div class="sub">{_link("./", "All vaults")} · connection <code>{escape(conn_id)}</code> · '
        f"{_link('vault', 'Refresh', conn_id=conn_id, vault=vault_name, status=statuscode)}</div>"
        f"<h1>Vault {escape(vault_name)}</h1>"
    )


def vault_error_page(conn_id: str, vault_name: str, message: str) -> str:
    """A vault that could not be described: no such vault, a bad name, or no answer from AWS."""
    return _page(f"Glacier vault {vault_name}", _vault_heading(conn_id, vault_name, None) + _error(message))


def vault_page(
    conn_id: str,
    vault_name: str,
    *,
    vault: dict[str, Any],
    counts: dict[str, str] | str,
    jobs: JobPage | str,
    migration: MigrationStatus,
    statuscode: str | None,
    marker: str | None,
    now: datetime | None = None,
) -> str:
    """One vault: its description, job counts, one page of jobs (``marker`` continues), migration."""
    now = now or datetime.now(timezone.utc)
    parts = [_vault_heading(conn_id, vault_name, statuscode)]
    parts.append(
        "<table><tbody>"
        f'<tr><th>Archives</th><td class="num">{escape(str(vault.get("NumberOfArchives", "-")))}'
        "</td></tr>"
        f'<tr><th>Size</th><td class="num">{escape(_size(vault.get("SizeInBytes")))}</td></tr>'
        f"<tr><th>Inventory</th><td>{escape(inventory_age(vault.get('LastInventoryDate'), now))} "
        '<span class="note">(Glacier refreshes it about once a day)</span></td></tr>'
        "</tbody></table>"
    )
    parts.append("<h2>Jobs</h2>")
    if isinstance(counts, str):
        parts.append(_error(counts))
    else:
        filters = [
            _link("vault", f"{status} {counts[status]}", conn_id=conn_id, vault=vault_name, status=status)
            for status in STATUS_CODES
        ]
        parts.append(
            f'<p class="counts">{_link("vault", "All", conn_id=conn_id, vault=vault_name)} · '
            + " · ".join(filters)
            + "</p>"
        )
    if isinstance(jobs, str):
        parts.append(_error(jobs))
    else:
        shown = f"{statuscode} jobs" if statuscode else "jobs"
        parts.append(
            f'<p class="note">{len(jobs.jobs)} {escape(shown)} on this page'
            f"{' (continued)' if marker else ''}; output stays downloadable for at least 24 h after "
            "CompletionDate.</p>"
        )
        if jobs.jobs:
            parts.append(
                '<table id="jobs"><thead><tr><th>Job</th><th>Type</th><th>Tier</th><th>Status</th>'
                "<th>Created</th><th>Completed</th><th>Output available for</th><th>Message</th>"
                "<th>Description</th></tr></thead><tbody>" + _job_rows(jobs.jobs, now) + "</tbody></table>"
            )
        pager = (
            [_link("vault", "First page", conn_id=conn_id, vault=vault_name, status=statuscode)]
            if marker
            else []
        )
        if jobs.next_marker:
            pager.append(
                _link(
                    "vault",
                    "Next page",
                    conn_id=conn_id,
                    vault=vault_name,
                    status=statuscode,
                    marker=jobs.next_marker,
                )
            )
        if pager:
            parts.append(f'<nav class="pager">{"".join(pager)}</nav>')
    parts.append("<h2>Migration to S3</h2>" + _migration_section(migration))
    return _page(f"Glacier vault {vault_name}", "".join(parts))


def _migration_section(status: MigrationStatus) -> str:
    parts = [_error(problem) for problem in status.problems]
    latest = status.latest
    if latest is None:
        if not status.problems:
            parts.append(
                '<p class="note">No migration report for this vault. Reports are read from '
                "<code>[glacier_select] ui_migration_reports</code> (the migration DAG's "
                "<code>s3://bucket/prefix</code>).</p>"
            )
        return "".join(parts)
    days = latest.days_left
    days_text = (
        "done"
        if days == 0
        else "unknown (the last run planned nothing)"
        if days is None
        else f"{days} day(s) at the last run's {format_bytes(latest.planned_bytes)} per day"
    )
    url = status.reports[0][0]
    parts.append(
        f'<table class="migration"><tbody>'
        f"<tr><th>Latest run</th><td><code>{escape(latest.run_id)}</code> "
        f'<span class="note">{escape(url)}</span></td></tr>'
        f"<tr><th>Copied / planned this run</th><td>{escape(format_bytes(latest.copied.bytes))} of "
        f"{escape(format_bytes(latest.planned_bytes))} ({latest.copied.archives} archive(s))</td></tr>"
        f'<tr><th>Archives failed</th><td class="{"Failed" if latest.failed.archives else ""}">'
        f"{latest.failed.archives} ({escape(format_bytes(latest.failed.bytes))})</td></tr>"
        f"<tr><th>In S3 (verified)</th><td>{escape(format_bytes(latest.in_s3_bytes))} of "
        f"{escape(format_bytes(latest.inventory.bytes))}</td></tr>"
        f"<tr><th>Days left</th><td>{escape(days_text)}</td></tr>"
        "</tbody></table>"
    )
    parts.append(progress_bar(latest))
    parts.append(
        f"<h3>Bytes in S3 after each of the last {len(status.reports)} run(s)</h3>"
        + history_chart([report for _, report in status.reports])
    )
    return "".join(parts)


def error_page(title: str, message: str, status_code: int) -> str:
    return _page(title, f"<h1>{escape(title)}</h1>{_error(message)}<p class='note'>HTTP {status_code}</p>")
