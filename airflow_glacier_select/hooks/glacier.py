"""The one place this package talks to the Glacier vault API through boto3.

:class:`GlacierJobsHook` extends the amazon provider's ``GlacierHook`` (whose
``retrieve_inventory``, ``retrieve_inventory_results`` and ``describe_job`` keep
working unchanged) with the job operations a DAG needs: InitiateJob from a validated
parameter object, a typed DescribeJob, a lazy ListJobs iterator, and streaming
GetJobOutput with an optional byte range.

Every method validates its arguments before the first request, so a bad vault name or
filter costs nothing, and passes ``accountId`` explicitly (``-`` means the account of
the credentials). Log lines name the vault and job, never credentials or bodies.

InitiateJob is not idempotent: when its answer is lost after Glacier accepted it (a
connection reset, a read timeout), botocore's automatic retry would send it again and pay
for a second job. The hook lets botocore retry only answers that refused the request
(throttling, 5xx) and raises on a lost answer; callers check whether the job exists before
trying again, as the job operators do by their resume token.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiohttp
import botocore.exceptions
from airflow.providers.amazon.aws.hooks.glacier import GlacierHook
from botocore.parsers import ResponseParserError

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_description import STATUS_CODES
from airflow_glacier_select.job_rules import check_non_empty, check_one_of
from airflow_glacier_select.jobs import (
    ArchiveRetrievalJob,
    InventoryRetrievalJob,
    JobDescription,
    JobParameters,
    SelectJob,
    job_from_parameters,
    validate_vault_name,
)

if TYPE_CHECKING:
    from botocore.response import StreamingBody

__all__ = [
    "LIST_JOBS_PAGE_SIZE_MAX",
    "DamagedResponseError",
    "GlacierJobsHook",
    "GlacierRefusedError",
    "InitiatedJob",
    "JobOutput",
    "damaged_answers",
    "describe_job_answer",
    "error_code",
]

LIST_JOBS_PAGE_SIZE_MAX = 50
"""ListJobs returns at most 50 jobs per request (its ``limit`` is 1-50)."""

_ACCOUNT_ID = re.compile(r"-|[0-9]{12}")
_JOB_TYPES = (ArchiveRetrievalJob, InventoryRetrievalJob, SelectJob)
_INITIATE_ONCE = "airflow-glacier-select-initiate-once"


def _no_resend_after_lost_answer(
    caught_exception: BaseException | None = None, response: Any = None, **_: Any
) -> None:
    """botocore ``needs-retry`` handler for InitiateJob: a request whose answer was lost is not resent.

    It runs before botocore's own retry handler and raises the transport error instead of
    letting a retry pay for a second job. A refusal that asking again cannot cure (see
    :data:`_REFUSAL_CODES`; InsufficientCapacityException comes as a 503, which botocore
    would resend) is raised at once too; other refusals (throttling, 5xx) fall through.
    """
    if caught_exception is not None:
        raise caught_exception
    parsed = response[1] if isinstance(response, tuple) and len(response) == 2 else None
    if isinstance(parsed, Mapping) and parsed.get("Error", {}).get("Code") in _REFUSAL_CODES:
        raise botocore.exceptions.ClientError(parsed, "InitiateJob")  # type: ignore[arg-type]


class DamagedResponseError(RuntimeError):
    """A Glacier answer that arrived cut short or garbled; asking again may well succeed.

    botocore reads non-streaming bodies without checking Content-Length, so a DescribeJob
    answer cut short parses to an empty dict, and one with a damaged byte fails to decode.
    Neither says anything about the job, so neither may end a wait.
    """


# Error codes that mean "ask again later", not "this job cannot be waited for".
_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "SlowDown",
    }
)
_SERVER_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
_EXPIRED_CREDENTIAL_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"})
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    botocore.exceptions.ConnectionError,  # EndpointConnectionError, ConnectionClosedError, ...
    botocore.exceptions.HTTPClientError,  # ReadTimeoutError and other transport failures
    aiohttp.ClientError,
    asyncio.TimeoutError,
    ConnectionError,  # ConnectionResetError and friends
)


_REFUSAL_CODES = frozenset(
    {"InsufficientCapacityException", "NoLongerSupportedException", "PolicyEnforcedException"}
)
"""Glacier refusals that asking again with the same request does not cure (Error Responses).

