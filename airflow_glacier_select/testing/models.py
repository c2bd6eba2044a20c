"""Vaults, archives, multipart uploads and jobs of the local endpoint.

They extend moto's Glacier models (moto's own keep archives in memory, hash them with
plain SHA-256 and never fail a job); what they add is what the service documents:
files on disk with tree hashes computed once, jobs whose completion time follows their
tier, and job descriptions with real values in every field.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from moto.glacier.models import Job, Vault

from airflow_glacier_select.testing.rules import JobRequest
from airflow_glacier_select.testing.storage import StoredBody, range_is_tree_hash_node

__all__ = ["Archive", "JobOutput", "LocalJob", "LocalVault", "MultipartUpload", "iso_date", "utcnow"]

ACTIONS = {
    "archive-retrieval": "ArchiveRetrieval",
    "inventory-retrieval": "InventoryRetrieval",
    "select": "Select",
}


def utcnow() -> datetime:
    """Now, to the millisecond: the precision Glacier reports, so dates compare as clients see them."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso_date(moment: datetime | None) -> str | None:
    """Glacier's timestamps: ISO 8601 in UTC with milliseconds, e.g. 2012-03-20T17:03:43.221Z."""
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_id(length: int) -> str:
    """Opaque, URL-safe ids of Glacier's usual lengths, unique per call (never a hash of content)."""
    return secrets.token_urlsafe(length)[:length]


@dataclass
class Archive:
    archive_id: str
    description: str
    created: datetime
    seq: int
    body: StoredBody
    tree_hash: str

    @property
    def size(self) -> int:
        return self.body.size


@dataclass
class Part:
    start: int
    end_exclusive: int
    tree_hash: str
    leaves: tuple[bytes, ...]


@dataclass
class MultipartUpload:
    upload_id: str
    description: str
    part_size: int
    created: datetime
    path: Path
    vault_arn: str
    parts: dict[int, Part] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {
            "ArchiveDescription": self.description,
            "CreationDate": iso_date(self.created),
            "MultipartUploadId": self.upload_id,
            "PartSizeInBytes": self.part_size,
            "VaultARN": self.vault_arn,
        }


@dataclass(frozen=True)
class JobOutput:
    """Bytes ``offset .. offset+length`` of a stored body: what GetJobOutput serves."""

    body: StoredBody
    offset: int
    length: int
    content_type: str
    archive_description: str | None = None  # archive retrievals only: they carry tree hashes

    def range_tree_hash(self, start: int, end_exclusive: int) -> str | None:
        """Tree hash of an output range, or None where the service sends no x-amz-sha256-tree-hash.

        Receiving Checksums When Downloading Data: both the range retrieved by InitiateJob and
        the range downloaded must be tree-hash aligned *with respect to the archive*; a
        retrieval that is not gets no checksum on any download, however aligned.
        """
        if self.archive_description is None:
            return None
        archive_size = self.body.size
        first, last = self.offset + start, self.offset + end_exclusive
        if not range_is_tree_hash_node(self.offset, self.offset + self.length, archive_size):
            return None
        if not range_is_tree_hash_node(first, last, archive_size):
            return None
        return self.body.range_tree_hash(first, last)


class LocalVault(Vault):
    def __init__(self, vault_name: str, account_id: str, region: str) -> None:
        super().__init__(vault_name, account_id, region)
        self.created = utcnow()
        self.last_inventory: datetime | None = None
        self.archives: dict[str, Archive] = {}  # type: ignore[assignment]
        self.jobs: dict[str, LocalJob] = {}  # type: ignore[assignment]
        self.uploads: dict[str, MultipartUpload] = {}
        self.next_seq = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "CreationDate": iso_date(self.created),
            "LastInventoryDate": iso_date(self.last_inventory),
            "NumberOfArchives": len(self.archives),
            "SizeInBytes": sum(archive.size for archive in self.archives.values()),
            "VaultARN": self.arn,
            "VaultName": self.vault_name,
        }

    def add_archive(self, body: StoredBody, description: str) -> Archive:
        archive = Archive(new_id(138), description, utcnow(), self.next_seq, body, body.tree_hash)
        self.next_seq += 1
        self.archives[archive.archive_id] = archive
        return archive


class LocalJob(Job):
    """One InitiateJob: InProgress until its tier's delay has passed, then Succeeded or Failed."""

    def __init__(self, vault: LocalVault, request: JobRequest, delay: float, archive: Archive | None) -> None:
        self.job_id = new_id(92)
        self.vault_arn = vault.arn
        self.request = request
        self.tier = request.tier
        self.archive = archive
        self.created = utcnow()
        self.due_at = time.monotonic() + delay
        self.status = "InProgress"
        self.status_message: str | None = None
        self.completed: datetime | None = None
        self.output: JobOutput | None = None
        self.expired = False
        self.next_marker: str | None = None
        self.output_path: str | None = None
        self.range_tree_hash: str | None = None
        if archive is not None and request.byte_range is not None:
            start, end = request.byte_range
            if (start, end) != (0, archive.size) and range_is_tree_hash_node(start, end, archive.size):
                self.range_tree_hash = archive.body.range_tree_hash(start, end)

    @property
    def action(self) -> str:
        return ACTIONS[self.request.type]

    @property
    def is_due(self) -> bool:
        return self.status == "InProgress" and time.monotonic() >= self.due_at

    def succeed(self, output: JobOutput | None) -> None:
        self.status, self.status_message = "Succeeded", "Succeeded"
        self.output = output
        self.completed = utcnow()
        if self.archive is not None and self.request.byte_range == (0, self.archive.size):
            self.range_tree_hash = self.archive.tree_hash

    def fail(self, message: str) -> None:
        self.status, self.status_message = "Failed", message
        self.completed = utcnow()

    def _inventory_parameters(self) -> dict[str, Any] | None:
        inventory = self.request.inventory
        if inventory is None:
            return None
        raw = inventory.raw
        return {
            "Format": inventory.format,
            "StartDate": raw.get("StartDate"),
            "EndDate": raw.get("EndDate"),
            "Limit": None if inventory.limit is None else str(inventory.limit),
            "Marker": self.next_marker,
        }

    def to_dict(self) -> dict[str, Any]:
        request, archive = self.request, self.archive
        byte_range = request.byte_range
        inventory_size = self.output.length if request.inventory and self.output else None
        return {
            "JobId": self.job_id,
            "JobDescription": request.description,
            "Action": self.action,
            "ArchiveId": archive.archive_id if archive else None,
            "VaultARN": self.vault_arn,
            "CreationDate": iso_date(self.created),
            "Completed": self.status != "InProgress",
            "StatusCode": self.status,
            "StatusMessage": self.status_message,
            "ArchiveSizeInBytes": archive.size if archive and byte_range else None,
            "InventorySizeInBytes": inventory_size,
            "SNSTopic": request.sns_topic,
            "CompletionDate": iso_date(self.completed),
            "SHA256TreeHash": self.range_tree_hash,
            "ArchiveSHA256TreeHash": archive.tree_hash if archive and byte_range else None,
            "RetrievalByteRange": f"{byte_range[0]}-{byte_range[1] - 1}" if byte_range else None,
            "Tier": None if request.inventory else self.tier,
            "InventoryRetrievalParameters": self._inventory_parameters(),
            "JobOutputPath": self.output_path,
            "SelectParameters": _plain(request.select_parameters),
            "OutputLocation": _plain(request.output_location),
        }


def _plain(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)
