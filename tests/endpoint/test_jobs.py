"""InitiateJob validation, the job lifecycle, DescribeJob fields and ListJobs paging."""

from __future__ import annotations

import io
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.utils import calculate_tree_hash

from airflow_glacier_select.testing import LocalGlacierEndpoint
from tests.endpoint.helpers import MIB, patterned, start_job

SELECT = {
    "InputSerialization": {"csv": {"FileHeaderInfo": "USE"}},
    "ExpressionType": "SQL",
    "Expression": "SELECT * FROM archive",
    "OutputSerialization": {"csv": {}},
}


def _unchecked(endpoint: LocalGlacierEndpoint) -> Any:
    """A client that sends what it is given, so the endpoint's own checks are what answers."""
    return endpoint.client(config=Config(parameter_validation=False))


def test_archive_retrieval_lifecycle_and_description(glacier_endpoint: LocalGlacierEndpoint) -> None:
    data = patterned(3 * MIB)
    archive_id = glacier_endpoint.put_archive("v", data, "holiday")
    glacier = glacier_endpoint.client()
    started = glacier.initiate_job(
        vaultName="v",
        jobParameters={
            "Type": "archive-retrieval",
            "ArchiveId": archive_id,
            "Tier": "Bulk",
            "Description": "restore it",
            "SNSTopic": "arn:aws:sns:us-east-1:123456789012:done",
        },
    )
    job_id = started["jobId"]
    assert started["location"] == f"/{glacier_endpoint.account_id}/vaults/v/jobs/{job_id}"
    pending = glacier.describe_job(vaultName="v", jobId=job_id)
    assert (pending["StatusCode"], pending["Completed"]) == ("InProgress", False)
    assert "CompletionDate" not in pending and "SHA256TreeHash" not in pending
    whole_hash = calculate_tree_hash(io.BytesIO(data))
    assert pending["ArchiveSHA256TreeHash"] == whole_hash
    assert pending["ArchiveSizeInBytes"] == len(data)
    assert pending["RetrievalByteRange"] == f"0-{len(data) - 1}"
    assert (pending["Tier"], pending["JobDescription"], pending["Action"]) == (
        "Bulk",
        "restore it",
        "ArchiveRetrieval",
    )
    assert pending["SNSTopic"] == "arn:aws:sns:us-east-1:123456789012:done"

    glacier_endpoint.complete_job("v", job_id)
    done = glacier.describe_job(vaultName="v", jobId=job_id)
    assert (done["StatusCode"], done["Completed"]) == ("Succeeded", True)
    assert done["SHA256TreeHash"] == whole_hash
    assert done["CompletionDate"] >= done["CreationDate"]


def test_ranged_retrieval_reports_the_range_tree_hash_only_when_aligned(
    glacier_endpoint: LocalGlacierEndpoint,
) -> None:
    data = patterned(5 * MIB)
    archive_id = glacier_endpoint.put_archive("v", data)
    aligned = start_job(
        glacier_endpoint,
        "v",
        Type="archive-retrieval",
        ArchiveId=archive_id,
        RetrievalByteRange=f"{4 * MIB}-{5 * MIB - 1}",
    )
    unaligned = start_job(
        glacier_endpoint,
        "v",
        Type="archive-retrieval",
        ArchiveId=archive_id,
        RetrievalByteRange=f"0-{3 * MIB - 1}",
    )
    glacier = glacier_endpoint.client()
    assert glacier.describe_job(vaultName="v", jobId=aligned)["SHA256TreeHash"] == calculate_tree_hash(
        io.BytesIO(data[4 * MIB :])
    )
    assert "SHA256TreeHash" not in glacier.describe_job(vaultName="v", jobId=unaligned)


