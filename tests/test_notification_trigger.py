"""GlacierJobNotificationTrigger against the local endpoint's Glacier, SNS and SQS, over real aiobotocore.

Glacier publishes a job's DescribeJob JSON to SNS when the job ends (guide: "Configuring
Vault Notifications in Amazon S3 Glacier"; the job's own topic: "Initiate Job (POST
jobs)", SNSTopic); the endpoint's SNS delivers it to the subscribed queue the trigger
reads. Each test runs triggers the way a triggerer does (``run()`` on one event loop).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.testing.notifications import NotificationQueue, notification_queue
from airflow_glacier_select.triggers.glacier import GlacierJobTrigger
from airflow_glacier_select.triggers.notifications import (
    GlacierJobNotificationTrigger,
    glacier_notification,
    queue_consumers,
)

VAULT = "notified-vault"
HOUR = 3600.0


@pytest.fixture
def queue(glacier_endpoint: Any) -> NotificationQueue:
    glacier_endpoint.client().create_vault(vaultName=VAULT)
    glacier_endpoint.set_tier_delay("Inventory", 3600)  # jobs end when a test says so
    return notification_queue(glacier_endpoint, "glacier-jobs", visibility_timeout=1)


def start_job(endpoint: Any, topic_arn: str | None) -> str:
    params: dict[str, Any] = {"Type": "inventory-retrieval"}
    if topic_arn is not None:
        params["SNSTopic"] = topic_arn
    return str(endpoint.client().initiate_job(vaultName=VAULT, jobParameters=params)["jobId"])


def trigger_for(job_id: str, conn_id: str, queue_url: str, **extra: Any) -> GlacierJobNotificationTrigger:
    arguments: dict[str, Any] = {"fallback_poll_interval": HOUR, **extra}
    return GlacierJobNotificationTrigger(
        vault_name=VAULT, job_id=job_id, queue_url=queue_url, aws_conn_id=conn_id, **arguments
    )


async def first_event(trigger: GlacierJobTrigger, timeout: float = 30) -> dict[str, Any]:
    async def collect() -> dict[str, Any]:
        events: AsyncIterator[Any] = trigger.run()
        async for event in events:
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(collect(), timeout)


async def until(condition: Any, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not condition():
        assert loop.time() < end, "condition not reached"
        await asyncio.sleep(0.02)


def queued(endpoint: Any, queue_url: str) -> int:
    """Messages still in the queue, visible or being handled."""
    attributes = endpoint.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def publish_notification(endpoint: Any, topic_arn: str, job_id: str, status: str) -> None:
    """A message shaped like Glacier's, sent by someone else (a replay, a test, a forgery)."""
    document = {"JobId": job_id, "Action": "InventoryRetrieval", "StatusCode": status}
    document["Completed"] = status != "InProgress"
    endpoint.client("sns").publish(TopicArn=topic_arn, Message=json.dumps(document))


# --- delivery ----------------------------------------------------------------------------------


