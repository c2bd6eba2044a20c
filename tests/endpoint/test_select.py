"""Glacier Select jobs: results and errors written to the endpoint's S3 with the location's settings."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from airflow_glacier_select.testing import LocalGlacierEndpoint
from tests.endpoint.helpers import finished_job

CSV = b'id,name,score\n1,ann,90\n2,bob,72\n3,"cy, jr",85\n4,dee,40\n'


def _select(endpoint: LocalGlacierEndpoint, expression: str, **s3: Any) -> tuple[str, dict[str, Any]]:
    archive_id = endpoint.put_archive("v", CSV, "scores")
    endpoint.client("s3").create_bucket(Bucket="results")
    job_id = finished_job(
        endpoint,
        "v",
        Type="select",
        ArchiveId=archive_id,
        SelectParameters={
            "InputSerialization": {"csv": {"FileHeaderInfo": "USE"}},
            "ExpressionType": "SQL",
            "Expression": expression,
            "OutputSerialization": {"csv": {}},
        },
        OutputLocation={"S3": {"BucketName": "results", "Prefix": "out", **s3}},
    )
    return job_id, endpoint.client().describe_job(vaultName="v", jobId=job_id)


def _read(endpoint: LocalGlacierEndpoint, key: str) -> bytes:
    return bytes(endpoint.client("s3").get_object(Bucket="results", Key=key)["Body"].read())


ROWS = list(csv.DictReader(io.StringIO(CSV.decode())))
QUERIES = [
    (
        "SELECT s.name FROM archive s WHERE CAST(s.score AS INT) >= 80",
        [[r["name"]] for r in ROWS if int(r["score"]) >= 80],
    ),
    (
        "SELECT * FROM archive s WHERE s.name LIKE '%b%' OR s.id = '4'",
        [list(r.values()) for r in ROWS if "b" in r["name"] or r["id"] == "4"],
    ),
    (
        "SELECT s.id, s.score FROM archive s WHERE NOT s.name = 'ann'",
        [[r["id"], r["score"]] for r in ROWS if r["name"] != "ann"],
    ),
]


@pytest.mark.parametrize(("expression", "expected"), QUERIES)
def test_results_match_an_independent_evaluation(
    glacier_endpoint: LocalGlacierEndpoint, expression: str, expected: list[list[str]]
) -> None:
    job_id, job = _select(glacier_endpoint, expression)
    assert job["StatusCode"] == "Succeeded"
    listed = glacier_endpoint.client("s3").list_objects_v2(Bucket="results", Prefix=f"out/{job_id}/")
    keys = {obj["Key"] for obj in listed["Contents"]}
    assert keys == {f"out/{job_id}/{name}" for name in ("job.txt", "results/1.csv", "result_manifest.txt")}
    manifest = _read(glacier_endpoint, f"out/{job_id}/result_manifest.txt").decode().split()
    assert manifest == [f"out/{job_id}/results/1.csv"]
    assert list(csv.reader(io.StringIO(_read(glacier_endpoint, manifest[0]).decode()))) == expected
    assert job_id.encode() in _read(glacier_endpoint, f"out/{job_id}/job.txt")


def test_unsupported_query_fails_the_job_with_errors_in_s3(glacier_endpoint: LocalGlacierEndpoint) -> None:
    job_id, job = _select(glacier_endpoint, "SELECT s.name FROM archive s ORDER BY s.name")
    assert job["StatusCode"] == "Failed"
    assert "ORDER BY" in job["StatusMessage"] or "Unsupported" in job["StatusMessage"]
    manifest = _read(glacier_endpoint, f"out/{job_id}/error_manifest.txt").decode().split()
    assert manifest == [f"out/{job_id}/errors/1.txt"]
    assert _read(glacier_endpoint, manifest[0]).decode().strip() == job["StatusMessage"]
    listed = glacier_endpoint.client("s3").list_objects_v2(Bucket="results", Prefix=f"out/{job_id}/results/")
    assert listed["KeyCount"] == 0


def test_location_settings_apply_to_every_object(glacier_endpoint: LocalGlacierEndpoint) -> None:
    job_id, _ = _select(
        glacier_endpoint,
        "SELECT * FROM archive",
        StorageClass="STANDARD_IA",
        Encryption={"EncryptionType": "aws:kms", "KMSKeyId": "alias/results"},
        CannedACL="public-read",
        Tagging={"team": "data"},
        UserMetadata={"origin": "glacier"},
    )
    s3 = glacier_endpoint.client("s3")
    for name in ("job.txt", "results/1.csv", "result_manifest.txt"):
        key = f"out/{job_id}/{name}"
        head = s3.head_object(Bucket="results", Key=key)
        assert head["StorageClass"] == "STANDARD_IA"
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["Metadata"] == {"origin": "glacier"}
        assert s3.get_object_tagging(Bucket="results", Key=key)["TagSet"] == [
            {"Key": "team", "Value": "data"}
        ]
        grants = s3.get_object_acl(Bucket="results", Key=key)["Grants"]
        assert {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"} in [
            g["Grantee"] for g in grants
        ]


def test_explicit_grants(glacier_endpoint: LocalGlacierEndpoint) -> None:
    job_id, _ = _select(
        glacier_endpoint,
        "SELECT * FROM archive",
        AccessControlList=[
            {"Grantee": {"Type": "CanonicalUser", "ID": "abc123"}, "Permission": "READ"},
            {
                "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/s3/LogDelivery"},
                "Permission": "WRITE",
            },
        ],
    )
    grants = glacier_endpoint.client("s3").get_object_acl(
        Bucket="results", Key=f"out/{job_id}/results/1.csv"
    )["Grants"]
    pairs = {(g["Grantee"].get("ID") or g["Grantee"].get("URI"), g["Permission"]) for g in grants}
    assert pairs == {("abc123", "READ"), ("http://acs.amazonaws.com/groups/s3/LogDelivery", "WRITE")}


@pytest.mark.parametrize(
    "acl",
    [
        {"CannedACL": "loud"},
        {
            "CannedACL": "private",
            "AccessControlList": [{"Grantee": {"Type": "CanonicalUser", "ID": "x"}, "Permission": "READ"}],
        },
    ],
)
def test_bad_acl_settings_are_refused(glacier_endpoint: LocalGlacierEndpoint, acl: dict[str, Any]) -> None:
    glacier = glacier_endpoint.client()
    with pytest.raises(glacier.exceptions.InvalidParameterValueException):
        _select(glacier_endpoint, "SELECT * FROM archive", **acl)
