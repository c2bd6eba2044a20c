"""GlacierJobsHook against the local Glacier endpoint over HTTP, through an Airflow connection.

The endpoint keeps jobs InProgress for their tier's delay; tests finish them with the
endpoint's ``complete_job`` control instead of sleeping. ListJobs paging and filters,
which botocore's Stubber pins request by request, are checked here against a server.
"""

from __future__ import annotations

import json
import random

import pytest

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.jobs import ArchiveRetrievalJob, InventoryRetrievalJob
from airflow_glacier_select.treehash import MIB, TreeHash

VAULT = "hook-vault"


@pytest.fixture
def hook(glacier_connection: str) -> GlacierJobsHook:
    return GlacierJobsHook(aws_conn_id=glacier_connection)


@pytest.fixture
def vault(hook: GlacierJobsHook, glacier_endpoint) -> str:
    glacier_endpoint.set_tier_delay("Expedited", 3600)
    glacier_endpoint.set_tier_delay("Standard", 3600)
    glacier_endpoint.set_tier_delay("Bulk", 3600)
    hook.get_conn().create_vault(vaultName=VAULT)
    return VAULT


def _upload(hook: GlacierJobsHook, vault: str, body: bytes, description: str) -> str:
    response = hook.get_conn().upload_archive(vaultName=vault, body=body, archiveDescription=description)
    return response["archiveId"]


def test_archive_retrieval_job_end_to_end(hook: GlacierJobsHook, vault: str, glacier_endpoint) -> None:
    body = random.Random(7).randbytes(2 * MIB + 333)
    archive_id = _upload(hook, vault, body, "photos.tar")

    initiated = hook.initiate_job(vault, ArchiveRetrievalJob(archive_id=archive_id, tier="Standard"))
    assert initiated.vault_name == vault
    assert initiated.job_type == "archive-retrieval"
    assert initiated.location is not None
    assert initiated.location.endswith(f"/vaults/{vault}/jobs/{initiated.job_id}")

    waiting = hook.get_job_description(vault, initiated.job_id)
    assert waiting.status_code == "InProgress"
    assert not waiting.completed
    assert waiting.archive_id == archive_id
    assert waiting.job_type == "archive-retrieval"
    assert waiting.vault_name == vault

    glacier_endpoint.complete_job(vault, initiated.job_id)
    done = hook.get_job_description(vault, initiated.job_id)
    assert done.succeeded and done.completed
    assert done.completion_date is not None

    with hook.get_job_output(vault, initiated.job_id) as output:
        assert output.status == 200
        assert output.content_length == len(body)
        hasher = TreeHash()
        for chunk in output.iter_chunks(256 * 1024):
            assert len(chunk) <= 256 * 1024
            hasher.update(chunk)
    assert hasher.size == len(body)
    assert hasher.hexdigest() == TreeHash(body).hexdigest()


def test_inventory_retrieval_job_lists_the_archives(
    hook: GlacierJobsHook, vault: str, glacier_endpoint
) -> None:
    first = _upload(hook, vault, b"a" * 1000, "first")
    second = _upload(hook, vault, b"b" * 2000, "second")

    initiated = hook.initiate_job(vault, InventoryRetrievalJob(format="JSON"))
    assert initiated.job_type == "inventory-retrieval"
    assert hook.get_job_description(vault, initiated.job_id).status_code == "InProgress"

    glacier_endpoint.complete_job(vault, initiated.job_id)
    job = hook.get_job_description(vault, initiated.job_id)
    assert job.succeeded
    assert job.job_type == "inventory-retrieval"

    with hook.get_job_output(vault, initiated.job_id) as output:
        inventory = json.loads(b"".join(output.iter_chunks(4096)))
    archives = {entry["ArchiveId"]: entry for entry in inventory["ArchiveList"]}
    assert set(archives) == {first, second}
    assert archives[first]["Size"] == 1000
    assert archives[second]["ArchiveDescription"] == "second"


def test_iter_jobs_lists_every_job_in_the_vault(hook: GlacierJobsHook, vault: str, glacier_endpoint) -> None:
    archive_id = _upload(hook, vault, b"x" * 10, "tiny")
    started = [
        hook.initiate_job(vault, ArchiveRetrievalJob(archive_id=archive_id, tier="Expedited")).job_id,
        hook.initiate_job(vault, InventoryRetrievalJob()).job_id,
        hook.initiate_job(vault, ArchiveRetrievalJob(archive_id=archive_id, tier="Bulk")).job_id,
    ]
    glacier_endpoint.complete_job(vault, started[0])

    jobs = {job.job_id: job for job in hook.iter_jobs(vault)}
    assert set(jobs) == set(started)
    assert jobs[started[0]].succeeded
    assert jobs[started[1]].status_code == "InProgress"
    assert jobs[started[2]].status_code == "InProgress"
    assert [len(page) for page in hook.iter_job_pages(vault)] == [3]
    assert [len(page) for page in hook.iter_job_pages(vault, page_size=2)] == [2, 1]
    assert [job.job_id for job in hook.iter_jobs(vault, completed=True)] == [started[0]]
    assert {job.job_id for job in hook.iter_jobs(vault, statuscode="InProgress")} == set(started[1:])


def test_iter_jobs_fetches_a_page_only_when_it_is_reached(
    hook: GlacierJobsHook, vault: str, glacier_endpoint
) -> None:
    archive_id = _upload(hook, vault, b"x" * 10, "tiny")
    for _ in range(5):
        hook.initiate_job(vault, ArchiveRetrievalJob(archive_id=archive_id))
    glacier_endpoint.reset_counts()
    jobs = hook.iter_jobs(vault, page_size=2)
    assert glacier_endpoint.request_count("ListJobs") == 0
    next(jobs)
    assert glacier_endpoint.request_count("ListJobs") == 1
    assert len(list(jobs)) == 4
    assert glacier_endpoint.request_count("ListJobs") == 3


def test_inherited_methods_work_through_the_same_connection(hook: GlacierJobsHook, vault: str) -> None:
    started = hook.retrieve_inventory(vault)
    assert isinstance(started, dict)
    described = hook.describe_job(vault, started["jobId"])
    assert described["Action"] == "InventoryRetrieval"
    assert hook.get_job_description(vault, started["jobId"]).to_dict()["JobId"] == started["jobId"]
