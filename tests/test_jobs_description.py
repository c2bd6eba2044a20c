"""JobDescription: every DescribeJob member parsed, plain JSON out, round-trip exact, tolerant of gaps."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from airflow_glacier_select.jobs import JobDescription
from tests.support.jobs_model import (
    FULL_OUTPUT_LOCATION_DICT,
    describe_job_errors,
    describe_job_shape,
    full_jobs,
)

VAULT_ARN = "arn:aws:glacier:eu-west-1:123456789012:vaults/ledger-2019"


def full_response() -> dict:
    """A DescribeJob response for a select job with every member of GlacierJobDescription set."""
    select_params = full_jobs()[2][1]["SelectParameters"]
    return {
        "JobId": "HkF9p6o7yjhFx-K3CGl6fuSm6VzW9T7esGQfco8nUXVYwS0jlb5gq1JZ55yHgt5vP54ZShjoQzQVVh7vEXAMPLE",
        "JobDescription": "EU rows",
        "Action": "Select",
        "ArchiveId": "NkbByEejwEggmBz2fTHgJrg0XBoDfjP4q6iu87-TjhqG6eGoOY9Z8i1_AUyUsuhPAdTq",
        "VaultARN": VAULT_ARN,
        "CreationDate": "2024-03-10T12:00:00.000Z",
        "Completed": True,
        "StatusCode": "Succeeded",
        "StatusMessage": "Succeeded",
        "ArchiveSizeInBytes": 3 * 1024 * 1024,
        "InventorySizeInBytes": 0,
        "SNSTopic": "arn:aws:sns:eu-west-1:123456789012:glacier-jobs",
        "CompletionDate": "2024-03-10T12:04:00.000Z",
        "SHA256TreeHash": "beb0fe31a1c7ca8c6c04d574ea906e3f97b31fdca7571defb5b44dca89b5af60",
        "ArchiveSHA256TreeHash": "beb0fe31a1c7ca8c6c04d574ea906e3f97b31fdca7571defb5b44dca89b5af60",
        "RetrievalByteRange": "0-3145727",
        "Tier": "Expedited",
        "InventoryRetrievalParameters": {
            "Format": "CSV",
            "StartDate": "2024-01-01T00:00:00Z",
            "EndDate": "2024-02-01T00:00:00Z",
            "Limit": "1000",
            "Marker": "next-page",
        },
        "JobOutputPath": "s3://select-results.example-1/queries/daily/",
        "SelectParameters": select_params,
        "OutputLocation": FULL_OUTPUT_LOCATION_DICT,
    }


def test_full_response_matches_botocore_output_shape_and_covers_every_member():
    response = full_response()
    assert describe_job_errors(response) == ""
    assert set(response) == set(describe_job_shape().members)


def test_every_member_is_parsed_and_round_trips_through_json():
    response = full_response()
    job = JobDescription.from_response({**response, "ResponseMetadata": {"HTTPStatusCode": 200}})
    assert job.job_id == response["JobId"]
    assert job.vault_arn == VAULT_ARN
    assert job.completed is True
    assert job.archive_size_in_bytes == 3 * 1024 * 1024
    assert job.sha256_tree_hash == response["SHA256TreeHash"]
    assert job.output_location == FULL_OUTPUT_LOCATION_DICT
    as_json = json.dumps(job.to_dict())
    assert json.loads(as_json) == response
    assert JobDescription.from_response(json.loads(as_json)) == job


def test_absent_and_null_members_are_tolerated_and_omitted():
    job = JobDescription.from_response({"JobId": "J1", "StatusCode": None, "Completed": None, "Tier": None})
    assert job == JobDescription(job_id="J1")
    assert job.to_dict() == {"JobId": "J1"}
    assert (job.succeeded, job.failed, job.in_progress) == (False, False, False)
    assert (job.vault_name, job.account_id, job.region, job.job_type) == (None, None, None, None)
    assert job.next_inventory_marker is None
    assert job.output_size is None


def test_nested_null_members_are_dropped():
    job = JobDescription.from_response(
        {"JobId": "J", "InventoryRetrievalParameters": {"Format": "JSON", "Marker": None}}
    )
    assert job.inventory_retrieval_parameters == {"Format": "JSON"}
    assert job.next_inventory_marker is None


@pytest.mark.parametrize(
    ("status", "flags"),
    [
        ("InProgress", (False, False, True)),
        ("Succeeded", (True, False, False)),
        ("Failed", (False, True, False)),
    ],
)
def test_status_properties(status, flags):
    job = JobDescription.from_response({"JobId": "J", "StatusCode": status, "StatusMessage": "msg"})
    assert (job.succeeded, job.failed, job.in_progress) == flags
    assert job.status_code == status


def test_vault_account_region_and_type_come_from_the_arn_and_action():
    job = JobDescription.from_response({"JobId": "J", "VaultARN": VAULT_ARN, "Action": "InventoryRetrieval"})
    assert (job.vault_name, job.account_id, job.region) == ("ledger-2019", "123456789012", "eu-west-1")
    assert job.job_type == "inventory-retrieval"


def test_next_inventory_marker():
    response = {
        "JobId": "J",
        "Action": "InventoryRetrieval",
        "InventoryRetrievalParameters": {"Marker": "abc"},
    }
    assert JobDescription.from_response(response).next_inventory_marker == "abc"


@pytest.mark.parametrize(
    ("response", "size"),
    [
        ({"Action": "ArchiveRetrieval", "ArchiveSizeInBytes": 5000, "RetrievalByteRange": "0-4999"}, 5000),
        (
            {
                "Action": "ArchiveRetrieval",
                "ArchiveSizeInBytes": 9 * 2**20,
                "RetrievalByteRange": "1048576-3145727",
            },
            2**21,
        ),
        ({"Action": "ArchiveRetrieval", "ArchiveSizeInBytes": 5000}, 5000),
        ({"Action": "InventoryRetrieval", "InventorySizeInBytes": 777, "ArchiveSizeInBytes": 1}, 777),
        ({"Action": "Select", "ArchiveSizeInBytes": 5000}, None),
    ],
)
def test_output_size_is_the_bytes_get_job_output_returns(response, size):
    assert JobDescription.from_response({"JobId": "J", **response}).output_size == size


def test_parsed_dates_become_iso_strings():
    job = JobDescription.from_response(
        {"JobId": "J", "CreationDate": datetime(2024, 1, 2, 3, 4, 5, 600000, tzinfo=timezone.utc)}
    )
    assert job.creation_date == "2024-01-02T03:04:05.600Z"
    assert json.dumps(job.to_dict())


def test_to_dict_is_a_copy():
    job = JobDescription.from_response(full_response())
    job.to_dict()["OutputLocation"]["S3"]["BucketName"] = "changed"
    assert job.output_location["S3"]["BucketName"] == "select-results.example-1"
