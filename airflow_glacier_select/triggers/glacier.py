"""Deferrable wait for a Glacier job: poll DescribeJob from the triggerer until the job ends.

Glacier jobs run for minutes (Expedited) to 12 hours (Bulk), so a worker slot must not
be held while they run. :class:`GlacierJobTrigger` does the waiting inside the
triggerer's event loop. It never blocks that loop (aiobotocore through the amazon
hook's async connection, ``asyncio.sleep``), rides out the service's bad moments
(throttling, 5xx, dropped connections, expired session tokens) with capped, jittered
backoff, and still stops at its deadline. Sensors and operators defer to the same
trigger through :func:`defer_job_wait` and read the single event it fires with
:func:`wait_outcome`; the wait's pure rules (intervals, backoff, grace, failure message)
are in :mod:`airflow_glacier_select.waiting`.
"""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn

import botocore.exceptions
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.hooks.glacier import (
    ErrorKind,
    GlacierJobsHook,
    GlacierRefusedError,
    classify_error,
    damaged_answers,
    describe_job_answer,
    error_code,
    refusal_message,
)
from airflow_glacier_select.job_rules import check_non_empty, check_seconds
from airflow_glacier_select.jobs import JobDescription, validate_vault_name
from airflow_glacier_select.waiting import (
    DEFAULT_POLL_INTERVAL,
    DEFERRAL_GRACE_SECONDS,
    WaitSettings,
    job_failure_message,
    poll_retry_delay,
)

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
    from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor

_MIN_REQUEST_WINDOW = 5.0
"""Seconds a DescribeJob request may take even when the deadline is (nearly) reached."""


def describe_error(error: BaseException) -> str:
    """One line naming what went wrong, e.g. ``ResourceNotFoundException: Job not found``.

    A refusal no retry can cure (NoLongerSupportedException ...) says what it means for the
    user, in the words :func:`~airflow_glacier_select.hooks.glacier.refusal_message` gives it.
    """
    if isinstance(error, GlacierRefusedError):
        return str(error)
    if isinstance(error, botocore.exceptions.ClientError):
        message = error.response.get("Error", {}).get("Message", "")
        explanation = refusal_message(error_code(error))
        if explanation:
            return explanation + (f" [{message}]" if message else "")
        return f"{error_code(error) or 'Unknown'}: {message}".rstrip(": ")
    return f"{type(error).__name__}: {error}".rstrip(": ")


# ---------------------------------------------------------------------------------------------
# One aiobotocore client per (connection, region, verify, botocore config) and event loop.
# A triggerer may run hundreds of Glacier waits; building a client (and its connection pool
# and credential chain) for each would waste sockets and, with assume-role connections,
# an STS call per trigger.
# ---------------------------------------------------------------------------------------------

ClientKey = tuple[str | None, str | None, "bool | str | None", str]
_ClientFactory = Callable[[], Awaitable[tuple[Any, Any]]]


@dataclass(eq=False)
class _ClientHandle:
    """An entered aiobotocore client context, with the requests currently using it."""

    context: Any
    client: Any
    in_flight: int = 0
    retired: bool = False

    async def close(self) -> None:
        await self.context.__aexit__(None, None, None)


@dataclass(eq=False)
class SharedGlacierClient:
    """A Glacier client shared by every trigger on one event loop with the same connection settings.

    ``borrow()`` hands out the current client for one request. A request that fails on an
    expired session token retires the client; the next request builds a new one, and the
    retired client is closed once no request still uses it, so a rebuild never cuts off
    another trigger's request mid-flight.
    """

    factory: _ClientFactory
    references: int = 0
    _current: _ClientHandle | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def _ensure(self) -> _ClientHandle:
        async with self._lock:
            if self._current is None:
                context, client = await self.factory()
                self._current = _ClientHandle(context, client)
            return self._current

    @asynccontextmanager
    async def borrow(self) -> AsyncIterator[Any]:
        """The current client for one request; a request failing on expired credentials retires it."""
        handle = await self._ensure()
        handle.in_flight += 1
        try:
            yield handle.client
        except Exception as error:
            if classify_error(error) is ErrorKind.EXPIRED_CREDENTIALS and self._current is handle:
                # The next borrow() builds a fresh client, re-reading the connection's credentials.
                self._current = None
                handle.retired = True
            raise
        finally:
            handle.in_flight -= 1
            if handle.retired and handle.in_flight == 0:
                await handle.close()

    async def close(self) -> None:
        async with self._lock:
            handle, self._current = self._current, None
        if handle is not None:
            handle.retired = True
            if handle.in_flight == 0:
                await handle.close()


_SHARED_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ClientKey, SharedGlacierClient]]
_SHARED_CLIENTS = weakref.WeakKeyDictionary()


def shared_clients() -> dict[ClientKey, SharedGlacierClient]:
    """The clients currently shared on the running event loop (read by tests and diagnostics)."""
    return _SHARED_CLIENTS.get(asyncio.get_running_loop(), {})


