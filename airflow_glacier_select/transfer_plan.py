"""Moving a Glacier job's output into S3: the plan, the checks and the naming, without any I/O.

A transfer follows the shape of ``s3transfer``: the output is split into a plan of byte
ranges, a bounded pool downloads and uploads them, and any failure aborts cleanly.
Everything here is the part of that which is *rules* rather than requests:

- :class:`TransferPlan`: tree-hash-aligned chunks that are also valid S3 multipart parts,
  so one ranged GetJobOutput becomes exactly one UploadPart;
- :class:`VerificationLedger`: what has been checked against which Glacier tree hash,
  and whether the whole output was verified;
- :class:`RetryPolicy` and :class:`ProgressMeter`: capped backoff, and a progress line
  at a cadence a task log can bear;
- destination keys from a template or from the archive description, S3 object settings
  (encryption, storage class, tags) and the collision policies;
- the Select result manifests.

Pure core: no Airflow and no boto3 import; the hook in ``hooks/transfer.py`` does the I/O.
"""

from __future__ import annotations

import math
import posixpath
import random
import re
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from airflow_glacier_select.archive_descriptions import archive_path
from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_description import JobDescription
from airflow_glacier_select.job_rules import check_non_empty, check_one_of, check_string_map
from airflow_glacier_select.treehash import MIB, combine_tree_hashes

__all__ = [
    "COLLISION_POLICIES",
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_CONCURRENCY",
    "KEY_FIELDS",
    "MAX_CONCURRENCY",
    "MIN_CHUNK_SIZE",
    "S3_MAX_PARTS",
    "S3_STORAGE_CLASSES",
    "TREE_HASH_METADATA_KEY",
    "Chunk",
    "DestinationExistsError",
    "GlacierTransferError",
    "IncompleteChunkError",
    "JobOutputExpiredError",
    "ProgressMeter",
    "RetryPolicy",
    "S3ObjectSettings",
    "SelectJobFailedError",
    "TransferPlan",
    "TreeHashMismatchError",
    "VerificationLedger",
    "VerificationResult",
    "check_chunk_size",
    "check_collision_policy",
    "check_concurrency",
    "check_s3_key",
    "check_transferable",
    "default_key_template",
    "format_bytes",
    "format_duration",
    "is_verified_copy",
    "key_fields_for_job",
    "key_template_fields",
    "needs_archive_description",
    "parse_manifest",
    "render_key",
    "safe_key_path",
    "suffixed_key",
]

MIN_CHUNK_SIZE = 8 * MIB
"""The smallest power-of-two MiB above S3's 5 MiB minimum part size (only the last part may be smaller)."""
MAX_CHUNK_SIZE = 4096 * MIB
"""The largest power-of-two MiB below S3's 5 GiB maximum part size."""
DEFAULT_CHUNK_SIZE = 16 * MIB
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 32
S3_MAX_PARTS = 10_000
S3_MAX_KEY_BYTES = 1024
S3_MAX_TAGS = 10
TREE_HASH_METADATA_KEY = "sha256-tree-hash"
"""User metadata key (``x-amz-meta-sha256-tree-hash``) holding the Glacier tree hash of a verified copy."""

COLLISION_POLICIES = ("skip_if_same", "overwrite", "suffix", "fail")
"""What to do when the destination key already holds an object.

- ``skip_if_same``: an object of the same size whose ``sha256-tree-hash`` metadata equals
  the job's tree hash is a verified copy from an earlier run: keep it and download nothing.
  Any other object is replaced. Without a tree hash from Glacier (inventory jobs) nothing
  can prove sameness, so the object is replaced.
- ``overwrite``: always replace.
- ``suffix``: keep a verified copy as ``skip_if_same`` does; otherwise write to the first
  free key among ``name-1.ext``, ``name-2.ext`` ...
- ``fail``: refuse to touch an existing key (nothing is downloaded).
"""

S3_STORAGE_CLASSES = (
    "STANDARD",
    "REDUCED_REDUNDANCY",
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
)
S3_ENCRYPTIONS = ("AES256", "aws:kms")

