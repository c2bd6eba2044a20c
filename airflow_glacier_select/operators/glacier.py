"""Operators that start Glacier vault jobs: archive retrieval, inventory retrieval and Select.

Each operator exposes every InitiateJob parameter of its job type as a flat, templated
keyword argument and leaves every rule to the job model (:mod:`airflow_glacier_select.jobs`):
static values are checked when the DAG is parsed, templated ones once rendered, and in
both cases before anything is sent, because a Glacier job is paid for the moment it is
accepted.

For the same reason a retried task never starts a second job for the same task instance:
the job Description carries a resume token (:mod:`airflow_glacier_select.resumable`), and
before initiating, the operator reuses an in-progress or succeeded job in the vault that
carries it. On Airflow 3.3+ ``ResumableJobMixin`` also records the job in the task state
store, so a retry reconnects without even listing the vault's jobs.

Transient failures (throttling, 5xx, a lost or damaged answer) while starting or polling a
job are retried in the task with the trigger's capped backoff, up to ``max_wait``. A failed
InitiateJob is retried only after looking for the job again by its token, since Glacier may
have accepted it before the answer was lost (:meth:`GlacierJobOperator.submit_job`).

Waiting follows :mod:`airflow_glacier_select.waiting` (intervals, backoff, the amazon
provider's ``waiter_delay`` / ``waiter_max_attempts``); deferring and resuming follow
:func:`~airflow_glacier_select.triggers.glacier.defer_job_wait` and
:func:`~airflow_glacier_select.triggers.glacier.wait_outcome`, shared with the sensor.
"""

from __future__ import annotations

import dataclasses
import time
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    conf,
)

from airflow_glacier_select.compat import ResumableJobMixin
from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.hooks.glacier import (
    GlacierJobsHook,
    GlacierRefusedError,
    InitiatedJob,
    error_code,
)
from airflow_glacier_select.job_reference import job_location, job_reference, s3_output
from airflow_glacier_select.job_rules import check_description, check_expedited_fallback_tier
from airflow_glacier_select.jobs import (
    ArchiveRetrievalJob,
    CsvInput,
    CsvOutput,
    Encryption,
    Grant,
    InventoryRetrievalJob,
    JobDescription,
    JobParameters,
    S3OutputLocation,
    SelectJob,
    validate_vault_name,
)
from airflow_glacier_select.links import GlacierVaultLink
from airflow_glacier_select.resumable import (
    PLACEHOLDER_TOKEN,
    TaskInstanceIdentity,
    carries_token,
    with_token,
)
from airflow_glacier_select.triggers.glacier import (
    ErrorKind,
    classify_error,
    defer_job_wait,
    describe_error,
    wait_outcome,
)
from airflow_glacier_select.triggers.notifications import check_queue_url
from airflow_glacier_select.waiting import (
    DEFAULT_MAX_WAIT,
    DEFAULT_POLL_INTERVAL,
    WaitSettings,
    job_failure_message,
    poll_retry_delay,
    resolve_wait,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "DEFAULT_MAX_WAIT",
    "DEFAULT_POLL_INTERVAL",
    "GlacierArchiveRetrievalOperator",
    "GlacierInventoryRetrievalOperator",
    "GlacierJobOperator",
    "GlacierSelectOperator",
]

_JINJA_MARKERS = ("{{", "{%", "{#")
_PLAIN_SCALARS = (str, int, float, bool, type(None))


