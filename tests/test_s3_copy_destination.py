"""S3 object settings and the verified-copy check behind the collision policies."""

from __future__ import annotations

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.destination import (
    TREE_HASH_METADATA_KEY,
    VERIFICATION_METADATA_KEY,
    S3ObjectSettings,
    is_verified_copy,
)


def test_verified_copy_needs_size_and_tree_hash_metadata() -> None:
    digest = "ab" * 32
    assert is_verified_copy(10, {TREE_HASH_METADATA_KEY: digest}, 10, digest.upper())
    assert not is_verified_copy(11, {TREE_HASH_METADATA_KEY: digest}, 10, digest)
    assert not is_verified_copy(10, {}, 10, digest)
    assert not is_verified_copy(10, {TREE_HASH_METADATA_KEY: digest}, 10, None)


def test_settings_become_put_and_multipart_arguments() -> None:
    settings = S3ObjectSettings(
        encryption="aws:kms",
        kms_key_id="alias/backups",
        storage_class="DEEP_ARCHIVE",
        tags={"team": "data+ml @ team/1", "tier": "cold"},
        metadata={"source": "glacier"},
    )
    assert settings.extra_args("ab" * 32) == {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "alias/backups",
        "StorageClass": "DEEP_ARCHIVE",
        "Tagging": "team=data%2Bml%20%40%20team%2F1&tier=cold",
        "Metadata": {
            "source": "glacier",
            TREE_HASH_METADATA_KEY: "ab" * 32,
            VERIFICATION_METADATA_KEY: "tree-hash",
        },
    }
    # No tree hash vouched for the bytes: the object says so.
    assert S3ObjectSettings().extra_args(None) == {"Metadata": {VERIFICATION_METADATA_KEY: "size-only"}}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"encryption": "aes256"}, "encryption"),
        ({"kms_key_id": "k"}, "kms_key_id"),
        ({"encryption": "AES256", "kms_key_id": "k"}, "kms_key_id"),
        ({"storage_class": "FROZEN"}, "storage_class"),
        ({"tags": {f"k{i}": "v" for i in range(11)}}, "tags"),
        ({"tags": {"k" * 129: "v"}}, "tags"),
        ({"tags": {"k": 1}}, "tags"),
        ({"tags": {"k": "a&b"}}, "tags"),
        ({"tags": {"k<": "v"}}, "tags"),
        ({"metadata": {"SHA256-Tree-Hash": "x"}}, "metadata"),
        ({"metadata": {"Verification": "tree-hash"}}, "metadata"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(GlacierValidationError, match=f"^{field}"):
        S3ObjectSettings(**kwargs)  # type: ignore[arg-type]
