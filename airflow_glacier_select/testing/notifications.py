"""Job-completion notifications on the local endpoint: Glacier's SNS messages, through moto's SNS.

When a job ends (Succeeded or Failed) Glacier publishes the job's DescribeJob JSON to
the job's ``SNSTopic`` (InitiateJob) and to the vault's notification topic when the
vault's configuration lists the job's event, ``ArchiveRetrievalCompleted`` or
``InventoryRetrievalCompleted`` (guide: "Configuring Vault Notifications in Amazon S3
Glacier", "Set Vault Notification Configuration (PUT notification-configuration)").
moto's SNS then delivers the message, in SNS's envelope, to subscribed SQS queues, all
on the same loopback endpoint.

Jobs complete lazily in the backend (when something looks at them). A job someone
will be notified about has nobody looking, so :func:`job_started` also schedules a
look at the moment its tier delay ends: the notification goes out exactly when
DescribeJob first says ``Completed``, whoever makes the job complete.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import weakref
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_glacier_select.testing.errors import invalid
from airflow_glacier_select.testing.models import LocalJob, LocalVault

if TYPE_CHECKING:
    from airflow_glacier_select.testing.backend import LocalGlacierBackend

__all__ = [
    "VAULT_EVENTS",
    "NotificationQueue",
    "VaultNotificationConfig",
    "install",
    "job_completed",
    "job_started",
    "notification_config",
    "notification_queue",
    "set_notification_config",
]

log = logging.getLogger(__name__)

VAULT_EVENTS = {
    "ArchiveRetrieval": "ArchiveRetrievalCompleted",
    "InventoryRetrieval": "InventoryRetrievalCompleted",
}
"""The vault event each job action raises when it ends (select jobs notify their SNSTopic only)."""

NOTIFICATION_PATH = "{0}/(?P<account_number>[^/]+)/vaults/(?P<vault_name>[^/]+)/notification-configuration$"


@dataclass(frozen=True)
class VaultNotificationConfig:
    """A vault's notification-configuration subresource: one topic and the events it receives."""

    sns_topic: str
    events: tuple[str, ...]

    @classmethod
    def from_request(cls, document: object) -> VaultNotificationConfig:
        """Validate the JSON body of SetVaultNotifications (``{"SNSTopic": ..., "Events": [...]}``)."""
        if not isinstance(document, dict):
            raise invalid("The notification configuration must be a JSON object with SNSTopic and Events")
        topic, events = document.get("SNSTopic"), document.get("Events")
        if not isinstance(topic, str) or not topic.startswith("arn:") or topic.count(":") != 5:
            raise invalid(f"Invalid SNSTopic: {topic!r}; must be an Amazon SNS topic ARN")
        known = sorted(set(VAULT_EVENTS.values()))
        if not isinstance(events, list) or not events or any(event not in known for event in events):
            raise invalid(f"Invalid Events: {events!r}; must list one or more of {', '.join(known)}")
        return cls(topic, tuple(dict.fromkeys(events)))

    def to_dict(self) -> dict[str, Any]:
        return {"SNSTopic": self.sns_topic, "Events": list(self.events)}


_CONFIGS: MutableMapping[LocalVault, VaultNotificationConfig] = weakref.WeakKeyDictionary()
"""Per vault object, so deleting (or resetting) a vault drops its configuration with it."""


def set_notification_config(vault: LocalVault, config: VaultNotificationConfig | None) -> None:
    if config is None:
        _CONFIGS.pop(vault, None)
    else:
        _CONFIGS[vault] = config


def notification_config(vault: LocalVault) -> VaultNotificationConfig | None:
    return _CONFIGS.get(vault)


def topics_for(vault: LocalVault, job: LocalJob) -> list[str]:
    """The topics a job's completion goes to: its own SNSTopic, then the vault's if the event matches."""
    topics = [job.request.sns_topic] if job.request.sns_topic else []
    config = _CONFIGS.get(vault)
    if config is not None and VAULT_EVENTS.get(job.action) in config.events:
        topics.append(config.sns_topic)
    return list(dict.fromkeys(topics))


def publish(topic_arn: str, message: str) -> bool:
    """Publish through moto's SNS in this process; a missing topic loses the message, as SNS would."""
    from moto.sns.models import sns_backends

    parts = topic_arn.split(":")
    try:
        sns_backends[parts[4]][parts[3]].publish(message, arn=topic_arn)
    except Exception as error:  # the service does not fail a job because its topic is gone
        log.debug("notification to %s not published: %s", topic_arn, error)
        return False
    return True


def job_completed(backend: LocalGlacierBackend, job: LocalJob) -> None:
    """Called once, when a job leaves InProgress: send its DescribeJob JSON to every topic that applies."""
    vault = backend.vaults.get(job.vault_arn.rsplit("/", 1)[-1])
    if vault is None:
        return
    topics = topics_for(vault, job)
    if topics:
        message = json.dumps(job.to_dict())
        for topic in topics:
            publish(topic, message)


def job_started(backend: LocalGlacierBackend, vault_name: str, job: LocalJob) -> None:
    """Have the job complete when its tier delay ends if anyone is to be notified of it."""
    vault = backend.vaults.get(vault_name)
    if vault is not None and topics_for(vault, job):
        _timer().schedule(job.due_at, lambda: backend.describe_job(vault_name, job.job_id))


class _CompletionTimer:
    """One daemon thread running due completions in order of their time (a heap, no thread per job)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Callable[[], object]]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="glacier-local-notifications", daemon=True)
        self._thread.start()

    def schedule(self, when: float, action: Callable[[], object]) -> None:
        with self._wake:
            heapq.heappush(self._heap, (when, next(self._order), action))
            if self._heap[0][2] is action:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._wake.wait(None if not self._heap else self._heap[0][0] - time.monotonic())
                _, _, action = heapq.heappop(self._heap)
            try:
                action()
            except Exception as error:  # the vault or job is gone (deleted, endpoint reset)
                log.debug("scheduled job completion skipped: %s", error)


_TIMER: _CompletionTimer | None = None
_TIMER_LOCK = threading.Lock()


def _timer() -> _CompletionTimer:
    global _TIMER
    with _TIMER_LOCK:
        if _TIMER is None:
            _TIMER = _CompletionTimer()
        return _TIMER


def install(url_paths: dict[str, Any]) -> None:
    """Serve the vault notification-configuration subresource (Set, Get and Delete Vault Notifications)."""
    from airflow_glacier_select.testing.notification_config import VaultNotificationsResponse

    url_paths[NOTIFICATION_PATH] = VaultNotificationsResponse.dispatch


@dataclass(frozen=True)
class NotificationQueue:
    """An SNS topic with an SQS queue subscribed to it, on one endpoint: what users set up in AWS."""

    topic_arn: str
    queue_url: str
    queue_arn: str


def notification_queue(endpoint: Any, name: str, *, visibility_timeout: int = 30) -> NotificationQueue:
    """Create topic ``name`` and queue ``name`` on ``endpoint`` (a Local or Remote endpoint), subscribed."""
    sns, sqs = endpoint.client("sns"), endpoint.client("sqs")
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility_timeout)})[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return NotificationQueue(topic_arn, queue_url, queue_arn)
