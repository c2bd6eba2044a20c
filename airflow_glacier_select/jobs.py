"""Glacier job parameters: one immutable, validated object per InitiateJob type.

A job costs money the moment Glacier accepts it, so every documented rule is checked when
the object is built, and :meth:`to_job_parameters` produces exactly the dict boto3's
``initiate_job(jobParameters=...)`` takes. :func:`job_from_parameters` is the inverse,
for parameters that arrive as plain (possibly templated) dicts. This is the pure core:
no Airflow import.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.inventory import InventoryArchive
from airflow_glacier_select.job_description import STATUS_CODES, JobDescription
from airflow_glacier_select.job_rules import (
    INVENTORY_FORMATS,
    JOB_TYPES,
    MIB,
    TIERS,
    check_archive_id,
    check_archive_size,
    check_date_order,
    check_description,
    check_known_keys,
    check_mapping,
    check_non_empty,
    check_one_of,
    check_required,
    check_sns_topic,
    check_tier,
    normalize_inventory_date,
    normalize_limit,
    parse_byte_range,
    validate_vault_name,
)
from airflow_glacier_select.output_location import (
    Encryption,
    Grant,
    Grantee,
    S3OutputLocation,
    job_output_prefix,
)
from airflow_glacier_select.select_parameters import (
    EXPRESSION_TYPES,
    FILE_HEADER_INFO,
    QUOTE_FIELDS,
    CsvInput,
    CsvOutput,
)

__all__ = [
    "EXPRESSION_MAX_CHARACTERS",
    "FILE_HEADER_INFO",
    "INVENTORY_FORMATS",
    "JOB_TYPES",
    "MIB",
    "QUOTE_FIELDS",
    "STATUS_CODES",
    "TIERS",
    "ArchiveRetrievalJob",
    "CsvInput",
    "CsvOutput",
    "Encryption",
    "Grant",
    "Grantee",
    "InventoryRetrievalJob",
    "JobDescription",
    "JobParameters",
    "S3OutputLocation",
    "SelectJob",
    "job_from_parameters",
    "job_output_prefix",
    "parse_byte_range",
    "validate_vault_name",
]

_INVENTORY_PATH = "InventoryRetrievalParameters"
_SELECT_PATH = "SelectParameters"
EXPRESSION_MAX_CHARACTERS = 128_000


def _check_common(description: object, sns_topic: object, tier: object = None) -> None:
    """Members every job type shares: Description, SNSTopic and (archive and select only) Tier."""
    if description is not None:
        check_description(description)
    if sns_topic is not None:
        check_sns_topic(sns_topic)
    if tier is not None:
        check_tier(tier)


def _common_parameters(job_type: str, description: str | None, sns_topic: str | None) -> dict[str, Any]:
    params: dict[str, Any] = {"Type": job_type}
    if description is not None:
        params["Description"] = description
    if sns_topic is not None:
        params["SNSTopic"] = sns_topic
    return params


@dataclass(frozen=True)
class ArchiveRetrievalJob:
    """Restore one archive, or a 1 MiB-aligned byte range of it, for download.

    ``archive_size`` is not sent to Glacier: when known (from an inventory or a DescribeJob)
    it lets the range's end be checked here, before the job is paid for. Without it a range
    may still end at the archive's last byte (Glacier allows ``end + 1 == archive size``);
    an unaligned end is then left to Glacier, which refuses a wrong one before starting a job.
    """

    archive_id: str
    description: str | None = None
    sns_topic: str | None = None
    retrieval_byte_range: str | None = None
    tier: str | None = None
    archive_size: int | None = field(default=None, compare=False)

    job_type: ClassVar[str] = "archive-retrieval"

    def __post_init__(self) -> None:
        check_archive_id(self.archive_id)
        _check_common(self.description, self.sns_topic, self.tier)
        if self.archive_size is not None:
            check_archive_size(self.archive_size)
        if self.retrieval_byte_range is not None:
            parse_byte_range(self.retrieval_byte_range, self.archive_size)

    @classmethod
    def for_archive(
        cls, archive: InventoryArchive | JobDescription, **parameters: Any
    ) -> ArchiveRetrievalJob:
        """The retrieval of an archive as an inventory or a DescribeJob describes it.

        Its id and size come from there, so a byte range is checked against the real size
        (an end past the archive, or short of it and unaligned, fails before sending).
        """
        if isinstance(archive, JobDescription):
            archive_id, size = archive.archive_id, archive.archive_size_in_bytes
        elif isinstance(archive, InventoryArchive):
            archive_id, size = archive.archive_id, archive.size
        else:
            raise GlacierValidationError(
                "archive", archive, "must be an InventoryArchive or a JobDescription"
            )
        return cls(archive_id=archive_id, archive_size=size, **parameters)  # type: ignore[arg-type]

    def to_job_parameters(self) -> dict[str, Any]:
        params = _common_parameters(self.job_type, self.description, self.sns_topic)
        params["ArchiveId"] = self.archive_id
        if self.retrieval_byte_range is not None:
            params["RetrievalByteRange"] = self.retrieval_byte_range
        if self.tier is not None:
            params["Tier"] = self.tier
        return params


@dataclass(frozen=True)
class InventoryRetrievalJob:
    """List a vault's archives, optionally a window of creation dates, page by page via Limit/Marker.

    Dates are stored normalised to UTC ``YYYY-MM-DDTHH:MM:SSZ`` and ``limit`` as an int,
    so equal requests compare equal however they were written.
    """

    format: str = "JSON"
    description: str | None = None
    sns_topic: str | None = None
    start_date: str | datetime | None = None
    end_date: str | datetime | None = None
    limit: int | str | None = None
    marker: str | None = None

    job_type: ClassVar[str] = "inventory-retrieval"

    def __post_init__(self) -> None:
        check_one_of("Format", self.format, INVENTORY_FORMATS)
        _check_common(self.description, self.sns_topic)
        for attribute, key in (("start_date", "StartDate"), ("end_date", "EndDate")):
            value = getattr(self, attribute)
            if value is not None:
                normalised = normalize_inventory_date(value, f"{_INVENTORY_PATH}.{key}")
                object.__setattr__(self, attribute, normalised)
        check_date_order(self.start_date, self.end_date, f"{_INVENTORY_PATH}.EndDate")  # type: ignore[arg-type]
        if self.limit is not None:
            object.__setattr__(self, "limit", normalize_limit(self.limit, f"{_INVENTORY_PATH}.Limit"))
        if self.marker is not None:
            check_non_empty(f"{_INVENTORY_PATH}.Marker", self.marker)

    def inventory_retrieval_parameters(self) -> dict[str, str]:
        """The ``InventoryRetrievalParameters`` dict (empty when no window, limit or marker is set)."""
        members = {
            "StartDate": self.start_date,
            "EndDate": self.end_date,
            "Limit": self.limit,
            "Marker": self.marker,
        }
        return {key: str(value) for key, value in members.items() if value is not None}

    def to_job_parameters(self) -> dict[str, Any]:
        params = _common_parameters(self.job_type, self.description, self.sns_topic)
        params["Format"] = self.format
        inventory = self.inventory_retrieval_parameters()
        if inventory:
            params[_INVENTORY_PATH] = inventory
        return params


@dataclass(frozen=True)
class SelectJob:
    """Run a SQL expression over a CSV archive in place; Glacier writes the result CSV to S3."""

    archive_id: str
    expression: str
    output_location: S3OutputLocation
    input_serialization: CsvInput = field(default_factory=CsvInput)
    output_serialization: CsvOutput = field(default_factory=CsvOutput)
    expression_type: str = "SQL"
    description: str | None = None
    sns_topic: str | None = None
    tier: str | None = None

    job_type: ClassVar[str] = "select"

    def __post_init__(self) -> None:
        check_archive_id(self.archive_id)
        expression = check_non_empty(f"{_SELECT_PATH}.Expression", self.expression)
        if len(expression) > EXPRESSION_MAX_CHARACTERS:
            raise GlacierValidationError(
                f"{_SELECT_PATH}.Expression",
                expression,
                f"must be at most {EXPRESSION_MAX_CHARACTERS} characters",
            )
        check_one_of(f"{_SELECT_PATH}.ExpressionType", self.expression_type, EXPRESSION_TYPES)
        check_required("OutputLocation", self.output_location)
        if not isinstance(self.output_location, S3OutputLocation):
            raise GlacierValidationError(
                "OutputLocation", self.output_location, "must be an S3OutputLocation"
            )
        for value, key, expected in (
            (self.input_serialization, "InputSerialization", CsvInput),
            (self.output_serialization, "OutputSerialization", CsvOutput),
        ):
            if not isinstance(value, expected):
                raise GlacierValidationError(f"{_SELECT_PATH}.{key}", value, f"must be a {expected.__name__}")
        _check_common(self.description, self.sns_topic, self.tier)

    def select_parameters(self) -> dict[str, Any]:
        """The ``SelectParameters`` dict; CSV serialisation is always explicit (Select reads only CSV)."""
        return {
            "InputSerialization": {"csv": self.input_serialization.to_api()},
            "ExpressionType": self.expression_type,
            "Expression": self.expression,
            "OutputSerialization": {"csv": self.output_serialization.to_api()},
        }

    def to_job_parameters(self) -> dict[str, Any]:
        params = _common_parameters(self.job_type, self.description, self.sns_topic)
        params["ArchiveId"] = self.archive_id
        if self.tier is not None:
            params["Tier"] = self.tier
        params[_SELECT_PATH] = self.select_parameters()
        params["OutputLocation"] = self.output_location.to_output_location()
        return params


JobParameters = ArchiveRetrievalJob | InventoryRetrievalJob | SelectJob

_COMMON_KEYS = ("Type", "Description", "SNSTopic")
_KEYS_BY_TYPE = {
    "archive-retrieval": (*_COMMON_KEYS, "ArchiveId", "RetrievalByteRange", "Tier"),
    "inventory-retrieval": (*_COMMON_KEYS, "Format", _INVENTORY_PATH),
    "select": (*_COMMON_KEYS, "ArchiveId", "Tier", _SELECT_PATH, "OutputLocation"),
}


def job_from_parameters(params: Mapping[str, Any], *, archive_size: int | None = None) -> JobParameters:
    """Build the validated job object from a boto3 ``jobParameters`` dict (inverse of ``to_job_parameters``).

    Members that do not belong to the dict's Type (a byte range on an inventory job, a
    Format on a select job ...) are refused; ``None`` members read as absent, so templated
    dicts may leave optional members empty. ``archive_size`` is passed through to
    :class:`ArchiveRetrievalJob`.
    """
    params = check_mapping("jobParameters", params)
    job_type = check_one_of("Type", check_required("Type", params.get("Type")), JOB_TYPES)
    present = {key: value for key, value in params.items() if value is not None}
    check_known_keys(present, _KEYS_BY_TYPE[job_type], f"{job_type} job parameters")
    description, sns_topic = present.get("Description"), present.get("SNSTopic")
    if job_type == "archive-retrieval":
        return ArchiveRetrievalJob(
            archive_id=present.get("ArchiveId"),  # type: ignore[arg-type]
            description=description,
            sns_topic=sns_topic,
            retrieval_byte_range=present.get("RetrievalByteRange"),
            tier=present.get("Tier"),
            archive_size=archive_size,
        )
    if job_type == "inventory-retrieval":
        inventory = check_mapping(_INVENTORY_PATH, present.get(_INVENTORY_PATH, {}))
        check_known_keys(
            inventory, ("StartDate", "EndDate", "Limit", "Marker"), _INVENTORY_PATH, f"{_INVENTORY_PATH}."
        )
        return InventoryRetrievalJob(
            format=present.get("Format", "JSON"),
            description=description,
            sns_topic=sns_topic,
            start_date=inventory.get("StartDate"),
            end_date=inventory.get("EndDate"),
            limit=inventory.get("Limit"),
            marker=inventory.get("Marker"),
        )
    select = check_mapping(_SELECT_PATH, check_required(_SELECT_PATH, present.get(_SELECT_PATH)))
    check_known_keys(
        select,
        ("InputSerialization", "ExpressionType", "Expression", "OutputSerialization"),
        _SELECT_PATH,
        f"{_SELECT_PATH}.",
    )
    return SelectJob(
        archive_id=present.get("ArchiveId"),  # type: ignore[arg-type]
        expression=select.get("Expression"),  # type: ignore[arg-type]
        output_location=S3OutputLocation.from_output_location(
            check_required("OutputLocation", present.get("OutputLocation"))
        ),
        input_serialization=CsvInput.from_api(_csv_member(select, "InputSerialization")),
        output_serialization=CsvOutput.from_api(_csv_member(select, "OutputSerialization")),
        expression_type="SQL" if select.get("ExpressionType") is None else select["ExpressionType"],
        description=description,
        sns_topic=sns_topic,
        tier=present.get("Tier"),
    )


def _csv_member(select: Mapping[str, Any], key: str) -> object:
    """Unwrap ``{"csv": {...}}``: CSV is the only serialisation Glacier Select has."""
    path = f"{_SELECT_PATH}.{key}"
    wrapper = check_mapping(path, select.get(key) or {})
    check_known_keys(wrapper, ("csv",), path, f"{path}.")
    return wrapper.get("csv") or {}
