"""Copy a Glacier job's output into S3, verified against Glacier's tree hashes.

``GlacierJobOutputToS3Operator`` is the Airflow shell around
:class:`~airflow_glacier_select.s3_copy.engine.GlacierToS3Transfer`: templating, the two
connections, XCom and the choice of which failures end the task without retry. It pushes
a plain dict to XCom, so ``.output`` feeds an S3 operator or dynamic task mapping directly.
``GlacierToS3BaseOperator`` is what it shares with
:mod:`airflow_glacier_select.operators.select_results` (a Select job's results are already
in S3, so that one only reads them): the Glacier connection and an optional second one for
S3, a job operator's XCom dict accepted as ``job_id``, and the failures that end a task
without retry.

Failures no retry can mend (expired output, a taken key under ``collision="fail"``) fail
the task without retries; transient ones leave retries to Airflow. An archive's output that
expires mid-copy keeps its verified parts; with ``on_output_expired="re-retrieve-missing"``
the operator retrieves only the missing byte ranges again (:mod:`.expiry`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.job_reference import job_id_of
from airflow_glacier_select.job_rules import check_one_of, check_seconds, check_tier
from airflow_glacier_select.s3_copy.destination import S3ObjectSettings
from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer
from airflow_glacier_select.s3_copy.errors import (
    DestinationExistsError,
    JobNotFoundError,
    JobOutputExpiredError,
    OutputSizeMismatchError,
    SelectJobFailedError,
    UnverifiedOutputError,
)
from airflow_glacier_select.s3_copy.plan import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_CONCURRENCY,
    check_chunk_size,
    check_concurrency,
)
from airflow_glacier_select.s3_copy.retry import RetryPolicy
from airflow_glacier_select.transfers.expiry import (
    ON_OUTPUT_EXPIRED,
    RE_RETRIEVE_MISSING,
    expiry_message,
    re_retrieve_missing,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["FINAL_ERRORS", "GlacierJobOutputToS3Operator", "GlacierToS3BaseOperator", "job_id_of"]

FINAL_ERRORS = (
    JobNotFoundError,
    JobOutputExpiredError,
    DestinationExistsError,
    OutputSizeMismatchError,
    UnverifiedOutputError,
    SelectJobFailedError,
)
"""Failures no retry can mend: the task fails at once (``AirflowFailException``)."""


class GlacierToS3BaseOperator(AwsBaseOperator[GlacierJobsHook]):
    """Glacier hook from ``aws_conn_id``; S3 hook from ``dest_aws_conn_id`` (None: the same one).

    Both hooks take the operator's ``region_name``, ``verify`` and ``botocore_config``: a
    vault and the bucket its output goes to are in the region the operator names.
    """

    aws_hook_class = GlacierJobsHook

    def __init__(
        self,
        *,
        vault_name: str,
        job_id: str | Mapping[str, Any],
        account_id: str = "-",
        dest_aws_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.vault_name = vault_name
        self.job_id = job_id
        self.account_id = account_id
        self.dest_aws_conn_id = dest_aws_conn_id

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "account_id": self.account_id}

    @property
    def s3_hook(self) -> S3Hook:
        conn_id = self.dest_aws_conn_id or self.aws_conn_id
        return S3Hook(
            aws_conn_id=conn_id, region_name=self.region_name, verify=self.verify, config=self.botocore_config
        )


class GlacierJobOutputToS3Operator(GlacierToS3BaseOperator):
    """Copy a succeeded archive-retrieval or inventory-retrieval job's output to S3, verified.

    The output moves in tree-hash-aligned chunks through ``concurrency`` workers (memory
    ``chunk_size x concurrency``), each chunk checked against Glacier's
    ``x-amz-sha256-tree-hash`` and the whole against the job's SHA256TreeHash before the S3
    object appears; any failure aborts the multipart upload. The object's
    ``x-amz-meta-sha256-tree-hash`` records the verified hash, so with the default
    ``collision="skip_if_same"`` a rerun finds the copy and downloads nothing.

    The output's size is cross-checked between DescribeJob and every GetJobOutput answer;
    when Glacier's figures disagree the task fails naming both, and nothing is written. A
    copy no tree hash vouched for says so in the XCom value (``verification: size-only``), a
    WARNING log line and the object's ``x-amz-meta-verification`` (``size-only`` rather than
    ``tree-hash``); ``require_tree_hash=True`` refuses it instead.

    :param vault_name: the job's vault.
    :param job_id: the job id, or the XCom dict of a job operator (``retrieve.output``).
    :param bucket: destination bucket.
    :param key: destination key, or a template with ``{vault_name}``, ``{job_id}``,
        ``{job_type}``, ``{archive_id}``, ``{archive_path}`` (the file path recorded in the
        archive description: raw, JSON ``Path``, FastGlacier ...; else the archive id),
        ``{retrieval_byte_range}`` and ``{inventory_format}``. Default: the archive's path
        under the vault name, or ``<vault>/inventory/<job id>.<format>``.
    :param collision: ``skip_if_same`` (default), ``overwrite``, ``suffix`` or ``fail``; see
        :data:`airflow_glacier_select.s3_copy.destination.COLLISION_POLICIES`.
    :param encryption: ``AES256`` or ``aws:kms`` server-side encryption.
    :param kms_key_id: KMS key for ``aws:kms``.
    :param storage_class: S3 storage class, e.g. ``STANDARD_IA``, ``GLACIER_IR``, ``DEEP_ARCHIVE``.
    :param tags: object tags (at most 10).
    :param metadata: extra user metadata.
    :param archive_description: the archive's description when already known (from an
        inventory), which saves a request when the key uses ``{archive_path}``.
    :param chunk_size: bytes per chunk, a power of two MiB from 8 MiB (default 16 MiB).
    :param concurrency: chunks in flight at once, 1-32 (default 4).
    :param max_attempts: attempts per chunk before the transfer fails (default 5).
    :param retry_base_delay: seconds of backoff after a chunk's first failed attempt, doubling
        with each further one (default 1).
    :param retry_max_delay: the backoff's cap in seconds (default 30).
    :param require_tree_hash: fail, writing nothing, when no tree hash from Glacier vouched
        for the bytes (inventory output, or an endpoint that sends none). Default False.
    :param on_output_expired: what to do when the job's output expired (Glacier forgets a job
        about 24 hours after it completes) before an archive was wholly copied. ``fail``
        (default): fail, saying how many bytes are verified and which archive byte ranges are
        missing; the verified parts stay in the bucket. ``re-retrieve-missing``: start one
        archive-retrieval job per missing tree-hash-aligned range (reusing any in-progress or
        succeeded job for the same range, so a retry never pays twice), wait for them, and
        finish the copy from their output, verified against the archive's tree hash.
    :param re_retrieval_tier: tier of the range jobs (default: Glacier's, Standard).
    :param re_retrieval_poll_interval: seconds between DescribeJob polls of range jobs (default 60).
    :param re_retrieval_max_wait: seconds to wait for range jobs before the try fails (a retry
        finds the same jobs and waits on; default 12 hours).
    :param dest_aws_conn_id: connection for S3; None (default) uses ``aws_conn_id``.
    :param account_id: the vault owner's account id; ``-`` (default) is the credentials' account.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "vault_name",
        "job_id",
        "account_id",
        "bucket",
        "key",
        "collision",
        "encryption",
        "kms_key_id",
        "storage_class",
        "tags",
        "metadata",
        "archive_description",
        "dest_aws_conn_id",
    )
    ui_color = "#e0eef7"

    def __init__(
        self,
        *,
        bucket: str,
        key: str | None = None,
        collision: str = "skip_if_same",
        encryption: str | None = None,
        kms_key_id: str | None = None,
        storage_class: str | None = None,
        tags: Mapping[str, str] | None = None,
        metadata: Mapping[str, str] | None = None,
        archive_description: str | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = 5,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 30.0,
        require_tree_hash: bool = False,
        on_output_expired: str = "fail",
        re_retrieval_tier: str | None = None,
        re_retrieval_poll_interval: float = 60.0,
        re_retrieval_max_wait: float = 12 * 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket = bucket
        self.key = key
        self.collision = collision
        self.encryption = encryption
        self.kms_key_id = kms_key_id
        self.storage_class = storage_class
        self.tags = tags
        self.metadata = metadata
        self.archive_description = archive_description
        # Not templated: checked now, when the DAG is parsed.
        self.chunk_size = check_chunk_size(chunk_size)
        self.concurrency = check_concurrency(concurrency)
        self.retry = RetryPolicy(
            max_attempts=max_attempts, base_delay=retry_base_delay, max_delay=retry_max_delay
        )
        if not isinstance(require_tree_hash, bool):
            raise GlacierValidationError("require_tree_hash", require_tree_hash, "must be True or False")
        self.require_tree_hash = require_tree_hash
        self.on_output_expired = check_one_of("on_output_expired", on_output_expired, ON_OUTPUT_EXPIRED)
        self.re_retrieval_tier = (
            None if re_retrieval_tier is None else check_tier(re_retrieval_tier, "re_retrieval_tier")
        )
        self.re_retrieval_poll_interval = check_seconds(
            "re_retrieval_poll_interval", re_retrieval_poll_interval
        )
        self.re_retrieval_max_wait = check_seconds("re_retrieval_max_wait", re_retrieval_max_wait)

    def object_settings(self) -> S3ObjectSettings:
        """The rendered encryption, storage class, tags and metadata, checked."""
        return S3ObjectSettings(
            encryption=self.encryption or None,
            kms_key_id=self.kms_key_id or None,
            storage_class=self.storage_class or None,
            tags=self.tags or None,
            metadata=self.metadata or None,
        )

    def execute(self, context: Context) -> dict[str, Any]:
        settings = self.object_settings()
        transfer = GlacierToS3Transfer(
            self.hook,
            self.s3_hook,
            chunk_size=self.chunk_size,
            concurrency=self.concurrency,
            retry=self.retry,
            log=self.log,
        )
        job_id = job_id_of(self.job_id)
        try:
            result = transfer.copy_job_output(
                self.vault_name,
                job_id,
                self.bucket,
                self.key or None,
                collision=self.collision,
                settings=settings,
                archive_description=self.archive_description or None,
                require_tree_hash=self.require_tree_hash,
            )
        except (JobOutputExpiredError, JobNotFoundError) as error:
            if self.on_output_expired != RE_RETRIEVE_MISSING:
                raise AirflowFailException(
                    expiry_message(transfer, self.vault_name, job_id, self.bucket, error)
                ) from error
            return re_retrieve_missing(self, context, transfer, job_id, error)
        except FINAL_ERRORS as error:
            raise AirflowFailException(str(error)) from error
        return result.to_dict()
