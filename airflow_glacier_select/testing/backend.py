"""The local endpoint's Glacier backend: moto's, extended with the service's documented behaviour.

moto builds its Glacier app from ``moto.glacier.models.glacier_backends.backend`` and
the backend's URL module; :func:`install` points both at this package before the first
request. One backend exists per (account, region); the account identifies the endpoint
(see :mod:`~airflow_glacier_select.testing.state`), whose lock serialises every change.

Jobs complete lazily: whenever a job is looked at, one whose tier delay has passed is
completed there and then (its output written, its Select run), so no timer thread is
needed and a test that never looks at a job never pays for it.
"""

from __future__ import annotations

import copy
import hashlib
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from moto.glacier import models as moto_glacier_models
from moto.glacier import urls as moto_glacier_urls
from moto.glacier.models import GlacierBackend

from airflow_glacier_select.testing import notifications
from airflow_glacier_select.testing.errors import ServiceError, invalid, missing, not_found
from airflow_glacier_select.testing.inventory_output import decode_marker, render_inventory
from airflow_glacier_select.testing.models import (
    Archive,
    JobOutput,
    LocalJob,
    LocalVault,
    MultipartUpload,
    Part,
    new_id,
    utcnow,
)
from airflow_glacier_select.testing.retrieval_policy import DEFAULT_POLICY, check_retrieval_policy
from airflow_glacier_select.testing.rules import check_description, check_vault_name, validate_job_parameters
from airflow_glacier_select.testing.state import EndpointState, state_for_account
from airflow_glacier_select.testing.storage import MIB, StoredBody, tree_hash_of_leaves, write_at

__all__ = [
    "LocalGlacierBackend",
    "backend_for",
    "backends_of",
    "forget_account",
    "install",
    "output_prefix",
    "page",
]

T = TypeVar("T")
SelectRunner = Callable[["LocalGlacierBackend", LocalJob], "str | None"]


def page(
    items: Sequence[T], key: Callable[[T], str], limit: str | None, marker: str | None, most: int
) -> tuple[list[T], str | None]:
    """One page of a listing: ``limit`` items (1..most, default most) from the one ``marker`` names."""
    size = most
    if limit is not None:
        if not limit.isdigit() or not 1 <= int(limit) <= most:
            raise invalid(f"Invalid limit: {limit!r}; must be an integer from 1 to {most}")
        size = int(limit)
    start = 0
    if marker is not None:
        keys = [key(item) for item in items]
        if marker not in keys:
            raise invalid(f"Invalid marker: {marker!r}")
        start = keys.index(marker)
    chosen = list(items[start : start + size])
    rest = items[start + size : start + size + 1]
    return chosen, key(rest[0]) if rest else None


