"""One archive copied by many workers: plan, copy each range shard, finish (or abort).

The three steps share one S3 multipart upload and its ledger
(:mod:`~airflow_glacier_select.s3_copy.ledger`), and nothing else: each step could run on
another machine, and each may be retried on its own.

1. :func:`plan_sharded_copy` checks the job and the destination, cuts the plan into
   :class:`~airflow_glacier_select.s3_copy.shards.RangeShard` s (refused before anything
   is written when they cannot be cut), opens the multipart upload (or continues the one
   an earlier run left, exactly as a single-worker copy does) and returns one
   :class:`ShardWork` per shard, plain JSON for XCom and task mapping.
2. :func:`copy_shard` downloads, verifies and uploads the shard's parts, recording each in
   the ledger; a retry skips every part the ledger proves. A failing shard never aborts
   the upload: the other shards' parts stay, and its retry continues.
3. :func:`finish_sharded_copy` needs every part proven by the ledger and matching S3,
   combines the chunk tree hashes into the archive's, checks it against the job's and
   completes the upload; otherwise it aborts the upload (no part kept or billed) and
   says which parts were missing.

An output of one chunk, or a verified copy already at the key, is dealt with in step 1
(one PutObject, or nothing); the shard and finish steps then have nothing to do.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import botocore.exceptions

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_description import JobDescription
from airflow_glacier_select.s3_copy.destination import S3ObjectSettings
from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer, TransferResult, _Run, check_settings
from airflow_glacier_select.s3_copy.errors import GlacierTransferError
from airflow_glacier_select.s3_copy.expected import ExpectedOutput, expected_output
from airflow_glacier_select.s3_copy.ledger import reconcile
from airflow_glacier_select.s3_copy.plan import TransferPlan
from airflow_glacier_select.s3_copy.progress import format_bytes
from airflow_glacier_select.s3_copy.resume import ResumedUpload, open_or_resume
from airflow_glacier_select.s3_copy.s3_objects import error_code
from airflow_glacier_select.s3_copy.shards import RangeShard, plan_shards
from airflow_glacier_select.s3_copy.verification import VerificationResult

__all__ = ["ShardWork", "UploadNotResumableError", "copy_shard", "finish_sharded_copy", "plan_sharded_copy"]


class UploadNotResumableError(GlacierTransferError):
    """A shard's upload is gone or its ledger cannot vouch for it: retrying the shard cannot help."""


@dataclass(frozen=True)
class ShardWork:
    """What one shard task needs: the copy it belongs to, the upload and its own range.

    ``upload_id`` is None when the planning step already finished the copy (``result``):
    a verified copy was already there, or the output fitted one chunk.
    """

    vault_name: str
    job_id: str
    bucket: str
    key: str
    total_size: int
    chunk_size: int
    archive_tree_hash: str | None
    upload_id: str | None
    shard: dict[str, int] | None
    result: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> ShardWork:
        names = cls.__dataclass_fields__
        if not isinstance(data, Mapping) or any(name not in data for name in names if name != "result"):
            raise GlacierValidationError(
                "shard", data, f"must be a dict from the planning step with {', '.join(names)}"
            )
        return cls(**{name: data[name] for name in names if name in data})

    @property
    def range_shard(self) -> RangeShard | None:
        return RangeShard.from_dict(self.shard) if self.shard is not None else None


def _works(items: object) -> list[ShardWork]:
    """The planning step's list, checked to describe one copy."""
    if isinstance(items, Mapping) or not isinstance(items, Sequence) or not items:
        raise GlacierValidationError("plan", items, "must be the planning step's non-empty list of shards")
    works = [ShardWork.from_dict(item) for item in items]
    first = replace(works[0], shard=None)
    for work in works[1:]:
        if replace(work, shard=None) != first:
            raise GlacierValidationError("plan", items, "holds shards of different copies")
    return works


