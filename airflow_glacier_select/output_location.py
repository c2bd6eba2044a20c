"""Where Glacier Select writes its results: ``OutputLocation.S3``.

Glacier writes a select job's output into the caller's bucket under
``<Prefix>/<JobId>/`` (``job.txt``, ``results/*``, ``result_manifest.txt``, and on
failure ``errors/*`` plus ``error_manifest.txt``). The bucket, ACL, encryption and
storage class rules are S3's, checked here so a select job is not paid for only to
fail at write time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_rules import (
    ApiStruct,
    check_known_keys,
    check_mapping,
    check_non_empty,
    check_one_of,
    check_required,
    check_str,
    check_string_map,
)

S3_PATH = "OutputLocation.S3"
GRANTEE_TYPES = ("AmazonCustomerByEmail", "CanonicalUser", "Group")
PERMISSIONS = ("FULL_CONTROL", "WRITE", "WRITE_ACP", "READ", "READ_ACP")
ENCRYPTION_TYPES = ("AES256", "aws:kms")
CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "aws-exec-read",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
)
STORAGE_CLASSES = ("STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA")
PREFIX_MAX_BYTES = 512

_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]")
# Buckets created in us-east-1 before March 2018 may have up to 255 characters, upper case
# letters and underscores; S3 still serves them, so Glacier Select can write to them.
_LEGACY_BUCKET_NAME = re.compile(r"[A-Za-z0-9._\-]{3,255}")
_LEGACY_ONLY = re.compile(r"[A-Z_]|.{64}")
_IP_ADDRESS = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
# The member each grantee type is identified by.
_GRANTEE_KEY = {"AmazonCustomerByEmail": "email_address", "CanonicalUser": "id", "Group": "uri"}


def check_bucket_name(value: object, field: str = f"{S3_PATH}.BucketName") -> str:
    """S3 bucket naming: 3-63 lowercase letters, digits, dots and hyphens, alphanumeric at both ends.

    A name only a legacy us-east-1 bucket can have (upper case, ``_``, or over 63 characters)
    is checked against the legacy rule instead: 3-255 letters, digits, ``.``, ``-`` and ``_``.
    """
    name = check_non_empty(field, value)
    if _LEGACY_ONLY.search(name) and _LEGACY_BUCKET_NAME.fullmatch(name):
        return name
    if not _BUCKET_NAME.fullmatch(name):
        raise GlacierValidationError(
            field,
            value,
            "must be 3-63 characters of lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit (a legacy us-east-1 bucket: 3-255 "
            "characters of letters, digits, '.', '-' and '_')",
        )
    if ".." in name:
        raise GlacierValidationError(field, value, "must not contain two adjacent periods")
    if _IP_ADDRESS.fullmatch(name):
        raise GlacierValidationError(field, value, "must not be formatted as an IP address")
    return name


def job_output_prefix(prefix: str, job_id: str) -> str:
    """The S3 key prefix Glacier writes a select job's output under: ``<Prefix>/<JobId>/``."""
    return f"{prefix}/{job_id}/"


@dataclass(frozen=True)
class Grantee(ApiStruct):
    """Who a grant is for; each type is identified by its own member (email, canonical id, group URI)."""

    type: str
    display_name: str | None = None
    uri: str | None = None
    id: str | None = None
    email_address: str | None = None

    API_NAMES: ClassVar = {
        "type": "Type",
        "display_name": "DisplayName",
        "uri": "URI",
        "id": "ID",
        "email_address": "EmailAddress",
    }
    PATH: ClassVar = f"{S3_PATH}.AccessControlList.Grantee"

    def __post_init__(self) -> None:
        check_required(self.api_field("type"), self.type)
        check_one_of(self.api_field("type"), self.type, GRANTEE_TYPES)
        for attribute in ("display_name", "uri", "id", "email_address"):
            value = getattr(self, attribute)
            if value is not None:
                check_str(self.api_field(attribute), value)
        identifier = _GRANTEE_KEY[self.type]
        field = self.api_field(identifier)
        if not getattr(self, identifier):
            raise GlacierValidationError(
                field, getattr(self, identifier), f"is required when Type is {self.type}"
            )


@dataclass(frozen=True)
class Grant:
    """One ACL entry on the result objects: a grantee and the permission it receives."""

    grantee: Grantee
    permission: str

    PATH: ClassVar = f"{S3_PATH}.AccessControlList"

    def __post_init__(self) -> None:
        if not isinstance(self.grantee, Grantee):
            raise GlacierValidationError(f"{self.PATH}.Grantee", self.grantee, "must be a Grantee")
        check_one_of(f"{self.PATH}.Permission", self.permission, PERMISSIONS)

    def to_api(self) -> dict[str, Any]:
        return {"Grantee": self.grantee.to_api(), "Permission": self.permission}

    @classmethod
    def from_api(cls, value: object) -> Grant:
        mapping = check_mapping(cls.PATH, value)
        check_known_keys(mapping, ("Grantee", "Permission"), cls.PATH, f"{cls.PATH}.")
        grantee = check_required(f"{cls.PATH}.Grantee", mapping.get("Grantee"))
        return cls(grantee=Grantee.from_api(grantee), permission=mapping.get("Permission"))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Encryption(ApiStruct):
    """Server-side encryption of the result objects; a KMS key and context only make sense with aws:kms."""

    encryption_type: str | None = None
    kms_key_id: str | None = None
    kms_context: str | None = None

    API_NAMES: ClassVar = {
        "encryption_type": "EncryptionType",
        "kms_key_id": "KMSKeyId",
        "kms_context": "KMSContext",
    }
    PATH: ClassVar = f"{S3_PATH}.Encryption"

    def __post_init__(self) -> None:
        if self.encryption_type is not None:
            check_one_of(self.api_field("encryption_type"), self.encryption_type, ENCRYPTION_TYPES)
        for attribute in ("kms_key_id", "kms_context"):
            value = getattr(self, attribute)
            if value is None:
                continue
            check_str(self.api_field(attribute), value)
            if self.encryption_type != "aws:kms":
                raise GlacierValidationError(
                    self.api_field(attribute), value, "is allowed only when EncryptionType is 'aws:kms'"
                )


