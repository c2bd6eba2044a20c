"""The orders archive the Select example DAG queries, and where the example DAG files are.

Shared by the example-DAG tests that run under ``dag.test()`` and under real Airflow
processes, so both query the same rows.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


def orders() -> list[tuple[str, str, str, str]]:
    """300 (region, quantity, unit_price, status) rows with every region and status repeating."""
    regions, statuses = ("EU", "NA", "APAC"), ("shipped", "returned", "shipped", "cancelled", "shipped")
    return [
        (regions[n % 3], str(n % 5 + 1), f"{(n * 37) % 1000 / 10 + 1:.2f}", statuses[n % 5])
        for n in range(300)
    ]


def orders_csv(rows: list[tuple[str, str, str, str]]) -> bytes:
    """The rows as the CSV archive the example selects from, with a header line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("region", "quantity", "unit_price", "status"))
    writer.writerows(rows)
    return buffer.getvalue().encode()
