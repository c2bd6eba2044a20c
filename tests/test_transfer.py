"""GlacierToS3Transfer against the local endpoint and its S3, through real boto3 clients over HTTP.

botocore's own retries are switched off for these clients, so every recovery seen here is
the transfer's own chunk retry.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.config import Config
from botocore.utils import calculate_tree_hash

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.hooks.glacier import GlacierJobsHook, JobOutput
from airflow_glacier_select.s3_copy.destination import (
    TREE_HASH_METADATA_KEY,
    VERIFICATION_METADATA_KEY,
    S3ObjectSettings,
)
from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer
from airflow_glacier_select.s3_copy.errors import (
    DestinationExistsError,
    GlacierTransferError,
    JobOutputExpiredError,
)
from airflow_glacier_select.s3_copy.retry import RetryPolicy
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.treehash import MIB
from tests.support.transfer_helpers import (
    BUCKET,
    SCORES_CSV,
    VAULT,
    dangling_uploads,
    finished_job,
    keys,
    object_sha256,
    retrieval_job,
    select_parameters,
    write_archive,
)

NO_BOTOCORE_RETRIES = Config(retries={"total_max_attempts": 1})
RESULT_KEYS = {
    "s3_uri",
    "vault_name",
    "job_id",
    "bucket",
    "key",
    "size",
    "sha256_tree_hash",
    "verified",
    "verification",
    "chunks",
    "chunk_size",
    "elapsed_seconds",
    "skipped",
}


class CountingGlacierHook(GlacierJobsHook):
    """The real hook, also recording how many job outputs are open at once."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.Lock()
        self.open_now = 0
        self.most_open = 0

    def get_job_output(
        self, vault_name: str, job_id: str, byte_range: tuple[int, int] | None = None
    ) -> JobOutput:
        output = super().get_job_output(vault_name, job_id, byte_range)
        with self._lock:
            self.open_now += 1
            self.most_open = max(self.most_open, self.open_now)
        close = output.close

        def closed() -> None:
            with self._lock:
                self.open_now -= 1
            close()

        output.close = closed  # type: ignore[method-assign]
        return output


@pytest.fixture
def s3(glacier_endpoint: LocalGlacierEndpoint) -> Any:
    client = glacier_endpoint.client("s3")
    client.create_bucket(Bucket=BUCKET)
    glacier_endpoint.reset_counts()
    return client


@pytest.fixture
def sleeps() -> list[float]:
    return []


_HOOKS: dict[str, tuple[CountingGlacierHook, S3Hook]] = {}


def _hooks(conn_id: str) -> tuple[CountingGlacierHook, S3Hook]:
    """Hooks reused across tests: the endpoint keeps its URL for the session, and each new boto3
    session costs a few hundred milliseconds."""
    if conn_id not in _HOOKS:
        _HOOKS[conn_id] = (
            CountingGlacierHook(aws_conn_id=conn_id, config=NO_BOTOCORE_RETRIES),
            S3Hook(aws_conn_id=conn_id, config=NO_BOTOCORE_RETRIES),
        )
    glacier, s3_hook = _HOOKS[conn_id]
    glacier.open_now = glacier.most_open = 0
    return glacier, s3_hook


@pytest.fixture
def make_transfer(glacier_connection: str, sleeps: list[float]) -> Any:
    def make(**kwargs: Any) -> GlacierToS3Transfer:
        glacier, s3_hook = _hooks(glacier_connection)
        options: dict[str, Any] = {
            "chunk_size": 8 * MIB,
            "concurrency": 2,
            "retry": RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05),
            "sleep": sleeps.append,
            **kwargs,
        }
        return GlacierToS3Transfer(glacier, s3_hook, **options)

    return make


def _assert_no_trace(endpoint: LocalGlacierEndpoint) -> None:
    assert keys(endpoint) == []
    assert dangling_uploads(endpoint) == []


