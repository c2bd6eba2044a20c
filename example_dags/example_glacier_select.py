"""Glacier Select: query a CSV archive in place, then process the result in S3.

Instead of restoring a whole CSV archive to read a few rows of it, a ``select`` job
runs SQL over the archive inside Glacier and writes only the matching records to S3.

Tasks:

1. ``select_orders`` starts the select job (``GlacierSelectOperator``) and waits for it
   in the triggerer (``deferrable=True``), so no worker slot is held for the minutes
   (Expedited) to hours (Standard, Bulk) the job takes.
2. ``collect_results`` (``GlacierSelectResultsOperator``) reads
   ``<results_prefix>/<job id>/``: the job succeeded only if ``result_manifest.txt`` is
   there and ``error_manifest.txt`` is not; it returns the result object keys.
3. ``write_report`` streams those objects, totals orders, units and revenue per region,
   and writes a small JSON report next to them.

Configure it through the DAG params (trigger with a config to override them). The
query's first three columns must be region, quantity and unit price, which is what the
report adds up; its header (``FileHeaderInfo=USE``) lets the SQL name the columns.

Connections: everything goes through the ``aws`` connection named by ``aws_conn_id``,
so the DAG runs unchanged against AWS or against the local Glacier endpoint (an
``endpoint_url`` in the connection's extra). ``GLACIER_EXAMPLE_POLL_SECONDS`` (default
300) sets how often the job's status is checked.
"""

from __future__ import annotations

import csv
import json
import os
from datetime import datetime
from decimal import Decimal
from typing import Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import DAG, Param, task

from airflow_glacier_select.operators.glacier import GlacierSelectOperator
from airflow_glacier_select.operators.select_results import GlacierSelectResultsOperator

POLL_SECONDS = float(os.environ.get("GLACIER_EXAMPLE_POLL_SECONDS", "300"))

ORDERS_QUERY = (
    "SELECT s.region, s.quantity, s.unit_price FROM archive s "
    "WHERE s.status = 'shipped' AND CAST(s.quantity AS INT) >= 2"
)

with DAG(
    dag_id="example_glacier_select",
    description="Glacier Select on a CSV archive, then a report built from the results in S3",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["example", "glacier"],
    doc_md=__doc__,
    default_args={
        "aws_conn_id": "{{ params.aws_conn_id }}",
        "vault_name": "{{ params.vault_name }}",
        "deferrable": True,
        "poll_interval": POLL_SECONDS,
    },
    params={
        "aws_conn_id": Param("aws_default", type="string", description="The aws connection to use"),
        "vault_name": Param("sales-archive", type="string", description="Vault holding the CSV archive"),
        "archive_id": Param("", type="string", description="The CSV archive to query"),
        "expression": Param(ORDERS_QUERY, type="string", description="SQL: region, quantity, unit price"),
        "tier": Param("Standard", enum=["Expedited", "Standard", "Bulk"], description="Retrieval tier"),
        "bucket": Param("my-glacier-results", type="string", description="Bucket for results and report"),
        "results_prefix": Param("select/orders", type="string", description="Key prefix of the results"),
    },
) as dag:
    select_orders = GlacierSelectOperator(
        task_id="select_orders",
        archive_id="{{ params.archive_id }}",
        expression="{{ params.expression }}",
        tier="{{ params.tier }}",
        input_file_header_info="USE",
        output_bucket="{{ params.bucket }}",
        output_prefix="{{ params.results_prefix }}",
    )

    collect_results = GlacierSelectResultsOperator(task_id="collect_results", job_id=select_orders.output)

    @task(multiple_outputs=False)  # one XCom: the report, not one per key
    def write_report(results: dict[str, Any], **context: Any) -> dict[str, Any]:
        """Total the selected orders per region, one result line at a time, and store the report."""
        s3 = S3Hook(aws_conn_id=context["params"]["aws_conn_id"]).get_conn()
        regions: dict[str, dict[str, Any]] = {}
        records = 0
        for key in results["result_keys"]:
            body = s3.get_object(Bucket=results["bucket"], Key=key)["Body"]
            lines = (line.decode() for line in body.iter_lines() if line)
            for region, quantity, unit_price, *_ in csv.reader(lines):
                totals = regions.setdefault(region, {"orders": 0, "units": 0, "revenue": Decimal(0)})
                totals["orders"] += 1
                totals["units"] += int(quantity)
                totals["revenue"] += int(quantity) * Decimal(unit_price)
                records += 1
        report = {
            "job_id": results["job_id"],
            "records": records,
            "regions": {
                region: {**totals, "revenue": str(totals["revenue"])}
                for region, totals in sorted(regions.items())
            },
        }
        report_key = f"{results['prefix']}report.json"
        s3.put_object(
            Bucket=results["bucket"],
            Key=report_key,
            Body=json.dumps(report, indent=2).encode(),
            ContentType="application/json",
        )
        return {**report, "report_uri": f"s3://{results['bucket']}/{report_key}"}

    write_report(collect_results.output)
