"""Deferrable wait for a Glacier job on its completion notification, with a slow DescribeJob safety net.

Glacier publishes a job's DescribeJob JSON to an SNS topic when the job ends (the job's
``SNSTopic``, or the vault's notification configuration); users subscribe an SQS queue
to that topic. Polling DescribeJob every minute costs 60 requests per job per hour,
which at thousands of concurrent jobs is a storm against a throttled API; waiting on
the queue costs nothing per job while it waits.

How the pieces fit:

* **One consumer per queue per event loop.** Every :class:`GlacierJobNotificationTrigger`
  waiting on the same queue (with the same connection settings) in one triggerer shares
  one :class:`QueueConsumer`, which long-polls ReceiveMessage (10 messages, 20 s) and
  routes each message (SNS envelope, then Glacier's JSON, then its ``JobId``) to the
  triggers waiting on that job. The last trigger to leave stops it.
* **What is deleted, what is left.** A message for a job some trigger here waits on is
  delivered and deleted (DeleteMessageBatch); so is a duplicate for a job whose wait
  finished here. A message for any other job is *left alone*: not deleted and its
  visibility not changed, so it reappears after the queue's visibility timeout for
  whichever triggerer waits on it. Setting its visibility to 0 instead would hand it
  straight back to this same consumer, whose long poll would then return at once on
  every call: a busy loop of ReceiveMessage requests for as long as the message lives.
  Messages nobody claims (jobs started outside Airflow) are best drained by the
  queue's redrive policy to a dead-letter queue.
* **A message is a hint; DescribeJob is the answer.** A terminal message (``Succeeded``
  or ``Failed``) is confirmed by one DescribeJob before the trigger fires: a queue can
  carry messages Glacier did not write (a test publish, a misconfigured policy), and a
  task should start a download only on Glacier's own word. The cost is one request per
  job, once. Messages that are not terminal (``InProgress``) are ignored.
* **Lost messages cannot strand a wait.** Each trigger also polls DescribeJob on its own
  every ``fallback_poll_interval`` (hourly by default, jittered 0.75-1.25x so thousands
  of waits do not poll together): on average at most one request per wait per hour.
  It also covers the one window in which a delivered message can be lost: the message
  is deleted once routed, so a triggerer that dies before its trigger's event is stored
  leaves the rebuilt trigger to the fallback poll.
* Like :class:`~airflow_glacier_select.triggers.glacier.GlacierJobTrigger`, whose event
  payload it fires and whose client sharing and backoff it reuses, it carries no secret
  in its kwargs, survives being rebuilt from them, and stops at its deadline.
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import re
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from airflow.providers.amazon.aws.hooks.sqs import SqsHook
from airflow.triggers.base import TriggerEvent

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.hooks.glacier import ErrorKind, classify_error
from airflow_glacier_select.job_rules import check_seconds
from airflow_glacier_select.jobs import JobDescription
from airflow_glacier_select.triggers.glacier import (
    ClientKey,
    GlacierJobTrigger,
    SharedGlacierClient,
    describe_error,
    shared_glacier_client,
)
from airflow_glacier_select.waiting import backoff_delay

DEFAULT_FALLBACK_POLL_INTERVAL = 3600.0
"""Seconds between a wait's own DescribeJob calls, the safety net for a lost notification."""

RECEIVE_BATCH = 10
"""ReceiveMessage's MaxNumberOfMessages: the most SQS hands out per call."""

RECEIVE_WAIT_SECONDS = 20
"""ReceiveMessage's WaitTimeSeconds: SQS's longest long poll, so an idle queue costs 3 requests a minute."""

RECEIVE_RETRY_CAP = 60.0
"""Longest pause between ReceiveMessage attempts while SQS is failing transiently."""

FINISHED_JOBS_REMEMBERED = 100_000
"""Jobs whose wait ended here whose duplicate notifications a consumer still recognises (and deletes)."""

_TERMINAL = ("Succeeded", "Failed")

