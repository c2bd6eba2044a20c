"""The endpoint's job-completion notifications: Glacier's DescribeJob JSON, through SNS, into SQS.

Guide pages followed: "Configuring Vault Notifications in Amazon S3 Glacier" (the message is
the job's DescribeJob output, sent when the job completes, Succeeded or Failed), "Set Vault
Notification Configuration (PUT notification-configuration)", "Get Vault Notifications (GET
notification-configuration)", "Delete Vault Notifications (DELETE notification-configuration)"
and "Initiate Job (POST jobs)" (SNSTopic).
"""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
import pytest

from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.testing.notifications import NotificationQueue, notification_queue

from .helpers import start_job

VAULT = "notifications"


@pytest.fixture
def queue(glacier_endpoint: LocalGlacierEndpoint) -> NotificationQueue:
    glacier_endpoint.client().create_vault(vaultName=VAULT)
    glacier_endpoint.set_tier_delay("Inventory", 3600)
    return notification_queue(glacier_endpoint, "jobs")


def received(endpoint: LocalGlacierEndpoint, queue: NotificationQueue, wait: int = 5) -> list[dict[str, Any]]:
    """Every message the queue holds, as SNS delivered it (the envelope, with Glacier's JSON inside)."""
    sqs = endpoint.client("sqs")
    answer = sqs.receive_message(QueueUrl=queue.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait)
    messages = answer.get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=queue.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"]) for message in messages]


