"""The endpoint's own, service-side checks of what a client sends.

These are written from the Glacier API reference independently of the package's
client-side job model: the endpoint plays AWS, so a client that validates wrongly
(or not at all) is caught here with the error the service would answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from airflow_glacier_select.testing.errors import invalid, missing
from airflow_glacier_select.testing.storage import MIB

__all__ = [
    "JobRequest",
    "check_description",
    "check_part_size",
    "check_vault_name",
    "parse_content_range",
    "validate_job_parameters",
]

TIERS = ("Expedited", "Standard", "Bulk")
JOB_TYPES = ("archive-retrieval", "inventory-retrieval", "select")
INVENTORY_FORMATS = ("JSON", "CSV")
FILE_HEADER_INFO = ("USE", "IGNORE", "NONE")
QUOTE_FIELDS = ("ALWAYS", "ASNEEDED")
CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "aws-exec-read",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
)
GRANTEE_TYPES = {"AmazonCustomerByEmail": "EmailAddress", "CanonicalUser": "ID", "Group": "URI"}
PERMISSIONS = ("FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP")
ENCRYPTION_TYPES = ("AES256", "aws:kms")
STORAGE_CLASSES = ("STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA")
MAX_PART_SIZE = 4096 * MIB

_VAULT_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,255}")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\*|\d+)")
_BYTE_RANGE = re.compile(r"(\d+)-(\d+)")
_SNS_ARN = re.compile(r"arn:aws[a-z\-]*:sns:[a-z0-9\-]+:\d{12}:[A-Za-z0-9_\-]{1,256}")


def check_vault_name(name: str) -> None:
    if not _VAULT_NAME.fullmatch(name):
        raise invalid(f"Invalid vault name: {name!r} (1-255 characters a-z, A-Z, 0-9, '_', '-', '.')")


def check_description(value: object, field: str) -> str:
    """At most 1,024 bytes of printable ASCII (0x20-0x7E)."""
    if not isinstance(value, str):
        raise invalid(f"{field} must be a string")
    if len(value) > 1024:
        raise invalid(f"{field} is {len(value)} characters long; the maximum is 1024")
    bad = next((char for char in value if not " " <= char <= "~"), None)
    if bad is not None:
        raise invalid(f"{field} contains {bad!r}; only printable ASCII (0x20-0x7E) is allowed")
    return value


def check_part_size(header: str | None) -> int:
    """x-amz-part-size: 1 MiB times a power of two, at most 4 GiB."""
    if header is None:
        raise missing("Required header is missing: x-amz-part-size")
    if not header.isdigit():
        raise invalid(f"Invalid part size: {header!r}")
    size = int(header)
    mebibytes, remainder = divmod(size, MIB)
    if remainder or mebibytes < 1 or size > MAX_PART_SIZE or mebibytes & (mebibytes - 1):
        raise invalid(
            f"Invalid part size: {size}. Part size must be a power of two multiple of 1 MiB, max 4 GiB"
        )
    return size


def parse_content_range(header: str | None) -> tuple[int, int]:
    """``Content-Range: bytes start-end/*`` of an UploadMultipartPart, as ``(start, end_exclusive)``."""
    if header is None:
        raise missing("Required header is missing: Content-Range")
    match = _CONTENT_RANGE.fullmatch(header.strip())
    if not match or int(match[2]) < int(match[1]):
        raise invalid(f"Invalid Content-Range: {header!r}")
    return int(match[1]), int(match[2]) + 1


@dataclass(frozen=True)
class InventoryRequest:
    format: str
    start_date: datetime | None
    end_date: datetime | None
    limit: int | None
    marker: str | None
    raw: Mapping[str, str | None]


@dataclass(frozen=True)
class JobRequest:
    """An InitiateJob request that passed the service's checks."""

    type: str
    tier: str
    description: str | None
    sns_topic: str | None
    archive_id: str | None = None
    byte_range: tuple[int, int] | None = None  # (start, end_exclusive)
    inventory: InventoryRequest | None = None
    select_parameters: Mapping[str, Any] | None = None
    output_location: Mapping[str, Any] | None = None


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise invalid(f"{field} must be an object")
    return value


def _choice(value: object, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise invalid(f"Invalid {field}: {value!r}; valid values are {', '.join(allowed)}")
    return str(value)


def _required(params: Mapping[str, Any], name: str, context: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise missing(f"Required parameter is missing: {context}{name}")
    return value


def _reject(params: Mapping[str, Any], names: tuple[str, ...], job_type: str) -> None:
    for name in names:
        if params.get(name) is not None:
            raise invalid(f"{name} is not valid for a job of type {job_type}")


def parse_date(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise invalid(f"Invalid {field}: {value!r}; expected an ISO 8601 date")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(
            f"Invalid {field}: {value!r}; expected an ISO 8601 date such as 2012-06-01T00:00:00Z"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _byte_range(value: object, archive_size: int) -> tuple[int, int]:
    """``start-end`` inclusive; start on 1 MiB, end+1 on 1 MiB or the archive's end."""
    match = _BYTE_RANGE.fullmatch(value) if isinstance(value, str) else None
    if not match:
        raise invalid(f"Invalid RetrievalByteRange: {value!r}; expected StartByteValue-EndByteValue")
    start, end = int(match[1]), int(match[2])
    if start > end or end >= archive_size:
        raise invalid(f"Invalid RetrievalByteRange: {value!r} for an archive of {archive_size} bytes")
    if start % MIB:
        raise invalid(f"Invalid RetrievalByteRange: {value!r}; the start must be divisible by 1 MiB")
    if (end + 1) % MIB and end + 1 != archive_size:
        raise invalid(
            f"Invalid RetrievalByteRange: {value!r}; the end plus one must be divisible by 1 MiB "
            "or equal the archive size"
        )
    return start, end + 1


def _inventory(params: Mapping[str, Any], marker_known: Callable[[str], bool]) -> InventoryRequest:
    fmt = _choice(params.get("Format") or "JSON", "Format", INVENTORY_FORMATS)
    raw = _mapping(params.get("InventoryRetrievalParameters") or {}, "InventoryRetrievalParameters")
    start = parse_date(raw["StartDate"], "StartDate") if raw.get("StartDate") else None
    end = parse_date(raw["EndDate"], "EndDate") if raw.get("EndDate") else None
    if start and end and start >= end:
        raise invalid(f"Invalid dates: StartDate {raw['StartDate']} is not before EndDate {raw['EndDate']}")
    limit = None
    if raw.get("Limit") is not None:
        text = str(raw["Limit"])
        if not text.isdigit() or int(text) < 1:
            raise invalid(f"Invalid Limit: {raw['Limit']!r}; must be a positive integer")
        limit = int(text)
    marker = raw.get("Marker")
    if marker is not None and not marker_known(marker):
        raise invalid(f"Invalid Marker: {marker!r}")
    return InventoryRequest(fmt, start, end, limit, marker, dict(raw))


def _single_characters(settings: Mapping[str, Any], names: tuple[str, ...], context: str) -> None:
    for name in names:
        value = settings.get(name)
        if value is None:
            continue
        allowed = len(value) == 1 if isinstance(value, str) else False
        if name == "RecordDelimiter" and value == "\r\n":
            allowed = True
        if not allowed:
            raise invalid(f"Invalid {context}.{name}: {value!r}; must be a single character")


def _select_parameters(params: Mapping[str, Any]) -> Mapping[str, Any]:
    select = _mapping(_required(params, "SelectParameters", ""), "SelectParameters")
    _choice(_required(select, "ExpressionType", "SelectParameters."), "ExpressionType", ("SQL",))
    expression = _required(select, "Expression", "SelectParameters.")
    if not isinstance(expression, str) or not expression.strip():
        raise invalid("SelectParameters.Expression must be a non-empty SQL expression")
    source = _mapping(_required(select, "InputSerialization", "SelectParameters."), "InputSerialization")
    csv_in = _mapping(_required(source, "csv", "SelectParameters.InputSerialization."), "csv")
    if csv_in.get("FileHeaderInfo") is not None:
        _choice(csv_in["FileHeaderInfo"], "FileHeaderInfo", FILE_HEADER_INFO)
    names = ("Comments", "QuoteEscapeCharacter", "RecordDelimiter", "FieldDelimiter", "QuoteCharacter")
    _single_characters(csv_in, names, "InputSerialization.csv")
    target = _mapping(_required(select, "OutputSerialization", "SelectParameters."), "OutputSerialization")
    csv_out = _mapping(_required(target, "csv", "SelectParameters.OutputSerialization."), "csv")
    if csv_out.get("QuoteFields") is not None:
        _choice(csv_out["QuoteFields"], "QuoteFields", QUOTE_FIELDS)
    _single_characters(csv_out, names[1:], "OutputSerialization.csv")
    return select


def _grant(grant: object) -> None:
    entry = _mapping(grant, "AccessControlList entry")
    grantee = _mapping(_required(entry, "Grantee", "AccessControlList."), "Grantee")
    kind = _choice(grantee.get("Type"), "Grantee.Type", tuple(GRANTEE_TYPES))
    _required(grantee, GRANTEE_TYPES[kind], "Grantee.")
    _choice(entry.get("Permission"), "Permission", PERMISSIONS)


def _string_map(value: object, field: str) -> None:
    mapping = _mapping(value, field)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise invalid(f"{field} must map strings to strings")


def _output_location(params: Mapping[str, Any], bucket_exists: Callable[[str], bool]) -> Mapping[str, Any]:
    location = _mapping(_required(params, "OutputLocation", ""), "OutputLocation")
    s3 = _mapping(_required(location, "S3", "OutputLocation."), "S3")
    bucket = _required(s3, "BucketName", "OutputLocation.S3.")
    _required(s3, "Prefix", "OutputLocation.S3.")
    if not bucket_exists(bucket):
        raise invalid(f"OutputLocation.S3.BucketName: the bucket {bucket!r} does not exist")
    encryption = s3.get("Encryption")
    if encryption is not None:
        kind = _choice(
            _mapping(encryption, "Encryption").get("EncryptionType"), "EncryptionType", ENCRYPTION_TYPES
        )
        if kind == "AES256" and (encryption.get("KMSKeyId") or encryption.get("KMSContext")):
            raise invalid("Encryption: KMSKeyId and KMSContext are only valid with EncryptionType aws:kms")
    if s3.get("CannedACL") is not None:
        _choice(s3["CannedACL"], "CannedACL", CANNED_ACLS)
        if s3.get("AccessControlList"):
            raise invalid("OutputLocation.S3: specify CannedACL or AccessControlList, not both")
    for grant in s3.get("AccessControlList") or []:
        _grant(grant)
    if s3.get("StorageClass") is not None:
        _choice(s3["StorageClass"], "StorageClass", STORAGE_CLASSES)
    for field in ("Tagging", "UserMetadata"):
        if s3.get(field) is not None:
            _string_map(s3[field], field)
    return location


def validate_job_parameters(
    params: Mapping[str, Any],
    archive_size: Callable[[str], int],
    bucket_exists: Callable[[str], bool],
    marker_known: Callable[[str], bool],
) -> JobRequest:
    """Check an InitiateJob body; ``archive_size`` raises ResourceNotFoundException for unknown ids."""
    params = _mapping(params, "Job parameters")
    job_type = _choice(_required(params, "Type", ""), "job type", JOB_TYPES)
    tier = _choice(params.get("Tier") or "Standard", "Tier", TIERS)
    description = params.get("Description")
    if description is not None:
        check_description(description, "Description")
    sns_topic = params.get("SNSTopic")
    if sns_topic is not None and not (isinstance(sns_topic, str) and _SNS_ARN.fullmatch(sns_topic)):
        raise invalid(f"Invalid SNSTopic: {sns_topic!r}; expected an SNS topic ARN")
    common: dict[str, Any] = {
        "type": job_type,
        "tier": tier,
        "description": description,
        "sns_topic": sns_topic,
    }
    if job_type == "inventory-retrieval":
        rejected = ("ArchiveId", "RetrievalByteRange", "SelectParameters", "OutputLocation", "Tier")
        _reject(params, rejected, job_type)  # Tier is for archive retrieval and select only
        return JobRequest(**common, inventory=_inventory(params, marker_known))
    _reject(params, ("Format", "InventoryRetrievalParameters"), job_type)
    archive_id = _required(params, "ArchiveId", "")
    size = archive_size(archive_id)
    if job_type == "archive-retrieval":
        _reject(params, ("SelectParameters", "OutputLocation"), job_type)
        raw_range = params.get("RetrievalByteRange")
        byte_range = _byte_range(raw_range, size) if raw_range is not None else (0, size)
        return JobRequest(**common, archive_id=archive_id, byte_range=byte_range)
    _reject(params, ("RetrievalByteRange",), job_type)
    return JobRequest(
        **common,
        archive_id=archive_id,
        select_parameters=_select_parameters(params),
        output_location=_output_location(params, bucket_exists),
    )
