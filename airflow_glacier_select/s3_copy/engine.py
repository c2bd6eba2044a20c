"""The S3 copy engine: a Glacier job's output into S3, verified, through a bounded pool.

:class:`GlacierToS3Transfer` executes a :class:`~airflow_glacier_select.s3_copy.plan.TransferPlan`
the way ``s3transfer`` does: a pool of ``concurrency`` threads, each downloading one
tree-hash-aligned chunk with a ranged GetJobOutput (``GlacierJobsHook``), hashing it as it
streams in, checking it against the ``x-amz-sha256-tree-hash`` Glacier sent, and uploading
it as one part of an S3 multipart upload (``S3Hook``). No more than ``concurrency`` chunks
are ever held, so memory is ``chunk_size x concurrency`` whatever the archive size.

The whole output is checked against the job's SHA256TreeHash before the upload is
completed; any failure aborts the multipart upload, so the destination key never shows a
partial or unverified object. Outputs of at most one chunk are verified first and then
written with a single PutObject.

Transient failures (throttling, 5xx, a connection reset or a body cut short, a chunk whose
bytes fail their tree hash) retry that chunk alone with capped backoff; see
:class:`~airflow_glacier_select.s3_copy.retry.RetryPolicy`. This module and
:mod:`~airflow_glacier_select.s3_copy.select_results` are the package's S3 I/O; the rules
they apply live in the pure modules next to them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import botocore.exceptions

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.hooks.glacier import ErrorKind, classify_error
from airflow_glacier_select.job_description import JobDescription
from airflow_glacier_select.jobs import validate_vault_name
from airflow_glacier_select.output_location import check_bucket_name
from airflow_glacier_select.s3_copy.destination import (
    S3ObjectSettings,
    check_collision_policy,
    is_verified_copy,
)
from airflow_glacier_select.s3_copy.errors import (
    DestinationExistsError,
    GlacierTransferError,
    IncompleteChunkError,
    JobNotFoundError,
    JobOutputExpiredError,
    OutputSizeMismatchError,
    TreeHashMismatchError,
    UnverifiedOutputError,
)
from airflow_glacier_select.s3_copy.expected import (
    ExpectedOutput,
    body_longer_than_expected,
    check_delivered_size,
    expected_output,
)
from airflow_glacier_select.s3_copy.keys import (
    default_key_template,
    key_fields_for_job,
    key_template_fields,
    needs_archive_description,
    render_key,
    suffixed_key,
)
from airflow_glacier_select.s3_copy.ledger import ArchiveSource, CopyIdentity, CopyPointer, PartRecord
from airflow_glacier_select.s3_copy.missing import RangeRetrieval, archive_source
from airflow_glacier_select.s3_copy.plan import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONCURRENCY,
    Chunk,
    TransferPlan,
    check_chunk_size,
    check_concurrency,
)
from airflow_glacier_select.s3_copy.progress import ProgressMeter, format_bytes
from airflow_glacier_select.s3_copy.resume import LedgerStore, ResumedUpload, open_or_resume
from airflow_glacier_select.s3_copy.retry import RetryPolicy
from airflow_glacier_select.s3_copy.s3_objects import error_code, head_object
from airflow_glacier_select.s3_copy.verification import VerificationLedger, VerificationResult
from airflow_glacier_select.treehash import MIB, TreeHash

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_glacier_select.hooks.glacier import GlacierJobsHook, JobOutput
    from airflow_glacier_select.s3_copy.expired import ExpiredCopy

__all__ = [
    "GlacierToS3Transfer",
    "TransferResult",
    "is_transient",
]

_T = TypeVar("_T")
_PIECE = MIB
"""Bytes read from a response body at a time while a chunk streams into its buffer."""
_MAX_SUFFIX = 1000
_DAMAGED_BODY = (
    botocore.exceptions.IncompleteReadError,
    botocore.exceptions.ResponseStreamingError,
)


def is_transient(error: BaseException) -> bool:
    """Whether downloading or uploading the same chunk again may succeed.

    The service-side classification (throttling, 5xx, dropped connections, damaged
    answers) is the hook's :func:`classify_error`; a chunk adds its own damage: a body
    that fails its tree hash or ends short.
    """
    if isinstance(error, (TreeHashMismatchError, IncompleteChunkError, *_DAMAGED_BODY)):
        return True
    if classify_error(error) is ErrorKind.TRANSIENT:
        return True
    try:
        from urllib3.exceptions import HTTPError as Urllib3Error
    except ImportError:  # pragma: no cover - urllib3 always comes with botocore
        return False
    return isinstance(error, Urllib3Error)


class TransferLog(Protocol):
    """What the transfer logs through: a stdlib logger or the task's logger."""

    def info(self, msg: Any, /, *args: Any) -> Any: ...
    def warning(self, msg: Any, /, *args: Any) -> Any: ...
    def error(self, msg: Any, /, *args: Any) -> Any: ...


