"""Glacier's documented parameter rules, each stated exactly once.

Every check here raises :class:`GlacierValidationError` naming the Glacier field, the
offending value and the rule, so a bad DAG fails before a request is sent (and paid for).
The job, select and output-location models only compose these checks; nothing else in
the package re-implements them. No Airflow import: this is the pure core.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar, TypeVar

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.treehash import MIB  # Glacier's 1 MiB unit, defined once with the tree hash

TIERS = ("Expedited", "Standard", "Bulk")
JOB_TYPES = ("archive-retrieval", "inventory-retrieval", "select")
INVENTORY_FORMATS = ("JSON", "CSV")
DESCRIPTION_MAX_BYTES = 1024
# Glacier sends Limit as a decimal string; a 64-bit bound keeps it a number any client or
# service parses, and keeps str(limit) away from Python's int-to-str digit limit.
LIMIT_MAX = 2**63 - 1

_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*")
_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")
_VAULT_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,255}")
_BYTE_RANGE = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")
_SNS_TOPIC_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:sns:[a-z]{2}(?:-[a-z]+)+-[0-9]+:[0-9]{12}:[A-Za-z0-9_\-]{1,256}"
)
_DIGITS = re.compile(r"[0-9]+")
_ISO_DATE = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"(?:[Tt ](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<zone>[Zz]|[+-][0-9]{2}:?[0-9]{2})?)?"
)

ISO_DATE_RULE = "must be an ISO 8601 date-time such as 2024-01-31T00:00:00Z"
WHOLE_SECONDS_RULE = "must be whole seconds (inventory dates have no fraction)"


def check_str(field: str, value: object) -> str:
    """Every Glacier parameter travels as a JSON string; anything else is a caller mistake."""
    if not isinstance(value, str):
        raise GlacierValidationError(field, value, "must be a string")
    return value


def check_required(field: str, value: object) -> object:
    if value is None:
        raise GlacierValidationError(field, value, "is required")
    return value


def check_non_empty(field: str, value: object) -> str:
    """A required string: absent, non-string and empty values are all refused."""
    check_required(field, value)
    text = check_str(field, value)
    if not text:
        raise GlacierValidationError(field, value, "must not be empty")
    return text


def check_one_of(field: str, value: object, allowed: Iterable[str]) -> str:
    """Enumerations are case-sensitive in Glacier ("bulk" is refused server-side)."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise GlacierValidationError(field, value, f"is not one of {', '.join(allowed)}")
    return value


def check_tier(value: object, field: str = "Tier") -> str:
    """Tier decides both price and wait (minutes, 3-5 hours, 5-12 hours); a typo must not default."""
    return check_one_of(field, value, TIERS)


FALLBACK_TIERS = ("Standard", "Bulk")


def check_expedited_fallback_tier(value: object, tier: object) -> str | None:
    """The tier to ask for when Glacier has no Expedited capacity: Standard or Bulk, for an Expedited job.

    A fallback next to any other tier (or none: Standard) could never be used and is
    refused as a likely mistake. Both values are final (rendered) when this is called.
    """
    if value is None:
        return None
    check_one_of("expedited_fallback_tier", value, FALLBACK_TIERS)
    if tier != "Expedited":
        raise GlacierValidationError(
            "expedited_fallback_tier", value, f"only applies to tier Expedited (tier is {tier!r})"
        )
    return str(value)


def check_description(value: object, field: str = "Description") -> str:
    """Glacier limits a job description to 1,024 bytes of printable ASCII (0x20-0x7E)."""
    text = check_str(field, value)
    if not _PRINTABLE_ASCII.fullmatch(text):
        raise GlacierValidationError(field, value, "must be printable ASCII (0x20-0x7E)")
    if len(text) > DESCRIPTION_MAX_BYTES:
        raise GlacierValidationError(field, value, f"must be at most {DESCRIPTION_MAX_BYTES} bytes")
    return text


