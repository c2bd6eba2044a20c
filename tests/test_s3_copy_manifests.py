"""Select manifests: keys or s3:// URIs, and never an object in another bucket."""

from __future__ import annotations

import pytest

from airflow_glacier_select.s3_copy.errors import GlacierTransferError
from airflow_glacier_select.s3_copy.manifests import parse_manifest


def test_manifest_entries_as_keys_or_uris() -> None:
    text = "out/j/results/1.csv\n\ns3://bucket/out/j/results/2.csv\r\n"
    assert parse_manifest(text, "bucket") == ["out/j/results/1.csv", "out/j/results/2.csv"]
    with pytest.raises(GlacierTransferError, match="is not an object in bucket bucket"):
        parse_manifest("s3://elsewhere/out/1.csv", "bucket")
