"""Destination keys: templates, archive paths from descriptions, safe paths, suffixes."""

from __future__ import annotations

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.keys import (
    default_key_template,
    key_fields_for_job,
    key_template_fields,
    needs_archive_description,
    render_key,
    safe_key_path,
    suffixed_key,
)
from airflow_glacier_select.treehash import MIB
from tests.support.transfer_helpers import archive_job_description, job_description


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("C:\\Users\\ann\\tax 2019.pdf", "Users/ann/tax 2019.pdf"),
        ("/var/backups//db.tar.gz", "var/backups/db.tar.gz"),
        ("../../etc/passwd", "etc/passwd"),
        ("./a/./b\x00c", "a/b_c"),
        ("photos/été.jpg", "photos/été.jpg"),
    ],
)
def test_recorded_paths_become_safe_keys(path: str, key: str) -> None:
    assert safe_key_path(path) == key


def test_key_fields_decode_the_archive_description() -> None:
    job = archive_job_description(10)
    fastglacier = "<m><v>4</v><p>L2hvbWUvYW5uL3Bob3Rvcy/DqXTDqS5qcGc=</p><lm>20120821T170824Z</lm></m>"
    fields = key_fields_for_job(job, "photos", fastglacier)
    assert fields["archive_path"] == "home/ann/photos/été.jpg"
    assert render_key(default_key_template(job), fields) == "photos/home/ann/photos/été.jpg"
    assert (
        key_fields_for_job(job, "photos", '{"Path": "C:\\\\docs\\\\a.txt"}')["archive_path"] == "docs/a.txt"
    )
    assert key_fields_for_job(job, "photos", None)["archive_path"] == "archive-1"
    assert key_fields_for_job(job, "photos", "<m><p>%%%</p></m>")["archive_path"] == "archive-1"


def test_default_keys_per_job_kind() -> None:
    inventory = job_description(Action="InventoryRetrieval", InventoryRetrievalParameters={"Format": "CSV"})
    fields = key_fields_for_job(inventory, "photos", None)
    assert render_key(default_key_template(inventory), fields) == "photos/inventory/job-1.csv"
    ranged = job_description(
        Action="ArchiveRetrieval", ArchiveId="a1", ArchiveSizeInBytes=10 * MIB, RetrievalByteRange="0-1048575"
    )
    assert render_key(default_key_template(ranged), key_fields_for_job(ranged, "photos", "x.bin")) == (
        "photos/x.bin.bytes-0-1048575"
    )
    assert not needs_archive_description(default_key_template(inventory))
    assert needs_archive_description(default_key_template(ranged))


@pytest.mark.parametrize(
    ("template", "rule"),
    [
        ("{nope}", "uses {nope}; placeholders are"),
        ("{0}", "uses {0}"),
        ("{job_id!r}", "uses {job_id}"),
        ("{job_id:>10}", "uses {job_id}"),
        ("{job_id", "is not a valid key template"),
        ("", "must not be empty"),
        (None, "is required"),
    ],
)
def test_bad_key_templates_are_refused(template: object, rule: str) -> None:
    with pytest.raises(GlacierValidationError, match=r"^key: ") as raised:
        key_template_fields(template)
    assert rule in str(raised.value)


def test_keys_longer_than_s3_allows_are_refused() -> None:
    assert key_template_fields("{{literal}}/{job_id}") == {"job_id"}
    with pytest.raises(GlacierValidationError, match="must be at most 1024 bytes"):
        render_key("é" * 513, {})


@pytest.mark.parametrize(
    ("key", "suffixed"),
    [("a/b/photo.tar.gz", "a/b/photo-2.tar.gz"), ("plain", "plain-2"), ("dir/.hidden", "dir/.hidden-2")],
)
def test_suffixed_keys_keep_the_extension(key: str, suffixed: str) -> None:
    assert suffixed_key(key, 2) == suffixed
