"""A job's output expiring mid-copy: keep what is verified, retrieve only the missing ranges again.

Glacier keeps job output for at least 24 hours after the job completes, then forgets the
job ("Describe Job (GET JobID)"; "Get Job Output (GET output)": ResourceNotFoundException).
A copy interrupted before that keeps its verified parts in its ledger; the missing parts
are asked for again as archive-retrieval jobs with a RetrievalByteRange ("Range
Retrievals" in "Downloading an Archive in Amazon S3 Glacier"; "Initiate Job (POST jobs)"),
each megabyte aligned and tree-hash aligned ("Receiving Checksums When Downloading Data"),
so Glacier vouches for every chunk and the whole archive's tree hash is combined from the
kept and the new chunk roots ("Computing Checksums").

A real worker process copies a five-chunk archive and is killed after three chunks (60 %);
then the job is forgotten. The tests count what the endpoint served: InitiateJob requests
and GetJobOutput byte ranges per job.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.job_rules import parse_byte_range
from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer, _Run
from airflow_glacier_select.s3_copy.errors import JobNotFoundError, OutputExpiredMidCopyError
from airflow_glacier_select.s3_copy.ledger import (
    ArchiveSource,
    CopyIdentity,
    CopyPointer,
    UploadRecord,
)
from airflow_glacier_select.s3_copy.missing import missing_ranges, range_retrieval
from airflow_glacier_select.s3_copy.plan import TransferPlan
from airflow_glacier_select.s3_copy.range_jobs import find_or_start_range_jobs, wait_for_range_jobs
from airflow_glacier_select.s3_copy.retry import RetryPolicy
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator
from airflow_glacier_select.treehash import MIB, is_tree_hash_aligned, tree_hash
from tests.reliability.crash import run_until_killed
from tests.reliability.dags import call, load_dag
from tests.reliability.faults import BUCKET, VAULT, s3_leftovers
from tests.reliability.test_copy_resume import ARCHIVE, CHUNK, KEY, PLAN, job_id, kill_mid_copy
from tests.support.dag_runs import DagFolder, import_dag_file, run_dag, task_state, xcom_result

__all__ = ["job_id"]  # a fixture of the copy-resume tests

SIZE = len(ARCHIVE)
KEPT = 3
"""Chunks the killed worker uploaded and verified: 3 of 5."""
MISSING = [(3 * CHUNK, 4 * CHUNK - 1), (4 * CHUNK, SIZE - 1)]
"""Chunk 4 alone (chunks 4-5 together are not a tree-hash node), then the tail."""

# --- the missing ranges (pure) ------------------------------------------------------------


def _covered(ranges: Any) -> list[int]:
    return [index for missing in ranges for index in missing.chunk_indexes]


@pytest.mark.parametrize("chunks", [1, 5, 7, 8])
def test_missing_chunks_become_aligned_ranges_covering_exactly_them_and_merged_where_aligned(
    chunks: int,
) -> None:
    """Every subset of verified chunks: the ranges cover exactly the others, each megabyte and
    tree-hash aligned ("Range Retrievals"; "Receiving Checksums When Downloading Data"), and no
    two neighbouring ranges could be one aligned range."""
    size = (chunks - 1) * CHUNK + 5 * MIB + 3
    plan = TransferPlan.build(size, CHUNK)
    archive = ArchiveSource("archive-1", size)
    for verified in itertools.chain.from_iterable(
        itertools.combinations(range(chunks), count) for count in range(chunks + 1)
    ):
        ranges = missing_ranges(plan, set(verified), archive)
        assert _covered(ranges) == [i for i in range(chunks) if i not in verified]
        for missing in ranges:
            assert parse_byte_range(missing.byte_range, size) == (missing.start, missing.end)
            assert is_tree_hash_aligned(missing.start, missing.end, size)
        for left, right in itertools.pairwise(ranges):
            if left.end + 1 == right.start:
                assert not is_tree_hash_aligned(left.start, right.end, size)


def test_a_run_of_missing_chunks_is_merged_into_the_fewest_aligned_ranges() -> None:
    plan = TransferPlan.build(10 * CHUNK - MIB, CHUNK)
    archive = ArchiveSource("archive-1", plan.total_size)
    ranges = missing_ranges(plan, set(range(6)), archive)
    assert [missing.byte_range for missing in ranges] == [
        f"{6 * CHUNK}-{8 * CHUNK - 1}",
        f"{8 * CHUNK}-{plan.total_size - 1}",
    ]
    assert [missing.byte_range for missing in missing_ranges(plan, set(), archive)] == [
        f"0-{plan.total_size - 1}"
    ]


def test_ranges_of_a_job_that_retrieved_a_range_are_archive_offsets() -> None:
    """The output of a range job starts at the range's first byte ("Get Job Output": Range is
    relative to the retrieved range): chunk offsets map back and forth by the range start."""
    archive = ArchiveSource("archive-1", 16 * MIB + SIZE, archive_offset=16 * MIB)  # to its end
    plan = TransferPlan.build(SIZE, CHUNK)
    [tail] = missing_ranges(plan, {0, 1, 2, 3}, archive)
    assert (tail.start, tail.end) == (16 * MIB + 4 * CHUNK, 16 * MIB + SIZE - 1)
    chunk = tail.output_chunk(plan.chunks[4], archive.archive_offset)
    assert (chunk.index, chunk.start, chunk.end) == (4, 0, SIZE - 4 * CHUNK - 1)


@pytest.mark.parametrize(
    ("byte_range", "rule"),
    [
        (f"{MIB + 1}-{2 * CHUNK - 1}", "start must be divisible by 1 MiB"),
        (f"{CHUNK}-{2 * CHUNK}", "end+1 must be divisible by 1 MiB"),
        (f"{CHUNK}-{CHUNK + MIB - 1}", "must cover whole chunks of the copy"),
        (f"{CHUNK}-{3 * CHUNK - 1}", "must be tree-hash aligned"),
        (f"0-{SIZE}", "end must be less than the archive size"),
    ],
)
def test_a_misaligned_range_request_is_refused_naming_field_value_and_rule(
    byte_range: str, rule: str
) -> None:
    """ "Range Retrievals": start a multiple of 1 MiB, end one less than a multiple of 1 MiB or the
    archive's last byte; tree-hash aligned per "Receiving Checksums When Downloading Data"."""
    with pytest.raises(GlacierValidationError) as raised:
        range_retrieval(PLAN, ArchiveSource("archive-1", SIZE), byte_range)
    assert raised.value.field == "RetrievalByteRange"
    assert byte_range in str(raised.value)
    assert rule in str(raised.value)


