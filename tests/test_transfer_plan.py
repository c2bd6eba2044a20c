"""The pure transfer core: chunk plans, verification, retries, progress, keys, S3 settings, manifests."""

from __future__ import annotations

import hashlib
import io
import itertools
import random

import pytest
from botocore.utils import calculate_tree_hash

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.jobs import JobDescription
from airflow_glacier_select.transfer_plan import (
    S3_MAX_PARTS,
    TREE_HASH_METADATA_KEY,
    Chunk,
    GlacierTransferError,
    IncompleteChunkError,
    ProgressMeter,
    RetryPolicy,
    S3ObjectSettings,
    TransferPlan,
    TreeHashMismatchError,
    VerificationLedger,
    check_transferable,
    default_key_template,
    format_bytes,
    format_duration,
    is_verified_copy,
    key_fields_for_job,
    key_template_fields,
    needs_archive_description,
    parse_manifest,
    render_key,
    safe_key_path,
    suffixed_key,
)
from airflow_glacier_select.treehash import MIB, TreeHash, is_tree_hash_aligned

ARN = "arn:aws:glacier:us-east-1:123456789012:vaults/photos"


def _job(**members: object) -> JobDescription:
    response = {"JobId": "job-1", "VaultARN": ARN, "StatusCode": "Succeeded", "Completed": True, **members}
    return JobDescription.from_response(response)


def _archive_job(size: int, **members: object) -> JobDescription:
    return _job(
        Action="ArchiveRetrieval",
        ArchiveId="archive-1",
        ArchiveSizeInBytes=size,
        RetrievalByteRange=f"0-{size - 1}",
        **members,
    )


# --- plan ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "chunk_size", "expected"),
    [
        (0, 8 * MIB, [(0, -1)]),
        (1, 8 * MIB, [(0, 0)]),
        (8 * MIB, 8 * MIB, [(0, 8 * MIB - 1)]),
        (8 * MIB + 1, 8 * MIB, [(0, 8 * MIB - 1), (8 * MIB, 8 * MIB)]),
        (20 * MIB + 7, 16 * MIB, [(0, 16 * MIB - 1), (16 * MIB, 20 * MIB + 6)]),
    ],
)
def test_plan_chunks(size: int, chunk_size: int, expected: list[tuple[int, int]]) -> None:
    plan = TransferPlan.build(size, chunk_size)
    assert [(c.start, c.end) for c in plan.chunks] == expected
    assert [c.part_number for c in plan.chunks] == list(range(1, len(expected) + 1))
    assert sum(c.length for c in plan.chunks) == size
    assert plan.multipart == (len(expected) > 1)


@pytest.mark.parametrize("size", [1, MIB, 8 * MIB - 1, 8 * MIB, 40 * MIB + 3, 1000 * MIB + 1])
@pytest.mark.parametrize("chunk_size", [8 * MIB, 16 * MIB, 64 * MIB])
def test_every_chunk_is_tree_hash_aligned_and_a_valid_s3_part(size: int, chunk_size: int) -> None:
    plan = TransferPlan.build(size, chunk_size)
    for chunk in plan.chunks:
        assert is_tree_hash_aligned(chunk.start, chunk.end, size)
        if chunk is not plan.chunks[-1]:
            assert chunk.length >= 5 * MIB


def test_empty_output_is_one_chunk_asked_for_without_a_range() -> None:
    (chunk,) = TransferPlan.build(0).chunks
    assert chunk.length == 0
    assert chunk.byte_range is None
    assert Chunk(0, 0, 0).byte_range == (0, 0)


def test_chunk_size_doubles_to_stay_within_s3_part_count() -> None:
    size = S3_MAX_PARTS * 8 * MIB + 1
    plan = TransferPlan.build(size, 8 * MIB)
    assert plan.chunk_size == 16 * MIB
    assert len(plan.chunks) <= S3_MAX_PARTS
    assert TransferPlan.build(S3_MAX_PARTS * 8 * MIB, 8 * MIB).chunk_size == 8 * MIB


def test_peak_memory_is_chunk_size_times_concurrency_whatever_the_size() -> None:
    small, huge = TransferPlan.build(100 * MIB, 16 * MIB), TransferPlan.build(40 * 1024**3, 16 * MIB)
    assert small.peak_memory(4) == huge.peak_memory(4) == 64 * MIB
    assert TransferPlan.build(3 * MIB, 16 * MIB).peak_memory(4) == 3 * MIB


