"""Wait for a Glacier job to end, in reschedule (the default), poke or deferrable mode.

A Glacier job that *fails* is a definite answer, not a wait that ran out: the task must
fail with Glacier's StatusMessage even when ``soft_fail=True``, which only turns a
timeout into a skip. Airflow's sensor base class skips on any ``AirflowFailException``
from ``poke`` and on any ``AirflowException`` from a resumed deferral when
``soft_fail`` is set, so this sensor routes failures around that mapping itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.job_reference import described_job_reference, job_id_of
from airflow_glacier_select.jobs import validate_vault_name
from airflow_glacier_select.triggers.glacier import (
    ErrorKind,
    classify_error,
    defer_job_wait,
    describe_error,
    wait_outcome,
)
from airflow_glacier_select.triggers.notifications import check_queue_url
from airflow_glacier_select.waiting import WaitSettings, job_failure_message, resolve_wait

try:  # Airflow >= 3.1 moved the deferral exceptions into the Task SDK.
    from airflow.sdk.exceptions import TaskDeferralTimeout  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # pragma: no cover - Airflow 3.0
    from airflow.exceptions import TaskDeferralTimeout  # type: ignore[no-redef,attr-defined]

if TYPE_CHECKING:
    from airflow.sdk import Context


class GlacierJobFailedError(AirflowException):
    """Glacier reports the job as ``Failed``; the message quotes its StatusMessage."""


class GlacierJobWaitError(AirflowException):
    """The job could not be waited for (no such job or vault, access denied ...)."""


def _seconds(value: object) -> object:
    """Airflow sensors take ``poke_interval`` and ``timeout`` as seconds or a ``timedelta``."""
    return value.total_seconds() if isinstance(value, timedelta) else value


class GlacierJobSensor(AwsBaseSensor[GlacierJobsHook]):
    """Wait until a Glacier job (archive retrieval, inventory retrieval or select) ends.

    Like the amazon provider's ``GlacierJobOperationSensor`` it reschedules between checks
    by default, so a Bulk job's hours of waiting hold no worker slot; ``deferrable=True``
    waits in the triggerer instead, and an explicit ``mode`` is always honoured.

    Succeeded: the task's XCom value is the same dict the job operators push (see
    :mod:`airflow_glacier_select.job_reference`): ``vault_name``, ``job_id``, ``job_type``,
    ``location``, for select jobs ``job_output_path`` and ``s3_output``, and ``job`` (the
    final DescribeJob with Glacier's own keys, ``JobDescription.to_dict()``). Failed: the
    task fails, quoting Glacier's StatusMessage, whatever ``soft_fail`` says. Timeout:
    ``AirflowSensorTimeout``, which ``soft_fail=True`` turns into a skip.

    :param vault_name: the vault the job runs in (templated).
    :param job_id: the job to wait for (templated): a job id, or a job operator's XCom dict
        (``retrieve.output``).
    :param account_id: the vault owner's account id, ``-`` for the credentials' own (templated).
    :param poke_interval: seconds between DescribeJob calls, in every mode (default 60).
    :param waiter_delay: the amazon provider's name for ``poke_interval``; give either (or
        both, agreeing).
    :param waiter_max_attempts: the amazon provider's way to bound the wait: the sensor's
        ``timeout`` becomes ``waiter_delay x waiter_max_attempts`` seconds (a ``timeout``
        given as well must agree).
    :param mode: ``reschedule`` (default unless deferrable) or ``poke``.
    :param deferrable: hand the wait to :class:`GlacierJobTrigger` in the triggerer, freeing the
        worker slot; the sensor's ``timeout`` becomes the trigger's deadline.
    :param notification_queue_url: with ``deferrable``, wait on the job's completion notification
        from this SQS queue (:class:`GlacierJobNotificationTrigger`) instead of polling (templated).
    """

    aws_hook_class = GlacierJobsHook
    template_fields: Sequence[str] = aws_template_fields(
        "vault_name", "job_id", "account_id", "notification_queue_url"
    )
    ui_color = "#6aa6d6"

    def __init__(
        self,
        *,
        vault_name: str,
        job_id: str | Mapping[str, Any],
        account_id: str = "-",
        poke_interval: float | timedelta | None = None,
        waiter_delay: float | None = None,
        waiter_max_attempts: int | None = None,
        mode: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        notification_queue_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        wait = resolve_wait(
            poll_interval=_seconds(poke_interval),
            max_wait=_seconds(kwargs.get("timeout")),
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            poll_interval_field="poke_interval",
            max_wait_field="timeout",
        )
        if waiter_max_attempts is not None:
            kwargs["timeout"] = wait.max_wait
        if mode is None:
            mode = "poke" if deferrable else "reschedule"
        super().__init__(poke_interval=wait.poll_interval, mode=mode, **kwargs)
        self.vault_name = vault_name
        self.job_id = job_id
        self.account_id = account_id
        self.deferrable = deferrable
        self.notification_queue_url = notification_queue_url

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "account_id": self.account_id}

    def _rendered_job_id(self) -> str:
        """Refuse bad values once templates are rendered, before any request is sent."""
        validate_vault_name(self.vault_name)
        return job_id_of(self.job_id, "jobId")

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One DescribeJob; a transient failure (throttling, 5xx, a lost or damaged answer) is "not yet"."""
        job_id = self._rendered_job_id()
        try:
            job = self.hook.get_job_description(self.vault_name, job_id)
        except Exception as error:
            if classify_error(error) is not ErrorKind.TRANSIENT:
                raise
            self.log.warning(
                "DescribeJob for Glacier job %s failed (%s); asking again", job_id, describe_error(error)
            )
            return False
        if job.failed:
            raise GlacierJobFailedError(job_failure_message(self.vault_name, job))
        if job.succeeded:
            self.log.info("Glacier job %s in vault %s succeeded", job_id, self.vault_name)
            return PokeReturnValue(is_done=True, xcom_value=described_job_reference(self.vault_name, job))
        self.log.debug("Glacier job %s is %s", job_id, job.status_code)
        return False

    def execute(self, context: Context) -> Any:
        try:
            if not self.deferrable:
                return super().execute(context)
            if self.notification_queue_url:
                check_queue_url(self.notification_queue_url, "notification_queue_url")
            done = self.poke(context)  # a job that already ended needs no deferral
        except GlacierJobFailedError as failed:
            self._job_failed(failed)
        if done:
            return done.xcom_value if isinstance(done, PokeReturnValue) else None
        defer_job_wait(
            self,
            vault_name=self.vault_name,
            job_id=self._rendered_job_id(),
            account_id=self.account_id,
            wait=WaitSettings(poll_interval=self.poke_interval, max_wait=self.timeout),
            notification_queue_url=self.notification_queue_url,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Map the trigger's event: the job on success, otherwise the matching failure."""
        outcome = wait_outcome(event)
        if outcome.status == "success" and outcome.job is not None:
            self.log.info("Glacier job %s in vault %s succeeded", outcome.job.job_id, self.vault_name)
            return described_job_reference(self.vault_name, outcome.job)
        if outcome.status == "timeout":
            raise AirflowSensorTimeout(outcome.message)
        if outcome.status == "failed":
            raise GlacierJobFailedError(outcome.message)
        raise GlacierJobWaitError(outcome.message)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Resume after deferral, letting ``soft_fail`` skip on a timeout only.

        The sensor base class would skip on any failure here (a failed job, an error
        event, a crashed trigger); this goes straight to the operator's resumption and
        applies ``soft_fail`` to timeouts alone (``never_fail`` still skips everything).
        """
        try:
            return super(BaseSensorOperator, self).resume_execution(next_method, next_kwargs, context)
        except (AirflowSensorTimeout, TaskDeferralTimeout) as timeout:
            self._timed_out(timeout)
        except GlacierJobFailedError as failed:
            self._job_failed(failed)
        except Exception as error:
            if self.never_fail:
                raise AirflowSkipException(f"Skipping on error (never_fail): {error}") from error
            raise

    def _job_failed(self, failed: GlacierJobFailedError) -> NoReturn:
        """Fail without retries (the job will not un-fail); ``soft_fail`` does not apply."""
        if self.never_fail:
            raise AirflowSkipException(f"Skipping a failed job (never_fail): {failed}") from failed
        raise AirflowFailException(str(failed)) from failed

    def _timed_out(self, timeout: Exception) -> NoReturn:
        if self.soft_fail or self.never_fail:
            raise AirflowSkipException(f"Skipping on timeout: {timeout}") from timeout
        if isinstance(timeout, AirflowSensorTimeout):
            raise timeout
        raise AirflowSensorTimeout(*timeout.args) from timeout