InsufficientCapacityException comes with HTTP 503 (the guide's Initiate Job (POST jobs) and
Error Responses pages; botocore's model says 400), so it must be named before the status
fallback would call it transient and a job operator retry it for up to max_wait."""


def refusal_message(code: str, tier: str | None = None) -> str | None:
    """What a refusal in :data:`_REFUSAL_CODES` means for the user, or None for any other code."""
    if code == "InsufficientCapacityException":
        return (
            f"Glacier has no capacity for {tier or 'Expedited'} retrievals right now "
            "(InsufficientCapacityException, HTTP 503); no job was started. Expedited capacity is "
            "only guaranteed with provisioned capacity: retry later, use tier Standard or Bulk, or "
            "set expedited_fallback_tier"
        )
    if code == "NoLongerSupportedException":
        return (
            "Amazon Glacier no longer supports this request for this account "
            "(NoLongerSupportedException): the vault service is closed to new customers and accounts "
            "without Glacier vault storage; use the S3 Glacier storage classes instead"
        )
    if code == "PolicyEnforcedException":
        return (
            "Glacier refused the retrieval under the region's data retrieval policy "
            "(PolicyEnforcedException): it would exceed the Free Tier Only allowance or the Max "
            "Retrieval Rate (bytes per hour) the policy sets; no job was started and nothing is "
            "charged. See GetDataRetrievalPolicy; retrieve less (a byte range), later, or raise the limit"
        )
    return None


class GlacierRefusedError(botocore.exceptions.ClientError):
    """A ClientError Glacier answered for a reason retrying the same request cannot fix.

    It stays a ``ClientError`` (same ``response`` and ``operation_name``) and adds ``code``,
    the ``tier`` asked for (InitiateJob only) and a message saying what the refusal means.
    """

    def __init__(
        self, error_response: Mapping[str, Any], operation_name: str, tier: str | None = None
    ) -> None:
        super().__init__(dict(error_response), operation_name)  # type: ignore[arg-type]
        self.code = str(error_response.get("Error", {}).get("Code", ""))
        self.tier = tier
        glacier_message = error_response.get("Error", {}).get("Message")
        explanation = refusal_message(self.code, tier) or self.code
        self.args = (
            f"{operation_name}: {explanation}" + (f" [{glacier_message}]" if glacier_message else ""),
        )

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> Any:
        return type(self), (self.response, self.operation_name, self.tier)


@contextmanager
def glacier_refusals(tier: str | None = None) -> Iterator[None]:
    """Turn a refusal in :data:`_REFUSAL_CODES` into :class:`GlacierRefusedError`; other errors pass."""
    try:
        yield
    except botocore.exceptions.ClientError as error:
        if isinstance(error, GlacierRefusedError):
            raise
        if str(error.response.get("Error", {}).get("Code", "")) not in _REFUSAL_CODES:
            raise
        raise GlacierRefusedError(error.response, error.operation_name, tier) from error


class ErrorKind(Enum):
    """How a failed Glacier or S3 call affects whoever made it (a wait, a start, a transfer)."""

    TRANSIENT = "transient"
    """Throttling, 5xx, a dropped connection or a damaged answer: back off and ask again."""
    EXPIRED_CREDENTIALS = "expired-credentials"
    """The session token ran out: rebuild the client (re-reading the connection), then ask again."""
    FATAL = "fatal"
    """The request itself is wrong (no such job or vault, access denied ...): stop waiting."""


def error_code(error: BaseException) -> str:
    """The service's error code of a failed call (``ThrottlingException`` ...); ``""`` when it has none."""
    if isinstance(error, botocore.exceptions.ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def classify_error(error: BaseException) -> ErrorKind:
    """Decide whether a DescribeJob failure is worth retrying, by error code first, HTTP status second.

    Glacier documents its errors by code; the HTTP status is only consulted for codes
    not listed here, so an unknown 5xx is still treated as the service's problem.
    """
    if isinstance(error, botocore.exceptions.ClientError):
        code = error_code(error)
        if code in _EXPIRED_CREDENTIAL_CODES or code.startswith("ExpiredToken"):
            return ErrorKind.EXPIRED_CREDENTIALS
        if code in _REFUSAL_CODES:
            return ErrorKind.FATAL  # named before the status: InsufficientCapacity answers 503
        if code in _THROTTLING_CODES or code in _SERVER_CODES:
            return ErrorKind.TRANSIENT
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if isinstance(status, int) and status >= 500:
            return ErrorKind.TRANSIENT
        return ErrorKind.FATAL
    if isinstance(error, (*_CONNECTION_ERRORS, DamagedResponseError)):
        return ErrorKind.TRANSIENT
    return ErrorKind.FATAL


@contextmanager
def damaged_answers(operation: str, job_id: str) -> Iterator[None]:
    """Turn botocore's failures to read an answer into :class:`DamagedResponseError`."""
    try:
        yield
    except (UnicodeDecodeError, ResponseParserError) as error:
        raise DamagedResponseError(
            f"{operation} answer for job {job_id} could not be read ({type(error).__name__})"
        ) from error


def describe_job_answer(response: Mapping[str, Any], job_id: str) -> JobDescription:
    """The job in a DescribeJob answer; :class:`DamagedResponseError` when it does not describe ``job_id``."""
    if response.get("JobId") != job_id:
        raise DamagedResponseError(f"DescribeJob answer for job {job_id} arrived without the job's JobId")
    return JobDescription.from_response(response)


def _check_account_id(value: object) -> str:
    """Glacier takes '-' (the credentials' account) or a 12-digit account id without hyphens."""
    if not isinstance(value, str) or not _ACCOUNT_ID.fullmatch(value):
        raise GlacierValidationError(
            "accountId", value, "must be '-' or a 12-digit AWS account id without hyphens"
        )
    return value


def _check_byte_range(byte_range: object) -> str:
    """GetJobOutput's ``Range`` header for inclusive offsets relative to the job output."""
    if (
        not isinstance(byte_range, tuple)
        or len(byte_range) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in byte_range)
        or not 0 <= byte_range[0] <= byte_range[1]
    ):
        raise GlacierValidationError(
            "range", byte_range, "must be a (start, end) pair of inclusive offsets with 0 <= start <= end"
        )
    return f"bytes={byte_range[0]}-{byte_range[1]}"


def _check_page_size(page_size: object) -> int:
    if (
        isinstance(page_size, bool)
        or not isinstance(page_size, int)
        or not 1 <= page_size <= LIST_JOBS_PAGE_SIZE_MAX
    ):
        raise GlacierValidationError(
            "limit", page_size, f"must be an integer from 1 to {LIST_JOBS_PAGE_SIZE_MAX}"
        )
    return page_size


@dataclass(frozen=True)
class InitiatedJob:
    """What InitiateJob answers, plus the vault and type needed to wait for the job."""

    vault_name: str
    job_id: str
    job_type: str
    location: str | None
    job_output_path: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON dict with stable keys, for XCom."""
        return asdict(self)


@dataclass
class JobOutput:
    """A GetJobOutput response whose body has not been read yet.

    The body is botocore's ``StreamingBody``: read it in bounded pieces
    (:meth:`iter_chunks`, ``body.read(n)``) and never whole, since an archive can be
    far larger than memory. ``tree_hash`` is Glacier's ``x-amz-sha256-tree-hash``,
    present only for tree-hash-aligned ranges; botocore does not check it, so callers
    verify with :class:`airflow_glacier_select.treehash.TreeHash`. Use it as a context
    manager so the connection is released even when reading stops early.
    """

    body: StreamingBody
    status: int
    content_range: str | None = None
    accept_ranges: str | None = None
    tree_hash: str | None = None
    archive_description: str | None = None
    content_type: str | None = None
    content_length: int | None = None

    @classmethod
    def from_response(cls, response: Mapping[str, Any]) -> JobOutput:
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        length = headers.get("content-length")
        return cls(
            body=response["body"],
            status=int(response.get("status") or response["ResponseMetadata"]["HTTPStatusCode"]),
            content_range=response.get("contentRange"),
            accept_ranges=response.get("acceptRanges"),
            tree_hash=response.get("checksum"),
            archive_description=response.get("archiveDescription"),
            content_type=response.get("contentType"),
            content_length=int(length) if length is not None else None,
        )

    def iter_chunks(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The body in pieces of at most ``chunk_size`` bytes."""
        return self.body.iter_chunks(chunk_size)

    def close(self) -> None:
        self.body.close()

    def __enter__(self) -> JobOutput:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class GlacierJobsHook(GlacierHook):
    """Glacier vault jobs: initiate, describe, list and download, validated before any request.

    :param account_id: the vault owner's account id, or ``-`` (default) for the account
        of the connection's credentials.
    Other arguments (``aws_conn_id``, ``region_name``, ``verify``, ``config`` ...) go
    to ``AwsBaseHook``.
    """

    def __init__(self, *args: Any, account_id: str = "-", **kwargs: Any) -> None:
        self.account_id = _check_account_id(account_id)
        super().__init__(*args, **kwargs)

    def initiate_job(self, vault_name: str, job: JobParameters | Mapping[str, Any]) -> InitiatedJob:
        """Start an archive-retrieval, inventory-retrieval or select job.

        ``job`` is a parameter object, or a boto3-style ``jobParameters`` dict (as a
        templated operator argument arrives), which is validated into one first.
        """
        vault_name = validate_vault_name(vault_name)
        if isinstance(job, Mapping):
            job = job_from_parameters(job)
        elif not isinstance(job, _JOB_TYPES):
            raise GlacierValidationError(
                "jobParameters",
                job,
                "must be an ArchiveRetrievalJob, InventoryRetrievalJob, SelectJob or a jobParameters dict",
            )
        parameters = job.to_job_parameters()
        client = self.get_conn()
        client.meta.events.register_first(
            "needs-retry.glacier.InitiateJob", _no_resend_after_lost_answer, unique_id=_INITIATE_ONCE
        )
        with glacier_refusals(parameters.get("Tier", "Standard")):
            response = client.initiate_job(
                accountId=self.account_id, vaultName=vault_name, jobParameters=parameters
            )
        initiated = InitiatedJob(
            vault_name=vault_name,
            job_id=response["jobId"],
            job_type=parameters["Type"],
            location=response.get("location"),
            job_output_path=response.get("jobOutputPath"),
        )
        self.log.info("Initiated %s job %s in vault %s", initiated.job_type, initiated.job_id, vault_name)
        return initiated

    def get_job_description(self, vault_name: str, job_id: str) -> JobDescription:
        """DescribeJob, typed. (``describe_job`` still returns the raw dict.)

        An answer damaged on the way raises :class:`DamagedResponseError`, never a wrong description.
        """
        vault_name = validate_vault_name(vault_name)
        job_id = check_non_empty("jobId", job_id)
        with damaged_answers("DescribeJob", job_id), glacier_refusals():
            response = self.get_conn().describe_job(
                accountId=self.account_id, vaultName=vault_name, jobId=job_id
            )
        description = describe_job_answer(response, job_id)
        self.log.info("Glacier job %s in vault %s: %s", job_id, vault_name, description.status_code)
        return description

    def iter_job_pages(
        self,
        vault_name: str,
        *,
        statuscode: str | None = None,
        completed: bool | None = None,
        page_size: int = LIST_JOBS_PAGE_SIZE_MAX,
    ) -> Iterator[list[JobDescription]]:
        """ListJobs page by page; a page is requested only when the consumer asks for it.

        Arguments are checked now, before the iterator is returned, so a bad filter
        fails at the call and never half-way through a listing.
        """
        vault_name = validate_vault_name(vault_name)
        filters: dict[str, str] = {}
        if statuscode is not None:
            filters["statuscode"] = check_one_of("statuscode", statuscode, STATUS_CODES)
        if completed is not None:
            if not isinstance(completed, bool):
                raise GlacierValidationError("completed", completed, "must be True, False or None")
            filters["completed"] = "true" if completed else "false"
        page_size = _check_page_size(page_size)
        self.log.info(
            "Listing jobs in vault %s (%s, %d per page)",
            vault_name,
            ", ".join(f"{k}={v}" for k, v in filters.items()) or "no filter",
            page_size,
        )
        pages = (
            self.get_conn()
            .get_paginator("list_jobs")
            .paginate(
                accountId=self.account_id,
                vaultName=vault_name,
                PaginationConfig={"PageSize": page_size},
                **filters,
            )
        )
        return _job_pages(pages)

    def iter_jobs(
        self,
        vault_name: str,
        *,
        statuscode: str | None = None,
        completed: bool | None = None,
        page_size: int = LIST_JOBS_PAGE_SIZE_MAX,
    ) -> Iterator[JobDescription]:
        """ListJobs job by job, as lazily as :meth:`iter_job_pages` (same arguments)."""
        pages = self.iter_job_pages(
            vault_name, statuscode=statuscode, completed=completed, page_size=page_size
        )
        return (job for page in pages for job in page)

    def get_data_retrieval_policy(self) -> dict[str, Any]:
        """GetDataRetrievalPolicy: the ``Policy`` of the account's region (``{"Rules": [...]}``).

        Migrations pace Standard retrievals to it so InitiateJob never meets PolicyEnforcedException.
        """
        with glacier_refusals():
            response = self.get_conn().get_data_retrieval_policy(accountId=self.account_id)
        return dict(response.get("Policy") or {})

    def get_job_output(
        self, vault_name: str, job_id: str, byte_range: tuple[int, int] | None = None
    ) -> JobOutput:
        """GetJobOutput, body unread; ``byte_range`` is inclusive and relative to the job output."""
        vault_name = validate_vault_name(vault_name)
        job_id = check_non_empty("jobId", job_id)
        extra: dict[str, str] = {}
        if byte_range is not None:
            extra["range"] = _check_byte_range(byte_range)
        response = self.get_conn().get_job_output(
            accountId=self.account_id, vaultName=vault_name, jobId=job_id, **extra
        )
        output = JobOutput.from_response(response)
        # DEBUG: a transfer opens one ranged output per chunk; its own progress lines are the INFO view.
        self.log.debug(
            "Opened output of job %s in vault %s (%s, %s bytes)",
            job_id,
            vault_name,
            extra.get("range", "whole output"),
            output.content_length if output.content_length is not None else "unknown",
        )
        return output


def _job_pages(pages: Iterable[Mapping[str, Any]]) -> Iterator[list[JobDescription]]:
    """ListJobs pages as job descriptions, with refusals (the closed service ...) explained."""
    iterator = iter(pages)
    while True:
        with glacier_refusals():
            page = next(iterator, None)
        if page is None:
            return
        yield [JobDescription.from_response(job) for job in page.get("JobList", [])]
