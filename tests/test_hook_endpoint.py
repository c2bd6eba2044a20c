"""GlacierJobsHook against a real moto server over HTTP, through an Airflow connection.

Stock moto is faithful for vaults, archives, archive and inventory jobs, DescribeJob,
an unfiltered ListJobs and whole-output GetJobOutput; it ignores ListJobs filters and
paging and GetJobOutput ranges, which the Stubber tests pin instead. Moto completes a
job a fixed time after it starts (Expedited 2 s, Standard 5 s, Bulk 10 s); instead of
sleeping, the tests move the clock moto's Glacier models read.
"""

from __future__ import annotations

import datetime as _dt
import json
import random
import types
import uuid
from collections.abc import Iterator

import moto.glacier.models
import pytest
from moto.server import ThreadedMotoServer

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.jobs import ArchiveRetrievalJob, InventoryRetrievalJob
from airflow_glacier_select.treehash import MIB, TreeHash

CONN_ID = "glacier_test"


class _GlacierClock(_dt.datetime):
    """``datetime.datetime`` whose ``now()`` runs ``offset`` ahead of the real clock."""

    offset = _dt.timedelta(0)

    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> _dt.datetime:  # type: ignore[override]
        return _dt.datetime.now(tz) + cls.offset


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def glacier_clock(monkeypatch: pytest.MonkeyPatch) -> type[_GlacierClock]:
    """Lets a test advance the time moto's Glacier jobs compare against (restored afterwards)."""
    clock = type("GlacierClock", (_GlacierClock,), {"offset": _dt.timedelta(0)})
    monkeypatch.setattr(
        moto.glacier.models, "datetime", types.SimpleNamespace(datetime=clock, timedelta=_dt.timedelta)
    )
    return clock


@pytest.fixture
def hook(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> GlacierJobsHook:
    monkeypatch.setenv(
        f"AIRFLOW_CONN_{CONN_ID.upper()}",
        json.dumps(
            {"conn_type": "aws", "extra": {"endpoint_url": moto_endpoint, "region_name": "us-east-1"}}
        ),
    )
    return GlacierJobsHook(aws_conn_id=CONN_ID)


@pytest.fixture
def vault(hook: GlacierJobsHook) -> str:
    """A fresh vault per test: moto's backend is shared by the whole process."""
    name = f"vault-{uuid.uuid4().hex[:12]}"
    hook.get_conn().create_vault(vaultName=name)
    return name


def _upload(hook: GlacierJobsHook, vault: str, body: bytes, description: str) -> str:
    response = hook.get_conn().upload_archive(vaultName=vault, body=body, archiveDescription=description)
    return response["archiveId"]


def test_archive_retrieval_job_end_to_end(
    hook: GlacierJobsHook, vault: str, glacier_clock: type[_GlacierClock]
) -> None:
    body = random.Random(7).randbytes(2 * MIB + 333)
    archive_id = _upload(hook, vault, body, "photos.tar")

    initiated = hook.initiate_job(vault, ArchiveRetrievalJob(archive_id=archive_id, tier="Standard"))
    assert initiated.vault_name == vault
    assert initiated.job_type == "archive-retrieval"
    # moto drops the account segment of Location; the vault and job parts are what we pass on
    assert initiated.location is not None
    assert initiated.location.endswith(f"/vaults/{vault}/jobs/{initiated.job_id}")

    waiting = hook.get_job_description(vault, initiated.job_id)
    assert waiting.status_code == "InProgress"
    assert not waiting.completed
    assert waiting.archive_id == archive_id
    assert waiting.job_type == "archive-retrieval"
    assert waiting.vault_name == vault

    glacier_clock.offset = _dt.timedelta(seconds=6)
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
    hook: GlacierJobsHook, vault: str, glacier_clock: type[_GlacierClock]
) -> None:
    first = _upload(hook, vault, b"a" * 1000, "first")
    second = _upload(hook, vault, b"b" * 2000, "second")

    initiated = hook.initiate_job(vault, InventoryRetrievalJob(format="JSON"))
    assert initiated.job_type == "inventory-retrieval"
    assert hook.get_job_description(vault, initiated.job_id).status_code == "InProgress"

    glacier_clock.offset = _dt.timedelta(seconds=6)
    job = hook.get_job_description(vault, initiated.job_id)
    assert job.succeeded
    assert job.job_type == "inventory-retrieval"

    with hook.get_job_output(vault, initiated.job_id) as output:
        inventory = json.loads(b"".join(output.iter_chunks(4096)))
    archives = {entry["ArchiveId"]: entry for entry in inventory["ArchiveList"]}
    assert set(archives) == {first, second}
    assert archives[first]["Size"] == 1000
    assert archives[second]["ArchiveDescription"] == "second"


def test_iter_jobs_lists_every_job_in_the_vault(
    hook: GlacierJobsHook, vault: str, glacier_clock: type[_GlacierClock]
) -> None:
    archive_id = _upload(hook, vault, b"x" * 10, "tiny")
    started = [
        hook.initiate_job(vault, ArchiveRetrievalJob(archive_id=archive_id, tier="Expedited")).job_id,
        hook.initiate_job(vault, InventoryRetrievalJob()).job_id,
        hook.initiate_job(vault, ArchiveRetrievalJob(archive_id=archive_id, tier="Bulk")).job_id,
    ]
    glacier_clock.offset = _dt.timedelta(seconds=3)

    jobs = {job.job_id: job for job in hook.iter_jobs(vault)}
    assert set(jobs) == set(started)
    assert jobs[started[0]].succeeded  # Expedited: done after 2 s
    assert jobs[started[1]].status_code == "InProgress"  # Standard: 5 s
    assert jobs[started[2]].status_code == "InProgress"  # Bulk: 10 s
    assert [len(page) for page in hook.iter_job_pages(vault)] == [3]


def test_inherited_methods_work_through_the_same_connection(hook: GlacierJobsHook, vault: str) -> None:
    started = hook.retrieve_inventory(vault)
    assert isinstance(started, dict)
    described = hook.describe_job(vault, started["jobId"])
    assert described["Action"] == "InventoryRetrieval"
    assert hook.get_job_description(vault, started["jobId"]).to_dict()["JobId"] == started["jobId"]
