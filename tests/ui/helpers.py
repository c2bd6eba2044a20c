"""What the Glacier view reads, written straight into the local endpoint: migration reports where
the migration DAG writes them, and jobs in the endpoint's backend."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from airflow_glacier_select.testing.endpoint import LocalGlacierEndpoint

#: The view's ``[glacier_select] ui_migration_reports`` location in these tests.
REPORTS_BUCKET = "migration-reports"
REPORTS_PREFIX = "vaults"


def put_report(endpoint: LocalGlacierEndpoint, vault: str, run_id: str, body: bytes | dict[str, Any]) -> str:
    """Write a report where the migration DAG writes it; its S3 key."""
    s3 = endpoint.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=REPORTS_BUCKET)
    key = f"{REPORTS_PREFIX}/_migration/{vault}/{run_id}/report.json"
    s3.put_object(Bucket=REPORTS_BUCKET, Key=key, Body=body if isinstance(body, bytes) else json.dumps(body))
    return key


def seed_jobs(endpoint: LocalGlacierEndpoint, vault: str, count: int) -> list[str]:
    """``count`` InProgress Bulk archive retrievals, created in the endpoint's backend (the code
    InitiateJob ends in) rather than over HTTP, so thousands take moments."""
    from airflow_glacier_select.testing.backend import backend_for

    endpoint.set_tier_delay("Bulk", 86_400)
    archive_id = endpoint.put_archive(vault, b"archive for seeded jobs", "seeded")
    backend = backend_for(endpoint.account_id, "us-east-1")
    parameters = {"Type": "archive-retrieval", "ArchiveId": archive_id, "Tier": "Bulk"}
    return [backend.start_job(vault, parameters).job_id for _ in range(count)]