class LocalGlacierBackend(GlacierBackend):
    """Vaults, archives, uploads and jobs of one endpoint in one region."""

    select_runner: SelectRunner | None = None

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.state: EndpointState = state_for_account(account_id)
        self.vaults: dict[str, LocalVault] = {}  # type: ignore[assignment]
        self.retrieval_policy: dict[str, Any] = copy.deepcopy(dict(DEFAULT_POLICY))

    @property
    def _url_module(self) -> types.ModuleType:  # type: ignore[override]
        from airflow_glacier_select.testing import routes

        return routes

    # vaults ---------------------------------------------------------------------------

    def describe_vault(self, vault_name: str) -> LocalVault:
        vault = self.vaults.get(vault_name)
        if vault is None:
            arn = f"arn:aws:glacier:{self.region_name}:{self.account_id}:vaults/{vault_name}"
            raise not_found(f"Vault not found for ARN: {arn}")
        return vault

    def create_vault(self, vault_name: str) -> None:
        check_vault_name(vault_name)
        with self.state.lock:
            if vault_name not in self.vaults:
                self.vaults[vault_name] = LocalVault(vault_name, self.account_id, self.region_name)

    def list_vault_page(self, limit: str | None, marker: str | None) -> tuple[list[LocalVault], str | None]:
        with self.state.lock:
            vaults = sorted(self.vaults.values(), key=lambda vault: vault.vault_name)
        return page(vaults, lambda vault: vault.arn, limit, marker, 1000)

    def delete_vault(self, vault_name: str) -> None:
        with self.state.lock:
            vault = self.describe_vault(vault_name)
            if vault.archives:
                raise invalid(f"Vault not empty or recently written to: {vault.arn}")
            del self.vaults[vault_name]

    # archives -------------------------------------------------------------------------

    def store_archive(self, vault_name: str, body: StoredBody, description: str) -> Archive:
        with self.state.lock:
            return self.describe_vault(vault_name).add_archive(body, description)

    def upload_archive_body(
        self, vault_name: str, data: bytes, description: str, tree_hash: str | None
    ) -> Archive:
        self.describe_vault(vault_name)
        check_description(description, "x-amz-archive-description")
        if not tree_hash:
            raise missing("Required header is missing: x-amz-sha256-tree-hash")
        body = self.state.store.write_bytes(data)
        if body.tree_hash != tree_hash:
            self.state.store.remove(body.path)
            raise invalid(f"Checksum mismatch: expected {tree_hash} but computed {body.tree_hash}")
        return self.store_archive(vault_name, body, description)

    def delete_archive(self, vault_name: str, archive_id: str) -> None:
        with self.state.lock:
            vault = self.describe_vault(vault_name)
            if vault.archives.pop(archive_id, None) is None:
                raise not_found(f"Archive not found: {archive_id}")

    # multipart uploads ----------------------------------------------------------------

    def initiate_upload(self, vault_name: str, part_size: int, description: str) -> MultipartUpload:
        check_description(description, "x-amz-archive-description")
        with self.state.lock:
            vault = self.describe_vault(vault_name)
            upload = MultipartUpload(
                new_id(92), description, part_size, utcnow(), self.state.store.new_path("upload"), vault.arn
            )
            upload.path.touch()
            vault.uploads[upload.upload_id] = upload
            return upload

    def describe_upload(self, vault_name: str, upload_id: str) -> MultipartUpload:
        upload = self.describe_vault(vault_name).uploads.get(upload_id)
        if upload is None:
            raise not_found(f"Multipart upload not found: {upload_id}")
        return upload

    def upload_part(
        self, vault_name: str, upload_id: str, start: int, end: int, data: bytes, tree_hash: str | None
    ) -> str:
        upload = self.describe_upload(vault_name, upload_id)
        if not tree_hash:
            raise missing("Required header is missing: x-amz-sha256-tree-hash")
        if end - start != len(data):
            raise invalid(f"Content-Range covers {end - start} bytes but the body has {len(data)}")
        if start % upload.part_size or end - start > upload.part_size:
            raise invalid(f"Invalid Content-Range bytes {start}-{end - 1} for part size {upload.part_size}")
        leaves = tuple(_leaf_hashes(data))
        computed = tree_hash_of_leaves(leaves)
        if computed != tree_hash:
            raise invalid(f"Checksum mismatch: expected {tree_hash} but computed {computed}")
        write_at(upload.path, start, data)
        with self.state.lock:
            upload.parts[start] = Part(start, end, computed, leaves)
        return computed

    def complete_upload(
        self, vault_name: str, upload_id: str, size_header: str | None, tree_hash: str | None
    ) -> Archive:
        with self.state.lock:
            upload = self.describe_upload(vault_name, upload_id)
            if not size_header or not tree_hash:
                raise missing("Required headers are missing: x-amz-archive-size and x-amz-sha256-tree-hash")
            if not size_header.isdigit():
                raise invalid(f"Invalid x-amz-archive-size: {size_header!r}")
            size = int(size_header)
            parts = [upload.parts[start] for start in sorted(upload.parts)]
            expected = range(0, size, upload.part_size)
            if [part.start for part in parts] != list(expected) or (
                parts and parts[-1].end_exclusive != size
            ):
                raise invalid(f"The uploaded parts do not cover an archive of {size} bytes")
            if any(part.end_exclusive - part.start != upload.part_size for part in parts[:-1]):
                raise invalid("Every part but the last must be exactly the part size")
            leaves = tuple(leaf for part in parts for leaf in part.leaves)
            computed = tree_hash_of_leaves(leaves)
            if computed != tree_hash:
                raise invalid(f"Checksum mismatch: expected {tree_hash} but computed {computed}")
            vault = self.describe_vault(vault_name)
            del vault.uploads[upload_id]
            return vault.add_archive(StoredBody(upload.path, size, leaves), upload.description)

    def abort_upload(self, vault_name: str, upload_id: str) -> None:
        with self.state.lock:
            upload = self.describe_upload(vault_name, upload_id)
            del self.describe_vault(vault_name).uploads[upload_id]
        self.state.store.remove(upload.path)

    # jobs -----------------------------------------------------------------------------

    def start_job(self, vault_name: str, params: Mapping[str, Any]) -> LocalJob:
        with self.state.lock:
            vault = self.describe_vault(vault_name)

            def size_of(archive_id: str | None) -> int:
                archive = vault.archives.get(archive_id) if archive_id else None
                return archive.size if archive else 0

            def archive_size(archive_id: str) -> int:
                archive = vault.archives.get(archive_id)
                if archive is None:
                    raise not_found(f"Archive not found: {archive_id}")
                return archive.size

            request = validate_job_parameters(
                params, archive_size, self._bucket_exists, lambda marker: decode_marker(marker) is not None
            )
            if request.tier == "Expedited" and not self.state.expedited_capacity:
                raise ServiceError(
                    "InsufficientCapacityException",
                    "There is insufficient capacity to process this expedited request",
                )
            check_retrieval_policy(
                self.retrieval_policy,
                request,
                size_of(request.archive_id),
                (job for each in self.vaults.values() for job in each.jobs.values()),
            )
            delay_key = "Inventory" if request.type == "inventory-retrieval" else request.tier
            archive = vault.archives.get(request.archive_id) if request.archive_id else None
            job = LocalJob(vault, request, self.state.tier_delays[delay_key], archive)
            if request.output_location is not None:
                s3 = request.output_location["S3"]
                # Initiate Job (POST jobs), select example: x-amz-job-output-path is the key
                # prefix the results land under ("test/<job id>/"), not an s3:// URI.
                job.output_path = output_prefix(s3["Prefix"], job.job_id)
                from airflow_glacier_select.testing.select_jobs import write_job_placeholder

                write_job_placeholder(self, job)
            vault.jobs[job.job_id] = job
            notifications.job_started(self, vault_name, job)
            return job

    def _bucket_exists(self, bucket: str) -> bool:
        from moto.s3.models import s3_backends

        return bucket in s3_backends[self.account_id]["aws"].buckets

    def describe_job(self, vault_name: str, job_id: str) -> LocalJob:  # type: ignore[override]
        with self.state.lock:
            job = self.describe_vault(vault_name).jobs.get(job_id)
            if job is None:
                raise not_found(f"The job ID was not found: {job_id}")
            if job.is_due:
                self._complete(vault_name, job)
            return job

    def list_job_page(
        self,
        vault_name: str,
        limit: str | None,
        marker: str | None,
        statuscode: str | None,
        completed: str | None,
    ) -> tuple[list[LocalJob], str | None]:
        if statuscode is not None and statuscode not in ("InProgress", "Succeeded", "Failed"):
            raise invalid(
                f"Invalid statuscode: {statuscode!r}; valid values are InProgress, Succeeded, Failed"
            )
        if completed is not None and completed not in ("true", "false"):
            raise invalid(f"Invalid completed: {completed!r}; valid values are true, false")
        with self.state.lock:
            jobs = [self.describe_job(vault_name, job_id) for job_id in self.describe_vault(vault_name).jobs]
        if statuscode is not None:
            jobs = [job for job in jobs if job.status == statuscode]
        if completed is not None:
            jobs = [job for job in jobs if (job.status != "InProgress") == (completed == "true")]
        return page(jobs, lambda job: job.job_id, limit, marker, 50)

    def job_output(self, vault_name: str, job_id: str) -> JobOutput:
        job = self.describe_job(vault_name, job_id)
        if job.expired:
            raise not_found(f"The job ID was not found: {job_id}")
        if job.status == "InProgress":
            raise invalid(f"The job is not currently available for download: {job_id}")
        if job.status == "Failed":
            raise invalid(f"The job failed and has no output: {job_id} ({job.status_message})")
        if job.output is None:
            bucket = (job.request.output_location or {}).get("S3", {}).get("BucketName")
            raise invalid(
                f"The output of select job {job_id} is in Amazon S3 at s3://{bucket}/{job.output_path}"
            )
        return job.output

    def _complete(self, vault_name: str, job: LocalJob) -> None:
        request = job.request
        if request.inventory is not None:
            vault = self.describe_vault(vault_name)
            now = utcnow()
            body, job.next_marker = render_inventory(
                vault.arn, vault.archives.values(), request.inventory, now
            )
            stored = self.state.store.write_bytes(body, "inventory")
            content_type = "text/csv" if request.inventory.format == "CSV" else "application/json"
            vault.last_inventory = now
            job.succeed(JobOutput(stored, 0, stored.size, content_type))
        elif request.byte_range is not None and job.archive is not None:
            start, end = request.byte_range
            archive = job.archive
            job.succeed(
                JobOutput(archive.body, start, end - start, "application/octet-stream", archive.description)
            )
        else:
            runner = type(self).select_runner
            failure = runner(self, job) if runner else "Glacier Select is not available on this endpoint"
            if failure is None:
                job.succeed(None)
            else:
                job.fail(failure)
        notifications.job_completed(self, job)

    # test controls --------------------------------------------------------------------

    def find_job(self, vault_name: str, job_id: str) -> LocalJob:
        """A job by id without completing it (controls act on the job as the client last saw it)."""
        job = self.describe_vault(vault_name).jobs.get(job_id)
        if job is None:
            raise not_found(f"The job ID was not found: {job_id}")
        return job

    def complete_job_now(self, vault_name: str, job_id: str) -> None:
        with self.state.lock:
            job = self.find_job(vault_name, job_id)
            if job.status != "InProgress":
                raise ValueError(f"job {job_id} is already {job.status}")
            self._complete(vault_name, job)

    def fail_job_now(self, vault_name: str, job_id: str, status_message: str) -> None:
        with self.state.lock:
            job = self.find_job(vault_name, job_id)
            if job.status != "InProgress":
                raise ValueError(f"job {job_id} is already {job.status}")
            job.fail(status_message)
            notifications.job_completed(self, job)

    def expire_output(self, vault_name: str, job_id: str) -> None:
        with self.state.lock:
            job = self.describe_job(vault_name, job_id)
            if job.status != "Succeeded":
                raise ValueError(f"job {job_id} is {job.status}; only a Succeeded job's output can expire")
            job.expired = True

    def forget_job(self, vault_name: str, job_id: str) -> None:
        """The job ID expires (Describe Job (GET JobID): not before 24 hours after completion):
        DescribeJob, GetJobOutput and ListJobs no longer know it."""
        with self.state.lock:
            self.find_job(vault_name, job_id)
            del self.describe_vault(vault_name).jobs[job_id]