log = logging.getLogger(__name__)
"""The consumers' logger: a consumer serves many triggers, so it logs to the triggerer, not to a task."""
_QUEUE_URL = re.compile(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?/\d{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?")


def check_queue_url(value: object, field: str = "queue_url") -> str:
    """An SQS queue URL as CreateQueue and GetQueueUrl return it (not a queue name, not an ARN)."""
    if not isinstance(value, str) or _QUEUE_URL.fullmatch(value) is None:
        raise GlacierValidationError(
            field,
            value,
            "must be an SQS queue URL, https://sqs.<region>.amazonaws.com/<12-digit account id>/<queue name>"
            " (a queue name of 1-80 letters, digits, - or _)",
        )
    return value


def glacier_notification(body: object) -> dict[str, Any] | None:
    """Glacier's job JSON in an SQS message body: inside SNS's envelope, or raw (raw message delivery).

    ``None`` when the body is not a Glacier job notification (no JSON object with a ``JobId``).
    """
    try:
        document = json.loads(body) if isinstance(body, str) else None
        if isinstance(document, dict) and document.get("Type") == "Notification":
            message = document.get("Message")
            document = json.loads(message) if isinstance(message, str) else None
    except ValueError:
        return None
    if not isinstance(document, dict) or not isinstance(document.get("JobId"), str):
        return None
    return document


# ---------------------------------------------------------------------------------------------
# One SQS consumer per (connection settings, queue URL) and event loop.
# ---------------------------------------------------------------------------------------------

ConsumerKey = tuple[ClientKey, str]
_ClientFactory = Callable[[], Awaitable[tuple[Any, Any]]]


class QueueUnavailableError(Exception):
    """ReceiveMessage failed in a way retrying cannot cure (no such queue, access denied ...)."""


class Inbox:
    """The notifications routed to one waiting trigger, in arrival order (kept small: one per wait)."""

    __slots__ = ("_waker", "error", "finished", "messages")

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.error: QueueUnavailableError | None = None
        self.finished = False
        self._waker: asyncio.Future[None] | None = None

    def put(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        self._wake()

    def fail(self, error: QueueUnavailableError) -> None:
        self.error = error
        self._wake()

    def _wake(self) -> None:
        if self._waker is not None and not self._waker.done():
            self._waker.set_result(None)

    async def get(self, timeout: float) -> dict[str, Any] | None:
        """The next notification, or ``None`` after ``timeout`` seconds without one."""
        if not self.messages and self.error is None and timeout > 0:
            loop = asyncio.get_running_loop()
            self._waker = loop.create_future()
            timer = loop.call_later(timeout, self._wake)  # lighter than asyncio.wait's set, task and future
            try:
                await self._waker
            finally:
                timer.cancel()
                self._waker = None
        if self.messages:
            return self.messages.pop(0)
        if self.error is not None:
            raise self.error
        return None


@dataclass(eq=False)
class QueueConsumer:
    """Long-polls one queue for every trigger on this loop waiting on it, and routes what arrives."""

    queue_url: str
    client: SharedGlacierClient
    inboxes: dict[str, list[Inbox]] = field(default_factory=dict)
    finished: collections.OrderedDict[str, None] = field(default_factory=collections.OrderedDict)
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    task: asyncio.Task[None] | None = None
    deleting: set[asyncio.Task[None]] = field(default_factory=set)

    def open(self, job_id: str) -> Inbox:
        inbox = Inbox()
        self.inboxes.setdefault(job_id, []).append(inbox)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._consume(), name=f"sqs:{self.queue_url}")
        return inbox

    def close(self, job_id: str, inbox: Inbox) -> None:
        waiting = self.inboxes.get(job_id, [])
        if inbox in waiting:
            waiting.remove(inbox)
        if not waiting:
            self.inboxes.pop(job_id, None)
        if inbox.finished:
            self.finished[job_id] = None
            self.finished.move_to_end(job_id)
            while len(self.finished) > FINISHED_JOBS_REMEMBERED:
                self.finished.popitem(last=False)

    async def stop(self) -> None:
        """Cancel the long poll in flight (its messages reappear after their visibility timeout)."""
        if self.task is not None:
            self.task.cancel()
            with suppress(asyncio.CancelledError):
                await self.task
        if self.deleting:  # delivered messages must not come back as strays
            await asyncio.wait(self.deleting)
        await self.client.close()

    async def _consume(self) -> None:
        failures = 0
        while self.inboxes:
            try:
                self.requests["ReceiveMessage"] += 1
                async with self.client.borrow() as sqs:
                    answer = await sqs.receive_message(
                        QueueUrl=self.queue_url,
                        MaxNumberOfMessages=RECEIVE_BATCH,
                        WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
                    )
            except Exception as error:
                if classify_error(error) is ErrorKind.FATAL:
                    self._fail_all(QueueUnavailableError(f"ReceiveMessage failed: {describe_error(error)}"))
                    return
                failures += 1
                delay = backoff_delay(failures, base=1.0, cap=RECEIVE_RETRY_CAP)
                log.warning(
                    "ReceiveMessage on %s failed (%s); attempt %d, retrying in %.2fs",
                    self.queue_url,
                    describe_error(error),
                    failures,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            failures = 0
            consumed = [message for message in answer.get("Messages", []) if self._route(message)]
            if consumed:
                # The next long poll goes out while the batch is deleted: one round trip per batch.
                deleting = asyncio.get_running_loop().create_task(self._delete(consumed))
                self.deleting.add(deleting)
                deleting.add_done_callback(self.deleting.discard)

    def _route(self, message: dict[str, Any]) -> bool:
        """Deliver one message; True when it is ours to delete."""
        notification = glacier_notification(message.get("Body"))
        if notification is None:
            return False  # not a Glacier job notification: someone else's business
        job_id = notification["JobId"]
        waiting = self.inboxes.get(job_id)
        if waiting:
            for inbox in waiting:
                inbox.put(notification)
            return True
        return job_id in self.finished  # a duplicate for a wait that ended here

    async def _delete(self, messages: list[dict[str, Any]]) -> None:
        entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        try:
            self.requests["DeleteMessageBatch"] += 1
            async with self.client.borrow() as sqs:
                answer = await sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except Exception as error:
            # Undeleted messages come back after their visibility timeout and are then
            # recognised as duplicates of finished waits: nothing is lost by not retrying.
            log.warning("DeleteMessageBatch on %s failed: %s", self.queue_url, describe_error(error))
            return
        for failed in answer.get("Failed", []):
            log.warning("SQS kept message %s: %s", failed.get("Id"), failed.get("Message", ""))

    def _fail_all(self, error: QueueUnavailableError) -> None:
        log.error("Notification queue %s: %s", self.queue_url, error)
        for waiting in self.inboxes.values():
            for inbox in waiting:
                inbox.fail(error)


_CONSUMERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[ConsumerKey, QueueConsumer]]
_CONSUMERS = weakref.WeakKeyDictionary()


def queue_consumers() -> dict[ConsumerKey, QueueConsumer]:
    """The consumers running on the current event loop (read by tests, benchmarks and diagnostics)."""
    return _CONSUMERS.get(asyncio.get_running_loop(), {})


class NotificationInbox:
    """Wait on ``job_id``'s notifications through the loop's consumer for ``key``, starting it if needed;
    the last wait to leave stops the consumer. (A class, not a generator: one exists per wait.)"""

    __slots__ = ("_consumer", "_inbox", "factory", "job_id", "key")

    def __init__(self, key: ConsumerKey, job_id: str, factory: _ClientFactory) -> None:
        self.key, self.job_id, self.factory = key, job_id, factory

    async def __aenter__(self) -> Inbox:
        consumers = _CONSUMERS.setdefault(asyncio.get_running_loop(), {})
        consumer = consumers.get(self.key)
        if consumer is None:
            consumer = consumers[self.key] = QueueConsumer(self.key[1], SharedGlacierClient(self.factory))
        self._consumer = consumer
        self._inbox = consumer.open(self.job_id)
        return self._inbox

    async def __aexit__(self, *exc_info: object) -> None:
        consumer = self._consumer
        consumer.close(self.job_id, self._inbox)
        if not consumer.inboxes:
            consumers = _CONSUMERS.get(asyncio.get_running_loop(), {})
            if consumers.get(self.key) is consumer:
                del consumers[self.key]
            await consumer.stop()


# ---------------------------------------------------------------------------------------------


class GlacierJobNotificationTrigger(GlacierJobTrigger):
    """Fire once when a Glacier job ends, learning of it from the job's SNS notification on an SQS queue.

    Fires the same single event as :class:`GlacierJobTrigger` (``status``, ``vault_name``,
    ``job_id``, ``job``, ``message``), so whatever defers to one resumes from the other.

    :param queue_url: the SQS queue subscribed to the job's (or vault's) notification topic.
    :param fallback_poll_interval: seconds between this wait's own DescribeJob calls, in case a
        notification is lost (jittered 0.75-1.25x).
    Other parameters as :class:`GlacierJobTrigger` (connection id only, never a secret).
    """

    def __init__(
        self,
        *,
        vault_name: str,
        job_id: str,
        queue_url: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        account_id: str = "-",
        fallback_poll_interval: float = DEFAULT_FALLBACK_POLL_INTERVAL,
        deadline: float | None = None,
    ) -> None:
        self.queue_url = check_queue_url(queue_url)
        super().__init__(
            vault_name=vault_name,
            job_id=job_id,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
            account_id=account_id,
            poll_interval=check_seconds("fallback_poll_interval", fallback_poll_interval),
            deadline=deadline,
        )

    @classmethod
    def instead_of(cls, trigger: GlacierJobTrigger, queue_url: str) -> GlacierJobNotificationTrigger:
        """The notification wait for the same job, connection and deadline as a polling trigger."""
        _, kwargs = trigger.serialize()
        kwargs.pop("poll_interval")
        return cls(queue_url=queue_url, **kwargs)

    @property
    def fallback_poll_interval(self) -> float:
        return self.poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        path, kwargs = super().serialize()
        kwargs["fallback_poll_interval"] = kwargs.pop("poll_interval")
        kwargs["queue_url"] = self.queue_url
        return path, kwargs

    def consumer_key(self) -> ConsumerKey:
        """Triggers whose keys are equal share one queue consumer on a loop."""
        return (self.client_key(), self.queue_url)

    async def _open_sqs(self) -> tuple[Any, Any]:
        hook = SqsHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )
        context = await hook.get_async_conn()
        client = await context.__aenter__()
        return context, client

    def _fallback_delay(self) -> float:
        return self.poll_interval * random.uniform(0.75, 1.25)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        self.log.info(
            "Waiting for Glacier job %s in vault %s on notifications from %s (DescribeJob every ~%gs)",
            self.job_id,
            self.vault_name,
            self.queue_url,
            self.poll_interval,
        )
        async with (
            shared_glacier_client(self.client_key(), self._open_client) as glacier,
            NotificationInbox(self.consumer_key(), self.job_id, self._open_sqs) as inbox,
        ):
            payload = await self._wait_for_notification(glacier, inbox)
            inbox.finished = payload["status"] in ("success", "failed")
        report = self.log.info if payload["status"] == "success" else self.log.warning
        report("Glacier job %s: %s", self.job_id, payload["message"])
        yield TriggerEvent(payload)

    async def _wait_for_notification(self, glacier: SharedGlacierClient, inbox: Inbox) -> dict[str, Any]:
        """Sleep until a notification or the next fallback poll; DescribeJob has the last word."""
        job: JobDescription | None = None
        failures = 0
        next_poll = time.monotonic() + self._fallback_delay()
        while True:
            left = self._seconds_left()
            if left is not None and left <= 0:
                return self._timeout_event(job)
            until_poll = next_poll - time.monotonic()
            try:
                notification = await inbox.get(until_poll if left is None else min(until_poll, left))
            except QueueUnavailableError as error:
                return self._event("error", job, f"notification queue {self.queue_url}: {error}")
            if notification is not None:
                status = notification.get("StatusCode")
                if status not in _TERMINAL:
                    self.log.debug("Ignoring a %s notification for job %s", status, self.job_id)
                    continue
                self.log.info("Notification: job %s %s; confirming with DescribeJob", self.job_id, status)
            elif time.monotonic() < next_poll:
                continue  # the deadline came first
            try:
                job = await self._look(glacier)
            except Exception as error:
                if classify_error(error) is ErrorKind.FATAL:
                    return self._event("error", job, f"DescribeJob failed: {describe_error(error)}")
                failures += 1
                next_poll = time.monotonic() + self._retry_delay(error, failures)
                continue
            failures = 0
            next_poll = time.monotonic() + self._fallback_delay()
            ended = self._end_event(job)
            if ended is not None:
                return ended
            if notification is not None:
                self.log.warning(
                    "A notification says job %s is %s but DescribeJob says %s; waiting on",
                    self.job_id,
                    notification.get("StatusCode"),
                    job.status_code,
                )