@pytest.mark.parametrize(
    "chunk_size", [0, MIB, 4 * MIB, 12 * MIB, 8 * MIB + 1, 8192 * MIB, -8 * MIB, 8.0 * MIB, True, "16"]
)
def test_bad_chunk_sizes_are_refused(chunk_size: object) -> None:
    with pytest.raises(GlacierValidationError, match=r"^chunk_size: "):
        TransferPlan.build(100, chunk_size)  # type: ignore[arg-type]


def test_negative_sizes_are_refused() -> None:
    with pytest.raises(GlacierValidationError, match="total_size: -1 must not be negative"):
        TransferPlan.build(-1)


# --- verification -----------------------------------------------------------------------------


def _feed(ledger: VerificationLedger, data: bytes, order: list[int], with_headers: bool = True) -> None:
    for index in order:
        chunk = ledger.plan.chunks[index]
        hasher = TreeHash(data[chunk.start : chunk.end + 1])
        header = hasher.hexdigest() if with_headers else None
        ledger.check_chunk(chunk, hasher.size, hasher.digest(), header)
        ledger.record(chunk, hasher.digest(), header)


def test_chunks_in_any_order_combine_to_the_reference_tree_hash() -> None:
    data = random.Random(5).randbytes(40 * MIB + 12345)
    expected = calculate_tree_hash(io.BytesIO(data))
    plan = TransferPlan.build(len(data), 8 * MIB)
    ledger = VerificationLedger(plan, expected.upper())
    _feed(ledger, data, [5, 0, 2, 1, 4, 3])
    result = ledger.finish()
    assert (result.sha256_tree_hash, result.verification, result.verified) == (
        expected,
        "job-tree-hash",
        True,
    )


def test_without_a_job_hash_chunk_headers_still_verify_and_without_them_only_size() -> None:
    data = bytes(9 * MIB)
    plan = TransferPlan.build(len(data), 8 * MIB)
    with_headers = VerificationLedger(plan, None)
    _feed(with_headers, data, [0, 1])
    assert with_headers.finish().verification == "chunk-tree-hashes"
    without = VerificationLedger(plan, None)
    _feed(without, data, [0, 1], with_headers=False)
    result = without.finish()
    assert (result.verification, result.verified) == ("size-only", False)
    assert result.sha256_tree_hash == calculate_tree_hash(io.BytesIO(data))


def test_empty_output_hashes_to_sha256_of_nothing() -> None:
    plan = TransferPlan.build(0)
    ledger = VerificationLedger(plan, hashlib.sha256(b"").hexdigest())
    _feed(ledger, b"", [0])
    assert ledger.finish().verification == "job-tree-hash"


def test_a_chunk_that_differs_from_its_header_is_refused() -> None:
    plan = TransferPlan.build(9 * MIB, 8 * MIB)
    ledger = VerificationLedger(plan, None)
    chunk = plan.chunks[0]
    root = TreeHash(bytes(chunk.length)).digest()
    with pytest.raises(
        TreeHashMismatchError, match=r"chunk 1 \(bytes 0-8388607\): tree hash .* does not match"
    ):
        ledger.check_chunk(chunk, chunk.length, root, "ab" * 32)
    with pytest.raises(IncompleteChunkError, match="received 100 bytes instead of 8388608"):
        ledger.check_chunk(chunk, 100, root, None)


def test_a_whole_output_that_differs_from_the_job_hash_is_refused() -> None:
    data = bytes(9 * MIB)
    plan = TransferPlan.build(len(data), 8 * MIB)
    ledger = VerificationLedger(plan, "00" * 32)
    _feed(ledger, data, [0, 1])
    with pytest.raises(TreeHashMismatchError, match="does not match the job's SHA256TreeHash 0000"):
        ledger.finish()


def test_missing_chunks_are_never_verified() -> None:
    data = bytes(9 * MIB)
    ledger = VerificationLedger(TransferPlan.build(len(data), 8 * MIB), None)
    _feed(ledger, data, [1])
    assert ledger.bytes_done == MIB
    with pytest.raises(GlacierTransferError, match=r"chunks \[1\] were never received"):
        ledger.finish()


