"""The copy ledger: what a copy has uploaded *and* verified, in a form any worker can trust.

A copy into S3 is a multipart upload whose parts are tree-hash-aligned chunks of the job
output. S3 remembers the parts of an open upload (ListParts: number, size, ETag) but not
that their bytes matched Glacier's tree hash, nor which job, archive or chunk size they
came from. The ledger records exactly that, one small JSON object per verified part plus
one per upload, in the destination bucket itself, so a retry on another machine can reuse
every part it proves and fetch only the rest. One object per part means concurrent
writers (the shards of one archive) never overwrite each other.

Layout, under :func:`ledger_prefix` (derived from the destination key, so it never
collides with the copy's own object and fits S3's 1,024-byte key limit)::

    <prefix><upload id>/upload.json          what the upload is a copy of (UploadRecord)
    <prefix><upload id>/part-00001.json      one verified part (PartRecord)

and, under the same root, one small object per job whose output is being copied (CopyPointer)::

    .glacier-copy-ledger/jobs/<digest of vault and job id>.json

The pointer and the upload record's ``archive`` (which archive, and where in it the job's
output starts) outlive the job itself: once Glacier has forgotten a job (its output
expired), they are all that says which byte ranges of which archive a copy still lacks.

:func:`reconcile` decides, without any I/O, whether an open upload can be continued, and
which of its parts need no download. Trust is all or nothing per upload: a record that
disagrees with the copy about to run (another job, archive tree hash, size or chunk size),
or a part whose ETag or size differs from its record, makes the whole upload
untrustworthy, and it is aborted. A part uploaded without a record (the worker died
between UploadPart and writing its record) or a record whose part is gone is merely
fetched again.

Pure core: no Airflow and no boto3 import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.s3_copy.plan import Chunk, TransferPlan

__all__ = [
    "LEDGER_FORMAT",
    "LEDGER_ROOT",
    "POINTER_ROOT",
    "ArchiveSource",
    "CopyIdentity",
    "CopyPointer",
    "LedgerDecision",
    "ListedPart",
    "PartRecord",
    "UploadRecord",
    "copy_pointer_key",
    "ledger_prefix",
    "part_record_key",
    "reconcile",
    "upload_record_key",
]

LEDGER_FORMAT = 1
LEDGER_ROOT = ".glacier-copy-ledger/"
"""Top-level prefix of every ledger in a bucket; a lifecycle rule on it can sweep orphans."""
POINTER_ROOT = f"{LEDGER_ROOT}jobs/"
"""Prefix of the copy pointers (:class:`CopyPointer`), found from a job alone; no key digest is
``jobs``, so they never mix with a ledger, and one lifecycle rule on :data:`LEDGER_ROOT` covers both."""


def ledger_prefix(key: str) -> str:
    """Where the ledgers of copies to ``key`` live: a digest of the key, never the key itself.

    The key may already use most of S3's 1,024 bytes, and a prefix below the key would show
    up among the user's own objects; a digest under one root does neither.
    """
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return f"{LEDGER_ROOT}{digest}/"


def upload_record_key(key: str, upload_id: str) -> str:
    return f"{ledger_prefix(key)}{_upload_digest(upload_id)}/upload.json"


def part_record_key(key: str, upload_id: str, part_number: int) -> str:
    return f"{ledger_prefix(key)}{_upload_digest(upload_id)}/part-{part_number:05d}.json"


def copy_pointer_key(vault_name: str, job_id: str) -> str:
    """Where the pointer to the copy of a job's output lives: found from the job alone."""
    digest = hashlib.sha256(f"{vault_name}\x1f{job_id}".encode()).hexdigest()[:40]
    return f"{POINTER_ROOT}{digest}.json"


