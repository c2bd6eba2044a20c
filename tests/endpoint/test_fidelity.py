"""Fidelity table: each endpoint behaviour the package relies on, checked against the guide.

One row per behaviour. Each row names the Amazon S3 Glacier Developer Guide page (by title)
it follows and is checked by a plain boto3 client against the local endpoint, looking at
what a client of AWS would see: HTTP status, headers, the JSON error body, the fields of
the answer. Rows marked ``open`` are behaviours the guide leaves open; their check shows how
the package copes with every reading, and their ``note`` says how.

Run ``pytest tests/endpoint/test_fidelity.py -v`` to see the table row by row.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.utils import calculate_tree_hash

from airflow_glacier_select.jobs import S3OutputLocation, SelectJob
from airflow_glacier_select.s3_copy.manifests import parse_manifest
from airflow_glacier_select.testing import LocalGlacierEndpoint
from tests.endpoint.helpers import MIB, finished_job, patterned, start_job

INITIATE_JOB = "Initiate Job (POST jobs)"
DESCRIBE_JOB = "Describe Job (GET JobID)"
GET_JOB_OUTPUT = "Get Job Output (GET output)"
LIST_JOBS = "List Jobs (GET jobs)"
ERROR_RESPONSES = "Error Responses"
CHECKSUMS = "Receiving Checksums When Downloading Data"
UPLOAD_ARCHIVE = "Upload Archive (POST archive)"
DESCRIBE_VAULT = "Describe Vault (GET vault)"
LIST_VAULTS = "List Vaults (GET vaults)"
SELECT = "Querying Archives with S3 Glacier Select"
S3_LOCATION = "S3Location"
GET_POLICY = "Get Data Retrieval Policy (GET policy)"
SET_POLICY = "Set Data Retrieval Policy (PUT policy)"
POLICIES = "S3 Glacier Data Retrieval Policies"

VAULT = "fidelity"
BUCKET = "fidelity-results"
SELECT_PARAMETERS = {
    "InputSerialization": {"csv": {"FileHeaderInfo": "USE"}},
    "ExpressionType": "SQL",
    "Expression": "SELECT * FROM archive",
    "OutputSerialization": {"csv": {}},
}
PEOPLE_CSV = b"name,city\nalice,Paris\nbob,Oslo\n"
ONE_TRY = Config(retries={"total_max_attempts": 1})


@dataclass(frozen=True)
class Row:
    name: str
    page: str
    check: Callable[[LocalGlacierEndpoint], None]
    open_note: str | None = None  # set on rows the guide leaves open: how the package copes


ROWS: list[Row] = []


def row(page: str, open_note: str | None = None) -> Callable[[Callable[[LocalGlacierEndpoint], None]], Any]:
    def register(check: Callable[[LocalGlacierEndpoint], None]) -> Callable[[LocalGlacierEndpoint], None]:
        ROWS.append(Row(check.__name__, page, check, open_note))
        return check

    return register


# --- helpers -------------------------------------------------------------------------------


@dataclass
class Raw:
    status: int = 0
    headers: dict[str, str] | None = None
    body: bytes = b""


@contextmanager
def raw_answer(client: Any) -> Iterator[Raw]:
    """The HTTP status, headers and body of the client's next answer, before botocore parses it."""
    seen = Raw()

    def capture(response_dict: dict[str, Any], **_: Any) -> None:
        seen.status = response_dict["status_code"]
        seen.headers = {key.lower(): value for key, value in response_dict["headers"].items()}
        body = response_dict["body"]
        seen.body = body if isinstance(body, bytes) else b""

    client.meta.events.register("before-parse.glacier.*", capture, unique_id="fidelity-capture")
    try:
        yield seen
    finally:
        client.meta.events.unregister("before-parse.glacier.*", unique_id="fidelity-capture")


def refused(endpoint: LocalGlacierEndpoint, call: Callable[[Any], Any], **config: Any) -> dict[str, Any]:
    """The error ``call(client)`` is refused with: HTTP status and the JSON body's code, message, type."""
    client = endpoint.client(config=Config(retries={"total_max_attempts": 1}, **config))
    with raw_answer(client) as raw, pytest.raises(ClientError) as caught:
        call(client)
    body = json.loads(raw.body)
    assert caught.value.response["Error"]["Code"] == body["code"]
    return {"code": body["code"], "status": raw.status, "message": body["message"], "type": body["type"]}