def test_upload_records_keep_the_archive_and_older_records_still_read() -> None:
    identity = CopyIdentity(VAULT, "job-1", BUCKET, KEY, SIZE, CHUNK, "ab" * 32)
    record = UploadRecord("upload-1", identity, ArchiveSource("archive-1", 2 * SIZE, 16 * MIB))
    assert UploadRecord.from_json(record.to_json()) == record
    older = json.loads(record.to_json())
    del older["archive"]
    assert UploadRecord.from_json(json.dumps(older)) == UploadRecord("upload-1", identity)
    pointer = CopyPointer(VAULT, "job-1", KEY, "upload-1")
    assert CopyPointer.from_json(pointer.to_json()) == pointer
    damaged = {**json.loads(record.to_json()), "archive": {"archive_id": "a"}}
    with pytest.raises(GlacierValidationError, match="archive_size"):
        UploadRecord.from_json(json.dumps(damaged))


# --- against the local endpoint -------------------------------------------------------------


def transfer_for(conn: str) -> GlacierToS3Transfer:
    return GlacierToS3Transfer(
        GlacierJobsHook(aws_conn_id=conn),
        S3Hook(aws_conn_id=conn),
        chunk_size=CHUNK,
        concurrency=1,
        retry=RetryPolicy(max_attempts=2, base_delay=0.001, max_delay=0.01),
    )


def kill_at_60_percent_then_forget(
    tmp_path: Path, endpoint: LocalGlacierEndpoint, conn: str, job_id: str
) -> None:
    """A worker dies right after its third of five parts is uploaded and recorded; a day later
    Glacier has forgotten the job."""
    kill_mid_copy(tmp_path, conn, job_id, parts=KEPT, concurrency=1)
    endpoint.forget_job(VAULT, job_id)
    endpoint.reset_counts()


def served_bytes(endpoint: LocalGlacierEndpoint, job_ids: list[str]) -> int:
    return sum(last + 1 - first for job in job_ids for first, last in endpoint.job_output_ranges(job))


def range_jobs(endpoint: LocalGlacierEndpoint) -> dict[str, str]:
    """The vault's archive-retrieval jobs by RetrievalByteRange."""
    listed = endpoint.client().list_jobs(vaultName=VAULT)["JobList"]
    return {job["RetrievalByteRange"]: job["JobId"] for job in listed}