# --- retries and progress -------------------------------------------------------------------


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=6, base_delay=1.0, max_delay=5.0)
    assert [policy.delay(n, jitter=lambda: 1.0) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert [policy.delay(n, jitter=lambda: 0.0) for n in range(1, 4)] == [0.5, 1.0, 2.0]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("max_attempts", {"max_attempts": 0}),
        ("base_delay", {"base_delay": -1}),
        ("max_delay", {"max_delay": "1"}),
    ],
)
def test_bad_retry_policies_are_refused(field: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(GlacierValidationError, match=f"^{field}: "):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"), (5 * MIB, "5.0 MiB"), (3 * 1024**3, "3.0 GiB")],
)
def test_format_bytes(count: int, text: str) -> None:
    assert format_bytes(count) == text


@pytest.mark.parametrize(("seconds", "text"), [(0, "0s"), (44.6, "45s"), (185, "3m 05s"), (7440, "2h 04m")])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_logs_every_ten_percent_with_rate_and_eta() -> None:
    clock = FakeClock()
    meter = ProgressMeter(100 * MIB, clock=clock)
    lines = []
    for _ in range(20):
        clock.now += 1
        lines.append(meter.advance(5 * MIB))
    logged = [line for line in lines if line is not None]
    assert len(logged) == 10
    assert logged[0] == "10.0 MiB of 100.0 MiB (10.0%), 5.0 MiB/s, ETA 18s"
    assert logged[-1] == "100.0 MiB of 100.0 MiB (100.0%), 5.0 MiB/s, done"


def test_slow_progress_still_logs_every_interval() -> None:
    clock = FakeClock()
    meter = ProgressMeter(1000 * MIB, interval=30, clock=clock)
    clock.now += 29
    assert meter.advance(MIB) is None
    clock.now += 1
    assert meter.advance(MIB) == "2.0 MiB of 1000.0 MiB (0.2%), 0.1 MiB/s, ETA 4h 09m"


# --- keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("C:\\Users\\ann\\tax 2019.pdf", "Users/ann/tax 2019.pdf"),
        ("/var/backups//db.tar.gz", "var/backups/db.tar.gz"),
        ("../../etc/passwd", "etc/passwd"),
        ("./a/./b\x00c", "a/b_c"),
        ("photos/été.jpg", "photos/été.jpg"),
    ],
)
def test_recorded_paths_become_safe_keys(path: str, key: str) -> None:
    assert safe_key_path(path) == key


def test_key_fields_decode_the_archive_description() -> None:
    job = _archive_job(10)
    fastglacier = "<m><v>4</v><p>L2hvbWUvYW5uL3Bob3Rvcy/DqXTDqS5qcGc=</p><lm>20120821T170824Z</lm></m>"
    fields = key_fields_for_job(job, "photos", fastglacier)
    assert fields["archive_path"] == "home/ann/photos/été.jpg"
    assert render_key(default_key_template(job), fields) == "photos/home/ann/photos/été.jpg"
    assert (
        key_fields_for_job(job, "photos", '{"Path": "C:\\\\docs\\\\a.txt"}')["archive_path"] == "docs/a.txt"
    )
    assert key_fields_for_job(job, "photos", None)["archive_path"] == "archive-1"
    assert key_fields_for_job(job, "photos", "<m><p>%%%</p></m>")["archive_path"] == "archive-1"


def test_default_keys_per_job_kind() -> None:
    inventory = _job(Action="InventoryRetrieval", InventoryRetrievalParameters={"Format": "CSV"})
    fields = key_fields_for_job(inventory, "photos", None)
    assert render_key(default_key_template(inventory), fields) == "photos/inventory/job-1.csv"
    ranged = _job(
        Action="ArchiveRetrieval", ArchiveId="a1", ArchiveSizeInBytes=10 * MIB, RetrievalByteRange="0-1048575"
    )
    assert render_key(default_key_template(ranged), key_fields_for_job(ranged, "photos", "x.bin")) == (
        "photos/x.bin.bytes-0-1048575"
    )
    assert not needs_archive_description(default_key_template(inventory))
    assert needs_archive_description(default_key_template(ranged))


@pytest.mark.parametrize(
    ("template", "rule"),
    [
        ("{nope}", "uses {nope}; placeholders are"),
        ("{0}", "uses {0}"),
        ("{job_id!r}", "uses {job_id}"),
        ("{job_id:>10}", "uses {job_id}"),
        ("{job_id", "is not a valid key template"),
        ("", "must not be empty"),
        (None, "is required"),
    ],
)
def test_bad_key_templates_are_refused(template: object, rule: str) -> None:
    with pytest.raises(GlacierValidationError, match=r"^key: ") as raised:
        key_template_fields(template)
    assert rule in str(raised.value)