def initiate(**params: Any) -> Callable[[Any], Any]:
    return lambda client: client.initiate_job(vaultName=VAULT, jobParameters=params)


def glacier(endpoint: LocalGlacierEndpoint) -> Any:
    return endpoint.client(config=ONE_TRY)


def archive(endpoint: LocalGlacierEndpoint, size: int, description: str = "fidelity") -> str:
    return endpoint.put_archive(VAULT, patterned(size), description)


def retrieval(endpoint: LocalGlacierEndpoint, archive_id: str, byte_range: str | None = None) -> str:
    params: dict[str, Any] = {"Type": "archive-retrieval", "ArchiveId": archive_id}
    if byte_range is not None:
        params["RetrievalByteRange"] = byte_range
    return finished_job(endpoint, VAULT, **params)


def select_job(endpoint: LocalGlacierEndpoint, prefix: str = "out", **s3: Any) -> dict[str, Any]:
    archive_id = endpoint.put_archive(VAULT, PEOPLE_CSV, "people.csv")
    endpoint.client("s3").create_bucket(Bucket=s3.pop("bucket", BUCKET))
    return dict(
        glacier(endpoint).initiate_job(
            vaultName=VAULT,
            jobParameters={
                "Type": "select",
                "ArchiveId": archive_id,
                "SelectParameters": SELECT_PARAMETERS,
                "OutputLocation": {"S3": {"BucketName": BUCKET, "Prefix": prefix, **s3}},
            },
        )
    )


def invalid_parameter(answer: dict[str, Any]) -> None:
    assert (answer["code"], answer["status"], answer["type"]) == (
        "InvalidParameterValueException",
        400,
        "Client",
    )


# --- Initiate Job (POST jobs) ---------------------------------------------------------------


@row(INITIATE_JOB)
def initiate_job_answers_202_with_location_and_job_id(endpoint: LocalGlacierEndpoint) -> None:
    client = glacier(endpoint)
    archive_id = archive(endpoint, 10)
    with raw_answer(client) as raw:
        client.initiate_job(
            vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
        )
    assert raw.status == 202 and raw.headers is not None and raw.body == b""
    job_id = raw.headers["x-amz-job-id"]
    assert raw.headers["location"] == f"/{endpoint.account_id}/vaults/{VAULT}/jobs/{job_id}"
    assert "x-amz-job-output-path" not in raw.headers


@row(INITIATE_JOB)
def select_job_output_path_is_the_key_prefix_not_an_s3_uri(endpoint: LocalGlacierEndpoint) -> None:
    started = select_job(endpoint, prefix="test")
    assert started["jobOutputPath"] == f"test/{started['jobId']}/"  # the guide's example answer


@row(INITIATE_JOB)
def byte_range_may_end_at_the_archives_last_byte(endpoint: LocalGlacierEndpoint) -> None:
    size = MIB + 1000
    archive_id = archive(endpoint, size)
    job_id = start_job(
        endpoint,
        VAULT,
        Type="archive-retrieval",
        ArchiveId=archive_id,
        RetrievalByteRange=f"{MIB}-{size - 1}",
    )
    assert (
        glacier(endpoint).describe_job(vaultName=VAULT, jobId=job_id)["RetrievalByteRange"]
        == f"{MIB}-{size - 1}"
    )


@row(INITIATE_JOB)
def byte_range_ending_beyond_the_archive_is_refused(endpoint: LocalGlacierEndpoint) -> None:
    archive_id = archive(endpoint, 5000)
    answer = refused(
        endpoint, initiate(Type="archive-retrieval", ArchiveId=archive_id, RetrievalByteRange="0-1048575")
    )
    invalid_parameter(answer)
    assert glacier(endpoint).list_jobs(vaultName=VAULT)["JobList"] == []