@pytest.mark.parametrize(
    ("size", "chunks"),
    [(0, 1), (1, 1), (MIB - 3, 1), (8 * MIB, 1), (8 * MIB + 1, 2), (3 * 8 * MIB + 12345, 4)],
)
def test_byte_exact_copies(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any, size: int, chunks: int
) -> None:
    data = hashlib.shake_256(str(size).encode()).digest(size)
    job_id = retrieval_job(glacier_endpoint, data, '{"Path": "D:\\\\backups\\\\2019\\\\db.dump"}')
    glacier_endpoint.reset_counts()

    result = make_transfer().copy_job_output(VAULT, job_id, BUCKET).to_dict()

    assert set(result) == RESULT_KEYS
    assert json.loads(json.dumps(result)) == result
    tree_hash = calculate_tree_hash(io.BytesIO(data))
    assert result["key"] == f"{VAULT}/backups/2019/db.dump"
    assert result["s3_uri"] == f"s3://{BUCKET}/{VAULT}/backups/2019/db.dump"
    assert (result["size"], result["sha256_tree_hash"], result["chunks"]) == (size, tree_hash, chunks)
    assert (result["verified"], result["verification"], result["skipped"]) == (True, "job-tree-hash", False)
    assert object_sha256(glacier_endpoint, result["key"]) == hashlib.sha256(data).hexdigest()
    head = s3.head_object(Bucket=BUCKET, Key=result["key"])
    assert head["ContentLength"] == size
    assert head["Metadata"] == {TREE_HASH_METADATA_KEY: tree_hash, VERIFICATION_METADATA_KEY: "tree-hash"}
    assert dangling_uploads(glacier_endpoint) == []
    # one request for the archive description in the key, then one per chunk
    assert glacier_endpoint.request_count("GetJobOutput") == 1 + chunks
    assert glacier_endpoint.request_count("CreateMultipartUpload") == (1 if chunks > 1 else 0)


@pytest.mark.slow
def test_256_mib_archive_copied_byte_exact_with_bounded_chunks(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any, tmp_path: Path
) -> None:
    size = 256 * MIB + 777
    path = tmp_path / "big.bin"
    sha256, tree_hash = write_archive(path, size, seed=256)
    job_id = retrieval_job(glacier_endpoint, path, "big.bin")
    transfer = make_transfer(chunk_size=16 * MIB, concurrency=4)

    result = transfer.copy_job_output(VAULT, job_id, BUCKET, "archives/{archive_id}")

    assert (
        result.key
        == f"archives/{glacier_endpoint.client().describe_job(vaultName=VAULT, jobId=job_id)['ArchiveId']}"
    )
    assert (result.size, result.sha256_tree_hash, result.chunks, result.verified) == (
        size,
        tree_hash,
        17,
        True,
    )
    assert object_sha256(glacier_endpoint, result.key) == sha256
    assert transfer.glacier_hook.most_open <= 4
    assert dangling_uploads(glacier_endpoint) == []


def test_in_flight_chunks_never_exceed_concurrency(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any
) -> None:
    data = hashlib.shake_256(b"bounded").digest(6 * 8 * MIB)
    job_id = retrieval_job(glacier_endpoint, data)
    transfer = make_transfer(concurrency=3)
    result = transfer.copy_job_output(VAULT, job_id, BUCKET, "bounded.bin")
    assert result.chunks == 6
    assert 1 <= transfer.glacier_hook.most_open <= 3
    assert transfer.glacier_hook.open_now == 0