def landed_whole(endpoint: LocalGlacierEndpoint, sha256_tree_hash: str) -> None:
    assert sha256_tree_hash == tree_hash(ARCHIVE)  # the archive's ArchiveSHA256TreeHash
    body = endpoint.client("s3").get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(ARCHIVE).digest()
    assert s3_leftovers(endpoint) == ([KEY], [])  # no multipart upload, ledger object or copy pointer


def copy_dag(folder: DagFolder, dag_id: str, conn: str, job_id: str, policy: str) -> Any:
    """A DAG copying the job's output to KEY, ``on_output_expired=policy``."""
    copy = call(
        "recording(GlacierJobOutputToS3Operator)",
        task_id="copy",
        vault_name=VAULT,
        aws_conn_id=conn,
        job_id=job_id,
        bucket=BUCKET,
        key=KEY,
        chunk_size=CHUNK,
        concurrency=1,
        on_output_expired=policy,
        re_retrieval_tier="Expedited",
        re_retrieval_poll_interval=0.1,
        re_retrieval_max_wait=60,
    )
    return load_dag(folder, dag_id, [copy])


def test_output_expiring_mid_copy_keeps_the_verified_parts_and_names_the_missing_ranges(
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    job_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = _Run._copy_part
    copied: list[int] = []

    def copy_then_expire(self: _Run, upload_id: str, chunk: Any) -> Any:
        result = original(self, upload_id, chunk)
        copied.append(chunk.index)
        if len(copied) == KEPT:
            glacier_endpoint.expire_job_output(VAULT, job_id)
        return result

    monkeypatch.setattr(_Run, "_copy_part", copy_then_expire)

    with pytest.raises(OutputExpiredMidCopyError) as raised:
        transfer_for(glacier_connection).copy_job_output(VAULT, job_id, BUCKET, KEY)

    error = raised.value
    assert (error.bytes_verified, error.total_size) == (KEPT * CHUNK, SIZE)
    assert error.missing_ranges == tuple(f"{start}-{end}" for start, end in MISSING)
    message = str(error)
    assert f"{KEPT * CHUNK} of {SIZE} bytes (69 %) are uploaded and verified" in message
    assert f"missing archive byte ranges: {MISSING[0][0]}-{MISSING[0][1]}, " in message
    assert "on_output_expired='re-retrieve-missing'" in message
    assert s3_leftovers(glacier_endpoint)[1] == [KEY]  # kept
    assert KEY not in s3_leftovers(glacier_endpoint)[0]
    assert glacier_endpoint.request_count("InitiateJob") == 1  # only the original job


def test_a_killed_copy_of_a_forgotten_job_is_finished_from_jobs_for_only_the_missing_ranges(
    tmp_path: Path, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, job_id: str
) -> None:
    kill_at_60_percent_then_forget(tmp_path, glacier_endpoint, glacier_connection, job_id)
    transfer = transfer_for(glacier_connection)
    with pytest.raises(JobNotFoundError):
        transfer.copy_job_output(VAULT, job_id, BUCKET, KEY)

    expired = transfer.find_expired_copy(VAULT, job_id, BUCKET)
    assert expired is not None and expired.bytes_verified == KEPT * CHUNK
    hook, archive_id = transfer.glacier_hook, expired.archive.archive_id
    token = "afgs:0123456789ab"
    started = find_or_start_range_jobs(
        hook, VAULT, archive_id, SIZE, expired.missing, token=token, log=transfer.log
    )
    # A retry of this step (another worker) finds the same jobs and starts none.
    again = find_or_start_range_jobs(
        hook, VAULT, archive_id, SIZE, expired.missing, token=token, log=transfer.log
    )
    assert [job.job_id for job in again] == [job.job_id for job in started]
    assert [job.reused for job in again] == [True, True]
    assert glacier_endpoint.request_count("InitiateJob") == len(MISSING)
    for job in started:
        glacier_endpoint.complete_job(VAULT, job.job_id)
    described = wait_for_range_jobs(hook, VAULT, started, poll_interval=0.05, max_wait=30, log=transfer.log)

    result = transfer.continue_expired_copy(expired, described)

    assert (result.size, result.verification) == (SIZE, "job-tree-hash")
    landed_whole(glacier_endpoint, result.sha256_tree_hash or "")
    jobs = [job.job_id for job in started]
    # Each range job's output was read from its own first byte: exactly the missing bytes, once.
    assert [glacier_endpoint.job_output_ranges(job) for job in jobs] == [
        [(0, end - start)] for start, end in MISSING
    ]
    assert served_bytes(glacier_endpoint, jobs) == SIZE - KEPT * CHUNK
    assert glacier_endpoint.job_output_ranges(job_id) == []


def test_the_operator_fails_by_default_saying_what_is_verified_and_what_is_missing(
    tmp_path: Path,
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    job_id: str,
) -> None:
    kill_at_60_percent_then_forget(tmp_path, glacier_endpoint, glacier_connection, job_id)
    module = copy_dag(dag_folder, "expired_fail", glacier_connection, job_id, "fail")

    dag_run = run_dag(module)

    assert task_state(dag_run, "copy") == "failed"
    (failure,) = module.FAILURES
    assert type(failure).__name__ == "AirflowFailException"
    message = str(failure)
    assert f"{KEPT * CHUNK} of {SIZE} bytes (69 %) are uploaded and verified" in message
    assert ", ".join(f"{start}-{end}" for start, end in MISSING) in message
    assert glacier_endpoint.request_count("InitiateJob") == 0
    assert s3_leftovers(glacier_endpoint)[1] == [KEY]


def test_the_operator_re_retrieves_only_the_missing_ranges_and_its_retry_starts_no_second_job(
    tmp_path: Path,
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    glacier_connection: str,
    job_id: str,
) -> None:
    kill_at_60_percent_then_forget(tmp_path, glacier_endpoint, glacier_connection, job_id)
    module = copy_dag(dag_folder, "expired_retry", glacier_connection, job_id, "re-retrieve-missing")
    # The first try's worker dies right after Glacier accepted the first range job.
    program = (
        "from pathlib import Path\nfrom tests.support.dag_runs import import_dag_file, run_dag\n"
        f"run_dag(import_dag_file(Path({module.__file__!r})))\n"
    )
    run_until_killed("airflow_glacier_select.hooks.glacier:GlacierJobsHook.initiate_job", program, tmp_path)
    [first_range] = range_jobs(glacier_endpoint).values()

    # The same task instance runs again, on another worker.
    dag_run = run_dag(import_dag_file(Path(module.__file__)))

    assert task_state(dag_run, "copy") == "success"
    result = xcom_result(dag_run, "copy")
    jobs = range_jobs(glacier_endpoint)
    assert sorted(jobs) == sorted(f"{start}-{end}" for start, end in MISSING)
    assert glacier_endpoint.request_count("InitiateJob") == len(MISSING)  # one per range, ever
    assert result["re_retrieval"] == {
        "bytes_reused": KEPT * CHUNK,
        "bytes_re_retrieved": SIZE - KEPT * CHUNK,
        "ranges": [f"{start}-{end}" for start, end in MISSING],
        "jobs": [jobs[f"{start}-{end}"] for start, end in MISSING],
    }
    assert first_range in result["re_retrieval"]["jobs"]
    assert (result["verification"], result["size"]) == ("job-tree-hash", SIZE)
    assert served_bytes(glacier_endpoint, list(jobs.values())) == SIZE - KEPT * CHUNK
    landed_whole(glacier_endpoint, result["sha256_tree_hash"])


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"on_output_expired": "re-retrieve-all"}, "on_output_expired"),
        ({"re_retrieval_tier": "standard"}, "re_retrieval_tier"),
        ({"re_retrieval_poll_interval": 0}, "re_retrieval_poll_interval"),
        ({"re_retrieval_max_wait": "1h"}, "re_retrieval_max_wait"),
    ],
)
def test_bad_expiry_settings_are_refused_when_the_dag_is_parsed(
    kwargs: dict[str, Any], field: str, glacier_endpoint: LocalGlacierEndpoint
) -> None:
    with pytest.raises(GlacierValidationError) as raised:
        GlacierJobOutputToS3Operator(task_id="copy", vault_name=VAULT, job_id="job", bucket=BUCKET, **kwargs)
    assert raised.value.field == field
    assert str(next(iter(kwargs.values()))) in str(raised.value)
    assert glacier_endpoint.request_count() == 0


def test_continuing_without_a_job_for_every_missing_range_is_refused_before_any_request(
    tmp_path: Path, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str, job_id: str
) -> None:
    kill_at_60_percent_then_forget(tmp_path, glacier_endpoint, glacier_connection, job_id)
    transfer = transfer_for(glacier_connection)
    expired = transfer.find_expired_copy(VAULT, job_id, BUCKET)
    assert expired is not None
    glacier_endpoint.reset_counts()
    with pytest.raises(GlacierValidationError) as raised:
        transfer.continue_expired_copy(expired, {})
    assert raised.value.field == "range_jobs"
    assert f"lacks a job for archive bytes {MISSING[0][0]}-{MISSING[0][1]}" in str(raised.value)
    assert glacier_endpoint.request_count() == 0
    assert s3_leftovers(glacier_endpoint)[1] == [KEY]