@row(INITIATE_JOB)
def byte_range_end_neither_aligned_nor_last_byte_is_refused(endpoint: LocalGlacierEndpoint) -> None:
    archive_id = archive(endpoint, 5000)
    invalid_parameter(
        refused(
            endpoint, initiate(Type="archive-retrieval", ArchiveId=archive_id, RetrievalByteRange="0-4998")
        )
    )


@row(INITIATE_JOB)
def byte_range_start_not_megabyte_aligned_is_refused(endpoint: LocalGlacierEndpoint) -> None:
    archive_id = archive(endpoint, 3 * MIB)
    invalid_parameter(
        refused(
            endpoint, initiate(Type="archive-retrieval", ArchiveId=archive_id, RetrievalByteRange="1-2097151")
        )
    )


@row(INITIATE_JOB)
def expedited_without_capacity_is_refused_with_503(endpoint: LocalGlacierEndpoint) -> None:
    archive_id = archive(endpoint, 10)
    endpoint.set_expedited_capacity(False)
    answer = refused(endpoint, initiate(Type="archive-retrieval", ArchiveId=archive_id, Tier="Expedited"))
    assert (answer["code"], answer["status"], answer["type"]) == (
        "InsufficientCapacityException",
        503,
        "Server",
    )
    # "This error only applies to expedited retrievals and not to standard or bulk retrievals."
    assert start_job(endpoint, VAULT, Type="archive-retrieval", ArchiveId=archive_id, Tier="Bulk")