_TRANSFERABLE_ACTIONS = ("ArchiveRetrieval", "InventoryRetrieval")
_TAG_TEXT = re.compile(r"[\w\s+\-=.:/@]*")


class GlacierTransferError(RuntimeError):
    """Job output could not be copied; the destination was left as it was before."""


class TreeHashMismatchError(GlacierTransferError):
    """Bytes received do not hash to the tree hash Glacier gave for them."""


class JobOutputExpiredError(GlacierTransferError):
    """Glacier no longer has the job (its output is kept about 24 hours after completion)."""

    def __init__(self, vault_name: str, job_id: str) -> None:
        self.vault_name = vault_name
        self.job_id = job_id
        super().__init__(
            f"The output of job {job_id} in vault {vault_name} has expired or the job is unknown: "
            "Glacier keeps job output for about 24 hours after the job completes. "
            "Initiate the retrieval job again and copy its output within that window."
        )


class IncompleteChunkError(GlacierTransferError):
    """A chunk arrived short or for the wrong range; downloading it again may well succeed."""


class DestinationExistsError(GlacierTransferError):
    """The destination key is taken and the collision policy is ``fail``."""


class SelectJobFailedError(GlacierTransferError):
    """A Select job wrote an error manifest (or no result manifest) instead of results."""


# --- the plan -------------------------------------------------------------------------


def _is_power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def _check_int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GlacierValidationError(field, value, "must be an integer")
    return value


