"""The verification ledger: chunk checks, the whole output's tree hash, and what vouched for it."""

from __future__ import annotations

import hashlib
import io
import random

import pytest
from botocore.utils import calculate_tree_hash

from airflow_glacier_select.s3_copy.errors import (
    GlacierTransferError,
    IncompleteChunkError,
    TreeHashMismatchError,
)
from airflow_glacier_select.s3_copy.plan import TransferPlan
from airflow_glacier_select.s3_copy.verification import VerificationLedger
from airflow_glacier_select.treehash import MIB, TreeHash


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
