"""Vault migration reports, as ``example_glacier_vault_migration`` writes them, read and checked.

Each run of the migration DAG writes ``<prefix>/_migration/<vault>/<run id>/report.json``
with counts of archives and bytes: the vault's inventory, what this run copied, what
earlier runs had already copied (``skipped``: verified copies found in S3), what failed
and what the byte budget left for later runs. The view shows progress from the newest
report and a small history from the ones before it.

A report is data from S3, so anything can be in it: :func:`parse_report` accepts only the
shape the DAG writes and says which field broke which rule, so the page can show that
instead of a traceback. Pure module: no Airflow, no boto3.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

__all__ = [
    "REPORT_NAME",
    "ArchiveCount",
    "MigrationReport",
    "ReportError",
    "parse_report",
    "report_prefix",
]

REPORT_NAME = "report.json"
_COUNTS = ("inventory", "copied", "skipped", "failed", "left_for_later_runs")


def report_prefix(prefix: str, vault_name: str) -> str:
    """Where the DAG's reports for ``vault_name`` live under ``prefix`` (one folder per run)."""
    return (
        f"{prefix.strip('/')}/_migration/{vault_name}/" if prefix.strip("/") else f"_migration/{vault_name}/"
    )


class ReportError(ValueError):
    """A report that is not what the migration DAG writes: names the field, the value and the rule."""

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        shown = repr(value)
        super().__init__(f"{field}: {shown[:80] + '...' if len(shown) > 80 else shown} {rule}")


@dataclass(frozen=True)
class ArchiveCount:
    archives: int
    bytes: int


@dataclass(frozen=True)
class MigrationReport:
    """One run's report; the properties turn its counts into the progress the page shows."""

    run_id: str
    vault_name: str
    inventory: ArchiveCount
    copied: ArchiveCount
    skipped: ArchiveCount
    failed: ArchiveCount
    left_for_later_runs: ArchiveCount

    @property
    def planned_bytes(self) -> int:
        """Bytes this run set out to copy: what the daily budget let in."""
        return self.copied.bytes + self.failed.bytes

    @property
    def in_s3_bytes(self) -> int:
        """Bytes with a verified copy in S3 after this run: earlier runs' (skipped) plus this run's."""
        return self.skipped.bytes + self.copied.bytes

    @property
    def remaining_bytes(self) -> int:
        """Bytes still to copy: left for later runs, plus this run's failures, which a later run retries."""
        return self.left_for_later_runs.bytes + self.failed.bytes

    @property
    def days_left(self) -> int | None:
        """Daily runs still needed at this run's pace (its planned bytes per day); None when unknown.

        The DAG plans as many bytes as its budget allows, so a run's planned bytes are the
        budget as spent; 0 means the vault is done.
        """
        if self.remaining_bytes == 0:
            return 0
        if self.planned_bytes == 0:
            return None
        return math.ceil(self.remaining_bytes / self.planned_bytes)


def _count(document: dict[str, object], name: str) -> ArchiveCount:
    value = document.get(name)
    if not isinstance(value, dict):
        raise ReportError(name, value, "must be an object with 'archives' and 'bytes'")
    numbers = []
    for member in ("archives", "bytes"):
        number = value.get(member)
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise ReportError(f"{name}.{member}", number, "must be a whole number >= 0")
        numbers.append(number)
    return ArchiveCount(*numbers)


def parse_report(body: bytes | str, vault_name: str) -> MigrationReport:
    """The report in ``body``; :class:`ReportError` when it is not a report of ``vault_name``."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReportError("report", body[:40], f"is not JSON ({error})") from None
    if not isinstance(document, dict):
        raise ReportError("report", document, "must be a JSON object")
    for name in ("run_id", "vault_name"):
        if not isinstance(document.get(name), str) or not document[name]:
            raise ReportError(name, document.get(name), "must be a non-empty string")
    if document["vault_name"] != vault_name:
        raise ReportError(
            "vault_name", document["vault_name"], f"must be {vault_name!r}, the vault it is filed under"
        )
    counts = {name: _count(document, name) for name in _COUNTS}
    return MigrationReport(run_id=document["run_id"], vault_name=document["vault_name"], **counts)
