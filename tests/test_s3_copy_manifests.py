"""Select output: where Glacier reported it, and manifests of keys or s3:// URIs, never in another bucket."""

from __future__ import annotations

import pytest

from airflow_glacier_select.s3_copy.errors import GlacierTransferError
from airflow_glacier_select.s3_copy.manifests import parse_manifest, select_output_location
from tests.support.transfer_helpers import job_description


def test_manifest_entries_as_keys_or_uris() -> None:
    text = "out/j/results/1.csv\n\ns3://bucket/out/j/results/2.csv\r\n"
    assert parse_manifest(text, "bucket") == ["out/j/results/1.csv", "out/j/results/2.csv"]
    with pytest.raises(GlacierTransferError, match="is not an object in bucket bucket"):
        parse_manifest("s3://elsewhere/out/1.csv", "bucket")


# "Initiate Job (POST jobs)": x-amz-job-output-path, e.g. test/<job id>/; DescribeJob's JobOutputPath.
LOCATION = {"S3": {"BucketName": "bucket", "Prefix": "results/"}}


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("results/job-1/", ("bucket", "results/job-1/")),
        ("results/job-1", ("bucket", "results/job-1/")),
        ("s3://bucket/results/job-1/", ("bucket", "results/job-1/")),
    ],
)
def test_select_output_location_prefers_what_glacier_reported(
    reported: str, expected: tuple[str, str]
) -> None:
    job = job_description(Action="Select", JobOutputPath=reported, OutputLocation=LOCATION)
    assert select_output_location(job, None, "select job job-1") == expected
    described_nothing = job_description(Action="Select", OutputLocation=LOCATION)
    assert select_output_location(described_nothing, reported, "select job job-1") == expected


@pytest.mark.parametrize(
    ("reported", "message"),
    [
        ("s3://other/results/job-1/", "is not in the OutputLocation bucket bucket"),
        ("s3://bucket/", "names no S3 bucket and prefix"),
    ],
)
def test_select_output_location_refuses_what_it_cannot_read(reported: str, message: str) -> None:
    job = job_description(Action="Select", JobOutputPath=reported, OutputLocation=LOCATION)
    with pytest.raises(GlacierTransferError, match=message):
        select_output_location(job, None, "select job job-1")
