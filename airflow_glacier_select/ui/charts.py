"""Inline SVG charts of vault migration progress: no script, no CDN (Airflow may run air-gapped).

Pure functions from report counts to SVG text; every label is escaped.
"""

from __future__ import annotations

from html import escape

from airflow_glacier_select.s3_copy.progress import format_bytes
from airflow_glacier_select.ui.reports import MigrationReport

__all__ = ["history_chart", "progress_bar"]

_COLOURS = {"in S3": "#2e7d32", "copied this run": "#66bb6a", "failed": "#c62828", "left": "#cfd8dc"}


def progress_bar(report: MigrationReport, width: int = 480) -> str:
    """One stacked bar of the vault's bytes: in S3 before this run, copied by it, failed, left."""
    parts = [
        ("in S3", report.skipped.bytes),
        ("copied this run", report.copied.bytes),
        ("failed", report.failed.bytes),
        ("left", report.left_for_later_runs.bytes),
    ]
    total = sum(size for _, size in parts) or 1
    x = 0.0
    rects = []
    for label, size in parts:
        w = width * size / total
        if w > 0:
            rects.append(
                f'<rect x="{x:.1f}" y="0" width="{w:.1f}" height="18" fill="{_COLOURS[label]}">'
                f"<title>{escape(label)}: {escape(format_bytes(size))}</title></rect>"
            )
        x += w
    legend = "".join(
        f'<rect x="{i * 120}" y="26" width="10" height="10" fill="{_COLOURS[label]}"/>'
        f'<text x="{i * 120 + 14}" y="35" font-size="11">{escape(label)}</text>'
        for i, (label, _) in enumerate(parts)
    )
    return (
        f'<svg class="chart" role="img" aria-label="migration progress" width="{width}" height="40" '
        f'viewBox="0 0 {width} 40" xmlns="http://www.w3.org/2000/svg">{"".join(rects)}{legend}</svg>'
    )


def _run_label(run_id: str) -> str:
    """``scheduled__2026-11-21T00:00:00+00:00`` -> ``2026-11-21``; other run ids shortened."""
    _, _, rest = run_id.partition("__")
    return (rest or run_id)[:10]


def history_chart(reports: list[MigrationReport], width: int = 480, height: int = 140) -> str:
    """Bytes in S3 after each run (oldest left, percent of the vault above each bar), against the
    vault's inventory size (dashed line)."""
    if not reports:
        return ""
    runs = list(reversed(reports))
    top, bottom = 18, height - 18  # room for the vault-size label above and run labels below
    largest = max(max(r.inventory.bytes, r.in_s3_bytes) for r in runs) or 1
    slot = width / len(runs)
    bar = min(slot * 0.7, 60)
    parts = []
    for i, report in enumerate(runs):
        h = (bottom - top) * report.in_s3_bytes / largest
        centre = i * slot + slot / 2
        share = 100 * report.in_s3_bytes / (report.inventory.bytes or 1)
        parts.append(
            f'<rect x="{centre - bar / 2:.1f}" y="{bottom - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
            f'fill="{_COLOURS["in S3"]}"><title>{escape(report.run_id)}: '
            f"{escape(format_bytes(report.in_s3_bytes))} of {escape(format_bytes(report.inventory.bytes))} "
            f"in S3</title></rect>"
            f'<text x="{centre:.1f}" y="{bottom - h - 3:.1f}" font-size="10" text-anchor="middle">'
            f"{share:.0f}%</text>"
            f'<text x="{centre:.1f}" y="{height - 4}" font-size="10" text-anchor="middle">'
            f"{escape(_run_label(report.run_id))}</text>"
        )
    inventory_y = bottom - (bottom - top) * runs[-1].inventory.bytes / largest
    return (
        f'<svg class="chart" role="img" aria-label="bytes in S3 per run" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="0" x2="{width}" y1="{inventory_y:.1f}" y2="{inventory_y:.1f}" stroke="#455a64" '
        f'stroke-dasharray="4 3"/><text x="{width - 4}" y="{inventory_y - 4:.1f}" font-size="11" '
        f'text-anchor="end">vault size {escape(format_bytes(runs[-1].inventory.bytes))}</text>'
        f"{''.join(parts)}</svg>"
    )
