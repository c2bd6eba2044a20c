"""The copy ledger in S3, and continuing a multipart upload an earlier attempt left open.

:class:`LedgerStore` reads and writes the ledger objects of one destination key (see
:mod:`airflow_glacier_select.s3_copy.ledger` for the layout and the trust rules) through
an S3 client; :func:`open_or_resume` is how a copy starts: it lists the multipart uploads
open on its key, keeps the one whose ledger proves its parts, aborts (with the reason in
the log) every one that cannot be trusted, and creates a fresh upload only when nothing
can be continued.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import botocore.exceptions

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.ledger import (
    ArchiveSource,
    CopyIdentity,
    CopyPointer,
    LedgerDecision,
    ListedPart,
    PartRecord,
    UploadRecord,
    copy_pointer_key,
    ledger_prefix,
    part_record_key,
    reconcile,
    upload_record_key,
)
from airflow_glacier_select.s3_copy.plan import TransferPlan
from airflow_glacier_select.s3_copy.progress import format_bytes
from airflow_glacier_select.s3_copy.s3_objects import error_code

__all__ = ["LedgerStore", "ResumedUpload", "open_or_resume", "read_copy_pointer"]

_T = TypeVar("_T")
_NOT_FOUND = ("404", "NoSuchKey", "NotFound")
_DELETE_BATCH = 1000


class _Log(Protocol):
    def info(self, msg: Any, /, *args: Any) -> Any: ...
    def warning(self, msg: Any, /, *args: Any) -> Any: ...
    def error(self, msg: Any, /, *args: Any) -> Any: ...


Retrying = Callable[[str, Callable[[], Any]], Any]
"""``retrying(what, attempt)``: run ``attempt`` with the transfer's retry policy."""


class LedgerStore:
    """The ledger objects and open multipart uploads of copies to ``s3://bucket/key``."""

    def __init__(self, s3: Any, bucket: str, key: str, retrying: Retrying) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.key = key
        self._retrying = retrying

    def _call(self, what: str, attempt: Callable[..., _T], **kwargs: Any) -> _T:
        result: _T = self._retrying(what, functools.partial(attempt, **kwargs))
        return result

    # --- writing --------------------------------------------------------------------------

    def _put(self, target: str, body: bytes) -> None:
        self._call(
            f"PutObject s3://{self.bucket}/{target}",
            lambda: self.s3.put_object(Bucket=self.bucket, Key=target, Body=body),
        )

    def write_upload(self, record: UploadRecord) -> None:
        self._put(upload_record_key(self.key, record.upload_id), record.to_json())

    def write_part(self, record: PartRecord) -> None:
        self._put(part_record_key(self.key, record.upload_id, record.part_number), record.to_json())

    def write_pointer(self, pointer: CopyPointer) -> None:
        """Say, under the job's own name, that its output is being copied to this key and upload."""
        self._put(copy_pointer_key(pointer.vault_name, pointer.job_id), pointer.to_json())

    def delete_pointer(self, vault_name: str, job_id: str) -> None:
        target = copy_pointer_key(vault_name, job_id)
        self._call(
            f"DeleteObject s3://{self.bucket}/{target}",
            lambda: self.s3.delete_object(Bucket=self.bucket, Key=target),
        )

    # --- reading --------------------------------------------------------------------------

    def _read(self, key: str) -> bytes | None:
        def get() -> bytes | None:
            try:
                response = self.s3.get_object(Bucket=self.bucket, Key=key)
            except botocore.exceptions.ClientError as error:
                if error_code(error) in _NOT_FOUND:
                    return None
                raise
            with response["Body"] as body:
                return bytes(body.read())

        return self._call(f"GetObject s3://{self.bucket}/{key}", get)

    def _keys(self, prefix: str) -> Iterator[str]:
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            page = self._call(
                f"ListObjectsV2 s3://{self.bucket}/{prefix}",
                self.s3.list_objects_v2,
                Bucket=self.bucket,
                Prefix=prefix,
                **extra,
            )
            for item in page.get("Contents", []):
                yield str(item["Key"])
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                return

    def read_upload(self, upload_id: str) -> UploadRecord | None:
        """The upload's record; None when missing. A record that does not parse raises."""
        text = self._read(upload_record_key(self.key, upload_id))
        return None if text is None else UploadRecord.from_json(text)

    def read_parts(self, upload_id: str, part_numbers: range | None = None) -> list[PartRecord]:
        """The upload's part records (only those of ``part_numbers`` when given)."""
        directory = upload_record_key(self.key, upload_id).rsplit("/", 1)[0] + "/part-"
        records = []
        for key in self._keys(directory):
            number = int(key.rsplit("-", 1)[1].split(".", 1)[0])
            if part_numbers is not None and number not in part_numbers:
                continue
            text = self._read(key)
            if text is not None:
                records.append(PartRecord.from_json(text))
        return records

    def open_uploads(self) -> list[str]:
        """Ids of the multipart uploads open on exactly this key, oldest first."""
        uploads: list[tuple[str, str]] = []
        markers: dict[str, str] = {}
        while True:
            page = self._call(
                f"ListMultipartUploads s3://{self.bucket}/{self.key}",
                self.s3.list_multipart_uploads,
                Bucket=self.bucket,
                Prefix=self.key,
                **markers,
            )
            for upload in page.get("Uploads", []):
                if upload.get("Key") == self.key:
                    uploads.append((str(upload.get("Initiated", "")), str(upload["UploadId"])))
            if not page.get("IsTruncated"):
                break
            markers = {
                "KeyMarker": page.get("NextKeyMarker", ""),
                "UploadIdMarker": page.get("NextUploadIdMarker", ""),
            }
        return [upload_id for _, upload_id in sorted(uploads)]

    def listed_parts(self, upload_id: str) -> list[ListedPart]:
        parts: list[ListedPart] = []
        marker = 0
        while True:
            page = self._call(
                f"ListParts {upload_id}",
                self.s3.list_parts,
                Bucket=self.bucket,
                Key=self.key,
                UploadId=upload_id,
                PartNumberMarker=marker,
            )
            parts += [
                ListedPart(int(part["PartNumber"]), int(part["Size"]), str(part["ETag"]))
                for part in page.get("Parts", [])
            ]
            if not page.get("IsTruncated"):
                return parts
            marker = int(page["NextPartNumberMarker"])

    def decide(self, plan: TransferPlan, identity: CopyIdentity, upload_id: str) -> LedgerDecision:
        """:func:`reconcile` on what S3 and the ledger say about ``upload_id``."""
        try:
            record = self.read_upload(upload_id)
            records = self.read_parts(upload_id) if record is not None else []
        except GlacierValidationError as error:
            return LedgerDecision(upload_id, False, f"its ledger cannot be read ({error})")
        return reconcile(plan, identity, upload_id, record, records, self.listed_parts(upload_id))

    # --- cleaning up --------------------------------------------------------------------------

    def delete(self, upload_id: str | None = None) -> int:
        """Delete the ledger of ``upload_id`` (None: of every upload to this key); the count deleted."""
        prefix = ledger_prefix(self.key)
        if upload_id is not None:
            prefix = upload_record_key(self.key, upload_id).rsplit("/", 1)[0] + "/"
        keys = list(self._keys(prefix))
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": key} for key in keys[start : start + _DELETE_BATCH]]
            self._call(
                f"DeleteObjects s3://{self.bucket}/{prefix}",
                self.s3.delete_objects,
                Bucket=self.bucket,
                Delete={"Objects": batch, "Quiet": True},
            )
        return len(keys)

    def abort(self, upload_id: str, log: _Log) -> None:
        """Abort the upload (no part kept or billed) and drop its ledger; failures are logged."""
        try:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=upload_id)
        except botocore.exceptions.ClientError as error:
            if error_code(error) != "NoSuchUpload":
                log.error(
                    "Could not abort multipart upload %s of s3://%s/%s (%s); abort it by hand or with a "
                    "bucket lifecycle rule",
                    upload_id,
                    self.bucket,
                    self.key,
                    error,
                )
                return
        try:
            self.delete(upload_id)
        except Exception as error:  # the upload is gone; a stray ledger object is only clutter
            log.warning("Could not delete the ledger of upload %s (%s)", upload_id, error)


