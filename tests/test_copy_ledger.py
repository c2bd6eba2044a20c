"""The copy ledger's trust rules (pure): which parts of an open upload a retry may keep."""

from __future__ import annotations

import dataclasses

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.ledger import (
    LEDGER_ROOT,
    CopyIdentity,
    ListedPart,
    PartRecord,
    UploadRecord,
    ledger_prefix,
    part_record_key,
    reconcile,
    upload_record_key,
)
from airflow_glacier_select.s3_copy.plan import TransferPlan
from airflow_glacier_select.treehash import MIB

PLAN = TransferPlan.build(3 * 8 * MIB + 5, 8 * MIB)
IDENTITY = CopyIdentity("vault", "job-1", "bucket", "restored/a.bin", PLAN.total_size, 8 * MIB, "ab" * 32)
UPLOAD = "upload-1"


def record(index: int, etag: str = '"e"', **changes: object) -> PartRecord:
    chunk = PLAN.chunks[index]
    made = PartRecord.for_chunk(chunk, bytes(32), etag, UPLOAD, IDENTITY, service_checked=True)
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


def listed(index: int, etag: str = '"e"', size: int | None = None) -> ListedPart:
    chunk = PLAN.chunks[index]
    return ListedPart(chunk.part_number, chunk.length if size is None else size, etag)


def test_ledger_keys_sit_under_one_root_derived_from_the_key_and_fit_any_key_length() -> None:
    long_key = "k" * 1024
    assert ledger_prefix(long_key).startswith(LEDGER_ROOT)
    assert ledger_prefix("a") != ledger_prefix("b")
    assert len(part_record_key(long_key, "x" * 200, 10_000)) < 200
    assert upload_record_key("a", UPLOAD).endswith("/upload.json")
    assert part_record_key("a", UPLOAD, 7).startswith(upload_record_key("a", UPLOAD).rsplit("/", 1)[0])


def test_records_round_trip_through_json() -> None:
    assert PartRecord.from_json(record(1).to_json()) == record(1)
    upload = UploadRecord(UPLOAD, IDENTITY)
    assert UploadRecord.from_json(upload.to_json()) == upload


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (b"not json", "is not JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"format": 1}', "lacks part_number"),
        (record(0).to_json().replace(b'"format": 1', b'"format": 9'), "format must be 1"),
    ],
)
def test_a_damaged_record_is_refused_naming_the_rule(text: bytes, rule: str) -> None:
    with pytest.raises(GlacierValidationError, match=rule):
        PartRecord.from_json(text)


def test_verified_parts_whose_s3_parts_match_are_reused_and_the_rest_fetched() -> None:
    decision = reconcile(
        PLAN,
        IDENTITY,
        UPLOAD,
        UploadRecord(UPLOAD, IDENTITY),
        [record(0), record(2)],
        # part 2 uploaded but never recorded (killed in between); part 3 recorded: reused
        [listed(0), listed(1, '"other"'), listed(2)],
    )
    assert decision.trusted
    assert sorted(decision.reusable) == [0, 2]
    assert decision.bytes_reused == PLAN.chunks[0].length + PLAN.chunks[2].length


def test_a_record_whose_part_is_gone_is_fetched_again_not_a_reason_to_abort() -> None:
    decision = reconcile(PLAN, IDENTITY, UPLOAD, UploadRecord(UPLOAD, IDENTITY), [record(1)], [])
    assert decision.trusted and not decision.reusable


@pytest.mark.parametrize(
    ("upload_record", "records", "parts", "reason"),
    [
        (None, [], [], "it has no ledger (upload.json is missing)"),
        (
            UploadRecord(UPLOAD, dataclasses.replace(IDENTITY, job_id="job-2")),
            [],
            [],
            "its ledger describes another copy (job_id: 'job-2' != 'job-1')",
        ),
        (
            UploadRecord(UPLOAD, dataclasses.replace(IDENTITY, chunk_size=16 * MIB)),
            [],
            [],
            f"its ledger describes another copy (chunk_size: {16 * MIB} != {8 * MIB})",
        ),
        (
            UploadRecord(UPLOAD, dataclasses.replace(IDENTITY, archive_tree_hash="cd" * 32)),
            [],
            [],
            "archive_tree_hash: 'cdcd",
        ),
        (
            UploadRecord(UPLOAD, IDENTITY),
            [record(0)],
            [listed(0, '"changed"')],
            'part 1 in S3 (8388608 bytes, ETag "changed") differs',
        ),
        (UploadRecord(UPLOAD, IDENTITY), [record(0)], [listed(0, size=5)], "part 1 in S3 (5 bytes"),
        (UploadRecord(UPLOAD, IDENTITY), [record(0, job_id="job-2")], [listed(0)], "does not match the plan"),
        (UploadRecord(UPLOAD, IDENTITY), [record(0, part_number=9)], [], "outside the plan's 4 parts"),
    ],
)
def test_an_upload_the_ledger_cannot_vouch_for_is_untrusted_with_the_reason(
    upload_record: UploadRecord | None, records: list[PartRecord], parts: list[ListedPart], reason: str
) -> None:
    decision = reconcile(PLAN, IDENTITY, UPLOAD, upload_record, records, parts)
    assert not decision.trusted and not decision.reusable
    assert reason in decision.reason