def _upload_digest(upload_id: str) -> str:
    """Upload ids may hold characters awkward in keys; a digest is short and safe."""
    return hashlib.sha256(upload_id.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class CopyIdentity:
    """What makes two copies the same copy: the same bytes cut into the same parts.

    ``archive_tree_hash`` is the job's SHA256TreeHash (None for an inventory, which has none).
    """

    vault_name: str
    job_id: str
    bucket: str
    key: str
    total_size: int
    chunk_size: int
    archive_tree_hash: str | None

    def differences(self, other: CopyIdentity) -> list[str]:
        """Fields that differ, each as ``name: recorded != expected``."""
        mine, theirs = asdict(self), asdict(other)
        return [f"{name}: {mine[name]!r} != {theirs[name]!r}" for name in mine if mine[name] != theirs[name]]


def _fields(data: object, what: str, names: Iterable[str]) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise GlacierValidationError(what, data, "must be a JSON object")
    missing = [name for name in names if name not in data]
    if missing:
        raise GlacierValidationError(what, dict(data), f"lacks {', '.join(missing)}")
    if data.get("format") != LEDGER_FORMAT:
        raise GlacierValidationError(what, data.get("format"), f"format must be {LEDGER_FORMAT}")
    return data


@dataclass(frozen=True)
class ArchiveSource:
    """Which archive an archive-retrieval job's output is, and at which archive byte it starts.

    ``archive_offset`` is the first byte of the job's RetrievalByteRange (0 for the whole
    archive): output byte ``n`` is archive byte ``archive_offset + n``.
    """

    archive_id: str
    archive_size: int
    archive_offset: int = 0


@dataclass(frozen=True)
class UploadRecord:
    """Written right after CreateMultipartUpload: the upload is a copy of ``identity``.

    ``archive`` (archive retrievals only) is what a re-retrieval of missing ranges needs
    once the job itself is gone; it is not part of what makes two copies the same.
    """

    upload_id: str
    identity: CopyIdentity
    archive: ArchiveSource | None = None

    def to_json(self) -> bytes:
        extra = {"archive": asdict(self.archive)} if self.archive is not None else {}
        return json.dumps(
            {"format": LEDGER_FORMAT, "upload_id": self.upload_id, **asdict(self.identity), **extra},
            sort_keys=True,
        ).encode()

    @classmethod
    def from_json(cls, text: bytes | str) -> UploadRecord:
        names = ("upload_id", *CopyIdentity.__dataclass_fields__)
        data = _fields(_loads(text, "upload record"), "upload record", names)
        identity = CopyIdentity(**{name: data[name] for name in CopyIdentity.__dataclass_fields__})
        archive = data.get("archive")
        if archive is None:
            return cls(str(data["upload_id"]), identity)
        if not isinstance(archive, Mapping):
            raise GlacierValidationError("upload record archive", archive, "must be a JSON object")
        names = ("archive_id", "archive_size", "archive_offset")
        source = _fields({**archive, "format": LEDGER_FORMAT}, "upload record archive", names)
        return cls(
            str(data["upload_id"]),
            identity,
            ArchiveSource(
                str(source["archive_id"]), int(source["archive_size"]), int(source["archive_offset"])
            ),
        )


@dataclass(frozen=True)
class CopyPointer:
    """Which key and multipart upload hold the copy of job ``job_id``'s output (:func:`copy_pointer_key`)."""

    vault_name: str
    job_id: str
    key: str
    upload_id: str

    def to_json(self) -> bytes:
        return json.dumps({"format": LEDGER_FORMAT, **asdict(self)}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, text: bytes | str) -> CopyPointer:
        names = tuple(cls.__dataclass_fields__)
        data = _fields(_loads(text, "copy pointer"), "copy pointer", names)
        return cls(**{name: str(data[name]) for name in names})


@dataclass(frozen=True)
class PartRecord:
    """One part uploaded after its chunk matched its tree hash (and, if sent, Glacier's).

    ``tree_hash`` is the chunk's own tree-hash root (hex): the verification of the whole
    output combines these, so a reused part needs no byte downloaded again.
    """

    part_number: int
    start: int
    end: int
    tree_hash: str
    etag: str
    job_id: str
    upload_id: str
    chunk_size: int
    archive_tree_hash: str | None
    service_checked: bool = field(default=False)

    @property
    def length(self) -> int:
        return self.end + 1 - self.start

    def to_json(self) -> bytes:
        return json.dumps({"format": LEDGER_FORMAT, **asdict(self)}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, text: bytes | str) -> PartRecord:
        names = [name for name in cls.__dataclass_fields__ if name != "service_checked"]
        data = _fields(_loads(text, "part record"), "part record", names)
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})

    @classmethod
    def for_chunk(
        cls,
        chunk: Chunk,
        root: bytes,
        etag: str,
        upload_id: str,
        identity: CopyIdentity,
        service_checked: bool,
    ) -> PartRecord:
        return cls(
            part_number=chunk.part_number,
            start=chunk.start,
            end=chunk.end,
            tree_hash=root.hex(),
            etag=etag,
            job_id=identity.job_id,
            upload_id=upload_id,
            chunk_size=identity.chunk_size,
            archive_tree_hash=identity.archive_tree_hash,
            service_checked=service_checked,
        )