def test_tier_delay_decides_completion(glacier_endpoint: LocalGlacierEndpoint) -> None:
    archive_id = glacier_endpoint.put_archive("v", b"abc")
    glacier_endpoint.set_tier_delay("Expedited", 0)
    glacier_endpoint.set_tier_delay("Standard", 3600)
    fast = start_job(glacier_endpoint, "v", Type="archive-retrieval", ArchiveId=archive_id, Tier="Expedited")
    slow = start_job(glacier_endpoint, "v", Type="archive-retrieval", ArchiveId=archive_id)
    glacier = glacier_endpoint.client()
    assert glacier.describe_job(vaultName="v", jobId=fast)["StatusCode"] == "Succeeded"
    assert glacier.describe_job(vaultName="v", jobId=slow)["StatusCode"] == "InProgress"
    with pytest.raises(ValueError, match="Warp"):
        glacier_endpoint.set_tier_delay("Warp", 1)


def test_tier_delays_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLACIER_LOCAL_TIER_DELAYS", "Standard=0, Inventory=0")
    with LocalGlacierEndpoint() as endpoint:
        archive_id = endpoint.put_archive("v", b"abc")
        job_id = start_job(endpoint, "v", Type="archive-retrieval", ArchiveId=archive_id)
        inventory = start_job(endpoint, "v", Type="inventory-retrieval")
        glacier = endpoint.client()
        assert glacier.describe_job(vaultName="v", jobId=job_id)["StatusCode"] == "Succeeded"
        assert glacier.describe_job(vaultName="v", jobId=inventory)["StatusCode"] == "Succeeded"


def test_failed_job_has_its_message_and_no_output(glacier_endpoint: LocalGlacierEndpoint) -> None:
    archive_id = glacier_endpoint.put_archive("v", b"abc")
    job_id = start_job(glacier_endpoint, "v", Type="archive-retrieval", ArchiveId=archive_id)
    glacier_endpoint.fail_job("v", job_id, "Archive is corrupt")
    glacier = glacier_endpoint.client()
    failed = glacier.describe_job(vaultName="v", jobId=job_id)
    assert (failed["StatusCode"], failed["StatusMessage"], failed["Completed"]) == (
        "Failed",
        "Archive is corrupt",
        True,
    )
    with pytest.raises(glacier.exceptions.InvalidParameterValueException):
        glacier.get_job_output(vaultName="v", jobId=job_id)
    with pytest.raises(ValueError, match="already Failed"):
        glacier_endpoint.complete_job("v", job_id)


