"""GlacierJobTrigger against the local Glacier endpoint, over real aiobotocore HTTP.

Each test runs the trigger the way a triggerer does (its ``run()`` on an event loop)
and checks the single event it fires, what the endpoint was asked, and what was logged.
botocore's own retries are switched off (``total_max_attempts: 1``) wherever a fault is
injected, so the retries observed are the trigger's, not botocore's.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import botocore.exceptions
import pytest
import structlog
from botocore.stub import Stubber
from structlog.testing import capture_logs

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.triggers import glacier as trigger_module
from airflow_glacier_select.triggers.glacier import (
    ErrorKind,
    GlacierJobTrigger,
    classify_error,
    shared_clients,
)
from airflow_glacier_select.waiting import backoff_delay

POLL = 0.02
NO_BOTOCORE_RETRIES = {"retries": {"mode": "standard", "total_max_attempts": 1}}
VAULT = "trigger-vault"
TRIGGER_LOGGER = "airflow_glacier_select.triggers.glacier.GlacierJobTrigger"


def client_error(code: str, status: int = 400) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "DescribeJob",
    )


@pytest.fixture
def trigger_log(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[str], list[str]]]:
    """The trigger's log messages at a level ("info", "warning"), whichever logging backend is in use:
    Airflow 3.0 logs a trigger through the standard library, later releases through structlog."""
    caplog.set_level(logging.DEBUG, logger=TRIGGER_LOGGER)
    with capture_logs(processors=[structlog.stdlib.add_logger_name]) as structured:

        def messages(level: str) -> list[str]:
            standard = [
                r.getMessage()
                for r in caplog.records
                if r.name == TRIGGER_LOGGER and r.levelname.lower() == level
            ]
            return standard + [
                str(entry["event"])
                for entry in structured
                if entry.get("logger") == TRIGGER_LOGGER and entry.get("log_level") == level
            ]

        yield messages


# --- pure parts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (client_error("ThrottlingException"), ErrorKind.TRANSIENT),
        (client_error("RequestLimitExceeded"), ErrorKind.TRANSIENT),
        (client_error("ServiceUnavailableException", 503), ErrorKind.TRANSIENT),
        (client_error("SomethingNew", 502), ErrorKind.TRANSIENT),
        (client_error("ExpiredTokenException", 403), ErrorKind.EXPIRED_CREDENTIALS),
        (client_error("ExpiredToken", 400), ErrorKind.EXPIRED_CREDENTIALS),
        (client_error("ResourceNotFoundException", 404), ErrorKind.FATAL),
        (client_error("AccessDeniedException", 403), ErrorKind.FATAL),
        (client_error("InvalidParameterValueException"), ErrorKind.FATAL),
        (botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"), ErrorKind.TRANSIENT),
        (botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"), ErrorKind.TRANSIENT),
        (ConnectionResetError(104, "reset"), ErrorKind.TRANSIENT),
        (asyncio.TimeoutError(), ErrorKind.TRANSIENT),
        (KeyError("JobId"), ErrorKind.FATAL),
    ],
    ids=lambda value: value.name if isinstance(value, ErrorKind) else type(value).__name__,
)
def test_classify_error(error: BaseException, kind: ErrorKind) -> None:
    assert classify_error(error) is kind


def test_backoff_doubles_from_base_until_the_cap_with_half_of_each_step_jittered() -> None:
    lowest = [backoff_delay(n, base=1.0, cap=8.0, uniform=lambda: 0.0) for n in range(1, 7)]
    highest = [backoff_delay(n, base=1.0, cap=8.0, uniform=lambda: 1.0) for n in range(1, 7)]
    assert lowest == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert highest == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert backoff_delay(10_000, base=1.0, cap=60.0, uniform=lambda: 1.0) == 60.0
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(0, base=1.0, cap=8.0)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"vault_name": "no spaces allowed"}, "vaultName"),
        ({"vault_name": ""}, "vaultName"),
        ({"job_id": ""}, "jobId"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"poll_interval": "60"}, "poll_interval"),
        ({"deadline": "tomorrow"}, "deadline"),
        ({"account_id": "12-34"}, "accountId"),
    ],
)
def test_bad_arguments_are_refused_when_the_trigger_is_built(
    overrides: dict[str, Any], field: str, glacier_endpoint: Any
) -> None:
    arguments = {"vault_name": VAULT, "job_id": "job", "aws_conn_id": None, **overrides}
    with pytest.raises(GlacierValidationError) as raised:
        GlacierJobTrigger(**arguments)
    assert raised.value.field == field
    assert glacier_endpoint.request_count() == 0


# --- against the endpoint -----------------------------------------------------------------------


def new_job(endpoint: Any, region: str = "us-east-1") -> str:
    """An inventory job that stays InProgress until the test ends it (a delay of an hour)."""
    endpoint.set_tier_delay("Inventory", 3600)
    client = endpoint.client(region_name=region)
    client.create_vault(vaultName=VAULT)
    return str(client.initiate_job(vaultName=VAULT, jobParameters={"Type": "inventory-retrieval"})["jobId"])


def make_trigger(conn_id: str, job_id: str, **overrides: Any) -> GlacierJobTrigger:
    arguments: dict[str, Any] = {
        "vault_name": VAULT,
        "job_id": job_id,
        "aws_conn_id": conn_id,
        "poll_interval": POLL,
        "botocore_config": NO_BOTOCORE_RETRIES,
        **overrides,
    }
    return GlacierJobTrigger(**arguments)


async def collect(trigger: GlacierJobTrigger) -> list[dict[str, Any]]:
    return [event.payload async for event in trigger.run()]


async def when(condition: Callable[[], bool], then: Callable[[], Any]) -> None:
    """Run ``then`` (in a thread: endpoint controls are blocking) once ``condition`` holds."""
    while not await asyncio.to_thread(condition):
        await asyncio.sleep(POLL / 2)
    await asyncio.to_thread(then)


def run_with(trigger: GlacierJobTrigger, *side: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    """Run the trigger (and side coroutines) on a fresh loop; it must fire exactly one event."""

    async def main() -> list[dict[str, Any]]:
        helpers = [asyncio.ensure_future(coroutine()) for coroutine in side]
        try:
            return await asyncio.wait_for(collect(trigger), timeout=60)
        finally:
            for helper in helpers:
                helper.cancel()

    events = asyncio.run(main())
    assert len(events) == 1, events
    return events[0]


def test_success_after_polling_while_in_progress(
    glacier_endpoint: Any, glacier_connection: str, trigger_log: Callable[[str], list[str]]
) -> None:
    job_id = new_job(glacier_endpoint)

    event = run_with(
        make_trigger(glacier_connection, job_id),
        lambda: when(
            lambda: glacier_endpoint.request_count("DescribeJob") >= 3,
            lambda: glacier_endpoint.complete_job(VAULT, job_id),
        ),
    )

    assert event["status"] == "success"
    assert (event["vault_name"], event["job_id"]) == (VAULT, job_id)
    assert event["job"]["JobId"] == job_id
    assert event["job"]["StatusCode"] == "Succeeded"
    assert event["job"]["Action"] == "InventoryRetrieval"
    json.dumps(event)  # the payload crosses process boundaries as JSON
    # Concise: start, each status change, outcome; nothing per poll at INFO.
    infos = trigger_log("info")
    assert len(infos) == 4, infos
    assert "InProgress" in infos[1] and "Succeeded" in infos[2] and "succeeded" in infos[3]
    assert glacier_endpoint.request_count("DescribeJob") >= 4


def test_failed_job_carries_glacier_status_message(glacier_endpoint: Any, glacier_connection: str) -> None:
    job_id = new_job(glacier_endpoint)
    glacier_endpoint.fail_job(VAULT, job_id, "Archive retrieval failed: archive is corrupt")

    event = run_with(make_trigger(glacier_connection, job_id))

    assert event["status"] == "failed"
    assert event["job"]["StatusCode"] == "Failed"
    assert event["job"]["StatusMessage"] == "Archive retrieval failed: archive is corrupt"
    assert "archive is corrupt" in event["message"]


@pytest.mark.parametrize("kind", ["throttle", "http500", "http503", "reset"])
def test_transient_faults_are_retried_with_backoff_until_success(
    kind: str, glacier_endpoint: Any, glacier_connection: str, trigger_log: Callable[[str], list[str]]
) -> None:
    job_id = new_job(glacier_endpoint)
    glacier_endpoint.complete_job(VAULT, job_id)
    glacier_endpoint.inject_fault("DescribeJob", kind, count=4)

    event = run_with(make_trigger(glacier_connection, job_id))

    assert event["status"] == "success", event
    assert glacier_endpoint.request_count("DescribeJob") == 5
    retries = trigger_log("warning")
    assert [f"attempt {n}," in line for n, line in enumerate(retries, 1)] == [True] * 4, retries


def test_deadline_reached_while_in_progress(glacier_endpoint: Any, glacier_connection: str) -> None:
    job_id = new_job(glacier_endpoint)

    event = run_with(make_trigger(glacier_connection, job_id, deadline=time.time() + 5 * POLL))

    assert event["status"] == "timeout"
    assert event["job"]["StatusCode"] == "InProgress"
    assert "deadline" in event["message"]


def test_deadline_holds_while_every_call_is_throttled(
    glacier_endpoint: Any, glacier_connection: str, trigger_log: Callable[[str], list[str]]
) -> None:
    job_id = new_job(glacier_endpoint)
    glacier_endpoint.inject_fault("DescribeJob", "throttle", count=10_000)

    event = run_with(make_trigger(glacier_connection, job_id, deadline=time.time() + 10 * POLL))

    assert event["status"] == "timeout"
    assert event["job"] is None  # never described
    assert "not yet described" in event["message"]
    # Every throttled call was retried (one warning each), none ended the wait as an error.
    assert len(trigger_log("warning")) == glacier_endpoint.request_count("DescribeJob") + 1
    assert trigger_log("warning")[-1].endswith(event["message"])


def test_deadline_already_passed_still_reports_a_finished_job(
    glacier_endpoint: Any, glacier_connection: str
) -> None:
    job_id = new_job(glacier_endpoint)
    glacier_endpoint.complete_job(VAULT, job_id)

    event = run_with(make_trigger(glacier_connection, job_id, deadline=time.time() - 1))

    assert event["status"] == "success"


def test_unknown_job_is_an_error_without_retries(glacier_endpoint: Any, glacier_connection: str) -> None:
    new_job(glacier_endpoint)

    event = run_with(make_trigger(glacier_connection, "NO-SUCH-JOB"))

    assert event["status"] == "error"
    assert event["job"] is None
    assert "ResourceNotFoundException" in event["message"]
    assert glacier_endpoint.request_count("DescribeJob") == 1


def test_a_closed_account_is_named_as_such_without_retries(
    glacier_endpoint: Any, glacier_connection: str
) -> None:
    """Error Responses: NoLongerSupportedException, the vault service closed to the account."""
    job_id = new_job(glacier_endpoint)
    glacier_endpoint.inject_fault("DescribeJob", "no-longer-supported", count=10)

    event = run_with(make_trigger(glacier_connection, job_id))

    assert event["status"] == "error"
    assert "closed to new customers" in event["message"]
    assert "NoLongerSupportedException" in event["message"]
    assert glacier_endpoint.request_count("DescribeJob") == 1


def test_serialize_round_trip_into_a_new_trigger_that_completes(
    glacier_endpoint: Any, glacier_connection: str
) -> None:
    job_id = new_job(glacier_endpoint)
    original = make_trigger(
        glacier_connection,
        job_id,
        region_name="us-east-1",
        verify=False,
        account_id="-",
        deadline=time.time() + 600,
    )

    classpath, kwargs = original.serialize()
    kwargs = json.loads(json.dumps(kwargs))  # what crosses into the triggerer's database row
    module_name, class_name = classpath.rsplit(".", 1)
    rebuilt = getattr(importlib.import_module(module_name), class_name)(**kwargs)

    assert type(rebuilt) is GlacierJobTrigger
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs == {
        "vault_name": VAULT,
        "job_id": job_id,
        "aws_conn_id": glacier_connection,
        "region_name": "us-east-1",
        "verify": False,
        "botocore_config": NO_BOTOCORE_RETRIES,
        "account_id": "-",
        "poll_interval": POLL,
        "deadline": original.deadline,
    }
    glacier_endpoint.complete_job(VAULT, job_id)
    assert run_with(rebuilt)["status"] == "success"


def test_serialize_holds_no_secret(
    glacier_endpoint: Any, glacier_connection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret, session_token = "wJalrXUtnFEMI-not-a-real-secret", "FwoGZXIvYXdzEXAMPLETOKEN"
    connection = {
        "conn_type": "aws",
        "login": "AKIAEXAMPLEKEYID0001",
        "password": secret,
        "extra": {
            "endpoint_url": glacier_endpoint.url,
            "region_name": "us-east-1",
            "aws_session_token": session_token,
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_GLACIER_WITH_SECRET", json.dumps(connection))
    job_id = new_job(glacier_endpoint)
    trigger = make_trigger("glacier_with_secret", job_id)

    serialized = json.dumps(trigger.serialize())

    assert "glacier_with_secret" in serialized
    for value in (secret, session_token, "AKIAEXAMPLEKEYID0001", glacier_endpoint.url):
        assert value not in serialized
    glacier_endpoint.complete_job(VAULT, job_id)
    assert run_with(trigger)["status"] == "success"  # the id alone is enough to reach the vault


def count_client_builds(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Record every aiobotocore client a trigger builds (by connection id); building stays real."""
    builds: list[str | None] = []
    real_open = GlacierJobTrigger._open_client

    async def open_and_count(self: GlacierJobTrigger) -> tuple[Any, Any]:
        builds.append(self.aws_conn_id)
        return await real_open(self)

    monkeypatch.setattr(GlacierJobTrigger, "_open_client", open_and_count)
    return builds


