"""Wait for a Glacier job to end, in poke, reschedule or deferrable mode.

A Glacier job that *fails* is a definite answer, not a wait that ran out: the task must
fail with Glacier's StatusMessage even when ``soft_fail=True``, which only turns a
timeout into a skip. Airflow's sensor base class skips on any ``AirflowFailException``
from ``poke`` and on any ``AirflowException`` from a resumed deferral when
``soft_fail`` is set, so this sensor routes failures around that mapping itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
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
from airflow_glacier_select.job_rules import check_non_empty
from airflow_glacier_select.jobs import JobDescription, validate_vault_name
from airflow_glacier_select.triggers.glacier import (
    DEFAULT_POLL_INTERVAL,
    ErrorKind,
    GlacierJobTrigger,
    classify_error,
    describe_error,
)
from airflow_glacier_select.triggers.notifications import GlacierJobNotificationTrigger, check_queue_url

try:  # Airflow >= 3.1 moved the deferral exceptions into the Task SDK.
    from airflow.sdk.exceptions import TaskDeferralTimeout  # type: ignore[attr-defined,unused-ignore]
except ImportError:  # pragma: no cover - Airflow 3.0
    from airflow.exceptions import TaskDeferralTimeout  # type: ignore[no-redef,attr-defined]

if TYPE_CHECKING:
    from airflow.sdk import Context

_DEFERRAL_GRACE = timedelta(minutes=2)
"""How long Airflow waits past the trigger's own deadline before timing the deferral out itself."""


class GlacierJobFailedError(AirflowException):
    """Glacier reports the job as ``Failed``; the message quotes its StatusMessage."""


class GlacierJobWaitError(AirflowException):
    """The job could not be waited for (no such job or vault, access denied ...)."""


def job_failure_message(vault_name: str, job: JobDescription) -> str:
    """What a failed job's task log and exception say: vault, job and Glacier's own reason."""
    reason = job.status_message or "no StatusMessage given"
    return f"Glacier job {job.job_id} in vault {vault_name} failed: {reason}"


class GlacierJobSensor(AwsBaseSensor[GlacierJobsHook]):
    """Wait until a Glacier job (archive retrieval, inventory retrieval or select) ends.

    Succeeded: the task returns the final job description (``JobDescription.to_dict()``:
    Glacier's own keys) as its XCom value. Failed: the task fails, quoting Glacier's
    StatusMessage, whatever ``soft_fail`` says. Timeout: ``AirflowSensorTimeout``, which
    ``soft_fail=True`` turns into a skip.

    :param vault_name: the vault the job runs in (templated).
    :param job_id: the job to wait for (templated), e.g. an operator's XCom.
    :param account_id: the vault owner's account id, ``-`` for the credentials' own (templated).
    :param poke_interval: seconds between DescribeJob calls, in every mode.
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
        job_id: str,
        account_id: str = "-",
        poke_interval: float = DEFAULT_POLL_INTERVAL,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        notification_queue_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.vault_name = vault_name
        self.job_id = job_id
        self.account_id = account_id
        self.deferrable = deferrable
        self.notification_queue_url = notification_queue_url

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "account_id": self.account_id}

    def _check_rendered(self) -> None:
        """Refuse bad values once templates are rendered, before any request is sent."""
        validate_vault_name(self.vault_name)
        check_non_empty("jobId", self.job_id)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One DescribeJob; a transient failure (throttling, 5xx, a lost or damaged answer) is "not yet"."""
        self._check_rendered()
        try:
            job = self.hook.get_job_description(self.vault_name, self.job_id)
        except Exception as error:
            if classify_error(error) is not ErrorKind.TRANSIENT:
                raise
            self.log.warning(
                "DescribeJob for Glacier job %s failed (%s); asking again", self.job_id, describe_error(error)
            )
            return False
        if job.failed:
            raise GlacierJobFailedError(job_failure_message(self.vault_name, job))
        if job.succeeded:
            self.log.info("Glacier job %s in vault %s succeeded", self.job_id, self.vault_name)
            return PokeReturnValue(is_done=True, xcom_value=job.to_dict())
        self.log.debug("Glacier job %s is %s", self.job_id, job.status_code)
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
        trigger = GlacierJobTrigger(
            vault_name=self.vault_name,
            job_id=self.job_id,
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            botocore_config=self.botocore_config,
            account_id=self.account_id,
            poll_interval=self.poke_interval,
            deadline=time.time() + self.timeout,
        )
        if self.notification_queue_url:
            trigger = GlacierJobNotificationTrigger.instead_of(trigger, self.notification_queue_url)
        self.defer(
            trigger=trigger,
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout) + _DEFERRAL_GRACE,
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Map the trigger's event: the job description on success, otherwise the matching failure."""
        if not event:
            raise GlacierJobWaitError(f"Glacier job {self.job_id}: the trigger fired no event")
        status, message = event.get("status"), str(event.get("message", ""))
        if status == "success":
            self.log.info("Glacier job %s in vault %s succeeded", self.job_id, self.vault_name)
            return dict(event["job"])
        if status == "timeout":
            raise AirflowSensorTimeout(f"Glacier job {self.job_id} in vault {self.vault_name}: {message}")
        if status == "failed":
            job = JobDescription.from_response(event["job"])
            raise GlacierJobFailedError(job_failure_message(self.vault_name, job))
        raise GlacierJobWaitError(f"Glacier job {self.job_id} in vault {self.vault_name}: {message}")

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