def _is_static(value: object) -> bool:
    """Whether a parameter is final at DAG parse time: plain values with no Jinja anywhere inside.

    XCom references and other lazily resolved objects are not static; they (and strings
    with Jinja markers) are validated once rendered, in ``execute``.
    """
    if isinstance(value, str):
        return not any(marker in value for marker in _JINJA_MARKERS)
    if isinstance(value, _PLAIN_SCALARS):
        return True
    if isinstance(value, Mapping):
        return all(_is_static(key) and _is_static(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_static(item) for item in value)
    return isinstance(value, Grant)


def _initiated_from_description(job: JobDescription, vault_name: str) -> InitiatedJob:
    """The initiation record of a job met again later (in ListJobs, or in a trigger's event)."""
    return InitiatedJob(
        vault_name=vault_name,
        job_id=job.job_id,
        job_type=job.job_type or "",
        location=job_location(job.account_id, vault_name, job.job_id),
        job_output_path=job.job_output_path,
    )


def _job_failed(job: JobDescription, vault_name: str) -> AirflowFailException:
    """A Failed job fails the task without retries.

    A retry would pay for a new job that, with the same parameters, fails the same way;
    clearing the task starts a new one on purpose.
    """
    return AirflowFailException(job_failure_message(vault_name, job))


def _expedited_fallback(
    job: JobParameters, error: GlacierRefusedError, fallback_tier: str | None
) -> JobParameters | None:
    """The job again at ``fallback_tier`` when Glacier had no Expedited capacity for it, else None.

    InsufficientCapacityException refuses the request (no job exists, nothing is charged), so
    asking once more at Standard or Bulk, straight away, cannot pay twice.
    """
    if (
        fallback_tier is None
        or error.code != "InsufficientCapacityException"
        or not isinstance(job, (ArchiveRetrievalJob, SelectJob))
        or job.tier != "Expedited"
    ):
        return None
    return dataclasses.replace(job, tier=fallback_tier)


def _stored_job(value: object) -> InitiatedJob | None:
    """Read back what ``submit_job`` stored in the task state store; anything else counts as nothing."""
    if not isinstance(value, Mapping) or not isinstance(value.get("job_id"), str):
        return None
    try:
        return InitiatedJob(**value)
    except TypeError:
        return None


class GlacierJobOperator(ResumableJobMixin, AwsBaseOperator[GlacierJobsHook]):
    """Start one Glacier job and, unless told not to, wait for it; shared by the three job operators.

    Subclasses name their job parameters in ``job_fields`` and build the job model from
    them in :meth:`build_job`. Each pushes the XCom dict of
    :mod:`airflow_glacier_select.job_reference`, with the same keys as
    :class:`~airflow_glacier_select.sensors.glacier.GlacierJobSensor`; the sensor and the
    S3 transfers take it as their ``job_id``.

    :param vault_name: the vault to run the job in.
    :param account_id: the vault owner's account id; ``-`` (default) is the credentials' account.
    :param description: the job Description. A resume token (``afgs:`` and 12 hex digits,
        18 bytes with its separating space) is appended to it, so at most 1,006 bytes are
        the user's.
    :param sns_topic: SNS topic ARN Glacier notifies when the job ends.
    :param wait_for_completion: poll DescribeJob every ``poll_interval`` seconds until the job
        succeeds (the task succeeds) or fails (the task fails with Glacier's StatusMessage).
    :param deferrable: wait in the triggerer instead, without holding a worker slot (this
        waits even when ``wait_for_completion`` is False). Defaults to
        ``[operators] default_deferrable``.
    :param notification_queue_url: with ``deferrable``, wait on the job's completion
        notification from this SQS queue (subscribed to the job's or the vault's SNS topic;
        :class:`~airflow_glacier_select.triggers.notifications.GlacierJobNotificationTrigger`)
        instead of polling; DescribeJob is then only a slow fallback (templated).
    :param poll_interval: seconds between DescribeJob calls while waiting (default 60).
    :param max_wait: seconds to wait before failing the task (default 48 hours); the job
        itself keeps running and a retry reconnects to it.
    :param waiter_delay: the amazon provider's name for ``poll_interval``.
    :param waiter_max_attempts: the amazon provider's bound on the wait, in status checks:
        ``max_wait = waiter_delay x waiter_max_attempts``. Either name of a setting may be
        used; both only when they agree (else :class:`GlacierValidationError`).
    :param durable: (Airflow 3.3+) also record the job in the task state store, so a retry
        reconnects without listing the vault's jobs. The resume-token lookup runs either way.
    :param aws_conn_id: the Airflow ``aws`` connection.
    :param region_name: AWS region, when not the connection's.
    :param verify: SSL certificate verification, as boto3 takes it.
    :param botocore_config: botocore ``Config`` keywords as a dict.
    """

    aws_hook_class = GlacierJobsHook
    operator_extra_links = (GlacierVaultLink(),)
    external_id_key = "glacier_job"
    job_fields: ClassVar[tuple[str, ...]] = ()
    expedited_fallback_tier: str | None = None

    def __init__(
        self,
        *,
        vault_name: str,
        account_id: str = "-",
        description: str | None = None,
        sns_topic: str | None = None,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float | None = None,
        max_wait: float | None = None,
        waiter_delay: float | None = None,
        waiter_max_attempts: int | None = None,
        notification_queue_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vault_name = vault_name
        self.notification_queue_url = notification_queue_url
        self.account_id = account_id
        self.description = description
        self.sns_topic = sns_topic
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        wait = resolve_wait(
            poll_interval=poll_interval,
            max_wait=max_wait,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
        )
        self.poll_interval = wait.poll_interval
        self.max_wait = wait.max_wait
        self._token = ""
        self._job: JobParameters | None = None
        self._initiated: InitiatedJob | None = None
        self._final: JobDescription | None = None

    # -- building and validating the job ---------------------------------------------------

    @abstractmethod
    def build_job(self, description: str) -> JobParameters:
        """The validated job model for this operator's (rendered) parameters and ``description``."""

    def _validate_if_static(self) -> None:
        """Fail at DAG parse time when no parameter waits for rendering; called by each ``__init__``."""
        values = [
            getattr(self, name) for name in ("vault_name", "description", "sns_topic", *self.job_fields)
        ]
        if all(_is_static(value) for value in values):
            self._validated_job(PLACEHOLDER_TOKEN)

    def _validated_job(self, token: str) -> JobParameters:
        """Check the vault and build the job whose Description ends with ``token``.

        Every token has the same length, so parse-time validation with a placeholder token
        proves the description will fit once the real one is known.
        """
        validate_vault_name(self.vault_name)
        if self.description is not None:
            check_description(self.description)
        try:
            return self.build_job(with_token(self.description, token))
        except GlacierValidationError as error:
            if error.field != "Description":
                raise
            raise GlacierValidationError(
                "Description",
                self.description,
                f"leaves no room for the {len(token) + 1}-byte resume token appended to it ({error.rule})",
            ) from error

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "account_id": self.account_id}

    # -- execution ------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        ti = context["ti"]
        map_index = ti.map_index if ti.map_index is not None else -1
        identity = TaskInstanceIdentity(ti.dag_id, ti.task_id, ti.run_id, map_index)
        self._token = identity.token()
        self._job = self._validated_job(self._token)
        if self.deferrable and self.notification_queue_url:
            check_queue_url(self.notification_queue_url, "notification_queue_url")
        GlacierVaultLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            vault_name=self.vault_name,
        )
        self.execute_resumable(context)
        return self._result()

    def _retry_transient(self, what: str, deadline: float, failures: int, error: Exception) -> None:
        """Back off after a transient failure, or re-raise ``error`` when it is not one or time is up."""
        if classify_error(error) is not ErrorKind.TRANSIENT or time.monotonic() >= deadline:
            raise error
        delay = min(poll_retry_delay(failures, self.poll_interval), max(0.0, deadline - time.monotonic()))
        self.log.warning(
            "%s failed (%s); attempt %d, retrying in %.2fs", what, describe_error(error), failures, delay
        )
        time.sleep(delay)

    def submit_job(self, context: Context) -> dict[str, Any]:
        """Reuse this task instance's job if an earlier try started one; otherwise initiate it.

        After a transient failure the vault is searched again before another InitiateJob.
        """
        deadline = time.monotonic() + self.max_wait
        failures = 0
        while True:
            try:
                return self._submit_once()
            except Exception as error:
                failures += 1
                self._retry_transient(
                    f"Starting a Glacier job in vault {self.vault_name}", deadline, failures, error
                )

    def _submit_once(self) -> dict[str, Any]:
        assert self._job is not None
        existing = self._find_own_job()
        if existing is not None:
            self.log.info(
                "Reusing %s Glacier job %s in vault %s started by an earlier try (resume token %s)",
                existing.status_code,
                existing.job_id,
                self.vault_name,
                self._token,
            )
            self._initiated = _initiated_from_description(existing, self.vault_name)
            self._final = existing if existing.succeeded else None
        else:
            self._initiated = self._initiate(self._job)
            self._final = None
        return self._initiated.to_dict()

    def _initiate(self, job: JobParameters) -> InitiatedJob:
        """InitiateJob: the one request that starts (and pays for) a job.

        :meth:`submit_job` retries transient failures around it, looking for the job by
        its resume token before each new try. An Expedited request refused for capacity is
        asked once more at ``expedited_fallback_tier`` when the task names one.
        """
        try:
            return self.hook.initiate_job(self.vault_name, job)
        except GlacierRefusedError as error:
            fallback = _expedited_fallback(job, error, self.expedited_fallback_tier)
            if fallback is None:
                raise
            self.log.warning("%s; asking for tier %s instead", error, self.expedited_fallback_tier)
            self._job = fallback
            return self.hook.initiate_job(self.vault_name, fallback)

    def _find_own_job(self) -> JobDescription | None:
        """The first in-progress or succeeded job of this type carrying this task instance's token.

        Failed jobs are passed over: running a task instance again after its job failed (by
        clearing it; a failed job is not retried) is a request for a new job.
        """
        assert self._job is not None
        for job in self.hook.iter_jobs(self.vault_name):
            if (
                carries_token(job.job_description, self._token)
                and job.job_type == self._job.job_type
                and (job.in_progress or job.succeeded)
            ):
                return job
        return None

    def get_job_status(self, external_id: Any, context: Context) -> str:
        """Status of the job a previous try recorded; ``Expired`` once Glacier has forgotten it."""
        stored = _stored_job(external_id)
        if stored is None or stored.vault_name != self.vault_name:
            return "Unknown"
        try:
            job = self.hook.get_job_description(self.vault_name, stored.job_id)
        except Exception as error:
            if error_code(error) == "ResourceNotFoundException":
                return "Expired"
            raise
        self._initiated = stored
        self._final = job if job.succeeded else None
        return job.status_code or "Unknown"

    def is_job_active(self, status: str) -> bool:
        return status == "InProgress"

    def is_job_succeeded(self, status: str) -> bool:
        return status == "Succeeded"

    def poll_until_complete(self, external_id: Any, context: Context) -> None:
        """Wait as configured: defer to the trigger, poll here, or not at all."""
        initiated = self._initiated
        assert initiated is not None
        if self._final is not None:
            return
        if self.deferrable:
            defer_job_wait(
                self,
                vault_name=initiated.vault_name,
                job_id=initiated.job_id,
                account_id=self.account_id,
                wait=WaitSettings(poll_interval=self.poll_interval, max_wait=self.max_wait),
                notification_queue_url=self.notification_queue_url,
            )
        if self.wait_for_completion:
            self._final = self._poll(initiated)

    def _poll(self, initiated: InitiatedJob) -> JobDescription:
        deadline = time.monotonic() + self.max_wait
        failures = 0
        while True:
            try:
                job = self.hook.get_job_description(initiated.vault_name, initiated.job_id)
            except Exception as error:
                failures += 1
                self._retry_transient(
                    f"DescribeJob for Glacier job {initiated.job_id}", deadline, failures, error
                )
                continue
            failures = 0
            if job.succeeded:
                return job
            if job.failed:
                raise _job_failed(job, initiated.vault_name)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AirflowException(
                    f"Glacier job {job.job_id} still {job.status_code} after {self.max_wait:g}s (max_wait); "
                    "a retry reconnects to it"
                )
            time.sleep(min(self.poll_interval, left))

    def get_job_result(self, external_id: Any, context: Context) -> dict[str, Any]:
        return self._result()

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger fired: succeed with the final job, or fail with its message."""
        outcome = wait_outcome(event)
        if outcome.status == "failed" and outcome.job is not None:
            raise _job_failed(outcome.job, outcome.vault_name)
        if outcome.status != "success" or outcome.job is None:
            raise AirflowException(outcome.message)
        self._job = self._validated_job(PLACEHOLDER_TOKEN)
        self._final = outcome.job
        self._initiated = _initiated_from_description(self._final, outcome.vault_name)
        return self._result()

    def _result(self) -> dict[str, Any]:
        """The XCom value: the dict of :mod:`airflow_glacier_select.job_reference`, as the sensor pushes."""
        initiated = self._initiated
        assert initiated is not None and self._job is not None
        output = self._job.output_location if isinstance(self._job, SelectJob) else None
        waited = self.wait_for_completion or self.deferrable
        return job_reference(
            vault_name=initiated.vault_name,
            job_id=initiated.job_id,
            job_type=self._job.job_type,
            location=initiated.location,
            job_output_path=initiated.job_output_path,
            select_output=None
            if output is None
            else s3_output(output.bucket_name, output.prefix, initiated.job_id),
            job=self._final if waited else None,
        )


class GlacierArchiveRetrievalOperator(GlacierJobOperator):
    """Start an ``archive-retrieval`` job: restore an archive, or a byte range of it, for download.

    :param archive_id: the archive to retrieve.
    :param retrieval_byte_range: ``start-end`` (inclusive), 1 MiB-aligned; omit for the whole archive.
    :param tier: ``Expedited``, ``Standard`` (Glacier's default) or ``Bulk``.
    :param archive_size: the archive's size in bytes (from an inventory), if known: the byte
        range's end is then checked against it before anything is sent (not sent to Glacier).
    :param expedited_fallback_tier: ``Standard`` or ``Bulk``: when Glacier answers an Expedited
        request with InsufficientCapacityException, ask once more at this tier (default: fail).
    See :class:`GlacierJobOperator` for the common parameters.

    Returns (XCom) a plain JSON dict: ``vault_name``, ``job_id``, ``job_type``
    (``archive-retrieval``), ``location`` (the job's URI path) and, when the operator waited,
    ``job`` (the final DescribeJob as ``JobDescription.to_dict()``).
    """

    job_fields = ("archive_id", "retrieval_byte_range", "tier", "archive_size", "expedited_fallback_tier")
    template_fields: Sequence[str] = aws_template_fields(
        "vault_name", "account_id", "description", "sns_topic", "notification_queue_url", *job_fields
    )

    def __init__(
        self,
        *,
        archive_id: str,
        retrieval_byte_range: str | None = None,
        tier: str | None = None,
        archive_size: int | None = None,
        expedited_fallback_tier: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.archive_id = archive_id
        self.retrieval_byte_range = retrieval_byte_range
        self.tier = tier
        self.archive_size = archive_size
        self.expedited_fallback_tier = expedited_fallback_tier
        self._validate_if_static()

    def build_job(self, description: str) -> ArchiveRetrievalJob:
        check_expedited_fallback_tier(self.expedited_fallback_tier, self.tier)
        return ArchiveRetrievalJob(
            archive_id=self.archive_id,
            description=description,
            sns_topic=self.sns_topic,
            retrieval_byte_range=self.retrieval_byte_range,
            tier=self.tier,
            archive_size=self.archive_size,
        )


class GlacierInventoryRetrievalOperator(GlacierJobOperator):
    """Start an ``inventory-retrieval`` job: list the vault's archives, optionally a window or a page.

    :param format: ``JSON`` (default) or ``CSV``.
    :param inventory_start_date: only archives created at or after this ISO 8601 date-time.
    :param inventory_end_date: only archives created before this ISO 8601 date-time.
    :param limit: at most this many archives; the next page starts at the job's Marker.
    :param marker: continue an inventory from a previous job's Marker.
    See :class:`GlacierJobOperator` for the common parameters.

    Returns (XCom) a plain JSON dict: ``vault_name``, ``job_id``, ``job_type``
    (``inventory-retrieval``), ``location`` (the job's URI path) and, when the operator
    waited, ``job`` (the final DescribeJob as ``JobDescription.to_dict()``; its
    ``InventoryRetrievalParameters.Marker`` is where the next page starts).
    """

    job_fields = ("format", "inventory_start_date", "inventory_end_date", "limit", "marker")
    template_fields: Sequence[str] = aws_template_fields(
        "vault_name", "account_id", "description", "sns_topic", "notification_queue_url", *job_fields
    )

    def __init__(
        self,
        *,
        format: str = "JSON",
        inventory_start_date: str | None = None,
        inventory_end_date: str | None = None,
        limit: int | str | None = None,
        marker: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.format = format
        self.inventory_start_date = inventory_start_date
        self.inventory_end_date = inventory_end_date
        self.limit = limit
        self.marker = marker
        self._validate_if_static()

    def build_job(self, description: str) -> InventoryRetrievalJob:
        return InventoryRetrievalJob(
            format=self.format,
            description=description,
            sns_topic=self.sns_topic,
            start_date=self.inventory_start_date,
            end_date=self.inventory_end_date,
            limit=self.limit,
            marker=self.marker,
        )


_CSV_INPUT_FIELDS = {
    "input_file_header_info": "file_header_info",
    "input_comments": "comments",
    "input_quote_escape_character": "quote_escape_character",
    "input_record_delimiter": "record_delimiter",
    "input_field_delimiter": "field_delimiter",
    "input_quote_character": "quote_character",
}
_CSV_OUTPUT_FIELDS = {
    "output_quote_fields": "quote_fields",
    "output_quote_escape_character": "quote_escape_character",
    "output_record_delimiter": "record_delimiter",
    "output_field_delimiter": "field_delimiter",
    "output_quote_character": "quote_character",
}
_S3_FIELDS = (
    "output_bucket",
    "output_prefix",
    "canned_acl",
    "grants",
    "encryption",
    "kms_key_id",
    "kms_context",
    "storage_class",
    "tags",
    "user_metadata",
)


def _grants(values: Iterable[Grant | Mapping[str, Any]] | None) -> tuple[Grant, ...]:
    """Grants given as model objects or as Glacier's own dicts (``{"Grantee": {...}, "Permission": ...}``)."""
    return tuple(value if isinstance(value, Grant) else Grant.from_api(value) for value in values or ())


class GlacierSelectOperator(GlacierJobOperator):
    """Start a ``select`` job: run SQL over a CSV archive in place; Glacier writes the result to S3.

    :param archive_id: the CSV archive to query.
    :param expression: the SQL expression, e.g. ``SELECT s._1 FROM archive s WHERE s._2 = 'x'``.
    :param expression_type: ``SQL`` (the only type Glacier has).
    :param tier: ``Expedited``, ``Standard`` (Glacier's default) or ``Bulk``.
    :param input_file_header_info: ``USE``, ``IGNORE`` or ``NONE``: what the first line is.
    :param input_comments, input_quote_escape_character, input_record_delimiter,
        input_field_delimiter, input_quote_character: single characters describing the input CSV.
    :param output_quote_fields: ``ALWAYS`` or ``ASNEEDED``.
    :param output_quote_escape_character, output_record_delimiter, output_field_delimiter,
        output_quote_character: single characters for the result CSV.
    :param output_bucket: the S3 bucket Glacier writes the result to.
    :param output_prefix: the key prefix; the result lands under ``<output_prefix>/<job id>/``.
    :param canned_acl: S3 canned ACL of the result objects.
    :param grants: ACL grants, as :class:`~airflow_glacier_select.jobs.Grant` objects or dicts in
        Glacier's shape, e.g. ``{"Grantee": {"Type": "CanonicalUser", "ID": "..."}, "Permission": "READ"}``.
    :param encryption: ``AES256`` or ``aws:kms`` server-side encryption of the result objects.
    :param kms_key_id: the KMS key, with ``aws:kms``.
    :param kms_context: the KMS encryption context, with ``aws:kms``.
    :param storage_class: ``STANDARD``, ``REDUCED_REDUNDANCY`` or ``STANDARD_IA``.
    :param tags: S3 object tags (values are templated).
    :param user_metadata: S3 user metadata (values are templated).
    :param expedited_fallback_tier: ``Standard`` or ``Bulk``: when Glacier answers an Expedited
        request with InsufficientCapacityException, ask once more at this tier (default: fail).
    See :class:`GlacierJobOperator` for the common parameters.

    Returns (XCom) a plain JSON dict: ``vault_name``, ``job_id``, ``job_type`` (``select``),
    ``location`` (the job's URI path), ``job_output_path`` (as Glacier reports it),
    ``s3_output`` (``bucket``, ``prefix`` and ``job_prefix``, the ``<prefix>/<job id>/`` the
    result lands under) and, when the operator waited, ``job`` (the final DescribeJob as
    ``JobDescription.to_dict()``).
    """

    job_fields = (
        "archive_id",
        "expression",
        "expression_type",
        "tier",
        "expedited_fallback_tier",
        *_CSV_INPUT_FIELDS,
        *_CSV_OUTPUT_FIELDS,
        *_S3_FIELDS,
    )
    template_fields: Sequence[str] = aws_template_fields(
        "vault_name", "account_id", "description", "sns_topic", "notification_queue_url", *job_fields
    )

    def __init__(
        self,
        *,
        archive_id: str,
        expression: str,
        output_bucket: str,
        output_prefix: str,
        expression_type: str = "SQL",
        tier: str | None = None,
        input_file_header_info: str | None = None,
        input_comments: str | None = None,
        input_quote_escape_character: str | None = None,
        input_record_delimiter: str | None = None,
        input_field_delimiter: str | None = None,
        input_quote_character: str | None = None,
        output_quote_fields: str | None = None,
        output_quote_escape_character: str | None = None,
        output_record_delimiter: str | None = None,
        output_field_delimiter: str | None = None,
        output_quote_character: str | None = None,
        canned_acl: str | None = None,
        grants: Sequence[Grant | Mapping[str, Any]] | None = None,
        encryption: str | None = None,
        kms_key_id: str | None = None,
        kms_context: str | None = None,
        storage_class: str | None = None,
        tags: Mapping[str, str] | None = None,
        user_metadata: Mapping[str, str] | None = None,
        expedited_fallback_tier: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.expedited_fallback_tier = expedited_fallback_tier
        self.archive_id = archive_id
        self.expression = expression
        self.expression_type = expression_type
        self.tier = tier
        self.input_file_header_info = input_file_header_info
        self.input_comments = input_comments
        self.input_quote_escape_character = input_quote_escape_character
        self.input_record_delimiter = input_record_delimiter
        self.input_field_delimiter = input_field_delimiter
        self.input_quote_character = input_quote_character
        self.output_quote_fields = output_quote_fields
        self.output_quote_escape_character = output_quote_escape_character
        self.output_record_delimiter = output_record_delimiter
        self.output_field_delimiter = output_field_delimiter
        self.output_quote_character = output_quote_character
        self.output_bucket = output_bucket
        self.output_prefix = output_prefix
        self.canned_acl = canned_acl
        self.grants = grants
        self.encryption = encryption
        self.kms_key_id = kms_key_id
        self.kms_context = kms_context
        self.storage_class = storage_class
        self.tags = tags
        self.user_metadata = user_metadata
        self._validate_if_static()

    def build_job(self, description: str) -> SelectJob:
        check_expedited_fallback_tier(self.expedited_fallback_tier, self.tier)
        encryption = None
        if (self.encryption, self.kms_key_id, self.kms_context) != (None, None, None):
            encryption = Encryption(
                encryption_type=self.encryption, kms_key_id=self.kms_key_id, kms_context=self.kms_context
            )
        return SelectJob(
            archive_id=self.archive_id,
            expression=self.expression,
            expression_type=self.expression_type,
            tier=self.tier,
            description=description,
            sns_topic=self.sns_topic,
            input_serialization=CsvInput(
                **{option: getattr(self, name) for name, option in _CSV_INPUT_FIELDS.items()}
            ),
            output_serialization=CsvOutput(
                **{option: getattr(self, name) for name, option in _CSV_OUTPUT_FIELDS.items()}
            ),
            output_location=S3OutputLocation(
                bucket_name=self.output_bucket,
                prefix=self.output_prefix,
                encryption=encryption,
                canned_acl=self.canned_acl,
                access_control_list=_grants(self.grants),
                tagging=self.tags,
                user_metadata=self.user_metadata,
                storage_class=self.storage_class,
            ),
        )
