"""What the job operators decide when a DAG file is parsed: static mistakes fail there.

A parse-time error is the cheapest one: the DAG never runs, so no request is sent
and no job is paid for. The errors are the job model's own, naming field, value and rule.
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from airflow.sdk import DAG, task

from airflow_glacier_select import get_provider_info
from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.links import GlacierVaultLink
from airflow_glacier_select.operators.glacier import (
    GlacierArchiveRetrievalOperator,
    GlacierInventoryRetrievalOperator,
    GlacierJobOperator,
    GlacierSelectOperator,
)
from tests.support.waiter_cases import Refused, assert_refused, mapped_cases, refused_cases

ARCHIVE_ID = "A" * 138
SELECT = {
    "archive_id": ARCHIVE_ID,
    "expression": "SELECT * FROM archive",
    "output_bucket": "results",
    "output_prefix": "out",
}
ALL_GRANTEES = {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}

INVALID = [
    pytest.param(
        GlacierArchiveRetrievalOperator,
        {"archive_id": ARCHIVE_ID, "retrieval_byte_range": "1-1048575"},
        "RetrievalByteRange: '1-1048575' start must be divisible by 1 MiB (1048576)",
        id="byte-range",
    ),
    pytest.param(
        GlacierArchiveRetrievalOperator,
        {"archive_id": ARCHIVE_ID, "tier": "Fast"},
        "Tier: 'Fast' is not one of Expedited, Standard, Bulk",
        id="tier",
    ),
    pytest.param(
        GlacierArchiveRetrievalOperator,
        {"archive_id": ""},
        "ArchiveId: '' must not be empty",
        id="archive-id",
    ),
    pytest.param(
        GlacierInventoryRetrievalOperator,
        {"format": "XML"},
        "Format: 'XML' is not one of JSON, CSV",
        id="inventory-format",
    ),
    pytest.param(
        GlacierInventoryRetrievalOperator,
        {"inventory_start_date": "2024-02-01T00:00:00Z", "inventory_end_date": "2024-01-01T00:00:00Z"},
        "InventoryRetrievalParameters.EndDate: '2024-01-01T00:00:00Z' must be after StartDate "
        "('2024-02-01T00:00:00Z')",
        id="inventory-window",
    ),
    pytest.param(
        GlacierInventoryRetrievalOperator,
        {"description": "caf\u00e9"},
        "Description: 'caf\u00e9' must be printable ASCII (0x20-0x7E)",
        id="description-charset",
    ),
    pytest.param(
        GlacierSelectOperator,
        {**SELECT, "output_bucket": "Bad Bucket"},
        "OutputLocation.S3.BucketName: 'Bad Bucket' must be 3-63 characters of lowercase letters, digits, "
        "'.' and '-', starting and ending with a letter or digit (a legacy us-east-1 bucket: 3-255 "
        "characters of letters, digits, '.', '-' and '_')",
        id="select-bucket",
    ),
    pytest.param(
        GlacierSelectOperator,
        {**SELECT, "input_field_delimiter": ";;"},
        "SelectParameters.InputSerialization.csv.FieldDelimiter: ';;' must be a single character",
        id="select-delimiter",
    ),
    pytest.param(
        GlacierSelectOperator,
        {**SELECT, "encryption": "AES256", "kms_key_id": "alias/results"},
        "OutputLocation.S3.Encryption.KMSKeyId: 'alias/results' is allowed only when EncryptionType is "
        "'aws:kms'",
        id="select-kms-key",
    ),
    pytest.param(
        GlacierSelectOperator,
        {**SELECT, "tags": {"team": 5}},
        "OutputLocation.S3.Tagging: {'team': 5} must map strings to strings",
        id="select-tags",
    ),
    pytest.param(
        GlacierSelectOperator,
        {**SELECT, "grants": [{"Grantee": ALL_GRANTEES, "Permission": "EVERYTHING"}]},
        "OutputLocation.S3.AccessControlList.Permission: 'EVERYTHING' is not one of FULL_CONTROL, WRITE, "
        "WRITE_ACP, READ, READ_ACP",
        id="select-grant",
    ),
]


@pytest.mark.parametrize(("operator", "kwargs", "message"), INVALID)
def test_static_invalid_value_fails_at_parse_time(
    operator: type[GlacierJobOperator], kwargs: dict[str, Any], message: str, glacier_endpoint: Any
) -> None:
    with pytest.raises(GlacierValidationError) as raised:
        operator(task_id="job", vault_name="vault", aws_conn_id=None, **kwargs)
    assert str(raised.value) == message
    assert glacier_endpoint.request_count() == 0


def test_invalid_vault_name_fails_at_parse_time() -> None:
    with pytest.raises(GlacierValidationError) as raised:
        GlacierInventoryRetrievalOperator(task_id="job", vault_name="my/vault")
    assert (
        str(raised.value) == "vaultName: 'my/vault' must be 1-255 characters of a-z, A-Z, 0-9, '_', '-', '.'"
    )


def test_description_must_leave_room_for_the_resume_token() -> None:
    GlacierInventoryRetrievalOperator(task_id="fits", vault_name="vault", description="d" * 1006)
    with pytest.raises(GlacierValidationError) as raised:
        GlacierInventoryRetrievalOperator(task_id="too_long", vault_name="vault", description="d" * 1007)
    assert raised.value.field == "Description"
    assert raised.value.value == "d" * 1007
    assert raised.value.rule == (
        "leaves no room for the 18-byte resume token appended to it (must be at most 1024 bytes)"
    )


@pytest.mark.parametrize(
    ("operator", "kwargs"),
    [
        (GlacierInventoryRetrievalOperator, {"format": "{{ params.format }}"}),
        (GlacierArchiveRetrievalOperator, {"archive_id": "{{ ti.xcom_pull('list') }}", "tier": "Fast"}),
        (GlacierSelectOperator, {**SELECT, "output_bucket": "Bad Bucket", "tags": {"run": "{{ run_id }}"}}),
        (
            GlacierSelectOperator,
            {**SELECT, "grants": [{"Grantee": {"Type": "{% if true %}Group{% endif %}"}}]},
        ),
    ],
)
def test_templated_parameters_wait_for_rendering(
    operator: type[GlacierJobOperator], kwargs: dict[str, Any]
) -> None:
    """Any Jinja anywhere (even nested in a dict or list) postpones validation to render time."""
    op = operator(task_id="job", vault_name="vault", **kwargs)
    for name, value in kwargs.items():
        assert getattr(op, name) == value


def test_xcom_argument_waits_for_rendering() -> None:
    with DAG("xcom_argument", schedule=None):

        @task
        def archive_to_restore() -> str:
            return ARCHIVE_ID

        op = GlacierArchiveRetrievalOperator(
            task_id="restore", vault_name="vault", archive_id=archive_to_restore(), tier="Fast"
        )
    assert op.upstream_task_ids == {"archive_to_restore"}


@pytest.mark.parametrize(
    "operator", [GlacierArchiveRetrievalOperator, GlacierInventoryRetrievalOperator, GlacierSelectOperator]
)
def test_every_string_parameter_is_templated(operator: type[GlacierJobOperator]) -> None:
    not_templated = {
        "task_id",
        "wait_for_completion",
        "deferrable",
        "poll_interval",
        "max_wait",
        "waiter_delay",
        "waiter_max_attempts",
        "botocore_config",
    }
    parameters = set()
    for klass in operator.__mro__:
        if klass in (
            GlacierArchiveRetrievalOperator,
            GlacierInventoryRetrievalOperator,
            GlacierSelectOperator,
            GlacierJobOperator,
        ):
            parameters |= set(inspect.signature(klass.__init__).parameters) - {"self", "kwargs"}
    assert parameters - not_templated <= set(operator.template_fields)
    assert {"aws_conn_id", "region_name", "verify"} <= set(operator.template_fields)


def test_nested_values_are_rendered() -> None:
    op = GlacierSelectOperator(
        task_id="query",
        vault_name="vault",
        **SELECT,
        tags={"run": "{{ run_id }}"},
        user_metadata={"date": "{{ ds }}"},
        grants=[{"Grantee": {"Type": "CanonicalUser", "ID": "{{ owner }}"}, "Permission": "READ"}],
    )
    op.render_template_fields({"run_id": "manual__1", "ds": "2024-05-01", "owner": "abc123"})
    assert op.tags == {"run": "manual__1"}
    assert op.user_metadata == {"date": "2024-05-01"}
    assert op.grants == [{"Grantee": {"Type": "CanonicalUser", "ID": "abc123"}, "Permission": "READ"}]


def test_waits_are_sized_for_bulk_retrievals() -> None:
    """Bulk retrievals take 5-12 hours (Glacier Developer Guide, "Archive Retrieval Options"):
    the default wait covers four of them, checked once a minute."""
    op = GlacierInventoryRetrievalOperator(task_id="inventory", vault_name="vault")
    assert (op.poll_interval, op.max_wait) == (60.0, 48 * 60 * 60.0)
    assert op.max_wait >= 4 * timedelta(hours=12).total_seconds()


@pytest.mark.parametrize(
    ("name", "value"), [("poll_interval", 0), ("max_wait", -1), ("poll_interval", "60"), ("max_wait", "1h")]
)
def test_wait_settings_must_be_positive(name: str, value: object) -> None:
    with pytest.raises(GlacierValidationError) as raised:
        GlacierInventoryRetrievalOperator(task_id="inventory", vault_name="vault", **{name: value})
    assert str(raised.value) == f"{name}: {value!r} must be a number of seconds above 0"


@pytest.mark.parametrize(
    ("arguments", "poll_interval", "max_wait"),
    [
        *mapped_cases("poll_interval", "max_wait", default_total=48 * 60 * 60.0),
        ({"max_wait": 90, "poll_interval": None}, 60.0, 90.0),  # None: not given, the default applies
    ],
)
def test_waiter_delay_and_max_attempts_map_onto_poll_interval_and_max_wait(
    arguments: dict[str, Any], poll_interval: float, max_wait: float
) -> None:
    for operator in (GlacierArchiveRetrievalOperator, GlacierSelectOperator):
        extra = {"archive_id": ARCHIVE_ID} if operator is GlacierArchiveRetrievalOperator else SELECT
        op = operator(task_id="job", vault_name="vault", **extra, **arguments)
        assert (op.poll_interval, op.max_wait) == (poll_interval, max_wait)


@pytest.mark.parametrize("case", refused_cases("poll_interval", "max_wait"), ids=str)
def test_bad_or_disagreeing_waiter_settings_are_refused_when_the_dag_is_parsed(
    case: Refused, glacier_endpoint: Any, glacier_connection: str
) -> None:
    build = partial(
        GlacierInventoryRetrievalOperator, task_id="job", vault_name="v", aws_conn_id=glacier_connection
    )
    assert_refused(build, case, glacier_endpoint)


def _event(status: str, **job: Any) -> dict[str, Any]:
    return {
        "status": status,
        "vault_name": "vault",
        "job_id": "job-1",
        "job": {"JobId": "job-1", "Action": "InventoryRetrieval", **job} if job else None,
        "message": f"{status} message",
    }


@pytest.mark.parametrize(
    ("event", "error", "message"),
    [
        (None, AirflowException, "Trigger error: event is None"),
        (
            _event("failed", StatusCode="Failed", StatusMessage="Archive is corrupt"),
            AirflowFailException,
            "Glacier job job-1 in vault vault failed: Archive is corrupt",
        ),
        (_event("error"), AirflowException, "Glacier job job-1 in vault vault: error message"),
        (
            _event("timeout", StatusCode="InProgress"),
            AirflowException,
            "Glacier job job-1 in vault vault: timeout message",
        ),
    ],
    ids=["missing", "failed", "error", "timeout"],
)
def test_execute_complete_validates_the_event_as_the_amazon_provider_does(
    event: dict[str, Any] | None, error: type[Exception], message: str
) -> None:
    op = GlacierInventoryRetrievalOperator(task_id="inventory", vault_name="vault", deferrable=True)
    with pytest.raises(error) as raised:
        op.execute_complete({}, event)  # type: ignore[arg-type]
    assert type(raised.value) is error
    assert str(raised.value) == message


def test_execute_complete_returns_the_job_reference_on_success() -> None:
    op = GlacierInventoryRetrievalOperator(task_id="inventory", vault_name="vault", deferrable=True)
    event = _event("success", StatusCode="Succeeded")
    assert op.execute_complete({}, event) == {  # type: ignore[arg-type]
        "vault_name": "vault",
        "job_id": "job-1",
        "job_type": "inventory-retrieval",
        "location": "/-/vaults/vault/jobs/job-1",
        "job": event["job"],
    }


def test_operators_and_link_are_registered_with_airflow() -> None:
    info = get_provider_info()
    assert "airflow_glacier_select.links.GlacierVaultLink" in info["extra-links"]
    modules = [module for entry in info["operators"] for module in entry["python-modules"]]
    assert "airflow_glacier_select.operators.glacier" in modules
    op = GlacierInventoryRetrievalOperator(task_id="inventory", vault_name="vault")
    assert [type(link) for link in op.operator_extra_links] == [GlacierVaultLink]
    assert GlacierVaultLink().format_link(
        region_name="eu-west-1", aws_domain="aws.amazon.com", vault_name="v.1"
    ) == ("https://console.aws.amazon.com/glacier/home?region=eu-west-1#/vault/v.1/view/properties")
