"""The S3 object a copy writes: encryption, storage class, tags, metadata and what to do on a taken key.

All of it is checked when built, so a bad setting fails before a single byte is
downloaded. The tree hash a copy was verified against is stored in the object's user
metadata (:data:`TREE_HASH_METADATA_KEY`); that is how a rerun recognises its own earlier,
verified copy and downloads nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_rules import check_non_empty, check_one_of, check_string_map

__all__ = [
    "COLLISION_POLICIES",
    "S3_ENCRYPTIONS",
    "S3_MAX_TAGS",
    "S3_STORAGE_CLASSES",
    "TREE_HASH_METADATA_KEY",
    "VERIFICATION_METADATA_KEY",
    "S3ObjectSettings",
    "check_collision_policy",
    "is_verified_copy",
]

S3_MAX_TAGS = 10
TREE_HASH_METADATA_KEY = "sha256-tree-hash"
"""User metadata key (``x-amz-meta-sha256-tree-hash``) holding the Glacier tree hash of a verified copy."""
VERIFICATION_METADATA_KEY = "verification"
"""User metadata key (``x-amz-meta-verification``): ``tree-hash`` when a tree hash from Glacier
vouched for the bytes (the object then also carries :data:`TREE_HASH_METADATA_KEY`), else
``size-only``. A multipart copy records what was known when its upload began: ``tree-hash``
only when DescribeJob gave the output's tree hash.
"""
_RESERVED_METADATA = (TREE_HASH_METADATA_KEY, VERIFICATION_METADATA_KEY)

COLLISION_POLICIES = ("skip_if_same", "overwrite", "suffix", "fail")
"""What to do when the destination key already holds an object.

- ``skip_if_same``: an object of the same size whose ``sha256-tree-hash`` metadata equals
  the job's tree hash is a verified copy from an earlier run: keep it and download nothing.
  Any other object is replaced. Without a tree hash from Glacier (inventory jobs) nothing
  can prove sameness, so the object is replaced.
- ``overwrite``: always replace.
- ``suffix``: keep a verified copy as ``skip_if_same`` does; otherwise write to the first
  free key among ``name-1.ext``, ``name-2.ext`` ...
- ``fail``: refuse to touch an existing key (nothing is downloaded).
"""

S3_STORAGE_CLASSES = (
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
)
S3_ENCRYPTIONS = ("AES256", "aws:kms")

_TAG_TEXT = re.compile(r"[\w\s+\-=.:/@]*")


def check_collision_policy(value: object) -> str:
    return check_one_of("collision", value, COLLISION_POLICIES)


def is_verified_copy(
    size: int, metadata: Mapping[str, str], expected_size: int, expected_tree_hash: str | None
) -> bool:
    """Whether an existing object is a copy this package verified against the same tree hash."""
    stored = {key.lower(): value for key, value in metadata.items()}.get(TREE_HASH_METADATA_KEY)
    return (
        expected_tree_hash is not None
        and size == expected_size
        and stored is not None
        and stored.lower() == expected_tree_hash.lower()
    )


@dataclass(frozen=True)
class S3ObjectSettings:
    """Encryption, storage class, tags and metadata of the object written to S3.

    Checked when built, so a bad setting fails before a single byte is downloaded.
    """

    encryption: str | None = None
    kms_key_id: str | None = None
    storage_class: str | None = None
    tags: Mapping[str, str] | None = None
    metadata: Mapping[str, str] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.encryption is not None:
            check_one_of("encryption", self.encryption, S3_ENCRYPTIONS)
        if self.kms_key_id is not None:
            check_non_empty("kms_key_id", self.kms_key_id)
            if self.encryption != "aws:kms":
                raise GlacierValidationError(
                    "kms_key_id", self.kms_key_id, "is allowed only when encryption is 'aws:kms'"
                )
        if self.storage_class is not None:
            check_one_of("storage_class", self.storage_class, S3_STORAGE_CLASSES)
        if self.tags is not None:
            tags = check_string_map("tags", self.tags)
            if len(tags) > S3_MAX_TAGS:
                raise GlacierValidationError("tags", self.tags, f"must have at most {S3_MAX_TAGS} tags")
            for key, value in tags.items():
                if not 1 <= len(key) <= 128 or len(value) > 256:
                    raise GlacierValidationError(
                        "tags", {key: value}, "keys must be 1-128 characters and values at most 256"
                    )
                if not (_TAG_TEXT.fullmatch(key) and _TAG_TEXT.fullmatch(value)):
                    raise GlacierValidationError(
                        "tags", {key: value}, "may hold only letters, digits, spaces and + - = . _ : / @"
                    )
            object.__setattr__(self, "tags", tags)
        if self.metadata is not None:
            metadata = check_string_map("metadata", self.metadata)
            reserved = [key for key in metadata if key.lower() in _RESERVED_METADATA]
            if reserved:
                raise GlacierValidationError(
                    "metadata", self.metadata, f"must not set {reserved[0]!r}: the transfer does"
                )
            object.__setattr__(self, "metadata", metadata)

    def extra_args(self, tree_hash: str | None) -> dict[str, Any]:
        """Arguments for PutObject and CreateMultipartUpload (the same members in both).

        ``tree_hash`` is the Glacier tree hash that vouches for the bytes, None when none did.
        """
        args: dict[str, Any] = dict(self.extra)
        if self.encryption is not None:
            args["ServerSideEncryption"] = self.encryption
        if self.kms_key_id is not None:
            args["SSEKMSKeyId"] = self.kms_key_id
        if self.storage_class is not None:
            args["StorageClass"] = self.storage_class
        if self.tags:
            args["Tagging"] = "&".join(
                f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.tags.items()
            )
        metadata = dict(self.metadata or {})
        if tree_hash is not None:
            metadata[TREE_HASH_METADATA_KEY] = tree_hash
        metadata[VERIFICATION_METADATA_KEY] = "tree-hash" if tree_hash is not None else "size-only"
        args["Metadata"] = metadata
        return args