def plan_sharded_copy(
    transfer: GlacierToS3Transfer,
    vault_name: str,
    job_id: str,
    bucket: str,
    key: str | None,
    shards: int,
    *,
    collision: str = "skip_if_same",
    settings: S3ObjectSettings | None = None,
    archive_description: str | None = None,
) -> list[dict[str, Any]]:
    """Open (or continue) the multipart upload and return one work item per shard (see the module)."""
    settings = check_settings(settings)
    vault_name, job, expected, plan, destination = transfer.prepare(
        vault_name, job_id, bucket, key, collision=collision, archive_description=archive_description
    )
    common = ShardWork(
        vault_name,
        job.job_id,
        bucket,
        destination.key,
        plan.total_size,
        plan.chunk_size,
        expected.tree_hash.lower() if expected.tree_hash else None,
        None,
        None,
    )
    if destination.existing_copy is not None or (shards == 1 and not plan.multipart):
        # Nothing to share out: the existing copy stands, or one PutObject does it all.
        result = transfer.copy_job_output(
            vault_name,
            job.job_id,
            bucket,
            destination.key,
            collision=collision,
            settings=settings,
            archive_description=archive_description,
        )
        return [replace(common, result=result.to_dict()).to_dict()]
    cut = plan_shards(plan, shards)  # refused here, before anything is written
    run = _Run(transfer, vault_name, job, expected, plan, bucket, destination.key, settings, False)
    resumed = open_or_resume(run.store, plan, run.identity, run._create_upload, transfer.log)
    transfer.log.info(
        "Copying %s of job %s to s3://%s/%s as %d shard(s) of about %d part(s) of %s (upload %s)",
        format_bytes(plan.total_size),
        job.job_id,
        bucket,
        destination.key,
        len(cut),
        -(-len(plan.chunks) // len(cut)),
        format_bytes(plan.chunk_size),
        resumed.upload_id,
    )
    return [replace(common, upload_id=resumed.upload_id, shard=shard.to_dict()).to_dict() for shard in cut]


def _job_and_plan(
    transfer: GlacierToS3Transfer, work: ShardWork
) -> tuple[JobDescription, ExpectedOutput, TransferPlan]:
    """The job as Glacier describes it now, checked against what the planning step saw."""
    job = transfer._describe(work.vault_name, work.job_id)
    expected = expected_output(job, work.vault_name)
    plan = TransferPlan.build(work.total_size, work.chunk_size)
    tree_hash = expected.tree_hash.lower() if expected.tree_hash else None
    if (expected.size, tree_hash) != (
        work.total_size,
        work.archive_tree_hash,
    ) or plan.chunk_size != work.chunk_size:
        raise GlacierTransferError(
            f"job {work.job_id} in vault {work.vault_name} now reports {expected.size} bytes and tree "
            f"hash {tree_hash}, but the copy was planned for {work.total_size} bytes, tree hash "
            f"{work.archive_tree_hash} in chunks of {work.chunk_size}"
        )
    return job, expected, plan


def copy_shard(transfer: GlacierToS3Transfer, item: object) -> dict[str, Any]:
    """Copy one shard's parts that the ledger does not already prove; never aborts the upload."""
    work = ShardWork.from_dict(item)
    shard = work.range_shard
    if work.upload_id is None or shard is None:
        return {"shard": None, "parts": 0, "bytes_fetched": 0, "bytes_reused": 0, "done_by_plan": True}
    job, expected, plan = _job_and_plan(transfer, work)
    shard.check_against(plan)
    run = _Run(
        transfer, work.vault_name, job, expected, plan, work.bucket, work.key, S3ObjectSettings(), False
    )
    upload_record = run.store.read_upload(work.upload_id)
    part_numbers = range(shard.first_chunk + 1, shard.last_chunk + 2)
    records = run.store.read_parts(work.upload_id, part_numbers)
    try:
        listed = [part for part in run.store.listed_parts(work.upload_id) if part.part_number in part_numbers]
    except botocore.exceptions.ClientError as error:
        if error_code(error) != "NoSuchUpload":
            raise
        raise UploadNotResumableError(
            f"{shard.describe()}: multipart upload {work.upload_id} of s3://{work.bucket}/{work.key} no "
            "longer exists (completed or aborted); run the copy again from its planning step"
        ) from error
    decision = reconcile(plan, run.identity, work.upload_id, upload_record, records, listed)
    if not decision.trusted:
        raise UploadNotResumableError(
            f"{shard.describe()}: multipart upload {work.upload_id} of s3://{work.bucket}/{work.key} "
            f"cannot be continued: {decision.reason}. The finishing step aborts it; run the copy again."
        )
    missing = [chunk for chunk in shard.chunks(plan) if chunk.index not in decision.reusable]
    fetched = sum(chunk.length for chunk in missing)
    transfer.log.info(
        "%s of job %s: %d of %d part(s) already uploaded and verified (%s reused); fetching %d (%s)",
        shard.describe(),
        work.job_id,
        len(decision.reusable),
        len(part_numbers),
        format_bytes(decision.bytes_reused),
        len(missing),
        format_bytes(fetched),
    )
    started = time.monotonic()
    run.copy_parts(work.upload_id, missing)
    return {
        "shard": shard.index,
        "parts": len(part_numbers),
        "bytes_fetched": fetched,
        "bytes_reused": decision.bytes_reused,
        "elapsed_seconds": round(time.monotonic() - started, 3),
        "done_by_plan": False,
    }


def finish_sharded_copy(transfer: GlacierToS3Transfer, items: object) -> TransferResult:
    """Complete the upload when the ledger proves every part and the archive's tree hash; else abort."""
    works = _works(items)
    work = works[0]
    if work.upload_id is None:
        assert work.result is not None
        return TransferResult(**{name: work.result[name] for name in TransferResult.__dataclass_fields__})
    started = time.monotonic()
    job, expected, plan = _job_and_plan(transfer, work)
    done = transfer._destination(work.bucket, work.key, "skip_if_same", expected).existing_copy
    if done is not None:  # completed by an earlier try of this step
        return _result(work, plan, done, started)
    run = _Run(
        transfer, work.vault_name, job, expected, plan, work.bucket, work.key, S3ObjectSettings(), False
    )
    upload_id = work.upload_id
    try:
        decision = run.store.decide(plan, run.identity, upload_id)
        missing = [chunk.part_number for chunk in plan.chunks if chunk.index not in decision.reusable]
        if not decision.trusted or missing:
            reason = (
                decision.reason
                or f"parts {_ranges(missing)} of {len(plan.chunks)} were never uploaded and verified"
            )
            raise GlacierTransferError(
                f"multipart upload {upload_id} of s3://{work.bucket}/{work.key} cannot be completed: {reason}"
            )
        parts = run._adopt(ResumedUpload(upload_id, dict(decision.reusable)))
        verification = run._finish()
        run._complete(upload_id, parts)
    except Exception:
        run._abort(upload_id)
        raise
    run._drop_ledger(upload_id)
    transfer.log.info(
        "Completed s3://%s/%s from %d shard(s): %s, tree hash %s (%s)",
        work.bucket,
        work.key,
        len(works),
        format_bytes(plan.total_size),
        verification.sha256_tree_hash,
        verification.verification,
    )
    return _result(work, plan, verification, started)


def _result(
    work: ShardWork, plan: TransferPlan, verification: VerificationResult, started: float
) -> TransferResult:
    return TransferResult.of_copy(work, verification, started, chunks=len(plan.chunks))


def _ranges(numbers: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``1-3, 7``: a 10,000-part list stays readable."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in spans)