@row(S3_LOCATION)
def canned_acl_with_explicit_grants_is_refused(endpoint: LocalGlacierEndpoint) -> None:
    """S3Location lists both members; S3 itself refuses a request carrying both."""
    grant = {"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "READ"}
    archive_id = endpoint.put_archive(VAULT, PEOPLE_CSV, "people.csv")
    endpoint.client("s3").create_bucket(Bucket=BUCKET)
    location = {
        "S3": {"BucketName": BUCKET, "Prefix": "out", "CannedACL": "private", "AccessControlList": [grant]}
    }
    both = initiate(
        Type="select", ArchiveId=archive_id, SelectParameters=SELECT_PARAMETERS, OutputLocation=location
    )
    invalid_parameter(refused(endpoint, both))
    assert select_job(endpoint, CannedACL="private")["jobId"]


@row(S3_LOCATION)
def legacy_bucket_name_is_a_select_destination(endpoint: LocalGlacierEndpoint) -> None:
    """BucketName is any bucket in the vault's Region: us-east-1 still serves legacy names."""
    legacy = "Legacy_Results"
    location = S3OutputLocation(bucket_name=legacy, prefix="out")  # the package accepts it too
    job = SelectJob(archive_id="a", expression="SELECT * FROM archive", output_location=location)
    assert job.to_job_parameters()["OutputLocation"]["S3"]["BucketName"] == legacy
    endpoint.client("s3").create_bucket(Bucket=legacy)
    archive_id = endpoint.put_archive(VAULT, PEOPLE_CSV, "people.csv")
    started = glacier(endpoint).initiate_job(
        vaultName=VAULT,
        jobParameters={**job.to_job_parameters(), "ArchiveId": archive_id},
    )
    assert started["jobOutputPath"] == f"out/{started['jobId']}/"


# --- Error Responses ------------------------------------------------------------------------


@row(ERROR_RESPONSES)
def error_body_is_json_code_message_type(endpoint: LocalGlacierEndpoint) -> None:
    client = glacier(endpoint)
    archive(endpoint, 10)
    with raw_answer(client) as raw, pytest.raises(ClientError):
        client.describe_job(vaultName=VAULT, jobId="no-such-job")
    assert raw.status == 404 and raw.headers is not None
    assert raw.headers["content-type"] == "application/json"
    assert "x-amzn-requestid" in raw.headers
    assert json.loads(raw.body) == {
        "code": "ResourceNotFoundException",
        "message": "The job ID was not found: no-such-job",
        "type": "Client",
    }


@row(ERROR_RESPONSES)
def unknown_vault_is_404_naming_the_vault_arn(endpoint: LocalGlacierEndpoint) -> None:
    answer = refused(endpoint, lambda client: client.describe_job(vaultName="no-such-vault", jobId="j"))
    assert (answer["code"], answer["status"]) == ("ResourceNotFoundException", 404)
    assert answer["message"] == (
        f"Vault not found for ARN: arn:aws:glacier:us-east-1:{endpoint.account_id}:vaults/no-such-vault"
    )


@row(ERROR_RESPONSES)
def list_jobs_bad_statuscode_is_invalid_parameter(endpoint: LocalGlacierEndpoint) -> None:
    archive(endpoint, 10)
    bad_filter = refused(
        endpoint,
        lambda client: client.list_jobs(vaultName=VAULT, statuscode="finished"),
        parameter_validation=False,
    )
    invalid_parameter(bad_filter)


@row(ERROR_RESPONSES)
def policy_and_closed_service_refusals_are_400_client(endpoint: LocalGlacierEndpoint) -> None:
    archive_id = archive(endpoint, 10)
    for kind, code in (
        ("policy", "PolicyEnforcedException"),
        ("no-longer-supported", "NoLongerSupportedException"),
    ):
        endpoint.inject_fault("InitiateJob", kind)
        answer = refused(endpoint, initiate(Type="archive-retrieval", ArchiveId=archive_id))
        assert (answer["code"], answer["status"], answer["type"]) == (code, 400, "Client")


# --- Describe Job (GET JobID) ---------------------------------------------------------------


@row(DESCRIBE_JOB)
def in_progress_job_has_no_completion_date_or_range_tree_hash(endpoint: LocalGlacierEndpoint) -> None:
    endpoint.set_tier_delay("Standard", 3600)
    archive_id = archive(endpoint, 2 * MIB)
    client = glacier(endpoint)
    job_id = start_job(endpoint, VAULT, Type="archive-retrieval", ArchiveId=archive_id)
    with raw_answer(client) as raw:
        job = client.describe_job(vaultName=VAULT, jobId=job_id)
    assert raw.status == 200
    assert (job["StatusCode"], job["Completed"], job["Action"]) == ("InProgress", False, "ArchiveRetrieval")
    assert "CompletionDate" not in job and "SHA256TreeHash" not in job  # whole archive, InProgress: null
    assert job["RetrievalByteRange"] == f"0-{2 * MIB - 1}"
    assert job["ArchiveSizeInBytes"] == 2 * MIB and "InventorySizeInBytes" not in job


@row(DESCRIBE_JOB)
def range_tree_hash_only_for_a_tree_hash_aligned_retrieval(endpoint: LocalGlacierEndpoint) -> None:
    """The guide's 6.5 MB example: [2 MB, 4 MB) is tree-hash aligned, [1 MB, 3 MB) is not."""
    data = patterned(6 * MIB + MIB // 2)
    archive_id = endpoint.put_archive(VAULT, data, "6.5 MB")
    client = glacier(endpoint)
    aligned = client.describe_job(
        vaultName=VAULT, jobId=retrieval(endpoint, archive_id, f"{2 * MIB}-{4 * MIB - 1}")
    )
    assert aligned["SHA256TreeHash"] == calculate_tree_hash(io.BytesIO(data[2 * MIB : 4 * MIB]))
    unaligned = client.describe_job(
        vaultName=VAULT, jobId=retrieval(endpoint, archive_id, f"{MIB}-{3 * MIB - 1}")
    )
    assert "SHA256TreeHash" not in unaligned
    assert unaligned["ArchiveSHA256TreeHash"] == calculate_tree_hash(io.BytesIO(data))


@row(DESCRIBE_JOB)
def whole_archive_range_tree_hash_equals_the_archive_tree_hash(endpoint: LocalGlacierEndpoint) -> None:
    archive_id = archive(endpoint, 3 * MIB + 7)
    job = glacier(endpoint).describe_job(vaultName=VAULT, jobId=retrieval(endpoint, archive_id))
    assert job["SHA256TreeHash"] == job["ArchiveSHA256TreeHash"]


@row(DESCRIBE_JOB)
def inventory_job_reports_inventory_size_not_archive_fields(endpoint: LocalGlacierEndpoint) -> None:
    archive(endpoint, 10)
    job = glacier(endpoint).describe_job(
        vaultName=VAULT, jobId=finished_job(endpoint, VAULT, Type="inventory-retrieval")
    )
    assert job["Action"] == "InventoryRetrieval" and job["InventorySizeInBytes"] > 0
    for absent in (
        "ArchiveId",
        "ArchiveSizeInBytes",
        "ArchiveSHA256TreeHash",
        "SHA256TreeHash",
        "RetrievalByteRange",
    ):
        assert absent not in job


@row(DESCRIBE_JOB)
def select_job_reports_its_output_path_and_no_tree_hash(endpoint: LocalGlacierEndpoint) -> None:
    started = select_job(endpoint)
    job = glacier(endpoint).describe_job(vaultName=VAULT, jobId=started["jobId"])
    assert job["Action"] == "Select" and job["JobOutputPath"] == started["jobOutputPath"]
    assert "SHA256TreeHash" not in job and "RetrievalByteRange" not in job


# --- List Jobs (GET jobs) -------------------------------------------------------------------


@row(LIST_JOBS)
def list_jobs_pages_by_limit_and_marker(endpoint: LocalGlacierEndpoint) -> None:
    endpoint.set_tier_delay("Standard", 3600)
    archive_id = archive(endpoint, 10)
    started = {start_job(endpoint, VAULT, Type="archive-retrieval", ArchiveId=archive_id) for _ in range(3)}
    client = glacier(endpoint)
    with raw_answer(client) as raw:
        first = client.list_jobs(vaultName=VAULT, limit="2")
    assert raw.status == 200
    assert len(first["JobList"]) == 2 and first["Marker"]
    rest = client.list_jobs(vaultName=VAULT, limit="2", marker=first["Marker"])
    assert "Marker" not in rest
    assert {job["JobId"] for job in first["JobList"] + rest["JobList"]} == started


@row(LIST_JOBS)
def list_jobs_limit_above_50_is_refused(endpoint: LocalGlacierEndpoint) -> None:
    archive(endpoint, 10)
    invalid_parameter(refused(endpoint, lambda client: client.list_jobs(vaultName=VAULT, limit="51")))


@row(LIST_JOBS)
def list_jobs_filters_by_statuscode_and_completed(endpoint: LocalGlacierEndpoint) -> None:
    endpoint.set_tier_delay("Standard", 3600)
    archive_id = archive(endpoint, 10)
    done = retrieval(endpoint, archive_id)
    pending = start_job(endpoint, VAULT, Type="archive-retrieval", ArchiveId=archive_id)
    client = glacier(endpoint)
    assert [j["JobId"] for j in client.list_jobs(vaultName=VAULT, statuscode="Succeeded")["JobList"]] == [
        done
    ]
    assert [j["JobId"] for j in client.list_jobs(vaultName=VAULT, completed="false")["JobList"]] == [pending]


# --- Get Job Output (GET output) and checksums ----------------------------------------------


@row(GET_JOB_OUTPUT)
def whole_output_is_200_with_the_archive_tree_hash(endpoint: LocalGlacierEndpoint) -> None:
    data = patterned(2 * MIB + 5)
    archive_id = endpoint.put_archive(VAULT, data, "two and a bit")
    output = glacier(endpoint).get_job_output(vaultName=VAULT, jobId=retrieval(endpoint, archive_id))
    assert output["status"] == 200 and output["contentType"] == "application/octet-stream"
    assert output["checksum"] == calculate_tree_hash(io.BytesIO(data))
    assert output["archiveDescription"] == "two and a bit"
    assert output["body"].read() == data


@row(GET_JOB_OUTPUT)
def ranged_download_is_206_with_content_range(endpoint: LocalGlacierEndpoint) -> None:
    data = patterned(3 * MIB)
    archive_id = endpoint.put_archive(VAULT, data, "three")
    job_id = retrieval(endpoint, archive_id)
    output = glacier(endpoint).get_job_output(
        vaultName=VAULT, jobId=job_id, range=f"bytes={MIB}-{2 * MIB - 1}"
    )
    assert output["status"] == 206
    assert output["contentRange"] == f"bytes {MIB}-{2 * MIB - 1}/{3 * MIB}"
    assert output["checksum"] == calculate_tree_hash(io.BytesIO(data[MIB : 2 * MIB]))
    assert output["body"].read() == data[MIB : 2 * MIB]


@row(GET_JOB_OUTPUT)
def inventory_output_is_json_without_a_tree_hash(endpoint: LocalGlacierEndpoint) -> None:
    archive(endpoint, 10)
    output = glacier(endpoint).get_job_output(
        vaultName=VAULT, jobId=finished_job(endpoint, VAULT, Type="inventory-retrieval")
    )
    assert output["status"] == 200 and output["contentType"] == "application/json"
    assert "checksum" not in output
    assert json.loads(output["body"].read())["VaultARN"].endswith(f":vaults/{VAULT}")


@row(CHECKSUMS)
def unaligned_retrieval_gets_no_checksum_on_any_download(endpoint: LocalGlacierEndpoint) -> None:
    """ "If you specify a range to retrieve ... that is not tree hash aligned, ... no checksum values"."""
    data = patterned(6 * MIB + MIB // 2)
    archive_id = endpoint.put_archive(VAULT, data, "6.5 MB")
    job_id = retrieval(endpoint, archive_id, f"{MIB}-{3 * MIB - 1}")
    client = glacier(endpoint)
    for byte_range in (None, f"bytes=0-{MIB - 1}", f"bytes={MIB}-{2 * MIB - 1}"):
        extra = {"range": byte_range} if byte_range else {}
        output = client.get_job_output(vaultName=VAULT, jobId=job_id, **extra)
        assert "checksum" not in output, byte_range
        output["body"].read()


@row(CHECKSUMS)
def aligned_retrieval_gets_checksums_only_for_aligned_downloads(endpoint: LocalGlacierEndpoint) -> None:
    data = patterned(6 * MIB + MIB // 2)
    archive_id = endpoint.put_archive(VAULT, data, "6.5 MB")
    job_id = retrieval(endpoint, archive_id, f"{4 * MIB}-{len(data) - 1}")  # the carried-up last node
    client = glacier(endpoint)
    whole = client.get_job_output(vaultName=VAULT, jobId=job_id)
    assert whole["checksum"] == calculate_tree_hash(io.BytesIO(data[4 * MIB :]))
    first = client.get_job_output(vaultName=VAULT, jobId=job_id, range=f"bytes=0-{2 * MIB - 1}")
    assert first["checksum"] == calculate_tree_hash(io.BytesIO(data[4 * MIB : 6 * MIB]))
    odd = client.get_job_output(vaultName=VAULT, jobId=job_id, range=f"bytes=0-{MIB + MIB // 2 - 1}")
    assert "checksum" not in odd


@row(GET_JOB_OUTPUT)
def expired_output_is_resource_not_found(endpoint: LocalGlacierEndpoint) -> None:
    archive_id = archive(endpoint, 10)
    job_id = retrieval(endpoint, archive_id)
    endpoint.expire_job_output(VAULT, job_id)
    answer = refused(endpoint, lambda client: client.get_job_output(vaultName=VAULT, jobId=job_id))
    assert (answer["code"], answer["status"]) == ("ResourceNotFoundException", 404)


@row(DESCRIBE_JOB)
def an_expired_job_id_is_not_found_anywhere(endpoint: LocalGlacierEndpoint) -> None:
    """The guide: a job ID will not expire for at least 24 hours after Glacier completes the job."""
    archive_id = archive(endpoint, 10)
    job_id = retrieval(endpoint, archive_id)
    endpoint.forget_job(VAULT, job_id)
    for call in (
        lambda client: client.describe_job(vaultName=VAULT, jobId=job_id),
        lambda client: client.get_job_output(vaultName=VAULT, jobId=job_id),
    ):
        answer = refused(endpoint, call)
        assert (answer["code"], answer["status"]) == ("ResourceNotFoundException", 404)
        assert answer["message"] == f"The job ID was not found: {job_id}"
    assert glacier(endpoint).list_jobs(vaultName=VAULT)["JobList"] == []


# --- vaults and archives --------------------------------------------------------------------


@row(UPLOAD_ARCHIVE)
def upload_archive_is_201_with_location_id_and_tree_hash(endpoint: LocalGlacierEndpoint) -> None:
    client = glacier(endpoint)
    client.create_vault(vaultName=VAULT)
    data = patterned(MIB + 3)
    with raw_answer(client) as raw:
        client.upload_archive(vaultName=VAULT, body=data, archiveDescription="upload")
    assert raw.status == 201 and raw.headers is not None
    archive_id = raw.headers["x-amz-archive-id"]
    assert raw.headers["location"] == f"/{endpoint.account_id}/vaults/{VAULT}/archives/{archive_id}"
    assert raw.headers["x-amz-sha256-tree-hash"] == calculate_tree_hash(io.BytesIO(data))


@row(DESCRIBE_VAULT)
def describe_vault_is_200_with_the_documented_fields(endpoint: LocalGlacierEndpoint) -> None:
    archive(endpoint, 10)
    client = glacier(endpoint)
    with raw_answer(client) as raw:
        vault = client.describe_vault(vaultName=VAULT)
    assert raw.status == 200
    assert vault["VaultARN"] == f"arn:aws:glacier:us-east-1:{endpoint.account_id}:vaults/{VAULT}"
    assert (vault["VaultName"], vault["NumberOfArchives"], vault["SizeInBytes"]) == (VAULT, 1, 10)
    assert vault["CreationDate"].endswith("Z")


@row(LIST_VAULTS)
def list_vaults_pages_by_limit_and_marker(endpoint: LocalGlacierEndpoint) -> None:
    client = glacier(endpoint)
    for name in ("a-vault", "b-vault", "c-vault"):
        client.create_vault(vaultName=name)
    with raw_answer(client) as raw:
        first = client.list_vaults(limit="2")
    assert raw.status == 200
    assert [v["VaultName"] for v in first["VaultList"]] == ["a-vault", "b-vault"]
    rest = client.list_vaults(limit="2", marker=first["Marker"])
    assert [v["VaultName"] for v in rest["VaultList"]] == ["c-vault"] and "Marker" not in rest


# --- data retrieval policies ----------------------------------------------------------------


@row(GET_POLICY)
def default_policy_is_no_retrieval_limit(endpoint: LocalGlacierEndpoint) -> None:
    client = glacier(endpoint)
    with raw_answer(client) as raw:
        policy = client.get_data_retrieval_policy()["Policy"]
    assert raw.status == 200
    assert policy == {"Rules": [{"Strategy": "None"}]}


@row(SET_POLICY)
def set_policy_is_204_and_read_back(endpoint: LocalGlacierEndpoint) -> None:
    client = glacier(endpoint)
    rule = {"Strategy": "BytesPerHour", "BytesPerHour": 10737418240}
    with raw_answer(client) as raw:
        client.set_data_retrieval_policy(Policy={"Rules": [rule]})
    assert raw.status == 204
    assert client.get_data_retrieval_policy()["Policy"] == {"Rules": [rule]}


@row(SET_POLICY)
def bytes_per_hour_without_that_strategy_is_refused(endpoint: LocalGlacierEndpoint) -> None:
    rules = [{"Strategy": "FreeTier", "BytesPerHour": 1024}]
    invalid_parameter(
        refused(endpoint, lambda client: client.set_data_retrieval_policy(Policy={"Rules": rules}))
    )
    assert glacier(endpoint).get_data_retrieval_policy()["Policy"] == {"Rules": [{"Strategy": "None"}]}


@row(POLICIES)
def max_retrieval_rate_refuses_standard_retrievals_only(endpoint: LocalGlacierEndpoint) -> None:
    """A refused job is not created (and not charged); the policy applies to Standard only."""
    archive_id = archive(endpoint, 2 * MIB)
    glacier(endpoint).set_data_retrieval_policy(
        Policy={"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": MIB // 4}]}
    )
    answer = refused(endpoint, initiate(Type="archive-retrieval", ArchiveId=archive_id, Tier="Standard"))
    assert (answer["code"], answer["status"], answer["type"]) == ("PolicyEnforcedException", 400, "Client")
    assert glacier(endpoint).list_jobs(vaultName=VAULT)["JobList"] == []
    assert start_job(endpoint, VAULT, Type="archive-retrieval", ArchiveId=archive_id, Tier="Bulk")
    small = start_job(
        endpoint,
        VAULT,
        Type="archive-retrieval",
        ArchiveId=archive_id,
        RetrievalByteRange=f"0-{MIB - 1}",
    )
    assert small  # within the rate: 1 MiB over a Standard retrieval's four hours at 256 KiB/h


# --- Glacier Select output ------------------------------------------------------------------


@row(SELECT)
def select_output_lands_under_the_job_output_path(endpoint: LocalGlacierEndpoint) -> None:
    started = select_job(endpoint)
    endpoint.complete_job(VAULT, started["jobId"])
    base = started["jobOutputPath"]
    keys = {o["Key"] for o in endpoint.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert {base + "job.txt", base + "result_manifest.txt"} <= keys
    assert any(key.startswith(base + "results/") for key in keys)
    assert not any("error" in key for key in keys)


@row(SELECT)
def job_placeholder_is_written_when_the_job_is_accepted(endpoint: LocalGlacierEndpoint) -> None:
    """The guide: "a placeholder file named job.txt ... After it is written it is never updated."""
    endpoint.set_tier_delay("Standard", 3600)
    started = select_job(endpoint)
    s3 = endpoint.client("s3")
    key = started["jobOutputPath"] + "job.txt"
    placeholder = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert json.loads(placeholder)["JobId"] == started["jobId"]
    endpoint.complete_job(VAULT, started["jobId"])
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == placeholder


@row(
    SELECT,
    open_note=(
        "result_manifest.txt lists the result objects; the guide does not say whether a line is a "
        "key or an s3:// URI. The endpoint writes keys; the package's parse_manifest reads both "
        "(a URI naming another bucket is refused)."
    ),
)
def result_manifest_line_format(endpoint: LocalGlacierEndpoint) -> None:
    started = select_job(endpoint)
    endpoint.complete_job(VAULT, started["jobId"])
    key = started["jobOutputPath"] + "result_manifest.txt"
    text = endpoint.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    keys = parse_manifest(text, BUCKET)
    uris = "\n".join(f"s3://{BUCKET}/{k}" for k in keys)
    assert keys and parse_manifest(uris, BUCKET) == keys


@row(
    SELECT,
    open_note=(
        "Whether Glacier folds a Prefix's trailing '/' before appending the job id is not "
        "documented. Package (job_output_prefix) and endpoint both append '/<job id>/' literally, "
        "and the job operators hand on Glacier's own JobOutputPath next to their job_prefix, "
        "so a service that folds the slash is visible rather than silently missed."
    ),
)
def prefix_with_a_trailing_slash(endpoint: LocalGlacierEndpoint) -> None:
    started = select_job(endpoint, prefix="out/")
    location = S3OutputLocation(bucket_name=BUCKET, prefix="out/")
    assert started["jobOutputPath"] == location.job_prefix(started["jobId"]) == f"out//{started['jobId']}/"


# --- the table ------------------------------------------------------------------------------

GUIDE_PAGES = {
    INITIATE_JOB,
    DESCRIBE_JOB,
    GET_JOB_OUTPUT,
    LIST_JOBS,
    ERROR_RESPONSES,
    CHECKSUMS,
    UPLOAD_ARCHIVE,
    DESCRIBE_VAULT,
    LIST_VAULTS,
    SELECT,
    S3_LOCATION,
    GET_POLICY,
    SET_POLICY,
    POLICIES,
}


def _row_id(item: Row) -> str:
    return f"{'open' if item.open_note else 'follows'}: {item.page}: {item.name}"


@pytest.mark.parametrize("fidelity", ROWS, ids=_row_id)
def test_endpoint_behaves_as_the_guide_says(fidelity: Row, glacier_endpoint: LocalGlacierEndpoint) -> None:
    assert fidelity.page in GUIDE_PAGES
    fidelity.check(glacier_endpoint)


def test_the_table_counts_its_rows() -> None:
    """The README's figure: rows checked against the guide, and how many of them are open."""
    names = [item.name for item in ROWS]
    assert len(names) == len(set(names))
    assert (len(ROWS), sum(1 for item in ROWS if item.open_note)) == (39, 2)