def test_keys_longer_than_s3_allows_are_refused() -> None:
    assert key_template_fields("{{literal}}/{job_id}") == {"job_id"}
    with pytest.raises(GlacierValidationError, match="must be at most 1024 bytes"):
        render_key("é" * 513, {})


@pytest.mark.parametrize(
    ("key", "suffixed"),
    [("a/b/photo.tar.gz", "a/b/photo-2.tar.gz"), ("plain", "plain-2"), ("dir/.hidden", "dir/.hidden-2")],
)
def test_suffixed_keys_keep_the_extension(key: str, suffixed: str) -> None:
    assert suffixed_key(key, 2) == suffixed


def test_verified_copy_needs_size_and_tree_hash_metadata() -> None:
    digest = "ab" * 32
    assert is_verified_copy(10, {TREE_HASH_METADATA_KEY: digest}, 10, digest.upper())
    assert not is_verified_copy(11, {TREE_HASH_METADATA_KEY: digest}, 10, digest)
    assert not is_verified_copy(10, {}, 10, digest)
    assert not is_verified_copy(10, {TREE_HASH_METADATA_KEY: digest}, 10, None)


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"Action": "Select"}, "is a select job; only archive-retrieval and inventory-retrieval"),
        ({"Action": "ArchiveRetrieval", "StatusCode": "InProgress"}, "is still in progress"),
        (
            {"Action": "ArchiveRetrieval", "StatusCode": "Failed", "StatusMessage": "boom"},
            r"\(Failed\): boom",
        ),
        ({"Action": "InventoryRetrieval"}, "reports no output size"),
    ],
)
def test_only_succeeded_retrievals_are_transferable(members: dict[str, object], message: str) -> None:
    with pytest.raises(GlacierTransferError, match=message):
        check_transferable(_job(**members), "photos")


# --- S3 settings ---------------------------------------------------------------------------


def test_settings_become_put_and_multipart_arguments() -> None:
    settings = S3ObjectSettings(
        encryption="aws:kms",
        kms_key_id="alias/backups",
        storage_class="DEEP_ARCHIVE",
        tags={"team": "data+ml @ team/1", "tier": "cold"},
        metadata={"source": "glacier"},
    )
    assert settings.extra_args("ab" * 32) == {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "alias/backups",
        "StorageClass": "DEEP_ARCHIVE",
        "Tagging": "team=data%2Bml%20%40%20team%2F1&tier=cold",
        "Metadata": {"source": "glacier", TREE_HASH_METADATA_KEY: "ab" * 32},
    }
    assert S3ObjectSettings().extra_args(None) == {}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"encryption": "aes256"}, "encryption"),
        ({"kms_key_id": "k"}, "kms_key_id"),
        ({"encryption": "AES256", "kms_key_id": "k"}, "kms_key_id"),
        ({"storage_class": "FROZEN"}, "storage_class"),
        ({"tags": {f"k{i}": "v" for i in range(11)}}, "tags"),
        ({"tags": {"k" * 129: "v"}}, "tags"),
        ({"tags": {"k": 1}}, "tags"),
        ({"tags": {"k": "a&b"}}, "tags"),
        ({"tags": {"k<": "v"}}, "tags"),
        ({"metadata": {"SHA256-Tree-Hash": "x"}}, "metadata"),
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(GlacierValidationError, match=f"^{field}"):
        S3ObjectSettings(**kwargs)  # type: ignore[arg-type]


# --- manifests -------------------------------------------------------------------------------


def test_manifest_entries_as_keys_or_uris() -> None:
    text = "out/j/results/1.csv\n\ns3://bucket/out/j/results/2.csv\r\n"
    assert parse_manifest(text, "bucket") == ["out/j/results/1.csv", "out/j/results/2.csv"]
    with pytest.raises(GlacierTransferError, match="is not an object in bucket bucket"):
        parse_manifest("s3://elsewhere/out/1.csv", "bucket")


def test_part_numbers_are_contiguous_for_random_sizes() -> None:
    rng = random.Random(11)
    for size in itertools.islice((rng.randrange(1, 2**34) for _ in itertools.count()), 60):
        plan = TransferPlan.build(size, 8 * MIB)
        assert plan.chunks[-1].end == size - 1
        assert all(a.end + 1 == b.start for a, b in itertools.pairwise(plan.chunks))