def output_prefix(prefix: str, job_id: str) -> str:
    """``<Prefix>/<JobId>/``, read literally (Querying Archives with S3 Glacier Select: the prefix
    you specified, with the job id appended). Whether Glacier folds a trailing ``/`` of the
    prefix is not documented; the literal reading is the package's, so both agree."""
    return f"{prefix}/{job_id}/"


def _leaf_hashes(data: bytes) -> Iterable[bytes]:
    return (hashlib.sha256(data[i : i + MIB]).digest() for i in range(0, len(data), MIB))


def backend_for(account_id: str, region: str) -> LocalGlacierBackend:
    backend = moto_glacier_models.glacier_backends[account_id][region]
    if not isinstance(backend, LocalGlacierBackend):
        raise RuntimeError("moto's Glacier backend was created before the local endpoint was installed")
    return backend


def backends_of(account_id: str) -> list[LocalGlacierBackend]:
    """Every region's backend already created for an account (regions are created lazily)."""
    account = moto_glacier_models.glacier_backends.get(account_id)
    return [b for b in (account or {}).values() if isinstance(b, LocalGlacierBackend)]


def install() -> None:
    """Make moto build its Glacier app from this backend and these routes, and complete S3 multipart
    uploads without copying their parts (idempotent)."""
    backends = moto_glacier_models.glacier_backends
    if backends.backend is not LocalGlacierBackend:
        backends.clear()
        backends.backend = LocalGlacierBackend
        from airflow_glacier_select.testing import routes

        moto_glacier_urls.url_paths = routes.url_paths
        notifications.install(routes.url_paths)
    from airflow_glacier_select.testing import s3_multipart

    s3_multipart.install()
    if LocalGlacierBackend.select_runner is None:
        from airflow_glacier_select.testing.select_jobs import run_select_job

        LocalGlacierBackend.select_runner = run_select_job


def forget_account(account_id: str) -> None:
    """Drop an endpoint's Glacier and S3 state from moto's process-wide backends."""
    from moto.s3.models import FakeKey, s3_backends

    moto_glacier_models.glacier_backends.pop(account_id, None)
    s3_account = s3_backends.get(account_id)
    for s3 in (s3_account or {}).values():
        for bucket in s3.buckets.values():
            for key in bucket.keys.values():
                if isinstance(key, FakeKey):
                    key.dispose()
            for part in bucket.multiparts.values():
                part.dispose()
            s3_backends.bucket_accounts.pop(bucket.name, None)
    s3_backends.pop(account_id, None)