def test_triggers_on_one_loop_share_one_client_per_connection(
    glacier_endpoint: Any, glacier_connection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = count_client_builds(monkeypatch)
    jobs = [new_job(glacier_endpoint) for _ in range(5)] + [new_job(glacier_endpoint, region="eu-west-1")]
    same = [make_trigger(glacier_connection, job_id) for job_id in jobs[:5]]
    other_region = make_trigger(glacier_connection, jobs[5], region_name="eu-west-1")
    sharing: list[int] = []

    async def main() -> list[list[dict[str, Any]]]:
        async def finish_when_all_polled() -> None:
            while glacier_endpoint.request_count("DescribeJob") < 12:
                await asyncio.sleep(POLL / 2)
            sharing.extend(shared.references for shared in shared_clients().values())
            for job_id in jobs:
                await asyncio.to_thread(glacier_endpoint.complete_job, VAULT, job_id)

        *events, _ = await asyncio.gather(
            *(collect(t) for t in [*same, other_region]), finish_when_all_polled()
        )
        assert shared_clients() == {}  # the last trigger out closed the clients
        return events

    events = asyncio.run(main())

    assert [batch[0]["status"] for batch in events] == ["success"] * 6
    assert sorted(sharing) == [1, 5]
    assert builds == [glacier_connection, glacier_connection]  # one per (connection, region)


def test_expired_token_rebuilds_the_client_and_the_wait_goes_on(
    glacier_endpoint: Any, glacier_connection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first client's credentials have expired (botocore's Stubber answers for AWS); the
    trigger drops it, builds a fresh one from the connection and finishes against the endpoint."""
    job_id = new_job(glacier_endpoint)
    glacier_endpoint.complete_job(VAULT, job_id)
    real_open = GlacierJobTrigger._open_client
    clients: list[Any] = []

    async def open_first_expired(self: GlacierJobTrigger) -> tuple[Any, Any]:
        context, client = await real_open(self)
        if not clients:
            stubber = Stubber(client)
            stubber.add_client_error(
                "describe_job",
                service_error_code="ExpiredTokenException",
                service_message="The security token included in the request is expired",
                http_status_code=403,
            )
            stubber.activate()
        clients.append(client)
        return context, client

    monkeypatch.setattr(GlacierJobTrigger, "_open_client", open_first_expired)

    event = run_with(make_trigger(glacier_connection, job_id))

    assert event["status"] == "success"
    assert len(clients) == 2 and clients[0] is not clients[1]
    assert glacier_endpoint.request_count("DescribeJob") == 1  # only the fresh client reached it


def test_the_module_keeps_no_client_once_triggers_end(glacier_endpoint: Any, glacier_connection: str) -> None:
    job_id = new_job(glacier_endpoint)
    glacier_endpoint.complete_job(VAULT, job_id)

    async def main() -> dict[Any, Any]:
        await collect(make_trigger(glacier_connection, job_id))
        return dict(trigger_module.shared_clients())

    assert asyncio.run(main()) == {}
