"""A Glacier job as DescribeJob (and each ListJobs ``JobList`` entry) reports it.

Every member of botocore's ``GlacierJobDescription`` shape is an attribute; any of them
but ``JobId`` may be absent or null (Glacier omits what does not apply to a job type, and
local or older endpoints omit more). :meth:`JobDescription.to_dict` gives a plain JSON
dict with Glacier's own keys, which is what operators push to XCom.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from typing import Any

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_rules import check_mapping, check_non_empty, split_byte_range

STATUS_CODES = ("InProgress", "Succeeded", "Failed")
# DescribeJob's Action names the job type in CamelCase.
ACTION_JOB_TYPES = {
    "ArchiveRetrieval": "archive-retrieval",
    "InventoryRetrieval": "inventory-retrieval",
    "Select": "select",
}

_DATE_KEYS = ("CreationDate", "CompletionDate")
_SIZE_KEYS = ("ArchiveSizeInBytes", "InventorySizeInBytes")
_STRUCTURE_KEYS = ("InventoryRetrievalParameters", "SelectParameters", "OutputLocation")


@dataclass(frozen=True)
class JobDescription:
    """Typed, JSON-friendly view of one Glacier job; nested structures stay plain dicts."""

    job_id: str
    job_description: str | None = None
    action: str | None = None
    archive_id: str | None = None
    vault_arn: str | None = None
    creation_date: str | None = None
    completed: bool | None = None
    status_code: str | None = None
    status_message: str | None = None
    archive_size_in_bytes: int | None = None
    inventory_size_in_bytes: int | None = None
    sns_topic: str | None = None
    completion_date: str | None = None
    sha256_tree_hash: str | None = None
    archive_sha256_tree_hash: str | None = None
    retrieval_byte_range: str | None = None
    tier: str | None = None
    inventory_retrieval_parameters: Mapping[str, Any] | None = None
    job_output_path: str | None = None
    select_parameters: Mapping[str, Any] | None = None
    output_location: Mapping[str, Any] | None = None

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> JobDescription:
        """Read a DescribeJob response or ListJobs entry; ``ResponseMetadata`` and unknown keys are ignored.

        Unknown keys are ignored (not refused) because responses, unlike requests, may grow
        new members in newer service versions.
        """
        response = check_mapping("DescribeJob response", response)
        values: dict[str, Any] = {}
        for attribute, key in _ATTRIBUTE_KEYS.items():
            value = response.get(key)
            if value is not None:
                values[attribute] = _read_member(key, value)
        check_non_empty("JobId", values.get("job_id"))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON dict with Glacier's keys, absent members omitted; ``from_response`` reads it back."""
        return {
            key: copy.deepcopy(getattr(self, attribute))
            for attribute, key in _ATTRIBUTE_KEYS.items()
            if getattr(self, attribute) is not None
        }

    @property
    def succeeded(self) -> bool:
        return self.status_code == "Succeeded"

    @property
    def failed(self) -> bool:
        return self.status_code == "Failed"

    @property
    def in_progress(self) -> bool:
        return self.status_code == "InProgress"

    @property
    def job_type(self) -> str | None:
        """The InitiateJob Type (``archive-retrieval`` ...) this job was started as."""
        return ACTION_JOB_TYPES.get(self.action) if self.action is not None else None

    @property
    def vault_name(self) -> str | None:
        """The vault from ``arn:aws:glacier:<region>:<account>:vaults/<vault name>``."""
        _, marker, name = (self.vault_arn or "").partition(":vaults/")
        return name if marker and name else None

    @property
    def account_id(self) -> str | None:
        parts = (self.vault_arn or "").split(":")
        return parts[4] if len(parts) > 5 and parts[4] else None

    @property
    def region(self) -> str | None:
        parts = (self.vault_arn or "").split(":")
        return parts[3] if len(parts) > 5 and parts[3] else None

    @property
    def next_inventory_marker(self) -> str | None:
        """Where the next inventory page starts; None when this page was the last."""
        marker = (self.inventory_retrieval_parameters or {}).get("Marker")
        return marker if isinstance(marker, str) and marker else None

    @property
    def output_size(self) -> int | None:
        """Bytes GetJobOutput will return in full: the retrieved range, archive or inventory size.

        Select jobs write to S3 instead, so they have no output size here.
        """
        if self.action == "InventoryRetrieval":
            return self.inventory_size_in_bytes
        if self.action == "Select":
            return None
        byte_range = split_byte_range(self.retrieval_byte_range)
        if byte_range is not None and byte_range[0] <= byte_range[1]:
            return byte_range[1] - byte_range[0] + 1
        return self.archive_size_in_bytes


def _key(attribute: str) -> str:
    special = {
        "job_id": "JobId",
        "vault_arn": "VaultARN",
        "sns_topic": "SNSTopic",
        "sha256_tree_hash": "SHA256TreeHash",
        "archive_sha256_tree_hash": "ArchiveSHA256TreeHash",
    }
    return special.get(attribute) or "".join(part.capitalize() for part in attribute.split("_"))


_ATTRIBUTE_KEYS = {f.name: _key(f.name) for f in fields(JobDescription)}


def _read_member(key: str, value: object) -> object:
    """Check one response member's JSON type; datetimes (some clients parse dates) become ISO strings."""
    if key == "Completed":
        if not isinstance(value, bool):
            raise GlacierValidationError(key, value, "must be a boolean")
        return value
    if key in _SIZE_KEYS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise GlacierValidationError(key, value, "must be a non-negative integer")
        return value
    if key in _STRUCTURE_KEYS:
        return _plain_json(key, check_mapping(key, value))
    if key in _DATE_KEYS and isinstance(value, datetime):
        moment = value if value.tzinfo is None else value.astimezone(timezone.utc).replace(tzinfo=None)
        return moment.isoformat(timespec="milliseconds") + "Z"
    if not isinstance(value, str):
        raise GlacierValidationError(key, value, "must be a string")
    return value


def _plain_json(path: str, value: object) -> Any:
    """Deep-copy a nested response structure as plain JSON types (dict, list, str, int, bool)."""
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise GlacierValidationError(path, key, "keys must be strings")
            if item is not None:
                result[key] = _plain_json(f"{path}.{key}", item)
        return result
    if isinstance(value, (list, tuple)):
        return [_plain_json(path, item) for item in value]
    if isinstance(value, (str, int, bool)):
        return value
    raise GlacierValidationError(path, value, "must be a JSON string, integer, boolean, list or object")