def check_sns_topic(value: object, field: str = "SNSTopic") -> str:
    """Glacier notifies completion through SNS; only a topic ARN is a valid target."""
    text = check_str(field, value)
    if not _SNS_TOPIC_ARN.fullmatch(text):
        raise GlacierValidationError(
            field, value, "must be an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:topic"
        )
    return text


def check_archive_id(value: object, field: str = "ArchiveId") -> str:
    """Glacier assigns archive ids (URL-safe, no whitespace); anything else cannot name an archive."""
    text = check_non_empty(field, value)
    if not _VISIBLE_ASCII.fullmatch(text):
        raise GlacierValidationError(field, value, "must be printable ASCII without spaces (0x21-0x7E)")
    return text


def validate_vault_name(name: str) -> str:
    """Vault names are 1-255 characters of a-z, A-Z, 0-9, '_', '-' and '.'."""
    text = check_str("vaultName", name)
    if not _VAULT_NAME.fullmatch(text):
        raise GlacierValidationError(
            "vaultName", name, "must be 1-255 characters of a-z, A-Z, 0-9, '_', '-', '.'"
        )
    return text


def check_archive_size(value: object, field: str = "archive_size") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise GlacierValidationError(field, value, "must be a non-negative integer")
    return value


def check_seconds(field: str, value: object) -> float:
    """A duration such as a poll interval: a finite number of seconds above 0 (not a bool, not text)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise GlacierValidationError(field, value, "must be a number of seconds above 0")
    return float(value)


def split_byte_range(value: object) -> tuple[int, int] | None:
    """Read a ``start-end`` range leniently (no alignment rules), as DescribeJob reports it."""
    if not isinstance(value, str):
        return None
    match = _BYTE_RANGE.fullmatch(value)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def parse_byte_range(
    value: str, archive_size: int | None = None, field: str = "RetrievalByteRange"
) -> tuple[int, int]:
    """Parse and check an archive retrieval range ``start-end`` (inclusive offsets).

    Glacier requires the start to be 1 MiB aligned and ``end + 1`` to be 1 MiB aligned or
    equal to the archive size (Initiate Job (POST jobs); Receiving Checksums When Downloading
    Data: "megabyte aligned"). The end rule can only be checked against a known size: with
    ``archive_size`` (an inventory's ``Size``, DescribeJob's ``ArchiveSizeInBytes``) an end
    that is neither aligned nor the archive's last byte, or lies beyond the archive, is
    refused here; without it an unaligned end is accepted as a possible last byte, and
    Glacier itself refuses it (InvalidParameterValueException) before the job exists.
    """
    check_str(field, value)
    parsed = split_byte_range(value)
    if parsed is None:
        raise GlacierValidationError(field, value, "must have the form 'start-end' (decimal byte offsets)")
    start, end = parsed
    if start > end:
        raise GlacierValidationError(field, value, "start must not be greater than end")
    if start % MIB:
        raise GlacierValidationError(field, value, f"start must be divisible by 1 MiB ({MIB})")
    if archive_size is None:
        return start, end
    check_archive_size(archive_size)
    if end >= archive_size:
        raise GlacierValidationError(
            field, value, f"end must be less than the archive size ({archive_size} bytes)"
        )
    if (end + 1) % MIB and end + 1 != archive_size:
        raise GlacierValidationError(
            field,
            value,
            f"end+1 must be divisible by 1 MiB ({MIB}) or equal the archive size ({archive_size} bytes)",
        )
    return start, end


def normalize_inventory_date(value: object, field: str) -> str:
    """Return an inventory date as UTC ``YYYY-MM-DDTHH:MM:SSZ``.

    Glacier's inventory dates (archive CreationDate) have second precision and are UTC, so
    a naive value is read as UTC and sub-second values are refused rather than silently
    widening or narrowing the range.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        moment = _parse_iso_date(value, field)
    else:
        raise GlacierValidationError(field, value, ISO_DATE_RULE)
    if moment.microsecond:
        raise GlacierValidationError(field, value, WHOLE_SECONDS_RULE)
    try:
        if moment.tzinfo is not None:
            offset = moment.utcoffset()
            moment = moment.replace(tzinfo=None) - (offset or timedelta(0))
    except OverflowError:
        raise GlacierValidationError(field, value, ISO_DATE_RULE) from None
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def _parse_iso_date(text: str, field: str) -> datetime:
    match = _ISO_DATE.fullmatch(text)
    if match is None:
        raise GlacierValidationError(field, text, ISO_DATE_RULE)
    parts = match.groupdict()
    if int(parts["fraction"] or 0):
        raise GlacierValidationError(field, text, WHOLE_SECONDS_RULE)
    try:
        tz = _parse_zone(parts["zone"])
        return datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            tzinfo=tz,
        )
    except ValueError:
        raise GlacierValidationError(field, text, ISO_DATE_RULE) from None


