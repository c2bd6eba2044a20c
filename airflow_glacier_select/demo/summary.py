"""The demo's closing table: one row per DAG run, then every check it made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from airflow_glacier_select.demo.observe import RunDelta
from airflow_glacier_select.demo.scenario import Check, DemoRun
from airflow_glacier_select.demo.standalone import RunResult
from airflow_glacier_select.s3_copy.progress import format_bytes

__all__ = ["RunOutcome", "render_summary"]

_COLUMNS = (
    "DAG run",
    "state",
    "Glacier jobs started",
    "waits in triggerer",
    "bytes to S3",
    "tree hashes verified",
    "S3 keys written",
    "wall time",
)


@dataclass
class RunOutcome:
    run: DemoRun
    result: RunResult
    delta: RunDelta
    checks: list[Check]
    waits_in_triggerer: int

    @property
    def ok(self) -> bool:
        return self.result.state == "success" and all(check.ok for check in self.checks)

    def wall_seconds(self) -> float | None:
        start, end = self.result.run.get("start_date"), self.result.run.get("end_date")
        if not start or not end:
            return None
        return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()

    def row(self) -> tuple[str, ...]:
        states = ", ".join(f"{count} {state}" for state, count in sorted(self.delta.job_states.items()))
        seconds = self.wall_seconds()
        return (
            self.run.label,
            self.result.state,
            f"{self.delta.jobs_started}" + (f" ({states})" if states else ""),
            str(self.waits_in_triggerer),
            format_bytes(self.delta.bytes_written),
            str(len(self.delta.verified)) if self.delta.verified else "-",
            str(len(self.delta.written)),
            f"{seconds:.0f} s" if seconds is not None else "-",
        )


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines


def render_summary(outcomes: Sequence[RunOutcome], total_seconds: float) -> str:
    """The table, the checks under it, and the verdict."""
    lines = _table([_COLUMNS, *(outcome.row() for outcome in outcomes)])
    for outcome in outcomes:
        lines.append("")
        lines.append(f"{outcome.run.label} ({outcome.run.dag_id}, run {outcome.run.run_id}):")
        if outcome.result.state != "success":
            failed = {
                task: state for task, state in outcome.result.task_states().items() if state != "success"
            }
            lines.append(f"  FAILED run, task states: {failed}")
        lines += [f"  {'ok    ' if check.ok else 'FAILED'} {check.text}" for check in outcome.checks]
    passed = all(outcome.ok for outcome in outcomes)
    lines.append("")
    lines.append(
        f"{'All runs succeeded and every check passed' if passed else 'FAILED'} (total {total_seconds:.0f} s)"
    )
    return "\n".join(lines)
