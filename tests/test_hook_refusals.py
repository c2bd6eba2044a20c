"""Refusals that asking again cannot cure: InsufficientCapacity, NoLongerSupported, PolicyEnforced.

Each reaches the hook from the local endpoint over HTTP, as Glacier answers it (Error
Responses: InsufficientCapacityException is 503 Service Unavailable, type Server; the two
others 400), and must be classified as not worth retrying and explained in words.
"""

from __future__ import annotations

import pickle
from typing import Any

import botocore.exceptions
import pytest

from airflow_glacier_select.hooks.glacier import (
    ErrorKind,
    GlacierJobsHook,
    GlacierRefusedError,
    classify_error,
)
from airflow_glacier_select.jobs import ArchiveRetrievalJob

VAULT = "refusals"


@pytest.fixture
def hook(glacier_connection: str) -> GlacierJobsHook:
    return GlacierJobsHook(aws_conn_id=glacier_connection)


@pytest.fixture
def archive_id(glacier_endpoint: Any) -> str:
    return glacier_endpoint.put_archive(VAULT, b"x" * 1000, "capacity test")


def _client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    response = {
        "Error": {"Code": code, "Message": "refused"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return botocore.exceptions.ClientError(response, "InitiateJob")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("InsufficientCapacityException", 503),  # Error Responses: 503 Service Unavailable
        ("InsufficientCapacityException", 400),  # botocore's model
        ("NoLongerSupportedException", 400),
        ("PolicyEnforcedException", 400),
    ],
)
def test_refusals_are_classified_by_code_not_status(code: str, status: int) -> None:
    """Error Responses: a 503 InsufficientCapacityException is not a passing outage to retry."""
    assert classify_error(_client_error(code, status)) is ErrorKind.FATAL
    assert classify_error(_client_error("ServiceUnavailableException", 503)) is ErrorKind.TRANSIENT


def test_insufficient_capacity_names_the_tier_and_nothing_is_started(
    hook: GlacierJobsHook, glacier_endpoint: Any, archive_id: str
) -> None:
    """Initiate Job (POST jobs), Errors: InsufficientCapacityException, 503, Expedited only."""
    glacier_endpoint.set_expedited_capacity(False)
    with pytest.raises(GlacierRefusedError) as caught:
        hook.initiate_job(VAULT, ArchiveRetrievalJob(archive_id=archive_id, tier="Expedited"))
    error = caught.value
    assert error.code == "InsufficientCapacityException"
    assert error.tier == "Expedited"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert isinstance(error, botocore.exceptions.ClientError)
    assert "no capacity for Expedited retrievals" in str(error)
    assert "expedited_fallback_tier" in str(error)
    assert classify_error(error) is ErrorKind.FATAL
    assert glacier_endpoint.request_count("InitiateJob") == 1  # not resent by botocore's 503 retries
    assert glacier_endpoint.client().list_jobs(vaultName=VAULT)["JobList"] == []
    rebuilt = pickle.loads(pickle.dumps(error))
    assert (rebuilt.code, rebuilt.tier, str(rebuilt)) == (error.code, error.tier, str(error))
    # Standard and Bulk retrievals are not affected.
    standard = hook.initiate_job(VAULT, ArchiveRetrievalJob(archive_id=archive_id, tier="Standard"))
    assert standard.job_id


def test_no_longer_supported_says_the_service_is_closed(hook: GlacierJobsHook, glacier_endpoint: Any) -> None:
    """Error Responses: NoLongerSupportedException (botocore's model: no Glacier storage, closed API)."""
    glacier_endpoint.put_archive(VAULT, b"x", "")
    glacier_endpoint.inject_fault("ListJobs", "no-longer-supported")
    with pytest.raises(GlacierRefusedError) as caught:
        list(hook.iter_jobs(VAULT))
    assert caught.value.code == "NoLongerSupportedException"
    assert "vault service is closed to new customers" in str(caught.value)
    assert str(caught.value).startswith("ListJobs: ")


def test_policy_enforced_names_the_data_retrieval_policy(
    hook: GlacierJobsHook, glacier_endpoint: Any, archive_id: str
) -> None:
    """Error Responses and S3 Glacier Data Retrieval Policies: a refused job is not charged."""
    glacier_endpoint.inject_fault("InitiateJob", "policy")
    with pytest.raises(GlacierRefusedError) as caught:
        hook.initiate_job(VAULT, ArchiveRetrievalJob(archive_id=archive_id))
    message = str(caught.value)
    assert caught.value.code == "PolicyEnforcedException"
    assert "data retrieval policy" in message and "Max Retrieval Rate" in message
    assert "GetDataRetrievalPolicy" in message
    assert glacier_endpoint.client().list_jobs(vaultName=VAULT)["JobList"] == []