def _loads(text: bytes | str, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise GlacierValidationError(what, str(text)[:80], f"is not JSON ({error})") from None


@dataclass(frozen=True)
class ListedPart:
    """A part as S3's ListParts reports it."""

    part_number: int
    size: int
    etag: str


def _same_etag(left: str, right: str) -> bool:
    return left.strip('"').lower() == right.strip('"').lower()


@dataclass(frozen=True)
class LedgerDecision:
    """What to do with one open upload.

    ``trusted`` False: abort it, for ``reason``. Otherwise ``reusable`` maps chunk index to
    the record of a part that needs no download; every other chunk of the plan is fetched.
    """

    upload_id: str
    trusted: bool
    reason: str = ""
    reusable: Mapping[int, PartRecord] = field(default_factory=dict)

    @property
    def bytes_reused(self) -> int:
        return sum(record.length for record in self.reusable.values())


def reconcile(
    plan: TransferPlan,
    identity: CopyIdentity,
    upload_id: str,
    upload_record: UploadRecord | None,
    records: Iterable[PartRecord],
    listed: Iterable[ListedPart],
) -> LedgerDecision:
    """Which parts of open upload ``upload_id`` can be kept for the copy ``identity`` describes.

    ``plan`` is the copy's plan (its chunks are the parts); ``records`` the ledger's part
    records of this upload, ``listed`` what ListParts reports.
    """

    def refuse(reason: str) -> LedgerDecision:
        return LedgerDecision(upload_id, False, reason)

    if upload_record is None:
        return refuse("it has no ledger (upload.json is missing)")
    if upload_record.upload_id != upload_id:
        return refuse(f"its ledger names upload {upload_record.upload_id!r}")
    differences = upload_record.identity.differences(identity)
    if differences:
        return refuse("its ledger describes another copy (" + "; ".join(differences) + ")")
    parts = {part.part_number: part for part in listed}
    reusable: dict[int, PartRecord] = {}
    for record in records:
        where = f"part {record.part_number}"
        if record.part_number < 1 or record.part_number > len(plan.chunks):
            return refuse(f"its ledger records {where}, outside the plan's {len(plan.chunks)} parts")
        chunk = plan.chunks[record.part_number - 1]
        recorded = (record.start, record.end, record.job_id, record.upload_id, record.chunk_size)
        expected = (chunk.start, chunk.end, identity.job_id, upload_id, identity.chunk_size)
        if recorded != expected or record.archive_tree_hash != identity.archive_tree_hash:
            return refuse(
                f"its ledger's {where} (bytes {record.start}-{record.end}, job {record.job_id}, "
                f"upload {record.upload_id}, chunk size {record.chunk_size}, archive tree hash "
                f"{record.archive_tree_hash}) does not match the plan (bytes {chunk.start}-{chunk.end}, "
                f"job {identity.job_id}, chunk size {identity.chunk_size}, archive tree hash "
                f"{identity.archive_tree_hash})"
            )
        part = parts.get(record.part_number)
        if part is None:
            continue  # recorded but gone from S3: fetched again, the record is rewritten
        if part.size != record.length or not _same_etag(part.etag, record.etag):
            return refuse(
                f"{where} in S3 ({part.size} bytes, ETag {part.etag}) differs from its ledger "
                f"record ({record.length} bytes, ETag {record.etag})"
            )
        reusable[chunk.index] = record
    return LedgerDecision(upload_id, True, reusable=reusable)
