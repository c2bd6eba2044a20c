"""What the Glacier view reads from AWS: vaults, one page of jobs, job counts, migration reports.

Every read here is bounded, so a page costs a fixed number of requests however large the
vault: ListJobs is asked for one page (at most 50 jobs) per view, and the next page is a
link carrying Glacier's ``Marker``; counts by status come from one page per status and
say "50+" rather than walk a listing of 10,000 jobs. Only List*/Describe* and S3 reads are
made: the view never acts on AWS.

Failures become :class:`ViewError` with a sentence naming the connection, the vault and
what AWS (or the network) answered, so the page shows that and never a traceback.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.exceptions
from botocore.config import Config

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.hooks.glacier import LIST_JOBS_PAGE_SIZE_MAX, GlacierJobsHook
from airflow_glacier_select.inventory import parse_glacier_timestamp
from airflow_glacier_select.job_description import STATUS_CODES
from airflow_glacier_select.job_rules import check_one_of
from airflow_glacier_select.jobs import JobDescription, validate_vault_name
from airflow_glacier_select.ui.reports import (
    REPORT_NAME,
    MigrationReport,
    ReportError,
    parse_report,
    report_prefix,
)

__all__ = [
    "OUTPUT_RETENTION",
    "JobPage",
    "MigrationStatus",
    "VaultReader",
    "ViewError",
    "aws_connection_ids",
    "migration_status",
    "output_expires_in",
    "report_locations",
]

OUTPUT_RETENTION = timedelta(hours=24)
"""Glacier keeps a job's output for at least 24 hours after its CompletionDate
(Glacier Developer Guide, "Get Job Output (GET output)")."""

HISTORY_RUNS = 7
"""Reports read per vault for the chart: the newest runs only, whatever the vault's age."""

# A page must answer quickly even when AWS cannot be reached: short timeouts, one retry.
_UI_CLIENT_CONFIG = Config(
    connect_timeout=3, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 2}
)
_CONFIG_SECTION = "glacier_select"


class ViewError(Exception):
    """Something the page shows as a message: what was asked, of which connection, and the answer.

    ``status_code`` is the HTTP status a page made only of this message answers with: 400
    for a request that broke a Glacier rule (nothing was sent), 404 when Glacier answered
    ResourceNotFoundException, 502 when AWS could not be asked or refused otherwise.
    """

    def __init__(self, message: str, status_code: int = 502) -> None:
        super().__init__(message)
        self.status_code = status_code