def check_chunk_size(value: object) -> int:
    """A chunk must be tree-hash aligned (power-of-two MiB) and a valid S3 part (5 MiB - 5 GiB)."""
    size = _check_int("chunk_size", value)
    if size % MIB or not _is_power_of_two(size // MIB) or not MIN_CHUNK_SIZE <= size <= MAX_CHUNK_SIZE:
        raise GlacierValidationError(
            "chunk_size",
            value,
            f"must be a power-of-two number of MiB from {MIN_CHUNK_SIZE // MIB} "
            f"to {MAX_CHUNK_SIZE // MIB} MiB "
            "(tree-hash aligned and at least S3's 5 MiB minimum part size)",
        )
    return size


def check_concurrency(value: object) -> int:
    """Chunks in flight at once; memory use is ``chunk_size x concurrency``."""
    count = _check_int("concurrency", value)
    if not 1 <= count <= MAX_CONCURRENCY:
        raise GlacierValidationError("concurrency", value, f"must be from 1 to {MAX_CONCURRENCY}")
    return count


@dataclass(frozen=True)
class Chunk:
    """Bytes ``start..end`` (inclusive) of the output: one ranged GetJobOutput and one S3 part."""

    index: int
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end + 1 - self.start

    @property
    def part_number(self) -> int:
        return self.index + 1

    @property
    def byte_range(self) -> tuple[int, int] | None:
        """GetJobOutput's range; None for an empty output, which cannot be asked for by range."""
        return (self.start, self.end) if self.length else None

    def describe(self) -> str:
        return f"chunk {self.part_number} (bytes {self.start}-{self.end})"


@dataclass(frozen=True)
class TransferPlan:
    """How an output of ``total_size`` bytes is moved: chunk size, chunks and single PUT or multipart.

    Outputs no larger than one chunk are verified whole and then written with one
    PutObject (S3 multipart upload needs no part below 5 MiB but the last, and a single
    PUT cannot leave a half-written object). Anything larger becomes a multipart upload
    with one part per chunk. An empty output is a single chunk of length 0.
    """

    total_size: int
    chunk_size: int
    chunks: tuple[Chunk, ...]

    @classmethod
    def build(cls, total_size: int, chunk_size: int = DEFAULT_CHUNK_SIZE) -> TransferPlan:
        """Plan with ``chunk_size``, doubled as often as needed to stay within S3's 10,000 parts.

        Doubling keeps every chunk tree-hash aligned; it raises memory use, which is why
        the hook logs it.
        """
        total_size = _check_int("total_size", total_size)
        if total_size < 0:
            raise GlacierValidationError("total_size", total_size, "must not be negative")
        chunk_size = check_chunk_size(chunk_size)
        while math.ceil(total_size / chunk_size) > S3_MAX_PARTS:
            chunk_size *= 2
        if chunk_size > MAX_CHUNK_SIZE:
            raise GlacierValidationError(
                "total_size", total_size, f"is too large for {S3_MAX_PARTS} parts of at most 4 GiB"
            )
        starts = range(0, total_size, chunk_size) if total_size else range(1)
        chunks = tuple(
            Chunk(index, start, min(start + chunk_size, total_size) - 1) for index, start in enumerate(starts)
        )
        return cls(total_size, chunk_size, chunks)

    @property
    def multipart(self) -> bool:
        return len(self.chunks) > 1

    def peak_memory(self, concurrency: int) -> int:
        """Bytes of chunk buffers held at most: the pool never has more than ``concurrency`` chunks."""
        return min(self.chunk_size, max(self.total_size, 0)) * min(concurrency, len(self.chunks))


# --- verification ---------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationResult:
    """What the whole output hashed to and what it was checked against.

    ``verification`` is ``job-tree-hash`` (the job's SHA256TreeHash matched: every byte
    proven), ``chunk-tree-hashes`` (no job hash, but every chunk matched the tree hash
    Glacier sent with it), ``size-only`` (Glacier gave no tree hash, as for inventories) or
    ``existing-copy`` (the destination already held a copy verified against the job's hash).
    """

    size: int
    sha256_tree_hash: str
    verification: str

    @property
    def verified(self) -> bool:
        return self.verification != "size-only"


class VerificationLedger:
    """Per-chunk tree hashes of one transfer and the checks against Glacier's hashes.

    Chunks may finish in any order; the whole-output root is combined from the chunk
    roots in output order (:func:`combine_tree_hashes`), so no byte is hashed twice.
    """

    def __init__(self, plan: TransferPlan, expected_tree_hash: str | None) -> None:
        self.plan = plan
        self.expected_tree_hash = expected_tree_hash.lower() if expected_tree_hash else None
        self._roots: dict[int, bytes] = {}
        self._service_checked: set[int] = set()

    def check_chunk(self, chunk: Chunk, received: int, root: bytes, service_tree_hash: str | None) -> None:
        """Refuse a chunk that is short or does not match the tree hash Glacier sent with it.

        Does not record the chunk: it is recorded once it is also safely written.
        """
        if received != chunk.length:
            raise IncompleteChunkError(
                f"{chunk.describe()}: received {received} bytes instead of {chunk.length}"
            )
        if service_tree_hash is not None and service_tree_hash.lower() != root.hex():
            raise TreeHashMismatchError(
                f"{chunk.describe()}: tree hash {root.hex()} does not match "
                f"x-amz-sha256-tree-hash {service_tree_hash.lower()}"
            )

    def record(self, chunk: Chunk, root: bytes, service_tree_hash: str | None) -> None:
        self._roots[chunk.index] = root
        if service_tree_hash is not None:
            self._service_checked.add(chunk.index)

    @property
    def bytes_done(self) -> int:
        return sum(self.plan.chunks[index].length for index in self._roots)

    def finish(self) -> VerificationResult:
        """The whole output's tree hash, checked against the job's; raises when it differs."""
        missing = [chunk.part_number for chunk in self.plan.chunks if chunk.index not in self._roots]
        if missing:
            raise GlacierTransferError(f"chunks {missing} were never received")
        if self.plan.total_size == 0:
            root = combine_tree_hashes([])
        else:
            root = combine_tree_hashes([self._roots[chunk.index] for chunk in self.plan.chunks])
        whole = root.hex()
        if self.expected_tree_hash is not None:
            if whole != self.expected_tree_hash:
                raise TreeHashMismatchError(
                    f"the output's tree hash {whole} does not match the job's SHA256TreeHash "
                    f"{self.expected_tree_hash}"
                )
            verification = "job-tree-hash"
        elif self.plan.total_size and len(self._service_checked) == len(self.plan.chunks):
            verification = "chunk-tree-hashes"
        else:
            verification = "size-only"
        return VerificationResult(self.plan.total_size, whole, verification)


# --- retries and progress ---------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per chunk and capped exponential backoff with jitter between them.

    A chunk whose bytes fail their tree-hash check is downloaded again like any other
    transient failure: GetJobOutput costs no new retrieval (Glacier charges per job), and a
    body damaged on the way is far likelier than a wrong hash. After ``max_attempts`` the
    transfer stops.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if _check_int("max_attempts", self.max_attempts) < 1:
            raise GlacierValidationError("max_attempts", self.max_attempts, "must be at least 1")
        for name in ("base_delay", "max_delay"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
                raise GlacierValidationError(name, value, "must be a finite number of seconds >= 0")

    def delay(self, attempt: int, jitter: Callable[[], float] = random.random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + ceiling / 2 * jitter()


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def format_bytes(count: float) -> str:
    """Binary units with one decimal: ``512 B``, ``1.5 MiB``, ``2.0 GiB``."""
    value = float(count)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_duration(seconds: float) -> str:
    """``45s``, ``3m 05s``, ``2h 04m``: an ETA needs no more precision than that."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


class ProgressMeter:
    """Decides when a transfer is worth a log line and writes it.

    A line is due at every ``percent_step`` percent and, for slow transfers, at least every
    ``interval`` seconds; a 100 GiB archive logs about ten lines, not ten thousand.
    """

    def __init__(
        self,
        total: int,
        *,
        percent_step: float = 10.0,
        interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.done = 0
        self.percent_step = percent_step
        self.interval = interval
        self._clock = clock
        self.started = clock()
        self._last_time = self.started
        self._last_step = 0

    def elapsed(self) -> float:
        return self._clock() - self.started

    def advance(self, count: int) -> str | None:
        """Count ``count`` more bytes done; the progress line when one is due, else None."""
        self.done += count
        now = self._clock()
        step = int(self.percent() // self.percent_step) if self.total else 0
        if step > self._last_step or now - self._last_time >= self.interval:
            self._last_step = max(step, self._last_step)
            self._last_time = now
            return self.line()
        return None

    def percent(self) -> float:
        return 100.0 if not self.total else 100.0 * self.done / self.total

    def rate(self) -> float:
        """Bytes per second since the start (0 before any time has passed)."""
        elapsed = self.elapsed()
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        rate = self.rate()
        if self.done >= self.total:
            eta = "done"
        elif rate > 0:
            eta = f"ETA {format_duration((self.total - self.done) / rate)}"
        else:
            eta = "ETA unknown"
        return (
            f"{format_bytes(self.done)} of {format_bytes(self.total)} ({self.percent():.1f}%), "
            f"{rate / MIB:.1f} MiB/s, {eta}"
        )


# --- destination keys -------------------------------------------------------------------

KEY_FIELDS = (
    "vault_name",
    "job_id",
    "job_type",
    "archive_id",
    "archive_path",
    "retrieval_byte_range",
    "inventory_format",
)
"""Placeholders a key template may use, as ``{name}`` (single braces survive Jinja rendering)."""
_DESCRIPTION_FIELDS = frozenset({"archive_path"})

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def key_template_fields(template: object) -> frozenset[str]:
    """The placeholders ``template`` uses; refuses unknown, positional and formatted ones."""
    text = check_non_empty("key", template)
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise GlacierValidationError("key", template, f"is not a valid key template ({error})") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in KEY_FIELDS or spec or conversion:
            raise GlacierValidationError(
                "key",
                template,
                f"uses {{{name}}}; placeholders are {', '.join('{' + f + '}' for f in KEY_FIELDS)} "
                "without conversions or format specs (use {{ and }} for literal braces)",
            )
        names.add(name)
    return frozenset(names)


def needs_archive_description(template: str) -> bool:
    """Whether rendering ``template`` needs the archive description (from GetJobOutput's headers)."""
    return bool(key_template_fields(template) & _DESCRIPTION_FIELDS)


def safe_key_path(path: str) -> str:
    """A recorded file path as an S3 key path: forward slashes, no drive, no ``.``/``..`` or empty parts.

    Backup tools record Windows paths (``C:\\Users\\ann\\tax.pdf``) and absolute Unix paths;
    as S3 keys those would start with a slash or climb out of the destination prefix.
    Control characters become ``_``.
    """
    text = _CONTROL.sub("_", path.replace("\\", "/"))
    text = _DRIVE.sub("", text)
    parts = [part for part in text.split("/") if part not in ("", ".", "..")]
    return "/".join(parts)


def check_s3_key(key: object) -> str:
    text = check_non_empty("key", key)
    if len(text.encode("utf-8", "surrogatepass")) > S3_MAX_KEY_BYTES:
        raise GlacierValidationError("key", key, f"must be at most {S3_MAX_KEY_BYTES} bytes (UTF-8)")
    return text


def default_key_template(job: JobDescription) -> str:
    """Where a job's output goes when no key is given: the archive's own path, or the inventory by job."""
    if job.action == "InventoryRetrieval":
        return "{vault_name}/inventory/{job_id}.{inventory_format}"
    if job.archive_size_in_bytes is not None and job.output_size != job.archive_size_in_bytes:
        return "{vault_name}/{archive_path}.bytes-{retrieval_byte_range}"
    return "{vault_name}/{archive_path}"


def key_fields_for_job(
    job: JobDescription, vault_name: str, archive_description: str | None
) -> dict[str, str]:
    """Values for every placeholder; ``archive_path`` falls back to the archive id.

    ``archive_description`` is decoded with
    :func:`airflow_glacier_select.archive_descriptions.archive_path` (raw, JSON ``Path``,
    FastGlacier, mt-aws-glacier ...) and made safe with :func:`safe_key_path`.
    """
    recorded = archive_path(archive_description) if archive_description else None
    path = safe_key_path(recorded) if recorded else ""
    inventory_format = str((job.inventory_retrieval_parameters or {}).get("Format") or "JSON")
    return {
        "vault_name": vault_name,
        "job_id": job.job_id,
        "job_type": job.job_type or "",
        "archive_id": job.archive_id or "",
        "archive_path": path or job.archive_id or job.job_id,
        "retrieval_byte_range": job.retrieval_byte_range or "",
        "inventory_format": inventory_format.lower(),
    }


def render_key(template: str, fields: Mapping[str, str]) -> str:
    """The destination key: the template with its placeholders filled, checked as an S3 key."""
    key_template_fields(template)
    return check_s3_key(template.format_map(dict(fields)))


def suffixed_key(key: str, number: int) -> str:
    """``dir/name.tar.gz`` -> ``dir/name-1.tar.gz``: the suffix goes before the first extension."""
    directory, name = posixpath.split(key)
    stem, dot, extension = name.partition(".") if not name.startswith(".") else (name, "", "")
    renamed = f"{stem}-{number}{dot}{extension}"
    return check_s3_key(posixpath.join(directory, renamed) if directory else renamed)


def check_collision_policy(value: object) -> str:
    return check_one_of("collision", value, COLLISION_POLICIES)


def is_verified_copy(
    size: int, metadata: Mapping[str, str], expected_size: int, expected_tree_hash: str | None
) -> bool:
    """Whether an existing object is a copy this package verified against the same tree hash."""
    stored = {key.lower(): value for key, value in metadata.items()}.get(TREE_HASH_METADATA_KEY)
    return (
        expected_tree_hash is not None
        and size == expected_size
        and stored is not None
        and stored.lower() == expected_tree_hash.lower()
    )


def check_transferable(job: JobDescription, vault_name: str) -> int:
    """The job's output size, once the job is known to have output to copy."""
    where = f"job {job.job_id} in vault {vault_name}"
    if job.action not in _TRANSFERABLE_ACTIONS:
        hint = " (its results are already in S3; read them with the Select results check)"
        raise GlacierTransferError(
            f"{where} is a {job.job_type or job.action} job; only archive-retrieval and "
            "inventory-retrieval output can be copied" + (hint if job.action == "Select" else "")
        )
    if job.in_progress:
        raise GlacierTransferError(f"{where} is still in progress; wait for it to succeed first")
    if not job.succeeded:
        raise GlacierTransferError(f"{where} did not succeed ({job.status_code}): {job.status_message}")
    size = job.output_size
    if size is None:
        raise GlacierTransferError(f"{where} reports no output size")
    return size


# --- S3 object settings ------------------------------------------------------------------


@dataclass(frozen=True)
class S3ObjectSettings:
    """Encryption, storage class, tags and metadata of the object written to S3.

    Checked when built, so a bad setting fails before a single byte is downloaded.
    """

    encryption: str | None = None
    kms_key_id: str | None = None
    storage_class: str | None = None
    tags: Mapping[str, str] | None = None
    metadata: Mapping[str, str] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.encryption is not None:
            check_one_of("encryption", self.encryption, S3_ENCRYPTIONS)
        if self.kms_key_id is not None:
            check_non_empty("kms_key_id", self.kms_key_id)
            if self.encryption != "aws:kms":
                raise GlacierValidationError(
                    "kms_key_id", self.kms_key_id, "is allowed only when encryption is 'aws:kms'"
                )
        if self.storage_class is not None:
            check_one_of("storage_class", self.storage_class, S3_STORAGE_CLASSES)
        if self.tags is not None:
            tags = check_string_map("tags", self.tags)
            if len(tags) > S3_MAX_TAGS:
                raise GlacierValidationError("tags", self.tags, f"must have at most {S3_MAX_TAGS} tags")
            for key, value in tags.items():
                if not 1 <= len(key) <= 128 or len(value) > 256:
                    raise GlacierValidationError(
                        "tags", {key: value}, "keys must be 1-128 characters and values at most 256"
                    )
                if not (_TAG_TEXT.fullmatch(key) and _TAG_TEXT.fullmatch(value)):
                    raise GlacierValidationError(
                        "tags", {key: value}, "may hold only letters, digits, spaces and + - = . _ : / @"
                    )
            object.__setattr__(self, "tags", tags)
        if self.metadata is not None:
            metadata = check_string_map("metadata", self.metadata)
            if any(key.lower() == TREE_HASH_METADATA_KEY for key in metadata):
                raise GlacierValidationError(
                    "metadata", self.metadata, f"must not set {TREE_HASH_METADATA_KEY!r}: the transfer does"
                )
            object.__setattr__(self, "metadata", metadata)

    def extra_args(self, tree_hash: str | None) -> dict[str, Any]:
        """Arguments for PutObject and CreateMultipartUpload (the same members in both)."""
        args: dict[str, Any] = dict(self.extra)
        if self.encryption is not None:
            args["ServerSideEncryption"] = self.encryption
        if self.kms_key_id is not None:
            args["SSEKMSKeyId"] = self.kms_key_id
        if self.storage_class is not None:
            args["StorageClass"] = self.storage_class
        if self.tags:
            args["Tagging"] = "&".join(
                f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.tags.items()
            )
        metadata = dict(self.metadata or {})
        if tree_hash is not None:
            metadata[TREE_HASH_METADATA_KEY] = tree_hash
        if metadata:
            args["Metadata"] = metadata
        return args


# --- Select results ------------------------------------------------------------------------


def parse_manifest(text: str, bucket: str) -> list[str]:
    """Object keys listed by a Select ``result_manifest.txt`` / ``error_manifest.txt``.

    One entry per line, as a key or an ``s3://bucket/key`` URI; blank lines are ignored.
    An entry in another bucket is refused rather than silently read from the wrong place.
    """
    keys = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry:
            continue
        if entry.startswith("s3://"):
            entry_bucket, _, key = entry[len("s3://") :].partition("/")
            if entry_bucket != bucket or not key:
                raise GlacierTransferError(f"manifest entry {entry!r} is not an object in bucket {bucket}")
            entry = key
        keys.append(entry)
    return keys
