"""Injected faults reach real boto3 clients as the failures they imitate."""

from __future__ import annotations

import io

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ResponseStreamingError
from botocore.utils import calculate_tree_hash

from airflow_glacier_select.testing import LocalGlacierEndpoint
from tests.endpoint.helpers import MIB, finished_job, patterned

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def output_job(glacier_endpoint: LocalGlacierEndpoint) -> tuple[bytes, str]:
    data = patterned(2 * MIB)
    archive_id = glacier_endpoint.put_archive("v", data)
    return data, finished_job(glacier_endpoint, "v", Type="archive-retrieval", ArchiveId=archive_id)


def test_throttle_for_the_next_n_calls_then_normal(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier_endpoint.client().create_vault(vaultName="v")
    glacier = glacier_endpoint.client(config=NO_RETRIES)
    glacier_endpoint.inject_fault("DescribeVault", "throttle", count=2)
    glacier_endpoint.reset_counts()
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            glacier.describe_vault(vaultName="v")
        assert raised.value.response["Error"]["Code"] == "ThrottlingException"
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert glacier.describe_vault(vaultName="v")["VaultName"] == "v"
    assert glacier_endpoint.request_count("DescribeVault") == 3


def test_a_fault_after_n_requests_lets_those_through_first(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier_endpoint.client().create_vault(vaultName="v")
    glacier = glacier_endpoint.client(config=NO_RETRIES)
    glacier_endpoint.inject_fault("DescribeVault", "http500", count=1, after=2)
    assert [glacier.describe_vault(vaultName="v")["VaultName"] for _ in range(2)] == ["v", "v"]
    with pytest.raises(ClientError) as raised:
        glacier.describe_vault(vaultName="v")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert glacier.describe_vault(vaultName="v")["VaultName"] == "v"


def test_default_retries_ride_out_a_throttle(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier_endpoint.client().create_vault(vaultName="v")
    glacier_endpoint.inject_fault("ListVaults", "throttle", count=2)
    answer = glacier_endpoint.client(
        config=Config(retries={"mode": "standard", "max_attempts": 3})
    ).list_vaults()
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2


@pytest.mark.parametrize(("kind", "status"), [("http500", 500), ("http503", 503)])
def test_server_errors(glacier_endpoint: LocalGlacierEndpoint, kind: str, status: int) -> None:
    glacier = glacier_endpoint.client(config=NO_RETRIES)
    glacier_endpoint.inject_fault("*", kind, message="try later")
    with pytest.raises(glacier.exceptions.ServiceUnavailableException) as raised:
        glacier.list_vaults()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert raised.value.response["Error"]["Message"] == "try later"
    assert glacier.list_vaults()["VaultList"] == []


def test_reset_mid_body(glacier_endpoint: LocalGlacierEndpoint, output_job: tuple[bytes, str]) -> None:
    _, job_id = output_job
    glacier_endpoint.inject_fault("GetJobOutput", "reset", at=MIB)
    output = glacier_endpoint.client(config=NO_RETRIES).get_job_output(vaultName="v", jobId=job_id)
    received = b""
    with pytest.raises((ResponseStreamingError, ConnectionClosedError)) as raised:
        while chunk := output["body"].read(64 * 1024):
            received += chunk
    assert "reset" in str(raised.value).lower()
    assert len(received) <= MIB


def test_truncated_body(glacier_endpoint: LocalGlacierEndpoint, output_job: tuple[bytes, str]) -> None:
    data, job_id = output_job
    glacier_endpoint.inject_fault("GetJobOutput", "truncate")
    output = glacier_endpoint.client(config=NO_RETRIES).get_job_output(vaultName="v", jobId=job_id)
    assert output["ResponseMetadata"]["HTTPHeaders"]["content-length"] == str(len(data))
    with pytest.raises(ResponseStreamingError):
        output["body"].read()
    intact = glacier_endpoint.client().get_job_output(vaultName="v", jobId=job_id)["body"].read()
    assert intact == data


def test_corrupted_body_keeps_length_and_tree_hash_header(
    glacier_endpoint: LocalGlacierEndpoint, output_job: tuple[bytes, str]
) -> None:
    data, job_id = output_job
    glacier_endpoint.inject_fault("GetJobOutput", "corrupt", at=12345)
    output = glacier_endpoint.client().get_job_output(vaultName="v", jobId=job_id)
    received = output["body"].read()
    assert len(received) == len(data)
    assert [i for i in range(len(data)) if received[i] != data[i]] == [12345]
    assert output["checksum"] == calculate_tree_hash(io.BytesIO(data))
    assert calculate_tree_hash(io.BytesIO(received)) != output["checksum"]


def test_body_faults_on_moto_answers_too(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier_endpoint.client().create_vault(vaultName="v")
    glacier_endpoint.inject_fault("DescribeVault", "truncate", at=5)
    answer = glacier_endpoint.client(config=NO_RETRIES).describe_vault(vaultName="v")
    # botocore parses a cut JSON body as an empty one: the fields are silently gone
    assert "VaultName" not in answer
    assert int(answer["ResponseMetadata"]["HTTPHeaders"]["content-length"]) > 5
    assert glacier_endpoint.client().describe_vault(vaultName="v")["VaultName"] == "v"


def test_s3_operations_take_faults(glacier_endpoint: LocalGlacierEndpoint) -> None:
    s3 = glacier_endpoint.client("s3", config=NO_RETRIES)
    s3.create_bucket(Bucket="bkt")
    upload_id = s3.create_multipart_upload(Bucket="bkt", Key="k")["UploadId"]
    glacier_endpoint.inject_fault("UploadPart", "throttle")
    with pytest.raises(ClientError) as raised:
        s3.upload_part(Bucket="bkt", Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
    assert raised.value.response["Error"]["Code"] == "SlowDown"
    assert s3.upload_part(Bucket="bkt", Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")["ETag"]
    assert glacier_endpoint.request_count("UploadPart") == 2


def test_clear_faults(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier_endpoint.inject_fault("ListVaults", "http503", count=5)
    glacier_endpoint.clear_faults()
    assert glacier_endpoint.client(config=NO_RETRIES).list_vaults()["VaultList"] == []


@pytest.mark.parametrize(
    ("args", "options", "message"),
    [
        (("ListVaults", "explode"), {}, "kind"),
        (("ListVaults", "throttle", 0), {}, "count"),
        (("ListVaults", "reset"), {"before": 3}, "options"),
        (("ListVaults", "reset"), {"after": -1}, "after"),
        (("ListVaults", "reset"), {"at": -1}, "at"),
    ],
)
def test_bad_fault_is_refused_and_nothing_armed(
    glacier_endpoint: LocalGlacierEndpoint, args: tuple, options: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        glacier_endpoint.inject_fault(*args, **options)
    assert glacier_endpoint.client(config=NO_RETRIES).list_vaults()["VaultList"] == []
