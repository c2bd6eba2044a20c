"""Happy paths: each job type builds the exact boto3 jobParameters dict, and botocore accepts it."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.inventory import InventoryArchive
from airflow_glacier_select.jobs import (
    MIB,
    ArchiveRetrievalJob,
    CsvInput,
    InventoryRetrievalJob,
    JobDescription,
    S3OutputLocation,
    SelectJob,
    job_from_parameters,
    job_output_prefix,
    parse_byte_range,
    validate_vault_name,
)
from tests.support.jobs_model import (
    FULL_OUTPUT_LOCATION_DICT,
    full_jobs,
    full_output_location,
    initiate_job_errors,
)


@pytest.mark.parametrize(("job", "expected"), full_jobs(), ids=lambda v: getattr(v, "job_type", ""))
def test_full_job_builds_exact_boto3_dict_that_botocore_accepts(job, expected):
    params = job.to_job_parameters()
    assert params == expected
    assert initiate_job_errors(params) == ""
    assert json.loads(json.dumps(params)) == params


@pytest.mark.parametrize(("job", "expected"), full_jobs(), ids=lambda v: getattr(v, "job_type", ""))
def test_job_from_parameters_inverts_to_job_parameters(job, expected):
    rebuilt = job_from_parameters(expected)
    assert rebuilt == job
    assert type(rebuilt) is type(job)
    assert rebuilt.to_job_parameters() == expected


def test_minimal_jobs_send_only_what_was_set():
    location = S3OutputLocation(bucket_name="abc", prefix="p")
    assert ArchiveRetrievalJob(archive_id="a").to_job_parameters() == {
        "Type": "archive-retrieval",
        "ArchiveId": "a",
    }
    assert InventoryRetrievalJob().to_job_parameters() == {"Type": "inventory-retrieval", "Format": "JSON"}
    assert SelectJob(
        archive_id="a", expression="SELECT * FROM archive", output_location=location
    ).to_job_parameters() == {
        "Type": "select",
        "ArchiveId": "a",
        "SelectParameters": {
            "InputSerialization": {"csv": {}},
            "ExpressionType": "SQL",
            "Expression": "SELECT * FROM archive",
            "OutputSerialization": {"csv": {}},
        },
        "OutputLocation": {"S3": {"BucketName": "abc", "Prefix": "p"}},
    }


def test_templated_dict_with_null_members_reads_as_absent():
    job = job_from_parameters(
        {
            "Type": "inventory-retrieval",
            "Format": None,
            "Description": None,
            "InventoryRetrievalParameters": None,
        }
    )
    assert job == InventoryRetrievalJob()


def test_inventory_dates_normalise_to_utc_seconds_and_limit_to_int():
    job = InventoryRetrievalJob(
        start_date="2024-03-10T01:30:00+05:30", end_date=datetime(2024, 3, 11), limit="007", marker="m"
    )
    assert job.start_date == "2024-03-09T20:00:00Z"
    assert job.end_date == "2024-03-11T00:00:00Z"
    assert job.limit == 7
    assert job == InventoryRetrievalJob(
        start_date="2024-03-09 20:00Z", end_date="2024-03-11", limit=7, marker="m"
    )


@pytest.mark.parametrize(
    ("value", "archive_size", "expected"),
    [
        ("0-1048575", None, (0, MIB - 1)),
        (f"{MIB}-{3 * MIB - 1}", None, (MIB, 3 * MIB - 1)),
        (f"{4 * MIB}-{4 * MIB + 999}", 4 * MIB + 1000, (4 * MIB, 4 * MIB + 999)),
        ("0-0", 1, (0, 0)),
    ],
)
def test_byte_range_alignment_accepts_mib_bounds_and_archive_end(value, archive_size, expected):
    assert parse_byte_range(value, archive_size) == expected
    job = ArchiveRetrievalJob(archive_id="a", retrieval_byte_range=value, archive_size=archive_size)
    assert job_from_parameters(job.to_job_parameters(), archive_size=archive_size) == job


def test_byte_range_may_end_at_the_archives_last_byte_without_archive_size():
    """Receiving Checksums When Downloading Data: a megabyte-aligned range ends where end + 1
    is divisible by 1 MiB *or* at the archive's last byte; Initiate Job (POST jobs) leaves the
    size check to Glacier, so without the size the client accepts the end and sends it as is."""
    job = ArchiveRetrievalJob(archive_id="a", retrieval_byte_range=f"{MIB}-{MIB + 4998}")
    assert job.to_job_parameters()["RetrievalByteRange"] == f"{MIB}-{MIB + 4998}"
    assert job_from_parameters(job.to_job_parameters()) == job
    assert parse_byte_range("0-4998") == (0, 4998)


def test_retrieval_for_an_archive_from_an_inventory_or_describe_job_checks_its_size() -> None:
    """Initiate Job (POST jobs): the end may be the archive's last byte, and no further; the
    size an inventory or a DescribeJob gives lets the client check it before sending."""
    listed = InventoryArchive("a", "d", datetime(2024, 1, 1), MIB + 10, "0" * 64)
    job = ArchiveRetrievalJob.for_archive(listed, retrieval_byte_range=f"{MIB}-{MIB + 9}", tier="Bulk")
    assert (job.archive_id, job.archive_size, job.tier) == ("a", MIB + 10, "Bulk")
    described = JobDescription.from_response({"JobId": "j", "ArchiveId": "a", "ArchiveSizeInBytes": MIB + 10})
    assert ArchiveRetrievalJob.for_archive(
        described, retrieval_byte_range=f"{MIB}-{MIB + 9}"
    ) == job.__class__(archive_id="a", retrieval_byte_range=f"{MIB}-{MIB + 9}")
    for source in (listed, described):
        with pytest.raises(
            GlacierValidationError, match=r"end must be less than the archive size \(1048586 bytes\)"
        ):
            ArchiveRetrievalJob.for_archive(source, retrieval_byte_range=f"{MIB}-{2 * MIB - 1}")
    with pytest.raises(
        GlacierValidationError, match=r"^archive: 'a' must be an InventoryArchive or a JobDescription$"
    ):
        ArchiveRetrievalJob.for_archive("a")  # type: ignore[arg-type]


@pytest.mark.parametrize("bucket", ["My-Bucket", "my_bucket", "Legacy_Bucket.2017", "b" * 255])
def test_legacy_us_east_1_bucket_names_are_accepted(bucket: str) -> None:
    """S3Location: BucketName is an S3 bucket; S3 still serves legacy us-east-1 names (upper
    case, underscores, up to 255 characters), so Glacier Select can write results to them."""
    location = S3OutputLocation(bucket_name=bucket, prefix="out")
    assert location.to_output_location()["S3"]["BucketName"] == bucket


def test_archive_size_is_context_not_part_of_the_request():
    with_size = ArchiveRetrievalJob(archive_id="a", retrieval_byte_range="0-1048575", archive_size=2 * MIB)
    assert with_size.to_job_parameters() == {
        "Type": "archive-retrieval",
        "ArchiveId": "a",
        "RetrievalByteRange": "0-1048575",
    }
    assert with_size == ArchiveRetrievalJob(
        archive_id="a", retrieval_byte_range="0-1048575", archive_size=3 * MIB
    )


def test_documented_limits_accept_their_boundaries():
    location = S3OutputLocation(bucket_name="abc", prefix="é" * 256)
    job = SelectJob(archive_id="a", expression="x" * 128_000, output_location=location)
    assert len(job.to_job_parameters()["SelectParameters"]["Expression"]) == 128_000
    for delimiter in ("\n", "\r", " ", "~"):
        assert CsvInput(field_delimiter=delimiter).to_api() == {"FieldDelimiter": delimiter}


def test_description_boundary_is_1024_printable_bytes():
    text = "".join(chr(c) for c in range(0x20, 0x7F)) * 11
    assert ArchiveRetrievalJob(archive_id="a", description=text[:1024]).description == text[:1024]


def test_output_location_round_trips_and_names_the_job_prefix():
    location = full_output_location()
    assert location.to_output_location() == FULL_OUTPUT_LOCATION_DICT
    assert S3OutputLocation.from_output_location(FULL_OUTPUT_LOCATION_DICT) == location
    assert location.job_prefix("JOB123") == "queries/daily/JOB123/"
    assert job_output_prefix("p", "J") == "p/J/"


def test_output_location_copies_caller_mappings():
    tags = {"team": "data"}
    location = S3OutputLocation(bucket_name="abc", prefix="p", tagging=tags, access_control_list=[])
    tags["team"] = "changed"
    assert location.to_output_location()["S3"]["Tagging"] == {"team": "data"}
    assert location.access_control_list == ()


@pytest.mark.parametrize("name", ["a", "My_Vault-2024.archive", "v" * 255])
def test_vault_names_within_the_rules_pass(name):
    assert validate_vault_name(name) == name


def test_pure_core_imports_no_airflow():
    code = (
        "import sys; import airflow_glacier_select.jobs; "
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_null_members_of_any_name_read_as_absent():
    params = {
        "Type": "archive-retrieval",
        "ArchiveId": "a",
        "Format": None,
        "InventoryRetrievalParameters": None,
    }
    assert job_from_parameters(params) == ArchiveRetrievalJob(archive_id="a")