def _describe(error: BaseException) -> str:
    if isinstance(error, botocore.exceptions.ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'error')}: {details.get('Message') or 'no message'}"
    if isinstance(error, botocore.exceptions.EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url', 'the endpoint')}"
    if isinstance(error, botocore.exceptions.NoCredentialsError):
        return "no AWS credentials found for this connection"
    return f"{type(error).__name__}: {error}"


@contextmanager
def _asking(what: str, conn_id: str) -> Iterator[None]:
    """Turn an AWS, network, connection-lookup or validation failure into a :class:`ViewError`."""
    try:
        yield
    except ViewError:
        raise
    except GlacierValidationError as error:
        raise ViewError(f"{what}: {error}", 400) from error
    except Exception as error:  # an unreachable host, a missing connection, refused credentials ...
        not_found = (
            isinstance(error, botocore.exceptions.ClientError)
            and error.response.get("Error", {}).get("Code") == "ResourceNotFoundException"
        )
        message = f"{what} with connection {conn_id!r} failed: {_describe(error)}"
        raise ViewError(message, 404 if not_found else 502) from error


def aws_connection_ids() -> list[str]:
    """Ids of the ``aws`` connections the view shows: the metadata database's, the environment's
    (``AIRFLOW_CONN_*``), and any listed in ``[glacier_select] ui_aws_conn_ids`` (for secrets
    backends, which cannot be enumerated)."""
    from airflow.configuration import conf

    found = {
        conn_id.strip()
        for conn_id in conf.get(_CONFIG_SECTION, "ui_aws_conn_ids", fallback="").split(",")
        if conn_id.strip()
    }
    found.update(_environment_connections())
    found.update(_database_connections())
    return sorted(found)


def _environment_connections() -> set[str]:
    ids = set()
    for name, value in os.environ.items():
        if not name.startswith("AIRFLOW_CONN_"):
            continue
        text = value.strip()
        if text.startswith("{"):
            try:
                conn_type = json.loads(text).get("conn_type")
            except (ValueError, AttributeError):
                continue
        else:
            conn_type = text.partition("://")[0].replace("-", "_")
        if conn_type == "aws":
            ids.add(name[len("AIRFLOW_CONN_") :].lower())
    return ids


def _database_connections() -> set[str]:
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with create_session() as session:
            return set(session.scalars(select(Connection.conn_id).where(Connection.conn_type == "aws")))
    except SQLAlchemyError:  # no metadata database here: the environment's connections still show
        return set()


class VaultReader:
    """The reads of one page for one connection, sharing one Glacier and one S3 client.

    Building a client (connection lookup, credentials, botocore's service model) costs far
    more than a ListJobs request on a near endpoint, so a page builds each at most once.
    """

    def __init__(self, conn_id: str) -> None:
        self.conn_id = conn_id
        self._lock = threading.Lock()  # the overview reads vaults in parallel; clients are thread-safe
        self._hook: GlacierJobsHook | None = None
        self._glacier: Any = None
        self._s3: Any = None

    def _glacier_client(self) -> tuple[GlacierJobsHook, Any]:
        with self._lock:
            if self._hook is None:
                hook = GlacierJobsHook(aws_conn_id=self.conn_id, config=_UI_CLIENT_CONFIG)
                self._glacier = hook.get_conn()
                self._hook = hook
            return self._hook, self._glacier

    def s3_client(self) -> Any:
        with self._lock:
            if self._s3 is None:
                from airflow.providers.amazon.aws.hooks.s3 import S3Hook

                self._s3 = S3Hook(aws_conn_id=self.conn_id, config=_UI_CLIENT_CONFIG).get_conn()
            return self._s3

    def list_vaults(self, marker: str | None = None, limit: int = 50) -> VaultListing:
        """One ListVaults page of the connection's account and region."""
        with _asking("Listing vaults", self.conn_id):
            hook, glacier = self._glacier_client()
            extra = {"marker": marker} if marker else {}
            response = glacier.list_vaults(accountId=hook.account_id, limit=str(limit), **extra)
        return VaultListing(response.get("VaultList", []), response.get("Marker") or None)

    def describe_vault(self, vault_name: str) -> dict[str, Any]:
        """DescribeVault: archive count, size and LastInventoryDate as Glacier last computed them."""
        with _asking(f"Describing vault {vault_name!r}", self.conn_id):
            vault_name = validate_vault_name(vault_name)
            hook, glacier = self._glacier_client()
            response = glacier.describe_vault(accountId=hook.account_id, vaultName=vault_name)
        return {key: value for key, value in response.items() if key != "ResponseMetadata"}

    def job_page(self, vault_name: str, marker: str | None = None, statuscode: str | None = None) -> JobPage:
        """One ListJobs page (at most 50 jobs) and the marker of the next one.

        A single request whatever the vault holds. (The hook's ``iter_job_pages`` keeps the
        marker inside boto3's paginator, and a page view must hand it to the next request.)
        """
        with _asking(f"Listing jobs of vault {vault_name!r}", self.conn_id):
            vault_name = validate_vault_name(vault_name)
            filters = (
                {"statuscode": check_one_of("statuscode", statuscode, STATUS_CODES)} if statuscode else {}
            )
            if marker:
                filters["marker"] = marker
            hook, glacier = self._glacier_client()
            response = glacier.list_jobs(
                accountId=hook.account_id, vaultName=vault_name, limit=str(LIST_JOBS_PAGE_SIZE_MAX), **filters
            )
            jobs = [JobDescription.from_response(job) for job in response.get("JobList", [])]
        return JobPage(jobs, response.get("Marker") or None)

    def status_counts(self, vault_name: str) -> dict[str, str]:
        """Jobs per status, from one ListJobs page per status: "50+" when there is more than a page."""
        counts = {}
        for status in STATUS_CODES:
            page = self.job_page(vault_name, statuscode=status)
            counts[status] = f"{len(page.jobs)}+" if page.next_marker else str(len(page.jobs))
        return counts


@dataclass(frozen=True)
class VaultListing:
    vaults: list[dict[str, Any]]
    next_marker: str | None


@dataclass(frozen=True)
class JobPage:
    jobs: list[JobDescription]
    next_marker: str | None


def output_expires_in(job: JobDescription, now: datetime | None = None) -> timedelta | None:
    """How long a succeeded job's output is still guaranteed; None for jobs without output yet.

    Negative once the 24 hours have passed: Glacier may still serve it, or answer
    ResourceNotFoundException. Never more than 24 hours, even when this server's clock is
    behind Glacier's.
    """
    if not job.succeeded or not job.completion_date:
        return None
    try:
        completed = parse_glacier_timestamp(job.completion_date)
    except ValueError:
        return None
    return min(completed + OUTPUT_RETENTION - (now or datetime.now(timezone.utc)), OUTPUT_RETENTION)


# -- migration reports ---------------------------------------------------------------------


def report_locations() -> list[tuple[str, str]]:
    """``(bucket, prefix)`` pairs from ``[glacier_select] ui_migration_reports``: the migration
    DAG's ``s3://<bucket>/<prefix>``, comma-separated."""
    from airflow.configuration import conf

    locations = []
    for entry in conf.get(_CONFIG_SECTION, "ui_migration_reports", fallback="").split(","):
        entry = entry.strip()
        if entry.startswith("s3://"):
            bucket, _, prefix = entry[len("s3://") :].partition("/")
            if bucket:
                locations.append((bucket, prefix.strip("/")))
    return locations


@dataclass
class MigrationStatus:
    """The vault's reports, newest first, and a message for each location that could not be read."""

    reports: list[tuple[str, MigrationReport]] = field(default_factory=list)  # (s3 url, report)
    problems: list[str] = field(default_factory=list)

    @property
    def latest(self) -> MigrationReport | None:
        return self.reports[0][1] if self.reports else None


def migration_status(reader: VaultReader, vault_name: str, history: int = HISTORY_RUNS) -> MigrationStatus:
    """The newest ``history`` reports of ``vault_name`` across every configured location.

    The listing reads keys only (1,000 runs per request), so the newest run is found however
    long the migration has been going; only the ``history`` newest bodies are read.
    """
    status = MigrationStatus()
    found: list[tuple[Any, str, str]] = []  # (LastModified, key, bucket)
    for bucket, prefix in report_locations():
        where = f"s3://{bucket}/{report_prefix(prefix, vault_name)}"
        try:
            with _asking(f"Listing migration reports under {where}", reader.conn_id):
                pages = (
                    reader.s3_client()
                    .get_paginator("list_objects_v2")
                    .paginate(Bucket=bucket, Prefix=report_prefix(prefix, vault_name))
                )
                found += [
                    (item["LastModified"], item["Key"], bucket)
                    for page in pages
                    for item in page.get("Contents", [])
                    if item["Key"].endswith("/" + REPORT_NAME)
                ]
        except ViewError as error:
            status.problems.append(str(error))
    # Newest first; runs written within the same second fall back to their run id order.
    found.sort(reverse=True)
    for _, key, bucket in found[:history]:
        url = f"s3://{bucket}/{key}"
        try:
            with _asking(f"Reading {url}", reader.conn_id):
                body = reader.s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
            status.reports.append((url, parse_report(body, vault_name)))
        except ReportError as error:
            status.problems.append(f"{url} is not a migration report: {error}")
        except ViewError as error:
            status.problems.append(str(error))
    return status