@asynccontextmanager
async def shared_glacier_client(
    key: ClientKey, factory: _ClientFactory
) -> AsyncIterator[SharedGlacierClient]:
    """Hold a reference to the loop's client for ``key``; the last holder to leave closes it."""
    clients = _SHARED_CLIENTS.setdefault(asyncio.get_running_loop(), {})
    shared = clients.get(key)
    if shared is None:
        shared = clients[key] = SharedGlacierClient(factory)
    shared.references += 1
    try:
        yield shared
    finally:
        shared.references -= 1
        if shared.references == 0:
            if clients.get(key) is shared:
                del clients[key]
            await shared.close()


# ---------------------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class GlacierJobTrigger(BaseTrigger):
    """Fire once when a Glacier job ends, fails, cannot be described, or the deadline passes.

    The single event's payload is plain JSON::

        {"status": "success" | "failed" | "timeout" | "error",
         "vault_name": ..., "job_id": ...,
         "job": <JobDescription.to_dict()> or None,   # last description seen
         "message": "..."}

    :param vault_name: the vault the job runs in.
    :param job_id: the job to wait for.
    :param aws_conn_id: Airflow ``aws`` connection; only its id is serialised, never a secret.
    :param region_name: AWS region, when not the connection's.
    :param verify: SSL verification, as boto3 takes it (``False`` or a CA bundle path).
    :param botocore_config: botocore ``Config`` keywords as a plain dict.
    :param account_id: the vault owner's account id; ``-`` means the credentials' account.
    :param poll_interval: seconds between DescribeJob calls.
    :param deadline: absolute time (epoch seconds) after which the trigger fires ``timeout``;
        ``None`` waits until the job ends.
    """

    def __init__(
        self,
        *,
        vault_name: str,
        job_id: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        account_id: str = "-",
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        deadline: float | None = None,
    ) -> None:
        super().__init__()
        poll_interval = check_seconds("poll_interval", poll_interval)
        if deadline is not None and (isinstance(deadline, bool) or not isinstance(deadline, (int, float))):
            raise GlacierValidationError("deadline", deadline, "must be epoch seconds or None")
        self.vault_name = validate_vault_name(vault_name)
        self.job_id = check_non_empty("jobId", job_id)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self.account_id = account_id
        self.poll_interval = float(poll_interval)
        self.deadline = None if deadline is None else float(deadline)
        self.hook()  # the hook checks account_id: a bad one fails here, before anything is deferred

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "vault_name": self.vault_name,
                "job_id": self.job_id,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
                "account_id": self.account_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
            },
        )

    def hook(self) -> GlacierJobsHook:
        """A hook built from the serialised settings only, as in the task that deferred."""
        return GlacierJobsHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
            account_id=self.account_id,
        )

    def client_key(self) -> ClientKey:
        """Triggers whose keys are equal share one client on a loop."""
        config = json.dumps(self.botocore_config, sort_keys=True, default=str)
        return (self.aws_conn_id, self.region_name, self.verify, config)

    async def _open_client(self) -> tuple[Any, Any]:
        context = await self.hook().get_async_conn()
        client = await context.__aenter__()
        return context, client

    async def run(self) -> AsyncIterator[TriggerEvent]:
        self.log.info(
            "Waiting for Glacier job %s in vault %s (DescribeJob every %gs, %s)",
            self.job_id,
            self.vault_name,
            self.poll_interval,
            "no deadline"
            if self.deadline is None
            else f"deadline in {max(0.0, self.deadline - time.time()):.0f}s",
        )
        async with shared_glacier_client(self.client_key(), self._open_client) as shared:
            payload = await self._wait(shared)
        log = self.log.info if payload["status"] == "success" else self.log.warning
        log("Glacier job %s: %s", self.job_id, payload["message"])
        yield TriggerEvent(payload)

    def _event(self, status: str, job: JobDescription | None, message: str) -> dict[str, Any]:
        return {
            "status": status,
            "vault_name": self.vault_name,
            "job_id": self.job_id,
            "job": None if job is None else job.to_dict(),
            "message": message,
        }

    def _seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.time()

    async def _describe(self, shared: SharedGlacierClient) -> JobDescription:
        async with shared.borrow() as client:
            with damaged_answers("DescribeJob", self.job_id):
                response = await client.describe_job(
                    vaultName=self.vault_name, jobId=self.job_id, accountId=self.account_id
                )
        return describe_job_answer(response, self.job_id)

    async def _look(self, shared: SharedGlacierClient) -> JobDescription:
        """One DescribeJob, cut short near the deadline.

        A request may not outlive the deadline by much (botocore's own timeouts are ~60 s);
        past the deadline it still gets a short window, so a job that has just ended is
        reported as such rather than as a timeout.
        """
        left = self._seconds_left()
        request_window = None if left is None else max(left, _MIN_REQUEST_WINDOW)
        return await asyncio.wait_for(self._describe(shared), timeout=request_window)

    def _retry_delay(self, error: BaseException, failures: int) -> float:
        """Log transient DescribeJob failure number ``failures``; seconds until the next attempt."""
        delay = poll_retry_delay(failures, self.poll_interval)
        self.log.warning(
            "DescribeJob for Glacier job %s failed (%s); attempt %d, retrying in %.2fs",
            self.job_id,
            describe_error(error),
            failures,
            delay,
        )
        return delay

    def _end_event(self, job: JobDescription) -> dict[str, Any] | None:
        """The event for a job that has ended; ``None`` while it runs."""
        if job.succeeded:
            return self._event("success", job, f"job {self.job_id} succeeded")
        if job.failed:
            return self._event("failed", job, job_failure_message(self.vault_name, job))
        return None

    def _timeout_event(self, job: JobDescription | None) -> dict[str, Any]:
        state = job.status_code if job is not None else "not yet described"
        return self._event("timeout", job, f"job {self.job_id} still {state} at the deadline")

    async def _wait(self, shared: SharedGlacierClient) -> dict[str, Any]:
        """Poll until the job ends; transient failures only delay the next DescribeJob."""
        failures = 0
        job: JobDescription | None = None
        while True:
            try:
                described = await self._look(shared)
            except Exception as error:
                if classify_error(error) is ErrorKind.FATAL:
                    return self._event("error", job, f"DescribeJob failed: {describe_error(error)}")
                failures += 1
                delay = self._retry_delay(error, failures)
            else:
                failures = 0
                delay = self.poll_interval
                if job is None or described.status_code != job.status_code:
                    self.log.info("Glacier job %s is %s", self.job_id, described.status_code)
                job = described
                ended = self._end_event(job)
                if ended is not None:
                    return ended
            left = self._seconds_left()
            if left is not None and left <= 0:
                return self._timeout_event(job)
            await asyncio.sleep(delay if left is None else min(delay, left))