@dataclass(frozen=True)
class ResumedUpload:
    """The upload a copy writes into, and the parts it already holds (chunk index -> record)."""

    upload_id: str
    reusable: dict[int, PartRecord] = field(default_factory=dict)
    created: bool = False

    @property
    def bytes_reused(self) -> int:
        return sum(record.length for record in self.reusable.values())


def open_or_resume(
    store: LedgerStore,
    plan: TransferPlan,
    identity: CopyIdentity,
    create: Callable[[], str],
    log: _Log,
    archive: ArchiveSource | None = None,
) -> ResumedUpload:
    """Continue the open upload whose ledger proves the most bytes; abort the untrusted; else create.

    Without the ListBucketMultipartUploads permission nothing can be resumed, and a new
    upload is created (as before resumable copies existed).
    """
    where = f"s3://{store.bucket}/{store.key}"
    try:
        open_ids = store.open_uploads()
    except botocore.exceptions.ClientError as error:
        log.warning("Could not list multipart uploads of %s (%s); starting a new one", where, error)
        open_ids = []
    decisions = [store.decide(plan, identity, upload_id) for upload_id in open_ids]
    trusted = [decision for decision in decisions if decision.trusted]
    keep = max(trusted, key=lambda decision: decision.bytes_reused, default=None)
    for decision in decisions:
        if decision is keep:
            continue
        reason = decision.reason or "another open upload of the same copy holds more verified parts"
        log.warning(
            "Aborting multipart upload %s of %s left by an earlier attempt: %s",
            decision.upload_id,
            where,
            reason,
        )
        store.abort(decision.upload_id, log)
    if keep is not None:
        log.info(
            "Resuming multipart upload %s of %s: %d of %d part(s) already uploaded and verified, "
            "%s reused; fetching the other %d",
            keep.upload_id,
            where,
            len(keep.reusable),
            len(plan.chunks),
            format_bytes(keep.bytes_reused),
            len(plan.chunks) - len(keep.reusable),
        )
        return ResumedUpload(keep.upload_id, dict(keep.reusable))
    upload_id = create()
    store.write_upload(UploadRecord(upload_id, identity, archive))
    return ResumedUpload(upload_id, created=True)


def read_copy_pointer(
    s3: Any, bucket: str, vault_name: str, job_id: str, retrying: Retrying
) -> CopyPointer | None:
    """The pointer an archive copy of job ``job_id`` left in ``bucket``; None when there is none."""
    text = LedgerStore(s3, bucket, "", retrying)._read(copy_pointer_key(vault_name, job_id))
    return None if text is None else CopyPointer.from_json(text)