def test_completion_is_delivered_by_notification_and_confirmed_once(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    job_id = start_job(glacier_endpoint, queue.topic_arn)

    async def scenario() -> dict[str, Any]:
        waiting = asyncio.ensure_future(first_event(trigger_for(job_id, glacier_connection, queue.queue_url)))
        await until(lambda: glacier_endpoint.request_count("ReceiveMessage") >= 1)
        glacier_endpoint.complete_job(VAULT, job_id)
        return await waiting

    event = asyncio.run(scenario())

    assert event["status"] == "success"
    assert event["job"]["JobId"] == job_id and event["job"]["StatusCode"] == "Succeeded"
    # No DescribeJob while waiting: one, to confirm what the notification said.
    assert glacier_endpoint.request_count("DescribeJob") == 1
    assert glacier_endpoint.request_count("DeleteMessageBatch") == 1
    assert queued(glacier_endpoint, queue.queue_url) == 0


def test_vault_notification_configuration_delivers_without_a_job_topic(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    """ "Set Vault Notification Configuration (PUT notification-configuration)": the vault's topic
    gets InventoryRetrievalCompleted for a job started without SNSTopic."""
    glacier_endpoint.client().set_vault_notifications(
        vaultName=VAULT,
        vaultNotificationConfig={"SNSTopic": queue.topic_arn, "Events": ["InventoryRetrievalCompleted"]},
    )
    glacier_endpoint.set_tier_delay("Inventory", 0.3)  # ends on its own: the endpoint notifies on time
    job_id = start_job(glacier_endpoint, None)

    event = asyncio.run(first_event(trigger_for(job_id, glacier_connection, queue.queue_url)))

    assert event["status"] == "success"
    assert glacier_endpoint.request_count("DescribeJob") == 1


def test_failed_job_notification_fires_failed_with_the_status_message(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    job_id = start_job(glacier_endpoint, queue.topic_arn)
    glacier_endpoint.fail_job(VAULT, job_id, "The archive could not be read")

    event = asyncio.run(first_event(trigger_for(job_id, glacier_connection, queue.queue_url)))

    assert event["status"] == "failed"
    assert "The archive could not be read" in event["message"]
    assert event["job"]["StatusCode"] == "Failed"


# --- lost, duplicated, out of order, forged --------------------------------------------------


def test_fallback_poll_delivers_when_the_notification_is_lost(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    unsubscribed = glacier_endpoint.client("sns").create_topic(Name="nobody-listens")["TopicArn"]
    job_id = start_job(glacier_endpoint, unsubscribed)
    glacier_endpoint.complete_job(VAULT, job_id)  # its notification went to a topic with no queue

    trigger = trigger_for(job_id, glacier_connection, queue.queue_url, fallback_poll_interval=0.2)
    event = asyncio.run(first_event(trigger))

    assert event["status"] == "success"
    assert 1 <= glacier_endpoint.request_count("DescribeJob") <= 2


def test_fallback_poll_delivers_when_the_queue_was_purged(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    job_id = start_job(glacier_endpoint, queue.topic_arn)
    glacier_endpoint.complete_job(VAULT, job_id)
    glacier_endpoint.client("sqs").purge_queue(QueueUrl=queue.queue_url)

    trigger = trigger_for(job_id, glacier_connection, queue.queue_url, fallback_poll_interval=0.2)
    event = asyncio.run(first_event(trigger))

    assert event["status"] == "success"


def test_in_progress_forged_and_duplicate_notifications(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    first, second = start_job(glacier_endpoint, queue.topic_arn), start_job(glacier_endpoint, queue.topic_arn)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        one = asyncio.ensure_future(first_event(trigger_for(first, glacier_connection, queue.queue_url)))
        two = asyncio.ensure_future(first_event(trigger_for(second, glacier_connection, queue.queue_url)))
        await until(lambda: glacier_endpoint.request_count("ReceiveMessage") >= 1)
        # An InProgress-looking message is ignored without a request.
        publish_notification(glacier_endpoint, queue.topic_arn, first, "InProgress")
        await until(lambda: glacier_endpoint.request_count("DeleteMessageBatch") >= 1)
        assert glacier_endpoint.request_count("DescribeJob") == 0
        # A "Succeeded" Glacier did not send: DescribeJob says InProgress, so the wait goes on.
        publish_notification(glacier_endpoint, queue.topic_arn, first, "Succeeded")
        await until(lambda: glacier_endpoint.request_count("DescribeJob") >= 1)
        await asyncio.sleep(0.3)
        assert not one.done()
        glacier_endpoint.complete_job(VAULT, first)
        first_result = await one
        # A duplicate and a late InProgress for the finished wait are deleted, not left to cycle.
        deletes = glacier_endpoint.request_count("DeleteMessageBatch")
        publish_notification(glacier_endpoint, queue.topic_arn, first, "Succeeded")
        publish_notification(glacier_endpoint, queue.topic_arn, first, "InProgress")
        await until(lambda: queued(glacier_endpoint, queue.queue_url) == 0)
        assert glacier_endpoint.request_count("DeleteMessageBatch") > deletes
        glacier_endpoint.complete_job(VAULT, second)
        return first_result, await two

    one, two = asyncio.run(scenario())

    assert one["status"] == two["status"] == "success"
    assert one["job_id"] == first and two["job_id"] == second
    assert glacier_endpoint.request_count("DescribeJob") == 3  # forged, then one confirmation each


def test_notification_for_a_job_nobody_waits_on_is_left_in_the_queue(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    stranger, mine = (
        start_job(glacier_endpoint, queue.topic_arn),
        start_job(glacier_endpoint, queue.topic_arn),
    )
    glacier_endpoint.complete_job(VAULT, stranger)

    async def scenario() -> dict[str, Any]:
        waiting = asyncio.ensure_future(first_event(trigger_for(mine, glacier_connection, queue.queue_url)))
        await until(lambda: glacier_endpoint.request_count("ReceiveMessage") >= 2)
        glacier_endpoint.complete_job(VAULT, mine)
        return await waiting

    assert asyncio.run(scenario())["status"] == "success"

    answer = glacier_endpoint.client("sqs").receive_message(
        QueueUrl=queue.queue_url, WaitTimeSeconds=5, AttributeNames=["ApproximateReceiveCount"]
    )
    [message] = answer["Messages"]
    left = glacier_notification(message["Body"])
    assert left is not None and left["JobId"] == stranger
    assert int(message["Attributes"]["ApproximateReceiveCount"]) >= 2  # the consumer saw it, and left it


# --- sharing, rebuilding, stopping -----------------------------------------------------------------


def test_triggers_on_one_loop_share_one_consumer_which_stops_with_the_last(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    jobs = [start_job(glacier_endpoint, queue.topic_arn) for _ in range(3)]

    async def scenario() -> list[dict[str, Any]]:
        waits = [
            asyncio.ensure_future(first_event(trigger_for(j, glacier_connection, queue.queue_url)))
            for j in jobs
        ]
        await until(lambda: glacier_endpoint.request_count("ReceiveMessage") >= 1)
        [consumer] = queue_consumers().values()
        assert sorted(consumer.inboxes) == sorted(jobs)
        for job_id in jobs:
            glacier_endpoint.complete_job(VAULT, job_id)
        events = list(await asyncio.gather(*waits))
        assert queue_consumers() == {}
        assert consumer.task is not None and consumer.task.done()
        return events

    events = asyncio.run(scenario())

    assert [e["job_id"] for e in events] == jobs and {e["status"] for e in events} == {"success"}
    assert glacier_endpoint.request_count("DescribeJob") == 3


def test_trigger_rebuilt_from_its_serialised_kwargs_waits_the_same(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    job_id = start_job(glacier_endpoint, queue.topic_arn)
    original = trigger_for(job_id, glacier_connection, queue.queue_url, deadline=4102444800.0)
    classpath, kwargs = original.serialize()

    assert json.loads(json.dumps(kwargs)) == kwargs
    assert "testing" not in json.dumps(kwargs)  # the connection's secret never travels
    assert kwargs["queue_url"] == queue.queue_url and kwargs["fallback_poll_interval"] == HOUR
    module, name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module), name)(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)

    glacier_endpoint.complete_job(VAULT, job_id)
    assert asyncio.run(first_event(rebuilt))["status"] == "success"


def test_the_deadline_ends_the_wait(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    job_id = start_job(glacier_endpoint, queue.topic_arn)
    trigger = trigger_for(job_id, glacier_connection, queue.queue_url, deadline=time.time() + 0.5)

    event = asyncio.run(first_event(trigger))

    assert event["status"] == "timeout" and "at the deadline" in event["message"]
    assert glacier_endpoint.request_count("DescribeJob") == 0


# --- failures ---------------------------------------------------------------------------------


def test_transient_receive_failures_are_retried(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    job_id = start_job(glacier_endpoint, queue.topic_arn)
    glacier_endpoint.complete_job(VAULT, job_id)
    # (the endpoint's throttle fault speaks Glacier's error format, which SQS clients cannot read)
    glacier_endpoint.inject_fault("ReceiveMessage", "http503", count=1)
    glacier_endpoint.inject_fault("ReceiveMessage", "http500", count=1)

    event = asyncio.run(first_event(trigger_for(job_id, glacier_connection, queue.queue_url)))

    assert event["status"] == "success"
    assert glacier_endpoint.request_count("ReceiveMessage") >= 3
    assert glacier_endpoint.request_count("DescribeJob") == 1


def test_a_missing_queue_ends_the_wait_with_an_error_naming_it(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    job_id = start_job(glacier_endpoint, queue.topic_arn)
    missing = queue.queue_url.rsplit("/", 1)[0] + "/no-such-queue"

    event = asyncio.run(first_event(trigger_for(job_id, glacier_connection, missing)))

    assert event["status"] == "error"
    assert "no-such-queue" in event["message"] and "ReceiveMessage failed" in event["message"]


@pytest.mark.parametrize(
    "queue_url",
    [
        "glacier-jobs",  # a queue name
        "arn:aws:sqs:us-east-1:123456789012:glacier-jobs",  # an ARN
        "https://sqs.us-east-1.amazonaws.com/glacier-jobs",  # no account
        "https://sqs.us-east-1.amazonaws.com/12345/glacier-jobs",  # not a 12-digit account
        "https://sqs.us-east-1.amazonaws.com/123456789012/glacier jobs",  # a space in the name
        "",
        None,
    ],
)
def test_malformed_queue_url_is_refused_before_anything_is_sent(
    glacier_endpoint: Any, queue_url: Any
) -> None:
    with pytest.raises(GlacierValidationError, match=r"^queue_url: .* must be an SQS queue URL") as refused:
        GlacierJobNotificationTrigger(vault_name=VAULT, job_id="job", queue_url=queue_url)
    assert refused.value.field == "queue_url" and refused.value.value == queue_url
    assert glacier_endpoint.request_count() == 0


@pytest.mark.parametrize("interval", [0, -1, float("inf"), "3600", True, None])
def test_fallback_interval_must_be_positive_seconds(glacier_endpoint: Any, interval: Any) -> None:
    with pytest.raises(GlacierValidationError, match=r"^fallback_poll_interval: .* above 0"):
        GlacierJobNotificationTrigger(
            vault_name=VAULT,
            job_id="job",
            queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/glacier-jobs",
            fallback_poll_interval=interval,
        )
    assert glacier_endpoint.request_count() == 0


def test_two_triggerers_each_get_their_jobs_notification_from_one_queue(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    """Two event loops (two triggerers) read one queue; each leaves the other's message for it."""
    import threading

    jobs = [start_job(glacier_endpoint, queue.topic_arn) for _ in range(2)]
    events: dict[str, dict[str, Any]] = {}

    def triggerer(job_id: str) -> None:
        events[job_id] = asyncio.run(first_event(trigger_for(job_id, glacier_connection, queue.queue_url)))

    threads = [threading.Thread(target=triggerer, args=(job_id,)) for job_id in jobs]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while glacier_endpoint.request_count("ReceiveMessage") < 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    for job_id in jobs:
        glacier_endpoint.complete_job(VAULT, job_id)
    for thread in threads:
        thread.join(timeout=30)

    assert {job_id: event["status"] for job_id, event in events.items()} == dict.fromkeys(jobs, "success")
    assert glacier_endpoint.request_count("DescribeJob") == 2
    assert queued(glacier_endpoint, queue.queue_url) == 0


def test_a_cancelled_wait_stops_the_consumer_it_was_the_last_on(
    glacier_endpoint: Any, glacier_connection: str, queue: NotificationQueue
) -> None:
    """Airflow cancels a trigger whose task was cleared or timed out: nothing may keep polling."""
    job_id = start_job(glacier_endpoint, queue.topic_arn)

    async def scenario() -> None:
        waiting = asyncio.ensure_future(first_event(trigger_for(job_id, glacier_connection, queue.queue_url)))
        await until(lambda: glacier_endpoint.request_count("ReceiveMessage") >= 1)
        [consumer] = queue_consumers().values()
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert queue_consumers() == {}
        assert consumer.task is not None and consumer.task.done()

    asyncio.run(scenario())
    receives = glacier_endpoint.request_count("ReceiveMessage")
    time.sleep(0.5)
    assert glacier_endpoint.request_count("ReceiveMessage") == receives