def without_nulls(value: Any) -> Any:
    """JSON as boto3 parses it: null members are left out."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    return value


def configure(endpoint: LocalGlacierEndpoint, topic: str, *events: str) -> None:
    endpoint.client().set_vault_notifications(
        vaultName=VAULT, vaultNotificationConfig={"SNSTopic": topic, "Events": list(events)}
    )


def test_job_topic_gets_the_describe_job_json_when_the_tier_delay_ends(
    glacier_endpoint: LocalGlacierEndpoint, queue: NotificationQueue
) -> None:
    glacier_endpoint.set_tier_delay("Inventory", 0.3)
    job_id = start_job(glacier_endpoint, VAULT, Type="inventory-retrieval", SNSTopic=queue.topic_arn)

    [envelope] = received(glacier_endpoint, queue)

    # Nobody asked DescribeJob: the job completed, and notified, when its delay ended.
    assert glacier_endpoint.request_count("DescribeJob") == 0
    assert envelope["Type"] == "Notification" and envelope["TopicArn"] == queue.topic_arn
    message = json.loads(envelope["Message"])
    described = glacier_endpoint.client().describe_job(vaultName=VAULT, jobId=job_id)
    described.pop("ResponseMetadata")
    assert without_nulls(message) == described
    assert message["Action"] == "InventoryRetrieval" and message["JobId"] == job_id
    assert message["StatusCode"] == "Succeeded" and message["Completed"] is True
    assert message["CompletionDate"] and message["SNSTopic"] == queue.topic_arn
    assert received(glacier_endpoint, queue, wait=1) == []  # exactly one message


def test_the_message_goes_out_when_describe_job_first_says_completed(
    glacier_endpoint: LocalGlacierEndpoint, queue: NotificationQueue
) -> None:
    job_id = start_job(glacier_endpoint, VAULT, Type="inventory-retrieval", SNSTopic=queue.topic_arn)
    glacier = glacier_endpoint.client()
    assert glacier.describe_job(vaultName=VAULT, jobId=job_id)["Completed"] is False
    assert received(glacier_endpoint, queue, wait=0) == []

    glacier_endpoint.complete_job(VAULT, job_id)

    assert glacier.describe_job(vaultName=VAULT, jobId=job_id)["Completed"] is True
    [envelope] = received(glacier_endpoint, queue, wait=0)
    assert json.loads(envelope["Message"])["JobId"] == job_id


def test_a_failed_job_is_notified_with_its_status_message(
    glacier_endpoint: LocalGlacierEndpoint, queue: NotificationQueue
) -> None:
    job_id = start_job(glacier_endpoint, VAULT, Type="inventory-retrieval", SNSTopic=queue.topic_arn)

    glacier_endpoint.fail_job(VAULT, job_id, "Vault inventory is not available")

    [envelope] = received(glacier_endpoint, queue)
    message = json.loads(envelope["Message"])
    assert (message["StatusCode"], message["StatusMessage"]) == ("Failed", "Vault inventory is not available")
    assert message["Completed"] is True


def test_vault_topic_gets_only_the_events_its_configuration_lists(
    glacier_endpoint: LocalGlacierEndpoint, queue: NotificationQueue
) -> None:
    archive_id = glacier_endpoint.put_archive(VAULT, b"archive bytes")
    configure(glacier_endpoint, queue.topic_arn, "InventoryRetrievalCompleted")
    archive_job = start_job(glacier_endpoint, VAULT, Type="archive-retrieval", ArchiveId=archive_id)
    inventory_job = start_job(glacier_endpoint, VAULT, Type="inventory-retrieval")

    glacier_endpoint.complete_job(VAULT, archive_job)
    glacier_endpoint.complete_job(VAULT, inventory_job)

    messages = [json.loads(envelope["Message"]) for envelope in received(glacier_endpoint, queue)]
    assert [m["JobId"] for m in messages] == [inventory_job]
    assert messages[0]["SNSTopic"] is None  # notified through the vault, not the job


def test_a_job_topic_that_is_also_the_vault_topic_gets_one_message(
    glacier_endpoint: LocalGlacierEndpoint, queue: NotificationQueue
) -> None:
    configure(glacier_endpoint, queue.topic_arn, "InventoryRetrievalCompleted", "ArchiveRetrievalCompleted")
    job_id = start_job(glacier_endpoint, VAULT, Type="inventory-retrieval", SNSTopic=queue.topic_arn)

    glacier_endpoint.complete_job(VAULT, job_id)

    assert len(received(glacier_endpoint, queue)) == 1


def test_set_get_and_delete_the_vault_notification_configuration(
    glacier_endpoint: LocalGlacierEndpoint, queue: NotificationQueue
) -> None:
    glacier = glacier_endpoint.client()
    with pytest.raises(glacier.exceptions.ResourceNotFoundException) as unset:
        glacier.get_vault_notifications(vaultName=VAULT)
    assert unset.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    answer = glacier.set_vault_notifications(
        vaultName=VAULT,
        vaultNotificationConfig={"SNSTopic": queue.topic_arn, "Events": ["ArchiveRetrievalCompleted"]},
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert glacier.get_vault_notifications(vaultName=VAULT)["vaultNotificationConfig"] == {
        "SNSTopic": queue.topic_arn,
        "Events": ["ArchiveRetrievalCompleted"],
    }

    assert glacier.delete_vault_notifications(vaultName=VAULT)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(glacier.exceptions.ResourceNotFoundException):
        glacier.get_vault_notifications(vaultName=VAULT)


@pytest.mark.parametrize(
    ("config", "refusal"),
    [
        ({"SNSTopic": "TOPIC", "Events": ["ArchiveRetrievalCompleted"]}, "Invalid SNSTopic: 'TOPIC'"),
        ({"Events": ["ArchiveRetrievalCompleted"]}, "Invalid SNSTopic: None"),
        ({"SNSTopic": "THE_TOPIC", "Events": ["JobCompleted"]}, "Invalid Events: ['JobCompleted']"),
        ({"SNSTopic": "THE_TOPIC", "Events": []}, "Invalid Events: []"),
    ],
)
def test_a_bad_configuration_is_refused_and_the_old_one_kept(
    glacier_endpoint: LocalGlacierEndpoint, queue: NotificationQueue, config: dict[str, Any], refusal: str
) -> None:
    glacier = glacier_endpoint.client()
    configure(glacier_endpoint, queue.topic_arn, "InventoryRetrievalCompleted")
    if config.get("SNSTopic") == "THE_TOPIC":
        config["SNSTopic"] = queue.topic_arn

    with pytest.raises(glacier.exceptions.InvalidParameterValueException, match=refusal.replace("[", r"\[")):
        glacier.set_vault_notifications(vaultName=VAULT, vaultNotificationConfig=config)

    assert glacier.get_vault_notifications(vaultName=VAULT)["vaultNotificationConfig"]["Events"] == [
        "InventoryRetrievalCompleted"
    ]


def test_notification_configuration_of_a_missing_vault_is_not_found(
    glacier_endpoint: LocalGlacierEndpoint, queue: NotificationQueue
) -> None:
    glacier = glacier_endpoint.client()
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        glacier.get_vault_notifications(vaultName="no-such-vault")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