def test_output_not_ready_then_ready_then_expired(glacier_endpoint: LocalGlacierEndpoint) -> None:
    archive_id = glacier_endpoint.put_archive("v", b"abc")
    job_id = start_job(glacier_endpoint, "v", Type="archive-retrieval", ArchiveId=archive_id)
    glacier = glacier_endpoint.client()
    with pytest.raises(glacier.exceptions.InvalidParameterValueException) as raised:
        glacier.get_job_output(vaultName="v", jobId=job_id)
    assert "not currently available" in raised.value.response["Error"]["Message"]
    glacier_endpoint.complete_job("v", job_id)
    assert glacier.get_job_output(vaultName="v", jobId=job_id)["body"].read() == b"abc"
    glacier_endpoint.expire_job_output("v", job_id)
    with pytest.raises(glacier.exceptions.ResourceNotFoundException) as expired:
        glacier.get_job_output(vaultName="v", jobId=job_id)
    assert expired.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_unknown_job_is_not_found(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier = glacier_endpoint.client()
    glacier.create_vault(vaultName="v")
    with pytest.raises(glacier.exceptions.ResourceNotFoundException):
        glacier.describe_job(vaultName="v", jobId="NOPE")


BAD_PARAMETERS = [
    ({}, "MissingParameterValueException", "Type"),
    ({"Type": "restore"}, "InvalidParameterValueException", "job type"),
    ({"Type": "archive-retrieval"}, "MissingParameterValueException", "ArchiveId"),
    (
        {"Type": "archive-retrieval", "ArchiveId": "ARCHIVE", "Tier": "Fast"},
        "InvalidParameterValueException",
        "Tier",
    ),
    (
        {"Type": "archive-retrieval", "ArchiveId": "ARCHIVE", "RetrievalByteRange": "1-1048575"},
        "InvalidParameterValueException",
        "divisible by 1 MiB",
    ),
    (
        {"Type": "archive-retrieval", "ArchiveId": "ARCHIVE", "RetrievalByteRange": "0-100"},
        "InvalidParameterValueException",
        "end plus one",
    ),
    (
        {"Type": "archive-retrieval", "ArchiveId": "ARCHIVE", "Description": "caf\u00e9"},
        "InvalidParameterValueException",
        "printable ASCII",
    ),
    (
        {"Type": "archive-retrieval", "ArchiveId": "ARCHIVE", "SNSTopic": "topic"},
        "InvalidParameterValueException",
        "SNSTopic",
    ),
    ({"Type": "inventory-retrieval", "Format": "XML"}, "InvalidParameterValueException", "Format"),
    (
        {"Type": "inventory-retrieval", "InventoryRetrievalParameters": {"Limit": "0"}},
        "InvalidParameterValueException",
        "Limit",
    ),
    (
        {"Type": "inventory-retrieval", "InventoryRetrievalParameters": {"StartDate": "yesterday"}},
        "InvalidParameterValueException",
        "StartDate",
    ),
    (
        {"Type": "inventory-retrieval", "InventoryRetrievalParameters": {"Marker": "not-a-marker"}},
        "InvalidParameterValueException",
        "Marker",
    ),
    ({"Type": "inventory-retrieval", "ArchiveId": "ARCHIVE"}, "InvalidParameterValueException", "ArchiveId"),
    ({"Type": "inventory-retrieval", "Tier": "Bulk"}, "InvalidParameterValueException", "Tier"),
    ({"Type": "select", "ArchiveId": "ARCHIVE"}, "MissingParameterValueException", "SelectParameters"),
    (
        {"Type": "select", "ArchiveId": "ARCHIVE", "SelectParameters": {**SELECT, "ExpressionType": "SQL92"}},
        "InvalidParameterValueException",
        "ExpressionType",
    ),
    (
        {
            "Type": "select",
            "ArchiveId": "ARCHIVE",
            "SelectParameters": {**SELECT, "InputSerialization": {"csv": {"FieldDelimiter": "||"}}},
        },
        "InvalidParameterValueException",
        "FieldDelimiter",
    ),
    (
        {"Type": "select", "ArchiveId": "ARCHIVE", "SelectParameters": SELECT},
        "MissingParameterValueException",
        "OutputLocation",
    ),
    (
        {
            "Type": "select",
            "ArchiveId": "ARCHIVE",
            "SelectParameters": SELECT,
            "OutputLocation": {"S3": {"BucketName": "results", "Prefix": "p", "StorageClass": "GLACIER"}},
        },
        "InvalidParameterValueException",
        "StorageClass",
    ),
    (
        {
            "Type": "select",
            "ArchiveId": "ARCHIVE",
            "SelectParameters": SELECT,
            "OutputLocation": {"S3": {"BucketName": "no-such-bucket", "Prefix": "p"}},
        },
        "InvalidParameterValueException",
        "does not exist",
    ),
    (
        {
            "Type": "select",
            "ArchiveId": "ARCHIVE",
            "SelectParameters": SELECT,
            "OutputLocation": {
                "S3": {
                    "BucketName": "results",
                    "Prefix": "p",
                    "AccessControlList": [{"Grantee": {"Type": "Group"}, "Permission": "READ"}],
                }
            },
        },
        "MissingParameterValueException",
        "URI",
    ),
]


@pytest.mark.parametrize(("params", "code", "fragment"), BAD_PARAMETERS)
def test_initiate_job_validates_as_the_service_does(
    glacier_endpoint: LocalGlacierEndpoint, params: dict[str, Any], code: str, fragment: str
) -> None:
    archive_id = glacier_endpoint.put_archive("v", patterned(2 * MIB + 10))
    glacier_endpoint.client("s3").create_bucket(Bucket="results")
    params = {key: archive_id if value == "ARCHIVE" else value for key, value in params.items()}
    glacier = _unchecked(glacier_endpoint)
    with pytest.raises(ClientError) as raised:
        glacier.initiate_job(vaultName="v", jobParameters=params)
    error = raised.value.response["Error"]
    assert (error["Code"], raised.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (code, 400)
    assert fragment in error["Message"]
    assert glacier.list_jobs(vaultName="v")["JobList"] == []


def test_unknown_archive_or_vault_is_not_found(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier = glacier_endpoint.client()
    glacier.create_vault(vaultName="v")
    with pytest.raises(glacier.exceptions.ResourceNotFoundException):
        glacier.initiate_job(
            vaultName="v", jobParameters={"Type": "archive-retrieval", "ArchiveId": "missing"}
        )
    with pytest.raises(glacier.exceptions.ResourceNotFoundException):
        glacier.initiate_job(vaultName="other", jobParameters={"Type": "inventory-retrieval"})


def test_select_job_answers_its_output_path(glacier_endpoint: LocalGlacierEndpoint) -> None:
    archive_id = glacier_endpoint.put_archive("v", b"a,b\n1,2\n")
    glacier_endpoint.client("s3").create_bucket(Bucket="results")
    started = glacier_endpoint.client().initiate_job(
        vaultName="v",
        jobParameters={
            "Type": "select",
            "ArchiveId": archive_id,
            "SelectParameters": SELECT,
            "OutputLocation": {"S3": {"BucketName": "results", "Prefix": "out"}},
        },
    )
    assert started["jobOutputPath"] == f"out/{started['jobId']}/"
    described = glacier_endpoint.client().describe_job(vaultName="v", jobId=started["jobId"])
    assert described["JobOutputPath"] == started["jobOutputPath"]
    assert described["SelectParameters"]["Expression"] == SELECT["Expression"]
    assert described["OutputLocation"]["S3"]["BucketName"] == "results"
    assert described["Action"] == "Select"


def _jobs(endpoint: LocalGlacierEndpoint, count: int) -> list[str]:
    archive_id = endpoint.put_archive("v", b"abc")
    return [start_job(endpoint, "v", Type="archive-retrieval", ArchiveId=archive_id) for _ in range(count)]


def test_list_jobs_paginator_pages_of_the_requested_size(glacier_endpoint: LocalGlacierEndpoint) -> None:
    job_ids = _jobs(glacier_endpoint, 5)
    paginator = glacier_endpoint.client().get_paginator("list_jobs")
    pages = list(paginator.paginate(vaultName="v", PaginationConfig={"PageSize": 2}))
    assert [len(page["JobList"]) for page in pages] == [2, 2, 1]
    assert [job["JobId"] for page in pages for job in page["JobList"]] == job_ids
    assert "Marker" not in pages[-1]
    assert [len(page["JobList"]) for page in paginator.paginate(vaultName="v")] == [5]


def test_list_jobs_filters(glacier_endpoint: LocalGlacierEndpoint) -> None:
    first, second, third = _jobs(glacier_endpoint, 3)
    glacier_endpoint.complete_job("v", first)
    glacier_endpoint.fail_job("v", second, "no")
    glacier = glacier_endpoint.client()

    def ids(**filters: str) -> list[str]:
        return [job["JobId"] for job in glacier.list_jobs(vaultName="v", **filters)["JobList"]]

    assert ids(statuscode="Succeeded") == [first]
    assert ids(statuscode="Failed") == [second]
    assert ids(statuscode="InProgress") == [third]
    assert ids(completed="true") == [first, second]
    assert ids(completed="false") == [third]


@pytest.mark.parametrize(
    ("filters", "fragment"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "51"}, "limit"),
        ({"statuscode": "Done"}, "statuscode"),
        ({"completed": "yes"}, "completed"),
        ({"marker": "bogus"}, "marker"),
    ],
)
def test_list_jobs_rejects_bad_arguments(
    glacier_endpoint: LocalGlacierEndpoint, filters: dict[str, str], fragment: str
) -> None:
    _jobs(glacier_endpoint, 1)
    glacier = glacier_endpoint.client()
    with pytest.raises(glacier.exceptions.InvalidParameterValueException) as raised:
        glacier.list_jobs(vaultName="v", **filters)
    assert fragment in raised.value.response["Error"]["Message"]