def test_progress_is_logged_with_rate_and_eta(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = retrieval_job(glacier_endpoint, bytes(5 * 8 * MIB))
    with caplog.at_level(logging.INFO, logger="airflow_glacier_select.s3_copy.engine"):
        make_transfer().copy_job_output(VAULT, job_id, BUCKET, "zeros.bin")
    progress = [r.getMessage() for r in caplog.records if "MiB/s" in r.getMessage()]
    assert len(progress) == 5  # one line per 20% chunk, each crossing a 10% step
    assert progress[-1].endswith("40.0 MiB of 40.0 MiB (100.0%), " + progress[-1].split(", ")[1] + ", done")
    assert any("ETA" in line for line in progress[:-1])


# --- failures ---------------------------------------------------------------------------


def test_corrupted_chunk_aborts_the_upload_and_leaves_nothing(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any
) -> None:
    job_id = retrieval_job(glacier_endpoint, hashlib.shake_256(b"c").digest(3 * 8 * MIB))
    glacier_endpoint.inject_fault("GetJobOutput", "corrupt", count=3)

    with pytest.raises(
        GlacierTransferError, match=r"chunk 1 \(bytes 0-8388607\) failed after 3 attempt"
    ) as raised:
        make_transfer(concurrency=1).copy_job_output(VAULT, job_id, BUCKET, "fixed/key.bin")

    assert "TreeHashMismatchError" in str(raised.value)
    _assert_no_trace(glacier_endpoint)
    assert glacier_endpoint.request_count("AbortMultipartUpload") == 1
    assert glacier_endpoint.request_count("UploadPart") == 0
    assert glacier_endpoint.request_count("CompleteMultipartUpload") == 0


def test_corrupted_single_chunk_output_is_never_written(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any
) -> None:
    job_id = retrieval_job(glacier_endpoint, hashlib.shake_256(b"s").digest(3 * MIB))
    glacier_endpoint.inject_fault("GetJobOutput", "corrupt", count=3)
    with pytest.raises(GlacierTransferError, match="TreeHashMismatchError"):
        make_transfer().copy_job_output(VAULT, job_id, BUCKET, "small.bin")
    _assert_no_trace(glacier_endpoint)
    assert glacier_endpoint.request_count("PutObject") == 0


def test_a_chunk_corrupted_once_is_downloaded_again(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any, sleeps: list[float]
) -> None:
    data = hashlib.shake_256(b"once").digest(2 * 8 * MIB + 5)
    job_id = retrieval_job(glacier_endpoint, data)
    glacier_endpoint.inject_fault("GetJobOutput", "corrupt", count=1, at=12345)
    result = make_transfer().copy_job_output(VAULT, job_id, BUCKET, "once.bin")
    assert object_sha256(glacier_endpoint, result.key) == hashlib.sha256(data).hexdigest()
    assert glacier_endpoint.request_count("GetJobOutput") == 3 + 1
    assert len(sleeps) == 1


def test_throttling_resets_and_truncated_bodies_mid_transfer_are_recovered(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any, sleeps: list[float]
) -> None:
    data = hashlib.shake_256(b"faults").digest(4 * 8 * MIB + 999)
    job_id = retrieval_job(glacier_endpoint, data)
    glacier_endpoint.inject_fault("GetJobOutput", "throttle", count=1)
    glacier_endpoint.inject_fault("GetJobOutput", "reset", count=1, at=3 * MIB)
    glacier_endpoint.inject_fault("GetJobOutput", "http503", count=1)
    glacier_endpoint.inject_fault("GetJobOutput", "truncate", count=1, at=5 * MIB)
    glacier_endpoint.inject_fault("UploadPart", "throttle", count=1)

    retry = RetryPolicy(max_attempts=5, base_delay=0.01, max_delay=0.05)  # all faults may hit one chunk
    result = make_transfer(retry=retry).copy_job_output(VAULT, job_id, BUCKET, "faults.bin")

    assert object_sha256(glacier_endpoint, result.key) == hashlib.sha256(data).hexdigest()
    assert result.verification == "job-tree-hash"
    assert glacier_endpoint.request_count("GetJobOutput") == 5 + 4
    assert glacier_endpoint.request_count("UploadPart") == 5 + 1
    assert len(sleeps) == 5
    assert dangling_uploads(glacier_endpoint) == []


def test_expired_output_fails_clearly_before_anything_is_written(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any
) -> None:
    job_id = retrieval_job(glacier_endpoint, b"old news")
    glacier_endpoint.expire_job_output(VAULT, job_id)
    with pytest.raises(JobOutputExpiredError, match="Initiate the retrieval job again") as raised:
        make_transfer().copy_job_output(VAULT, job_id, BUCKET)
    assert job_id in str(raised.value)
    assert "24 hours" in str(raised.value)
    _assert_no_trace(glacier_endpoint)
    assert glacier_endpoint.request_count("GetJobOutput") == 1  # no retries of an expired output


@pytest.mark.parametrize("operation", ["UploadPart", "CompleteMultipartUpload"])
def test_s3_failure_mid_multipart_upload_aborts_cleanly(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any, operation: str
) -> None:
    job_id = retrieval_job(glacier_endpoint, hashlib.shake_256(b"s3").digest(3 * 8 * MIB))
    glacier_endpoint.inject_fault(operation, "http500", count=50)
    with pytest.raises(GlacierTransferError, match=f"{operation} .*failed after 3 attempt"):
        make_transfer().copy_job_output(VAULT, job_id, BUCKET, "s3-fails.bin")
    glacier_endpoint.clear_faults()
    _assert_no_trace(glacier_endpoint)
    assert glacier_endpoint.request_count("AbortMultipartUpload") == 1


# --- bad input, job kinds -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"vault_name": "no/slash"}, "vaultName"),
        ({"job_id": ""}, "job_id"),
        ({"bucket": "Bad Bucket"}, "bucket"),
        ({"key": "{vault_name}/{nope}"}, "key"),
        ({"collision": "maybe"}, "collision"),
        ({"settings": {"StorageClass": "GLACIER_IR"}}, "settings"),
    ],
)
def test_bad_arguments_send_nothing(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any, kwargs: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {"vault_name": VAULT, "job_id": "job", "bucket": BUCKET, **kwargs}
    with pytest.raises(GlacierValidationError, match=f"^{field}: "):
        make_transfer().copy_job_output(**arguments)
    assert glacier_endpoint.request_count() == 0


@pytest.mark.parametrize(
    ("kwargs", "field"), [({"chunk_size": 3 * MIB}, "chunk_size"), ({"concurrency": 0}, "concurrency")]
)
def test_bad_transfer_settings_are_refused(make_transfer: Any, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(GlacierValidationError, match=f"^{field}: "):
        make_transfer(**kwargs)


def test_inventory_output_is_copied_with_size_only_verification(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any
) -> None:
    for number in range(3):
        glacier_endpoint.put_archive(VAULT, b"x" * number, f'{{"Path": "file {number}, \\"quoted\\""}}')
    job_id = finished_job(glacier_endpoint, {"Type": "inventory-retrieval", "Format": "CSV"})
    expected = glacier_endpoint.client().get_job_output(vaultName=VAULT, jobId=job_id)["body"].read()
    glacier_endpoint.reset_counts()

    result = make_transfer().copy_job_output(VAULT, job_id, BUCKET)

    assert result.key == f"{VAULT}/inventory/{job_id}.csv"
    assert (result.verified, result.verification, result.size) == (False, "size-only", len(expected))
    assert object_sha256(glacier_endpoint, result.key) == hashlib.sha256(expected).hexdigest()
    metadata = s3.head_object(Bucket=BUCKET, Key=result.key)["Metadata"]
    assert metadata == {VERIFICATION_METADATA_KEY: "size-only"}
    assert glacier_endpoint.request_count("GetJobOutput") == 1


def test_select_jobs_are_pointed_to_their_results(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any
) -> None:
    archive_id = glacier_endpoint.put_archive(VAULT, SCORES_CSV)
    job_id = finished_job(glacier_endpoint, select_parameters(archive_id, "SELECT * FROM archive"))
    with pytest.raises(GlacierTransferError, match=r"is a select job.*Select results check"):
        make_transfer().copy_job_output(VAULT, job_id, BUCKET, "x")
    assert glacier_endpoint.request_count("GetJobOutput") == 0


# --- destinations ---------------------------------------------------------------------------


def test_skip_if_same_keeps_a_verified_copy_and_downloads_nothing(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any
) -> None:
    data = hashlib.shake_256(b"same").digest(9 * MIB)
    job_id = retrieval_job(glacier_endpoint, data, "photos/cat.jpg")
    first = make_transfer().copy_job_output(VAULT, job_id, BUCKET)
    again = finished_job(
        glacier_endpoint, {"Type": "archive-retrieval", "ArchiveId": _archive_id(glacier_endpoint, job_id)}
    )
    glacier_endpoint.reset_counts()

    second = make_transfer().copy_job_output(VAULT, again, BUCKET, archive_description="photos/cat.jpg")

    assert (second.key, second.skipped, second.verified, second.chunks) == (first.key, True, True, 0)
    assert second.verification == "existing-copy"
    assert second.sha256_tree_hash == first.sha256_tree_hash
    assert glacier_endpoint.request_count("GetJobOutput") == 0
    assert glacier_endpoint.request_count("PutObject") + glacier_endpoint.request_count("UploadPart") == 0


def _archive_id(endpoint: LocalGlacierEndpoint, job_id: str) -> str:
    return str(endpoint.client().describe_job(vaultName=VAULT, jobId=job_id)["ArchiveId"])


@pytest.mark.parametrize(
    ("collision", "expected_key"),
    [("skip_if_same", "taken.bin"), ("overwrite", "taken.bin"), ("suffix", "taken-2.bin")],
)
def test_an_unrelated_object_at_the_key(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any, collision: str, expected_key: str
) -> None:
    data = b"the archive"
    job_id = retrieval_job(glacier_endpoint, data)
    s3.put_object(Bucket=BUCKET, Key="taken.bin", Body=b"someone else's")
    s3.put_object(Bucket=BUCKET, Key="taken-1.bin", Body=b"also taken")
    result = make_transfer().copy_job_output(VAULT, job_id, BUCKET, "taken.bin", collision=collision)
    assert result.key == expected_key
    assert object_sha256(glacier_endpoint, expected_key) == hashlib.sha256(data).hexdigest()
    assert object_sha256(glacier_endpoint, "taken-1.bin") == hashlib.sha256(b"also taken").hexdigest()


def test_collision_fail_refuses_before_downloading(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any
) -> None:
    job_id = retrieval_job(glacier_endpoint, b"the archive")
    s3.put_object(Bucket=BUCKET, Key="taken.bin", Body=b"someone else's")
    glacier_endpoint.reset_counts()
    with pytest.raises(DestinationExistsError, match=r"taken\.bin already exists .*collision is 'fail'"):
        make_transfer().copy_job_output(VAULT, job_id, BUCKET, "taken.bin", collision="fail")
    assert glacier_endpoint.request_count("GetJobOutput") == 0
    assert object_sha256(glacier_endpoint, "taken.bin") == hashlib.sha256(b"someone else's").hexdigest()


@pytest.mark.parametrize("size", [100, 8 * MIB + 100])
@pytest.mark.parametrize(
    "settings",
    [
        S3ObjectSettings(encryption="AES256", storage_class="GLACIER_IR", tags={"team": "data+ml @ team/1"}),
        S3ObjectSettings(encryption="aws:kms", kms_key_id="alias/archive", storage_class="DEEP_ARCHIVE"),
        S3ObjectSettings(storage_class="STANDARD_IA", metadata={"origin": "glacier"}),
    ],
    ids=["aes256-glacier-ir-tags", "kms-deep-archive", "standard-ia-metadata"],
)
def test_s3_settings_apply_to_single_and_multipart_objects(
    glacier_endpoint: LocalGlacierEndpoint, s3: Any, make_transfer: Any, size: int, settings: S3ObjectSettings
) -> None:
    job_id = retrieval_job(glacier_endpoint, bytes(size))
    result = make_transfer(concurrency=1).copy_job_output(VAULT, job_id, BUCKET, "set.bin", settings=settings)
    head = s3.head_object(Bucket=BUCKET, Key=result.key)
    assert head["ContentLength"] == size
    assert head.get("StorageClass", "STANDARD") == settings.storage_class
    assert head.get("ServerSideEncryption") == settings.encryption
    assert head.get("SSEKMSKeyId") == settings.kms_key_id
    assert head["Metadata"] == {
        **(settings.metadata or {}),
        TREE_HASH_METADATA_KEY: result.sha256_tree_hash,
        VERIFICATION_METADATA_KEY: "tree-hash",
    }
    if settings.tags:  # the endpoint refuses GetObjectTagging on archive storage classes
        tags = s3.get_object_tagging(Bucket=BUCKET, Key=result.key)["TagSet"]
        assert {tag["Key"]: tag["Value"] for tag in tags} == dict(settings.tags)