def _parse_zone(zone: str | None) -> timezone | None:
    if zone is None or zone in ("Z", "z"):
        return timezone.utc
    digits = zone[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise ValueError(zone)
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if zone[0] == "-" else offset)


def check_date_order(start: str | None, end: str | None, field: str) -> None:
    """StartDate is inclusive and EndDate exclusive, so an empty or inverted window is a mistake."""
    if start is not None and end is not None and not start < end:
        raise GlacierValidationError(field, end, f"must be after StartDate ({start!r})")


def normalize_limit(value: object, field: str) -> int:
    """Limit is a count >= 1; templated strings such as "1000" are accepted, bools and floats are not."""
    if isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) <= 19:
        number: object = int(value)
    else:
        number = value
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= LIMIT_MAX:
        raise GlacierValidationError(field, value, f"must be an integer from 1 to {LIMIT_MAX}")
    return number


def check_single_char(field: str, value: object) -> str:
    """Glacier Select's CSV delimiters, quotes, escapes and comment markers are one character each."""
    text = check_str(field, value)
    if len(text) != 1:
        raise GlacierValidationError(field, value, "must be a single character")
    return text


def check_mapping(field: str, value: object) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise GlacierValidationError(field, value, "must be a mapping")
    return value


def check_string_map(field: str, value: object) -> dict[str, str]:
    """S3 tags and user metadata are string-to-string maps; copy them so the model stays immutable."""
    mapping = check_mapping(field, value)
    for key, item in mapping.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise GlacierValidationError(field, {key: item}, "must map strings to strings")
    return dict(mapping)


def check_known_keys(
    mapping: Mapping[Any, Any], allowed: Iterable[str], context: str, path: str = ""
) -> None:
    """Refuse keys Glacier does not define for this place, e.g. a byte range on an inventory job."""
    allowed = tuple(allowed)
    for key, item in mapping.items():
        # A null member reads as absent (templated dicts leave optional members empty).
        if key not in allowed and item is not None:
            raise GlacierValidationError(
                f"{path}{key}", item, f"is not allowed in {context} (allowed: {', '.join(allowed)})"
            )


StructT = TypeVar("StructT", bound="ApiStruct")


class ApiStruct:
    """A flat Glacier structure whose members are all optional strings.

    Subclasses are frozen dataclasses naming each attribute's Glacier key in ``API_NAMES``
    and their own place in the request in ``PATH``, so errors read like Glacier's fields.
    """

    API_NAMES: ClassVar[Mapping[str, str]]
    PATH: ClassVar[str]

    @classmethod
    def api_field(cls, attribute: str) -> str:
        return f"{cls.PATH}.{cls.API_NAMES[attribute]}"

    def to_api(self) -> dict[str, Any]:
        """The boto3 dict: Glacier's keys, absent members omitted."""
        return {
            key: getattr(self, attribute)
            for attribute, key in self.API_NAMES.items()
            if getattr(self, attribute) is not None
        }

    @classmethod
    def from_api(cls: type[StructT], value: object) -> StructT:
        """Inverse of :meth:`to_api`; unknown keys are refused, ``None`` members read as absent."""
        mapping = check_mapping(cls.PATH, value)
        check_known_keys(mapping, cls.API_NAMES.values(), cls.PATH, f"{cls.PATH}.")
        return cls(**{attribute: mapping.get(key) for attribute, key in cls.API_NAMES.items()})
