"""GlacierJobsHook requests, pinned with botocore's Stubber.

The Stubber checks each request against ``expected_params`` and botocore validates its
shape against the Glacier service model before the stub answers, so these tests fail
on a wrong member name, a wrong type (``limit`` is a string on the wire) or a missing
``accountId``. The bad-input tests queue no response at all and count requests, so any
request that slipped past validation would show.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.hooks.glacier import GlacierJobsHook, InitiatedJob, JobOutput
from airflow_glacier_select.jobs import (
    ArchiveRetrievalJob,
    CsvInput,
    CsvOutput,
    InventoryRetrievalJob,
    S3OutputLocation,
    SelectJob,
)
from airflow_glacier_select.treehash import MIB, TreeHash

VAULT = "photos-2014"
ACCOUNT = "123456789012"
JOB_ID = "HkF9p6o7yjhFx-K3CGl6fuSm6VzW9T7esGQfco8nUXVYwS0jlb5gq1JZ55yHgt5vP54ZShjoQzQVVh7vEXAMPLEjobID"
ARCHIVE_ID = (
    "NkbByEejwEggmBz2fTHgJrg0XBoDfjP4q6iu87-TjhqG6eGoOY9Z8i1_AUyUsuhPAdTqLHy8pTl5nfCFJmDl2yEZONi5L26"
    "Omw12vcs01MNGntHEQL8MBfGlqrEXAMPLEArchiveId"
)
VAULT_ARN = f"arn:aws:glacier:us-east-1:{ACCOUNT}:vaults/{VAULT}"


class RequestLog:
    """Operation names of requests the client started building, in order."""

    def __init__(self) -> None:
        self.operations: list[str] = []

    def __call__(self, model: Any, **_: Any) -> None:
        self.operations.append(model.name)


@pytest.fixture(scope="module")
def hook() -> GlacierJobsHook:
    """One client for the module: building a boto3 client costs about half a second."""
    return GlacierJobsHook(aws_conn_id=None, region_name="us-east-1")


@pytest.fixture
def requests(hook: GlacierJobsHook) -> Iterator[RequestLog]:
    log = RequestLog()
    events = hook.get_conn().meta.events
    events.register("before-parameter-build.glacier.*", log, unique_id="request-log")
    yield log
    events.unregister("before-parameter-build.glacier.*", unique_id="request-log")


@pytest.fixture
def stubber(hook: GlacierJobsHook, requests: RequestLog) -> Iterator[Stubber]:
    with Stubber(hook.get_conn()) as stub:
        yield stub
        stub.assert_no_pending_responses()


def _description(job_id: str = JOB_ID, **overrides: Any) -> dict[str, Any]:
    job = {
        "JobId": job_id,
        "Action": "ArchiveRetrieval",
        "ArchiveId": ARCHIVE_ID,
        "VaultARN": VAULT_ARN,
        "CreationDate": "2024-03-01T10:00:00.000Z",
        "Completed": True,
        "CompletionDate": "2024-03-01T14:02:11.000Z",
        "StatusCode": "Succeeded",
        "StatusMessage": "Succeeded",
        "ArchiveSizeInBytes": 3 * MIB + 5,
        "SHA256TreeHash": "9628195fcdbcbbe76cdde932d4646fa7de5f219fb39823836d81f0cc0e18aa67",
        "ArchiveSHA256TreeHash": "9628195fcdbcbbe76cdde932d4646fa7de5f219fb39823836d81f0cc0e18aa67",
        "RetrievalByteRange": f"0-{3 * MIB + 4}",
        "Tier": "Bulk",
    }
    job.update(overrides)
    return job


# --- InitiateJob --------------------------------------------------------------------------------


def test_initiate_archive_retrieval_sends_the_exact_parameters(
    hook: GlacierJobsHook, stubber: Stubber
) -> None:
    job = ArchiveRetrievalJob(
        archive_id=ARCHIVE_ID,
        description="restore 2014 photos",
        retrieval_byte_range=f"{MIB}-{2 * MIB - 1}",
        tier="Bulk",
    )
    stubber.add_response(
        "initiate_job",
        {"location": f"/{ACCOUNT}/vaults/{VAULT}/jobs/{JOB_ID}", "jobId": JOB_ID},
        expected_params={
            "accountId": "-",
            "vaultName": VAULT,
            "jobParameters": {
                "Type": "archive-retrieval",
                "ArchiveId": ARCHIVE_ID,
                "Description": "restore 2014 photos",
                "RetrievalByteRange": f"{MIB}-{2 * MIB - 1}",
                "Tier": "Bulk",
            },
        },
    )
    initiated = hook.initiate_job(VAULT, job)
    assert initiated == InitiatedJob(
        vault_name=VAULT,
        job_id=JOB_ID,
        job_type="archive-retrieval",
        location=f"/{ACCOUNT}/vaults/{VAULT}/jobs/{JOB_ID}",
        job_output_path=None,
    )
    assert initiated.to_dict() == {
        "vault_name": VAULT,
        "job_id": JOB_ID,
        "job_type": "archive-retrieval",
        "location": f"/{ACCOUNT}/vaults/{VAULT}/jobs/{JOB_ID}",
        "job_output_path": None,
    }


def test_initiate_inventory_retrieval_passes_the_account_id() -> None:
    hook = GlacierJobsHook(aws_conn_id=None, region_name="us-east-1", account_id=ACCOUNT)
    job = InventoryRetrievalJob(
        format="CSV", start_date="2024-01-01T00:00:00Z", end_date="2024-02-01T00:00:00Z", limit=500
    )
    with Stubber(hook.get_conn()) as stubber:
        stubber.add_response(
            "initiate_job",
            {"location": f"/{ACCOUNT}/vaults/{VAULT}/jobs/{JOB_ID}", "jobId": JOB_ID},
            expected_params={
                "accountId": ACCOUNT,
                "vaultName": VAULT,
                "jobParameters": {
                    "Type": "inventory-retrieval",
                    "Format": "CSV",
                    "InventoryRetrievalParameters": {
                        "StartDate": "2024-01-01T00:00:00Z",
                        "EndDate": "2024-02-01T00:00:00Z",
                        "Limit": "500",
                    },
                },
            },
        )
        initiated = hook.initiate_job(VAULT, job)
        stubber.assert_no_pending_responses()
    assert hook.account_id == ACCOUNT
    assert initiated.job_type == "inventory-retrieval"
    assert initiated.job_id == JOB_ID


def test_initiate_select_returns_the_job_output_path(hook: GlacierJobsHook, stubber: Stubber) -> None:
    job = SelectJob(
        archive_id=ARCHIVE_ID,
        expression="select s._1 from archive s where s._2 = 'x'",
        output_location=S3OutputLocation(bucket_name="results-bucket", prefix="select/run-7"),
        input_serialization=CsvInput(file_header_info="NONE", field_delimiter=";"),
        output_serialization=CsvOutput(quote_fields="ALWAYS"),
        tier="Expedited",
    )
    parameters = job.to_job_parameters()
    assert parameters["SelectParameters"]["InputSerialization"] == {
        "csv": {"FileHeaderInfo": "NONE", "FieldDelimiter": ";"}
    }
    stubber.add_response(
        "initiate_job",
        {
            "location": f"/{ACCOUNT}/vaults/{VAULT}/jobs/{JOB_ID}",
            "jobId": JOB_ID,
            "jobOutputPath": f"select/run-7/{JOB_ID}/",
        },
        expected_params={"accountId": "-", "vaultName": VAULT, "jobParameters": parameters},
    )
    initiated = hook.initiate_job(VAULT, job)
    assert initiated.job_type == "select"
    assert initiated.job_output_path == f"select/run-7/{JOB_ID}/"


def test_initiate_accepts_a_jobparameters_dict(hook: GlacierJobsHook, stubber: Stubber) -> None:
    """A templated operator argument arrives as a dict; it is validated into a job first."""
    parameters = {"Type": "archive-retrieval", "ArchiveId": ARCHIVE_ID, "Tier": "Standard"}
    stubber.add_response(
        "initiate_job",
        {"location": f"/{ACCOUNT}/vaults/{VAULT}/jobs/{JOB_ID}", "jobId": JOB_ID},
        expected_params={"accountId": "-", "vaultName": VAULT, "jobParameters": parameters},
    )
    assert hook.initiate_job(VAULT, parameters).job_type == "archive-retrieval"


# --- DescribeJob --------------------------------------------------------------------------------


def test_get_job_description_is_typed(hook: GlacierJobsHook, stubber: Stubber) -> None:
    stubber.add_response(
        "describe_job",
        _description(),
        expected_params={"accountId": "-", "vaultName": VAULT, "jobId": JOB_ID},
    )
    job = hook.get_job_description(VAULT, JOB_ID)
    assert job.job_id == JOB_ID
    assert job.succeeded and not job.failed
    assert job.status_code == "Succeeded"
    assert job.archive_size_in_bytes == 3 * MIB + 5
    assert job.tier == "Bulk"
    assert job.to_dict()["RetrievalByteRange"] == f"0-{3 * MIB + 4}"


def test_failed_job_description(hook: GlacierJobsHook, stubber: Stubber) -> None:
    stubber.add_response(
        "describe_job",
        _description(Completed=True, StatusCode="Failed", StatusMessage="Archive not found"),
        expected_params={"accountId": "-", "vaultName": VAULT, "jobId": JOB_ID},
    )
    job = hook.get_job_description(VAULT, JOB_ID)
    assert job.failed and not job.succeeded
    assert job.status_message == "Archive not found"


def test_inherited_methods_keep_returning_dicts(hook: GlacierJobsHook, stubber: Stubber) -> None:
    stubber.add_response(
        "initiate_job",
        {"location": f"/-/vaults/{VAULT}/jobs/{JOB_ID}", "jobId": JOB_ID},
        expected_params={"vaultName": VAULT, "jobParameters": {"Type": "inventory-retrieval"}},
    )
    stubber.add_response(
        "describe_job",
        _description(),
        expected_params={"vaultName": VAULT, "jobId": JOB_ID},
    )
    started = hook.retrieve_inventory(VAULT)
    assert isinstance(started, dict) and started["jobId"] == JOB_ID
    described = hook.describe_job(VAULT, JOB_ID)
    assert isinstance(described, dict) and described["StatusCode"] == "Succeeded"


# --- ListJobs -----------------------------------------------------------------------------------


def _queue_pages(stubber: Stubber, page_jobs: list[list[str]], base: dict[str, Any]) -> None:
    """Queue one ListJobs response per page, chained by markers, each pinning its request."""
    for index, job_ids in enumerate(page_jobs):
        last = index == len(page_jobs) - 1
        response: dict[str, Any] = {"JobList": [_description(job_id) for job_id in job_ids]}
        if not last:
            response["Marker"] = f"marker-{index + 1}"
        expected = dict(base)
        if index:
            expected["marker"] = f"marker-{index}"
        stubber.add_response("list_jobs", response, expected_params=expected)


def test_iter_jobs_fetches_one_page_per_request_lazily(
    hook: GlacierJobsHook, stubber: Stubber, requests: RequestLog
) -> None:
    pages = [["job-1", "job-2"], ["job-3", "job-4"], ["job-5"]]
    _queue_pages(stubber, pages, {"accountId": "-", "vaultName": VAULT, "limit": "2"})

    jobs = hook.iter_jobs(VAULT, page_size=2)
    assert requests.operations == []
    first = next(jobs)
    assert first.job_id == "job-1"
    assert requests.operations == ["ListJobs"]
    assert next(jobs).job_id == "job-2"
    assert requests.operations == ["ListJobs"]
    assert next(jobs).job_id == "job-3"
    assert requests.operations == ["ListJobs", "ListJobs"]
    assert [job.job_id for job in jobs] == ["job-4", "job-5"]
    assert requests.operations == ["ListJobs"] * 3


def test_iter_job_pages_passes_filters_as_glacier_strings(
    hook: GlacierJobsHook, stubber: Stubber, requests: RequestLog
) -> None:
    base = {
        "accountId": "-",
        "vaultName": VAULT,
        "limit": "50",
        "statuscode": "Succeeded",
        "completed": "true",
    }
    _queue_pages(stubber, [["a", "b", "c"], ["d"]], base)
    pages = hook.iter_job_pages(VAULT, statuscode="Succeeded", completed=True)
    assert [[job.job_id for job in page] for page in pages] == [["a", "b", "c"], ["d"]]
    assert requests.operations == ["ListJobs", "ListJobs"]


def test_completed_false_is_sent_as_the_string_false(hook: GlacierJobsHook, stubber: Stubber) -> None:
    _queue_pages(
        stubber,
        [["running"]],
        {"accountId": "-", "vaultName": VAULT, "limit": "10", "completed": "false"},
    )
    assert [job.job_id for job in hook.iter_jobs(VAULT, completed=False, page_size=10)] == ["running"]


def test_empty_vault_lists_no_jobs(hook: GlacierJobsHook, stubber: Stubber) -> None:
    _queue_pages(stubber, [[]], {"accountId": "-", "vaultName": VAULT, "limit": "50"})
    assert list(hook.iter_jobs(VAULT)) == []


# --- GetJobOutput -------------------------------------------------------------------------------


def _streaming(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def test_get_job_output_range_streams_and_carries_the_tree_hash(
    hook: GlacierJobsHook, stubber: Stubber
) -> None:
    data = bytes(range(256)) * (MIB // 256)
    stubber.add_response(
        "get_job_output",
        {
            "body": _streaming(data),
            "status": 206,
            "checksum": TreeHash(data).hexdigest(),
            "contentRange": f"bytes 0-{MIB - 1}/{3 * MIB}",
            "acceptRanges": "bytes",
            "contentType": "application/octet-stream",
            "archiveDescription": "photos.tar",
            "ResponseMetadata": {"HTTPStatusCode": 206, "HTTPHeaders": {"content-length": str(MIB)}},
        },
        expected_params={
            "accountId": "-",
            "vaultName": VAULT,
            "jobId": JOB_ID,
            "range": f"bytes=0-{MIB - 1}",
        },
    )
    with hook.get_job_output(VAULT, JOB_ID, byte_range=(0, MIB - 1)) as output:
        assert isinstance(output, JobOutput)
        assert (output.status, output.content_range, output.accept_ranges) == (
            206,
            f"bytes 0-{MIB - 1}/{3 * MIB}",
            "bytes",
        )
        assert output.content_type == "application/octet-stream"
        assert output.archive_description == "photos.tar"
        assert output.content_length == MIB
        hasher = TreeHash()
        sizes = []
        for chunk in output.iter_chunks(64 * 1024):
            sizes.append(len(chunk))
            hasher.update(chunk)
    assert max(sizes) == 64 * 1024
    assert hasher.size == MIB
    assert hasher.hexdigest() == output.tree_hash


def test_get_job_output_without_range_sends_no_range(hook: GlacierJobsHook, stubber: Stubber) -> None:
    stubber.add_response(
        "get_job_output",
        {"body": _streaming(b'{"ArchiveList": []}'), "status": 200, "contentType": "application/json"},
        expected_params={"accountId": "-", "vaultName": VAULT, "jobId": JOB_ID},
    )
    output = hook.get_job_output(VAULT, JOB_ID)
    assert output.status == 200
    assert output.tree_hash is None
    assert output.body.read() == b'{"ArchiveList": []}'
    output.close()


# --- bad input: a clear error and no request --------------------------------------------------

VAULT_RULE = re.escape("vaultName: 'no/slashes' must be 1-255 characters")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda h: h.initiate_job("no/slashes", InventoryRetrievalJob()), id="initiate_job"),
        pytest.param(lambda h: h.get_job_description("no/slashes", JOB_ID), id="get_job_description"),
        pytest.param(lambda h: h.iter_jobs("no/slashes"), id="iter_jobs"),
        pytest.param(lambda h: h.iter_job_pages("no/slashes"), id="iter_job_pages"),
        pytest.param(lambda h: h.get_job_output("no/slashes", JOB_ID), id="get_job_output"),
    ],
)
def test_bad_vault_name_sends_nothing(
    hook: GlacierJobsHook, stubber: Stubber, requests: RequestLog, call: Any
) -> None:
    with pytest.raises(GlacierValidationError, match=VAULT_RULE):
        call(hook)
    assert requests.operations == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"statuscode": "Done"}, "statuscode: 'Done' is not one of InProgress, Succeeded, Failed"),
        ({"statuscode": "succeeded"}, "statuscode: 'succeeded' is not one of InProgress, Succeeded, Failed"),
        ({"page_size": 0}, "limit: 0 must be an integer from 1 to 50"),
        ({"page_size": 51}, "limit: 51 must be an integer from 1 to 50"),
        ({"page_size": "10"}, "limit: '10' must be an integer from 1 to 50"),
        ({"page_size": True}, "limit: True must be an integer from 1 to 50"),
        ({"completed": "true"}, "completed: 'true' must be True, False or None"),
    ],
)
@pytest.mark.parametrize("method", ["iter_jobs", "iter_job_pages"])
def test_bad_list_filters_fail_at_the_call_and_send_nothing(
    hook: GlacierJobsHook,
    stubber: Stubber,
    requests: RequestLog,
    method: str,
    kwargs: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(GlacierValidationError, match=re.escape(message)):
        getattr(hook, method)(VAULT, **kwargs)
    assert requests.operations == []


@pytest.mark.parametrize(
    ("byte_range", "message"),
    [
        ((5, 4), "range: (5, 4) must be a (start, end) pair"),
        ((-1, 4), "range: (-1, 4) must be a (start, end) pair"),
        ((0, 1.5), "range: (0, 1.5) must be a (start, end) pair"),
        ([0, 4], "range: [0, 4] must be a (start, end) pair"),
        ((0, 1, 2), "range: (0, 1, 2) must be a (start, end) pair"),
    ],
)
def test_bad_output_range_sends_nothing(
    hook: GlacierJobsHook, stubber: Stubber, requests: RequestLog, byte_range: Any, message: str
) -> None:
    with pytest.raises(GlacierValidationError, match=re.escape(message)):
        hook.get_job_output(VAULT, JOB_ID, byte_range=byte_range)
    assert requests.operations == []


@pytest.mark.parametrize("method", ["get_job_description", "get_job_output"])
def test_empty_job_id_sends_nothing(
    hook: GlacierJobsHook, stubber: Stubber, requests: RequestLog, method: str
) -> None:
    with pytest.raises(GlacierValidationError, match=re.escape("jobId: '' must not be empty")):
        getattr(hook, method)(VAULT, "")
    assert requests.operations == []


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (
            {"Type": "inventory-retrieval", "RetrievalByteRange": "0-1048575"},
            "RetrievalByteRange",
        ),
        (
            {"Type": "archive-retrieval", "ArchiveId": ARCHIVE_ID, "Tier": "Fast"},
            "Tier: 'Fast' is not one of",
        ),
        ({"Type": "archive-retrieval", "ArchiveId": ARCHIVE_ID, "RetrievalByteRange": "1-1048575"}, "1 MiB"),
        ({"Type": "restore"}, "Type: 'restore' is not one of"),
        ("inventory-retrieval", "jobParameters: 'inventory-retrieval' must be an ArchiveRetrievalJob"),
    ],
)
def test_bad_job_parameters_send_nothing(
    hook: GlacierJobsHook, stubber: Stubber, requests: RequestLog, job: Any, message: str
) -> None:
    with pytest.raises(GlacierValidationError, match=re.escape(message)):
        hook.initiate_job(VAULT, job)
    assert requests.operations == []


@pytest.mark.parametrize("account_id", ["", "1234-5678-9012", "12345678901", None])
def test_bad_account_id_is_refused_at_construction(account_id: Any) -> None:
    with pytest.raises(
        GlacierValidationError, match=r"accountId: .* must be '-' or a 12-digit AWS account id"
    ):
        GlacierJobsHook(aws_conn_id=None, region_name="us-east-1", account_id=account_id)