class _Cancelled(Exception):
    """Another chunk failed: stop this one between pieces."""


class _CopyNames(Protocol):
    """What names a copy in its result: a whole copy's :class:`CopyIdentity` or a shard's work."""

    @property
    def vault_name(self) -> str: ...
    @property
    def job_id(self) -> str: ...
    @property
    def bucket(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def chunk_size(self) -> int: ...


@dataclass(frozen=True)
class TransferResult:
    """Where the output landed and how it was checked; :meth:`to_dict` is the operator's XCom value."""

    vault_name: str
    job_id: str
    bucket: str
    key: str
    size: int
    sha256_tree_hash: str | None
    verified: bool
    verification: str
    chunks: int
    chunk_size: int
    elapsed_seconds: float
    skipped: bool = False

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def to_dict(self) -> dict[str, Any]:
        return {"s3_uri": self.s3_uri, **asdict(self)}

    @classmethod
    def of_copy(
        cls,
        identity: CopyIdentity | _CopyNames,
        verification: VerificationResult,
        started: float,
        *,
        chunks: int,
        skipped: bool = False,
    ) -> TransferResult:
        """The result of the copy ``identity`` describes, checked as ``verification`` says."""
        return cls(
            vault_name=identity.vault_name,
            job_id=identity.job_id,
            bucket=identity.bucket,
            key=identity.key,
            size=verification.size,
            sha256_tree_hash=verification.sha256_tree_hash,
            verified=verification.verified,
            verification=verification.verification,
            chunks=chunks,
            chunk_size=identity.chunk_size,
            elapsed_seconds=time.monotonic() - started,
            skipped=skipped,
        )


@dataclass(frozen=True)
class _Destination:
    key: str
    existing_copy: VerificationResult | None = None
    """A verified copy already at ``key``: nothing to transfer."""


def check_settings(settings: S3ObjectSettings | None) -> S3ObjectSettings:
    """The object settings to write with (defaults when None); anything else is refused."""
    settings = settings if settings is not None else S3ObjectSettings()
    if not isinstance(settings, S3ObjectSettings):
        raise GlacierValidationError("settings", settings, "must be an S3ObjectSettings")
    return settings


class GlacierToS3Transfer:
    """Copies job output from Glacier into S3 through a bounded pool of chunk workers.

    :param glacier_hook: the Glacier side (GetJobOutput, DescribeJob).
    :param s3_hook: the amazon provider's ``S3Hook`` for the destination bucket.
    :param chunk_size: bytes per ranged GetJobOutput and S3 part: a power of two MiB, at
        least 8 MiB (doubled for outputs that would need more than 10,000 parts).
    :param concurrency: chunks in flight at once (1-32).
    :param retry: attempts and backoff per chunk.
    :param log: where progress goes (the task's logger in an operator).
    :param sleep: waits between attempts (tests pass a recorder).
    """

    def __init__(
        self,
        glacier_hook: GlacierJobsHook,
        s3_hook: S3Hook,
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        retry: RetryPolicy | None = None,
        progress_interval: float = 30.0,
        log: TransferLog | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.glacier_hook = glacier_hook
        self.s3_hook = s3_hook
        self.chunk_size = check_chunk_size(chunk_size)
        self.concurrency = check_concurrency(concurrency)
        self.retry = retry if retry is not None else RetryPolicy()
        self.progress_interval = progress_interval
        self.log: TransferLog = log if log is not None else logging.getLogger(__name__)
        self._sleep = sleep

    # --- public -------------------------------------------------------------------------

    def copy_job_output(
        self,
        vault_name: str,
        job_id: str,
        bucket: str,
        key: str | None = None,
        *,
        collision: str = "skip_if_same",
        settings: S3ObjectSettings | None = None,
        archive_description: str | None = None,
        require_tree_hash: bool = False,
    ) -> TransferResult:
        """Copy the output of a succeeded archive-retrieval or inventory-retrieval job to ``bucket``.

        ``key`` is a key or a key template with ``{placeholders}`` from
        :data:`~airflow_glacier_select.s3_copy.keys.KEY_FIELDS`; by default the archive's
        recorded path (see :func:`~airflow_glacier_select.s3_copy.keys.default_key_template`).
        ``archive_description`` (from an inventory) saves asking Glacier for it when the key
        uses ``{archive_path}``. Every argument is checked before the first request.

        The output's size is cross-checked between DescribeJob's members and every
        GetJobOutput answer's Content-Length and Content-Range (see
        :mod:`~airflow_glacier_select.s3_copy.expected`). A copy no tree hash vouched for is
        reported as ``size-only`` (result, WARNING log line, object metadata); with
        ``require_tree_hash`` it is refused and nothing is written.
        """
        settings = check_settings(settings)
        if not isinstance(require_tree_hash, bool):
            raise GlacierValidationError("require_tree_hash", require_tree_hash, "must be True or False")
        started = time.monotonic()
        vault_name, job, expected, plan, destination = self.prepare(
            vault_name,
            job_id,
            bucket,
            key,
            collision=collision,
            archive_description=archive_description,
            require_tree_hash=require_tree_hash,
        )
        size = plan.total_size
        skipped = destination.existing_copy is not None
        if destination.existing_copy is not None:
            verification, chunks = destination.existing_copy, 0
            self.log.info(
                "s3://%s/%s already holds a verified copy of job %s (%s, tree hash %s); nothing to do",
                bucket,
                destination.key,
                job_id,
                format_bytes(verification.size),
                verification.sha256_tree_hash,
            )
        else:
            self.log.info(
                "Copying %s of job %s in vault %s to s3://%s/%s in %d chunk(s) of %s, %d at a time",
                format_bytes(size),
                job_id,
                vault_name,
                bucket,
                destination.key,
                len(plan.chunks),
                format_bytes(plan.chunk_size),
                self.concurrency,
            )
            run = _Run(
                self, vault_name, job, expected, plan, bucket, destination.key, settings, require_tree_hash
            )
            run.archive = _archive_of(job, expected)
            verification = run.execute()
            chunks = len(plan.chunks)
            self.log.info(
                "Copied job %s to s3://%s/%s: %s, tree hash %s (%s), %.1f s",
                job_id,
                bucket,
                destination.key,
                format_bytes(size),
                verification.sha256_tree_hash,
                verification.verification,
                time.monotonic() - started,
            )
            if not verification.verified:
                self.log.warning(
                    "s3://%s/%s is verified by size only: Glacier gave no tree hash for the output of "
                    "job %s (no SHA256TreeHash from DescribeJob, no x-amz-sha256-tree-hash on every "
                    "chunk); its metadata says verification: size-only. Set require_tree_hash to "
                    "refuse such copies.",
                    bucket,
                    destination.key,
                    job_id,
                )
        identity = CopyIdentity(
            vault_name, job_id, bucket, destination.key, size, plan.chunk_size, expected.tree_hash
        )
        return TransferResult.of_copy(identity, verification, started, chunks=chunks, skipped=skipped)

    def find_expired_copy(self, vault_name: str, job_id: str, bucket: str) -> ExpiredCopy | None:
        """The open copy of job ``job_id``'s output in ``bucket``, as its ledger left it (None: none)."""
        from airflow_glacier_select.s3_copy.expired import load_expired_copy

        return load_expired_copy(self.s3, bucket, vault_name, job_id, self._with_retries)

    def continue_expired_copy(
        self,
        expired: ExpiredCopy,
        range_jobs: Mapping[str, JobDescription],
        *,
        require_tree_hash: bool = False,
    ) -> TransferResult:
        """Finish an expired copy: verified parts stay, missing chunks come from range jobs' output.

        ``range_jobs`` maps each of ``expired.missing``'s RetrievalByteRanges to its succeeded
        job. A range job's output starts at its range's first byte, so each chunk is asked for
        at its offset within that output; every chunk is checked against its
        ``x-amz-sha256-tree-hash`` and the whole against the tree hash the ledger recorded
        from the original job, before the object appears.
        """
        started = time.monotonic()
        identity, missing = expired.identity, expired.missing
        sources: dict[int, tuple[RangeRetrieval, JobDescription]] = {}
        for retrieval in missing:
            job = range_jobs.get(retrieval.byte_range)
            if job is None:
                raise GlacierValidationError(
                    "range_jobs", sorted(range_jobs), f"lacks a job for archive bytes {retrieval.byte_range}"
                )
            _check_range_job(job, expired, retrieval)
            sources.update((index, (retrieval, job)) for index in retrieval.chunk_indexes)
        tree_hash = identity.archive_tree_hash
        expected = ExpectedOutput(identity.total_size, "the copy's ledger", tree_hash, "the copy's ledger")
        original = JobDescription(
            job_id=identity.job_id,
            action="ArchiveRetrieval",
            archive_id=expired.archive.archive_id,
            status_code="Succeeded",
        )
        self.log.info(
            "Continuing the copy of expired job %s to s3://%s/%s: %s already verified and reused; "
            "re-retrieving %s in %d range(s): %s",
            identity.job_id,
            identity.bucket,
            identity.key,
            format_bytes(expired.bytes_verified),
            format_bytes(sum(retrieval.length for retrieval in missing)),
            len(missing),
            ", ".join(retrieval.byte_range for retrieval in missing),
        )
        run = _Run(
            self,
            identity.vault_name,
            original,
            expected,
            expired.plan,
            identity.bucket,
            identity.key,
            S3ObjectSettings(),
            require_tree_hash,
        )
        run.archive, run.range_jobs = expired.archive, sources
        verification = run.execute()
        return TransferResult.of_copy(identity, verification, started, chunks=len(expired.plan.chunks))

    def prepare(
        self,
        vault_name: str,
        job_id: str,
        bucket: str,
        key: str | None,
        *,
        collision: str,
        archive_description: str | None,
        require_tree_hash: bool = False,
    ) -> tuple[str, JobDescription, ExpectedOutput, TransferPlan, _Destination]:
        """Check the arguments, then ask Glacier for the job and S3 for the key: nothing is written.

        Returns the vault name as checked, the job, what its output must be, the plan and
        where the copy goes (or the verified copy already there).
        """
        vault_name = validate_vault_name(vault_name)
        if not isinstance(job_id, str) or not job_id:
            raise GlacierValidationError("job_id", job_id, "must be a non-empty string")
        bucket = check_bucket_name(bucket, "bucket")
        if key is not None:
            key_template_fields(key)
        collision = check_collision_policy(collision)
        job = self._describe(vault_name, job_id)
        expected = expected_output(job, vault_name)
        if require_tree_hash and job.action == "InventoryRetrieval" and expected.tree_hash is None:
            raise UnverifiedOutputError(
                f"job {job_id} in vault {vault_name} is an inventory retrieval: Glacier gives no tree "
                "hash for inventory output, and require_tree_hash is set; nothing was downloaded"
            )
        plan = TransferPlan.build(expected.size, self.chunk_size)
        if plan.chunk_size != self.chunk_size:
            self.log.info(
                "Chunk size raised from %s to %s to stay within S3's 10,000 parts",
                format_bytes(self.chunk_size),
                format_bytes(plan.chunk_size),
            )
        template = key if key is not None else default_key_template(job)
        if archive_description is None and needs_archive_description(template):
            archive_description = self._archive_description(vault_name, job, plan)
        fields = key_fields_for_job(job, vault_name, archive_description)
        destination = self._destination(bucket, render_key(template, fields), collision, expected)
        return vault_name, job, expected, plan, destination

    # --- Glacier side ---------------------------------------------------------------------

    def _describe(self, vault_name: str, job_id: str) -> JobDescription:
        """DescribeJob; ResourceNotFoundException here means the vault or job id is wrong."""
        try:
            return self._with_retries(
                f"DescribeJob {job_id}", lambda: self.glacier_hook.get_job_description(vault_name, job_id)
            )
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                message = str(error.response.get("Error", {}).get("Message", ""))
                account = str(getattr(self.glacier_hook, "account_id", "-"))
                raise JobNotFoundError(vault_name, job_id, account, message) from error
            raise

    def _open_output(self, vault_name: str, job: JobDescription, chunk: Chunk) -> JobOutput:
        """GetJobOutput; ResourceNotFoundException for a job DescribeJob knows means its output expired."""
        try:
            return self.glacier_hook.get_job_output(vault_name, job.job_id, byte_range=chunk.byte_range)
        except botocore.exceptions.ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                raise JobOutputExpiredError(vault_name, job.job_id, job.completion_date) from error
            raise

    def _archive_description(self, vault_name: str, job: JobDescription, plan: TransferPlan) -> str | None:
        """The archive description, from the headers of a one-byte GetJobOutput (no body is read)."""
        if job.action != "ArchiveRetrieval":
            return None
        first = plan.chunks[0]
        probe = Chunk(0, 0, 0) if first.length else first

        def ask() -> str | None:
            with self._open_output(vault_name, job, probe) as output:
                return output.archive_description

        return self._with_retries(f"archive description of job {job.job_id}", ask)

    def _with_retries(self, what: str, attempt: Callable[[], _T], stop: threading.Event | None = None) -> _T:
        """Run ``attempt`` until it succeeds, a non-transient error occurs or attempts run out."""
        for number in range(1, self.retry.max_attempts + 1):
            if stop is not None and stop.is_set():
                raise _Cancelled
            try:
                return attempt()
            except Exception as error:
                if not is_transient(error):
                    raise
                if number == self.retry.max_attempts:
                    raise GlacierTransferError(
                        f"{what} failed after {number} attempt(s): {type(error).__name__}: {error}"
                    ) from error
                delay = self.retry.delay(number)
                self.log.warning(
                    "%s failed (attempt %d of %d: %s: %s); retrying in %.1f s",
                    what,
                    number,
                    self.retry.max_attempts,
                    type(error).__name__,
                    error,
                    delay,
                )
                self._sleep(delay)
        raise AssertionError("unreachable")

    # --- S3 side ----------------------------------------------------------------------------

    @property
    def s3(self) -> Any:
        return self.s3_hook.get_conn()

    def _destination(self, bucket: str, key: str, collision: str, output: ExpectedOutput) -> _Destination:
        """Apply the collision policy to ``key``; only HeadObject requests, nothing written."""
        if collision == "overwrite":
            return _Destination(key)
        size, expected = output.size, output.tree_hash
        candidates = (
            [key] if collision != "suffix" else [key] + [suffixed_key(key, n) for n in range(1, _MAX_SUFFIX)]
        )
        for candidate in candidates:
            existing = head_object(self.s3, bucket, candidate)
            if existing is None:
                return _Destination(candidate)
            if is_verified_copy(existing[0], existing[1], size, expected):
                assert expected is not None
                return _Destination(candidate, VerificationResult(size, expected.lower(), "existing-copy"))
            if collision == "fail":
                raise DestinationExistsError(
                    f"s3://{bucket}/{candidate} already exists ({existing[0]} bytes) and collision is 'fail'"
                )
            if collision == "skip_if_same":
                self.log.info(
                    "s3://%s/%s exists but is not a verified copy of this output; replacing it",
                    bucket,
                    candidate,
                )
                return _Destination(candidate)
        raise DestinationExistsError(
            f"s3://{bucket}/{key} and its first {_MAX_SUFFIX - 1} suffixed keys are taken"
        )


def _archive_of(job: JobDescription, expected: ExpectedOutput) -> ArchiveSource | None:
    """Where an archive-retrieval job's output sits in its archive (a whole-archive job may omit the size)."""
    if job.action != "ArchiveRetrieval":
        return None
    size = job.archive_size_in_bytes
    if size is None and job.retrieval_byte_range is None:
        size = expected.size
    return archive_source(job.archive_id, size, job.retrieval_byte_range)


def _check_range_job(job: JobDescription, expired: ExpiredCopy, retrieval: RangeRetrieval) -> None:
    """A range job must have retrieved exactly this range of this archive, and succeeded."""
    where = f"range job {job.job_id} for archive bytes {retrieval.byte_range}"
    if not job.succeeded:
        raise GlacierTransferError(f"{where} has not succeeded ({job.status_code}): {job.status_message}")
    found = (job.archive_id, job.retrieval_byte_range, job.output_size)
    wanted = (expired.archive.archive_id, retrieval.byte_range, retrieval.length)
    if found != wanted:
        raise OutputSizeMismatchError(
            f"{where}: DescribeJob reports archive {found[0]}, RetrievalByteRange {found[1]} and "
            f"{found[2]} bytes, but the copy needs archive {wanted[0]}, {wanted[1]} ({wanted[2]} bytes)"
        )
    whole = expired.archive.archive_offset == 0 and expired.plan.total_size == expired.archive.archive_size
    recorded, reported = expired.identity.archive_tree_hash, job.archive_sha256_tree_hash
    if whole and recorded and reported and recorded.lower() != reported.lower():
        raise OutputSizeMismatchError(
            f"{where}: DescribeJob's ArchiveSHA256TreeHash {reported} differs from the tree hash "
            f"{recorded} the copy's ledger recorded for the archive; nothing was written"
        )


class _Run:
    """One transfer in progress: the plan, the ledger, the pool and the cleanup on failure."""

    def __init__(
        self,
        transfer: GlacierToS3Transfer,
        vault_name: str,
        job: JobDescription,
        expected: ExpectedOutput,
        plan: TransferPlan,
        bucket: str,
        key: str,
        settings: S3ObjectSettings,
        require_tree_hash: bool,
    ) -> None:
        self.transfer = transfer
        self.vault_name = vault_name
        self.job = job
        self.expected = expected
        self.require_tree_hash = require_tree_hash
        self.plan = plan
        self.bucket = bucket
        self.key = key
        self.settings = settings
        self.ledger = VerificationLedger(plan, expected.tree_hash)
        self.stop = threading.Event()
        self.progress = ProgressMeter(plan.total_size, interval=transfer.progress_interval)
        self.store = LedgerStore(transfer.s3, bucket, key, transfer._with_retries)
        self.archive: ArchiveSource | None = None
        """The archive and offset of the output (archive retrievals): recorded for a re-retrieval."""
        self.range_jobs: Mapping[int, tuple[RangeRetrieval, JobDescription]] = {}
        """Chunk index -> the range job whose output holds it, when continuing an expired copy."""

    @property
    def log(self) -> TransferLog:
        return self.transfer.log

    @property
    def _where(self) -> str:
        return f"job {self.job.job_id} in vault {self.vault_name}"

    def execute(self) -> VerificationResult:
        return self._multipart() if self.plan.multipart else self._single_put()

    def _finish(self) -> VerificationResult:
        """The ledger's verdict on the whole output, before anything becomes visible in S3."""
        verification = self.ledger.finish()
        if self.require_tree_hash and not verification.verified:
            raise UnverifiedOutputError(
                f"no tree hash from Glacier vouched for the {verification.size} bytes of job "
                f"{self.job.job_id} in vault {self.vault_name} (DescribeJob gave no SHA256TreeHash and "
                "not every chunk came with x-amz-sha256-tree-hash); require_tree_hash is set, so "
                f"nothing was written to s3://{self.bucket}/{self.key}"
            )
        return verification

    # --- download ---------------------------------------------------------------------------

    def _source(self, chunk: Chunk) -> tuple[JobDescription, ExpectedOutput, Chunk]:
        """Which job's output holds ``chunk``, what that output must be, and where in it the chunk is."""
        if not self.range_jobs:
            return self.job, self.expected, chunk
        found = self.range_jobs.get(chunk.index)
        if found is None or self.archive is None:
            raise GlacierTransferError(
                f"{chunk.describe()} is neither verified in the ledger nor covered by a range job"
            )
        retrieval, job = found
        tree_hash = job.sha256_tree_hash
        expected = ExpectedOutput(
            retrieval.length, "RetrievalByteRange", tree_hash, "SHA256TreeHash" if tree_hash else None
        )
        return job, expected, retrieval.output_chunk(chunk, self.archive.archive_offset)

    def _download(self, chunk: Chunk) -> tuple[bytearray, bytes, str | None]:
        """The chunk's bytes, tree-hash root and service tree hash, checked; retried when transient."""
        job, expected, asked_chunk = self._source(chunk)

        def attempt() -> tuple[bytearray, bytes, str | None]:
            with self.transfer._open_output(self.vault_name, job, asked_chunk) as output:
                check_delivered_size(
                    expected, asked_chunk, output.content_length, output.content_range, self._where
                )
                answered = output.content_range
                asked = f"bytes {asked_chunk.start}-{asked_chunk.end}/"
                if chunk.byte_range is not None and answered is not None and not answered.startswith(asked):
                    raise IncompleteChunkError(
                        f"{asked_chunk.describe()}: Glacier answered Content-Range {answered}"
                    )
                buffer, hasher = self._read(output, chunk)
            root = hasher.digest()
            self.ledger.check_chunk(chunk, hasher.size, root, output.tree_hash)
            return buffer, root, output.tree_hash

        return self.transfer._with_retries(chunk.describe(), attempt, self.stop)

    def _read(self, output: JobOutput, chunk: Chunk) -> tuple[bytearray, TreeHash]:
        """Stream the body into one buffer of the chunk's size, hashing each piece on the way."""
        buffer = bytearray(chunk.length)
        view = memoryview(buffer)
        hasher = TreeHash()
        position = 0
        while position < chunk.length:
            if self.stop.is_set():
                raise _Cancelled
            piece = output.body.read(min(_PIECE, chunk.length - position))
            if not piece:
                break
            view[position : position + len(piece)] = piece
            hasher.update(piece)
            position += len(piece)
        # Without a Content-Length, only the body itself shows that it is longer than planned.
        if position == chunk.length and output.body.read(1):
            raise body_longer_than_expected(self.expected, chunk, self._where)
        return buffer, hasher

    # --- single object --------------------------------------------------------------------

    def _single_put(self) -> VerificationResult:
        chunk = self.plan.chunks[0]
        buffer, root, service_hash = self._download(chunk)
        self.ledger.record(chunk, root, service_hash)
        verification = self._finish()
        stored_hash = verification.sha256_tree_hash if verification.verified else None
        self.transfer._with_retries(
            f"PutObject s3://{self.bucket}/{self.key}",
            lambda: self.transfer.s3.put_object(
                Bucket=self.bucket, Key=self.key, Body=buffer, **self.settings.extra_args(stored_hash)
            ),
        )
        return verification

    # --- multipart --------------------------------------------------------------------------

    def _copy_part(self, upload_id: str, chunk: Chunk) -> tuple[Chunk, bytes, str | None, str]:
        """Download, verify and upload one chunk, then record it in the ledger (durable at once)."""
        buffer, root, service_hash = self._download(chunk)
        response = self.transfer._with_retries(
            f"UploadPart {chunk.part_number}",
            lambda: self.transfer.s3.upload_part(
                Bucket=self.bucket,
                Key=self.key,
                UploadId=upload_id,
                PartNumber=chunk.part_number,
                Body=buffer,
            ),
            self.stop,
        )
        etag = str(response["ETag"])
        record = PartRecord.for_chunk(chunk, root, etag, upload_id, self.identity, service_hash is not None)
        self.store.write_part(record)
        return chunk, root, service_hash, etag

    # --- resumable multipart upload -----------------------------------------------------------

    @property
    def identity(self) -> CopyIdentity:
        """What an open upload's ledger must describe for this copy to continue it."""
        return CopyIdentity(
            vault_name=self.vault_name,
            job_id=self.job.job_id,
            bucket=self.bucket,
            key=self.key,
            total_size=self.plan.total_size,
            chunk_size=self.plan.chunk_size,
            archive_tree_hash=self.ledger.expected_tree_hash,
        )

    def _create_upload(self) -> str:
        # The job's tree hash is known before the upload starts; the object only becomes
        # visible if the whole output matches it, so the metadata never vouches for bad bytes.
        created = self.transfer._with_retries(
            f"CreateMultipartUpload s3://{self.bucket}/{self.key}",
            lambda: self.transfer.s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, **self.settings.extra_args(self.ledger.expected_tree_hash)
            ),
        )
        return str(created["UploadId"])

    def _adopt(self, resumed: ResumedUpload) -> dict[int, str]:
        """Count the parts an earlier attempt uploaded and verified as done: their ETags by part number."""
        parts: dict[int, str] = {}
        for index, record in sorted(resumed.reusable.items()):
            chunk = self.plan.chunks[index]
            self.ledger.record(
                chunk, bytes.fromhex(record.tree_hash), record.tree_hash if record.service_checked else None
            )
            self.progress.advance(chunk.length)
            parts[chunk.part_number] = record.etag
        return parts

    def _multipart(self) -> VerificationResult:
        resumed = open_or_resume(
            self.store, self.plan, self.identity, self._create_upload, self.log, self.archive
        )
        upload_id = resumed.upload_id
        try:
            if resumed.created and self.archive is not None:
                self.store.write_pointer(CopyPointer(self.vault_name, self.job.job_id, self.key, upload_id))
            parts = self._adopt(resumed)
            missing = [chunk for chunk in self.plan.chunks if chunk.index not in resumed.reusable]
            parts.update(self.copy_parts(upload_id, missing))
            verification = self._finish()
            self._complete(upload_id, parts)
        except JobOutputExpiredError as error:
            self.stop.set()
            raise self._expired(upload_id, error) from error
        except Exception:
            self.stop.set()
            self._abort(upload_id)
            raise
        except BaseException:
            # Terminated (Airflow's AirflowTaskTerminated, SIGINT): not a failure of the copy.
            # The upload and its ledger stay, and the task's retry continues from them.
            self.stop.set()
            self.log.warning(
                "Copy to s3://%s/%s interrupted; multipart upload %s and its ledger are kept for a retry",
                self.bucket,
                self.key,
                upload_id,
            )
            raise
        self._drop_ledger(upload_id)
        return verification

    def _complete(self, upload_id: str, parts: dict[int, str]) -> None:
        listed = [{"PartNumber": number, "ETag": etag} for number, etag in sorted(parts.items())]
        self.transfer._with_retries(
            f"CompleteMultipartUpload s3://{self.bucket}/{self.key}",
            lambda: self.transfer.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=upload_id, MultipartUpload={"Parts": listed}
            ),
        )

    def _expired(self, upload_id: str, error: JobOutputExpiredError) -> JobOutputExpiredError:
        """Keep what is verified when an archive's output expires mid-copy; say what is missing.

        Without an archive to retrieve ranges of (an inventory), a ledger that vouches for
        the parts, or any part verified yet, there is nothing worth keeping: the upload is
        aborted as for any failure.
        """
        from airflow_glacier_select.s3_copy.expired import ExpiredCopy

        decision = self.store.decide(self.plan, self.identity, upload_id) if self.archive else None
        if self.archive is None or decision is None or not decision.trusted or not decision.reusable:
            self._abort(upload_id)
            return error
        pointer = CopyPointer(self.vault_name, self.job.job_id, self.key, upload_id)
        expired = ExpiredCopy(pointer, self.identity, self.archive, self.plan, dict(decision.reusable))
        self.log.warning(
            "The output of job %s expired mid-copy: %s of %s verified and kept in multipart upload %s "
            "of s3://%s/%s; missing archive ranges %s",
            error.job_id,
            format_bytes(expired.bytes_verified),
            format_bytes(self.plan.total_size),
            upload_id,
            self.bucket,
            self.key,
            ", ".join(missing.byte_range for missing in expired.missing),
        )
        return expired.error(self.job.completion_date)

    def _drop_ledger(self, upload_id: str) -> None:
        """The object is complete: its ledger (and the job's pointer to it) has nothing left to vouch for."""
        try:
            self.store.delete(upload_id)
            if self.archive is not None:
                self.store.delete_pointer(self.vault_name, self.job.job_id)
        except Exception as error:  # the copy is done; a stray ledger object is only clutter
            self.log.warning("Could not delete the ledger of upload %s (%s)", upload_id, error)

    def copy_parts(self, upload_id: str, chunks: list[Chunk]) -> dict[int, str]:
        """Chunks through ``concurrency`` workers, never more in flight; first failure stops the rest.

        Returns the ETag of each part uploaded, by part number.
        """
        parts: dict[int, str] = {}
        waiting = iter(chunks)
        pool = ThreadPoolExecutor(max_workers=self.transfer.concurrency, thread_name_prefix="glacier-chunk")
        pending: set[Future[tuple[Chunk, bytes, str | None, str]]] = set()
        try:
            for chunk in waiting:
                pending.add(pool.submit(self._copy_part, upload_id, chunk))
                if len(pending) == self.transfer.concurrency:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    chunk, root, service_hash, etag = future.result()
                    self.ledger.record(chunk, root, service_hash)
                    parts[chunk.part_number] = etag
                    line = self.progress.advance(chunk.length)
                    if line is not None:
                        self.log.info("Job %s: %s", self.job.job_id, line)
                    next_chunk = next(waiting, None)
                    if next_chunk is not None:
                        pending.add(pool.submit(self._copy_part, upload_id, next_chunk))
        except BaseException:
            self.stop.set()
            for future in pending:
                future.cancel()
            raise
        finally:
            pool.shutdown(wait=True)
        return parts

    def _abort(self, upload_id: str) -> None:
        """Abort so no part is kept (or billed), and drop the ledger; a failed abort is logged."""
        self.store.abort(upload_id, self.log)
        if self.archive is not None:
            try:
                self.store.delete_pointer(self.vault_name, self.job.job_id)
            except Exception as error:  # the upload is gone; a stray pointer leads nowhere
                self.log.warning("Could not delete the copy pointer of job %s (%s)", self.job.job_id, error)
        self.log.info("Aborted multipart upload of s3://%s/%s; nothing was written", self.bucket, self.key)