_S3_KEYS = (
    "BucketName",
    "Prefix",
    "Encryption",
    "CannedACL",
    "AccessControlList",
    "Tagging",
    "UserMetadata",
    "StorageClass",
)


@dataclass(frozen=True)
class S3OutputLocation:
    """The bucket and prefix a select job writes to, with the ACL, encryption, tags and storage class."""

    bucket_name: str
    prefix: str
    encryption: Encryption | None = None
    canned_acl: str | None = None
    access_control_list: tuple[Grant, ...] = ()
    tagging: Mapping[str, str] | None = None
    user_metadata: Mapping[str, str] | None = None
    storage_class: str | None = None

    def __post_init__(self) -> None:
        check_bucket_name(self.bucket_name)
        prefix = check_non_empty(f"{S3_PATH}.Prefix", self.prefix)
        if len(prefix.encode("utf-8", "surrogatepass")) > PREFIX_MAX_BYTES:
            raise GlacierValidationError(
                f"{S3_PATH}.Prefix", prefix, f"must be at most {PREFIX_MAX_BYTES} bytes (UTF-8)"
            )
        if self.encryption is not None and not isinstance(self.encryption, Encryption):
            raise GlacierValidationError(f"{S3_PATH}.Encryption", self.encryption, "must be an Encryption")
        if self.canned_acl is not None:
            check_one_of(f"{S3_PATH}.CannedACL", self.canned_acl, CANNED_ACLS)
        if not isinstance(self.access_control_list, (tuple, list)) or not all(
            isinstance(grant, Grant) for grant in self.access_control_list
        ):
            raise GlacierValidationError(
                f"{S3_PATH}.AccessControlList", self.access_control_list, "must be a sequence of Grant"
            )
        object.__setattr__(self, "access_control_list", tuple(self.access_control_list))
        if self.canned_acl is not None and self.access_control_list:
            # S3 (PutObject): a request carries a canned ACL or explicit grants, never both.
            raise GlacierValidationError(
                f"{S3_PATH}.AccessControlList",
                [grant.to_api() for grant in self.access_control_list],
                f"must be empty when CannedACL is given ({self.canned_acl!r}): S3 takes a canned "
                "ACL or explicit grants, not both",
            )
        for attribute, key in (("tagging", "Tagging"), ("user_metadata", "UserMetadata")):
            value = getattr(self, attribute)
            if value is not None:
                object.__setattr__(self, attribute, check_string_map(f"{S3_PATH}.{key}", value))
        if self.storage_class is not None:
            check_one_of(f"{S3_PATH}.StorageClass", self.storage_class, STORAGE_CLASSES)

    def job_prefix(self, job_id: str) -> str:
        """The S3 key prefix this location receives a given select job's output under."""
        return job_output_prefix(self.prefix, job_id)

    def to_output_location(self) -> dict[str, Any]:
        """The boto3 ``OutputLocation`` dict: ``{"S3": {...}}``, absent members omitted."""
        s3: dict[str, Any] = {"BucketName": self.bucket_name, "Prefix": self.prefix}
        if self.encryption is not None:
            s3["Encryption"] = self.encryption.to_api()
        if self.canned_acl is not None:
            s3["CannedACL"] = self.canned_acl
        if self.access_control_list:
            s3["AccessControlList"] = [grant.to_api() for grant in self.access_control_list]
        if self.tagging is not None:
            s3["Tagging"] = dict(self.tagging)
        if self.user_metadata is not None:
            s3["UserMetadata"] = dict(self.user_metadata)
        if self.storage_class is not None:
            s3["StorageClass"] = self.storage_class
        return {"S3": s3}

    @classmethod
    def from_output_location(cls, value: object) -> S3OutputLocation:
        """Inverse of :meth:`to_output_location`; unknown keys are refused."""
        outer = check_mapping("OutputLocation", value)
        check_known_keys(outer, ("S3",), "OutputLocation", "OutputLocation.")
        s3 = check_mapping(S3_PATH, check_required(S3_PATH, outer.get("S3")))
        check_known_keys(s3, _S3_KEYS, S3_PATH, f"{S3_PATH}.")
        encryption = s3.get("Encryption")
        grants = s3.get("AccessControlList")
        if grants is not None and not isinstance(grants, (list, tuple)):
            raise GlacierValidationError(f"{S3_PATH}.AccessControlList", grants, "must be a list of grants")
        return cls(
            bucket_name=s3.get("BucketName"),  # type: ignore[arg-type]
            prefix=s3.get("Prefix"),  # type: ignore[arg-type]
            encryption=None if encryption is None else Encryption.from_api(encryption),
            canned_acl=s3.get("CannedACL"),
            access_control_list=tuple(Grant.from_api(grant) for grant in grants or ()),
            tagging=s3.get("Tagging"),
            user_metadata=s3.get("UserMetadata"),
            storage_class=s3.get("StorageClass"),
        )
