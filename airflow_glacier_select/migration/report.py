"""The migration report: what a run copied, skipped, failed and left, as ``report.json`` in S3.

The report is the migration's record for people (and for the Glacier page of the Airflow
UI): its keys are stable. It is built from plain dicts (the tasks' XCom values), so it can
be tested without Airflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["REPORT_NAME", "SKIPPED_NAME", "build_report", "report_prefix"]

REPORT_NAME = "report.json"
SKIPPED_NAME = "skipped.jsonl"


def report_prefix(prefix: str, vault_name: str, run_id: str) -> str:
    """Where a run's report and skipped list go: ``<prefix>/_migration/<vault>/<run id>/``."""
    return f"{prefix}/_migration/{vault_name}/{run_id}/"


def build_report(
    *,
    run_id: str,
    vault_name: str,
    destination: str,
    plan: Mapping[str, Any],
    planned: Iterable[Mapping[str, Any]],
    started: Iterable[Mapping[str, Any]],
    copies: Iterable[Mapping[str, Any]],
    sharded_copies: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """The report of one run.

    :param plan: the plan's figures (``MigrationPlan.to_dict()``).
    :param planned: the archives the plan chose for this run (``InventoryArchive.to_dict()``).
    :param started: one entry per archive whose retrieval was started or reused (with ``job_id``
        and ``reused_job``).
    :param copies: the copy results (``TransferResult.to_dict()``); an archive counts as copied
        only when its copy was verified, by a tree hash Glacier sent (or an existing copy
        verified against one): a ``size-only`` copy counts as failed.
    :param sharded_copies: the results of copies made as range shards, likewise.
    """
    started_by_archive = {entry["archive_id"]: entry for entry in started}
    sharded_jobs = {copy["job_id"] for copy in sharded_copies if copy.get("verified")}
    copies_by_job = {copy["job_id"]: copy for copy in copies}
    copies_by_job.update({copy["job_id"]: copy for copy in sharded_copies})
    copied: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for archive in planned:
        entry = dict(
            started_by_archive.get(archive["archive_id"], {**archive, "job_id": None, "reused_job": False})
        )
        copy = copies_by_job.get(entry["job_id"])
        if copy is not None and copy.get("verified"):
            copied.append(
                {
                    **entry,
                    "key": copy["key"],
                    "verification": copy.get("verification"),
                    "sharded": entry["job_id"] in sharded_jobs,
                }
            )
        else:
            failed.append(entry)
    entries = list(started_by_archive.values())
    return {
        "run_id": run_id,
        "vault_name": vault_name,
        "destination": destination,
        "inventory": plan["inventory"],
        "copied": _tally(copied),
        "copied_as_shards": _tally(e for e in copied if e["sharded"]),
        "skipped": plan["already_copied"],
        "failed": _tally(failed),
        "left_for_later_runs": plan["left_for_later"],
        "jobs_started": sum(not e["reused_job"] for e in entries),
        "jobs_reused": sum(bool(e["reused_job"]) for e in entries),
        "plan": {name: plan[name] for name in ("tier", "run_budget", "runs_needed", "to_move", "policy")},
        "copied_archives": copied,
        "failed_archives": failed,
    }


def _tally(entries: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    sizes = [entry["size"] for entry in entries]
    return {"archives": len(sizes), "bytes": sum(sizes)}