# ---------------------------------------------------------------------------------------------
# The task side of a deferred wait: the job operators and the sensor defer and resume here.
# ---------------------------------------------------------------------------------------------


_TASK_CONNECTION_SETTINGS = ("aws_conn_id", "region_name", "verify", "botocore_config")
"""The task's connection settings the trigger rebuilds its hook from (never a secret)."""


def defer_job_wait(
    task: AwsBaseOperator[Any] | AwsBaseSensor[Any],
    *,
    vault_name: str,
    job_id: str,
    account_id: str,
    wait: WaitSettings,
    notification_queue_url: str | None = None,
) -> NoReturn:
    """Hand the wait to :class:`GlacierJobTrigger` with the task's connection settings; resume in
    ``execute_complete``. With ``notification_queue_url`` the wait is a
    :class:`~airflow_glacier_select.triggers.notifications.GlacierJobNotificationTrigger` on
    that SQS queue instead, polling DescribeJob only as its slow fallback.

    The trigger stops at ``wait.max_wait``; Airflow's own deferral timeout comes a grace later,
    so the trigger's timeout event (naming the job and its last status) normally arrives first.
    """
    connection = {name: getattr(task, name) for name in _TASK_CONNECTION_SETTINGS}
    trigger = GlacierJobTrigger(
        vault_name=vault_name,
        job_id=job_id,
        account_id=account_id,
        poll_interval=wait.poll_interval,
        deadline=time.time() + wait.max_wait,
        **connection,
    )
    if notification_queue_url:
        from airflow_glacier_select.triggers.notifications import GlacierJobNotificationTrigger

        trigger = GlacierJobNotificationTrigger.instead_of(trigger, notification_queue_url)
    task.defer(
        trigger=trigger,
        method_name="execute_complete",
        timeout=timedelta(seconds=wait.max_wait + DEFERRAL_GRACE_SECONDS),
    )


class WaitOutcome(NamedTuple):
    """What a resumed task reads from the trigger's event."""

    status: str
    """``success``, ``failed``, ``timeout`` or ``error``."""
    vault_name: str
    job: JobDescription | None
    """The last description the trigger saw, if any."""
    message: str
    """One line for the task's failure: Glacier's StatusMessage for a failed job, else the trigger's."""


def wait_outcome(event: dict[str, Any] | None) -> WaitOutcome:
    """Read the trigger's event; a missing one fails as in the amazon provider's operators."""
    event = validate_execute_complete_event(event)
    job = JobDescription.from_response(event["job"]) if event.get("job") else None
    status, vault_name = str(event.get("status")), str(event.get("vault_name"))
    if status == "failed" and job is not None:
        return WaitOutcome(status, vault_name, job, job_failure_message(vault_name, job))
    message = f"Glacier job {event.get('job_id')} in vault {vault_name}: {event.get('message')}"
    return WaitOutcome(status, vault_name, job, message)
