"""Security audit: connection secrets never leave the connection; Select output is private and encrypted.

A DAG exercises every component (the three job operators, one deferred to the trigger, the
sensor deferred to the trigger, the copy to S3 and the Select results check) with a
connection whose secret values are distinctive strings. Then every place a value can surface
is searched for them: the captured task and trigger logs (and any log file under
AIRFLOW_HOME), every XCom of the run, the serialised trigger kwargs in the metadata database
and as serialised, and the rendered template fields.

The external id sits in ``assume_role_kwargs`` without a ``role_arn``: the local endpoint
serves Glacier and S3 only, so no role is actually assumed, but every component still reads
the whole connection.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.triggers.glacier import GlacierJobTrigger
from tests.support.dag_runs import DagFolder, run_dag

from . import figures
from .dags import call, load_dag
from .faults import BUCKET, VAULT, once, vault_jobs

pytestmark = pytest.mark.slow

CONN_ID = "glacier_audit"
SECRETS = {
    "aws_access_key_id": "AKIAAUDITKEYID7F3A9C",
    "aws_secret_access_key": "SecretKey-7f3a9c2e5b1d4f60a8e2c4b6d8f0a1e3",
    "aws_session_token": "SessionToken-2b8d4e6f1a3c5e7d9b0f2a4c6e8d0b1f",
    "external_id": "ExternalId-9e1c3a5b7d0f2e4c6a8b0d2f4e6a8c0b",
}
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/0d7c3c84-audit-key"
PEOPLE_CSV = b"alice,Paris\nbob,Oslo\ncarol,Paris\n"
JOB_ID_OF = "{{{{ ti.xcom_pull(task_ids='{}')['job_id'] }}}}"
AIRFLOW_MASK_REGISTRATION = re.compile(r"^.*\bmsg=MaskSecret\(value=.*$\n?", re.MULTILINE)
"""Airflow 3.0's task SDK logs, at DEBUG under ``dag.test()``, each value it hands to its own log
masker, the connection's secrets included ("Sending request msg=MaskSecret(value=...)"). Those
lines are Airflow's, not this package's: they are cut out of the captured output before the
scan, and counted. (Airflow 3.3 does not log them.)"""


def audit_connection(endpoint_url: str) -> str:
    """An ``aws`` connection whose every secret value is distinctive."""
    extra = {
        "endpoint_url": endpoint_url,
        "region_name": "us-east-1",
        "aws_session_token": SECRETS["aws_session_token"],
        "assume_role_kwargs": {"ExternalId": SECRETS["external_id"]},
    }
    return json.dumps(
        {
            "conn_type": "aws",
            "login": SECRETS["aws_access_key_id"],
            "password": SECRETS["aws_secret_access_key"],
            "extra": extra,
        }
    )


def encrypted_copy(job_task: str, key: str, **common: Any) -> str:
    """A copy of ``job_task``'s job output to ``key``, encrypted with the KMS key."""
    return call(
        "GlacierJobOutputToS3Operator",
        task_id="copy",
        job_id=JOB_ID_OF.format(job_task),
        bucket=BUCKET,
        key=key,
        encryption="aws:kms",
        kms_key_id=KMS_KEY,
        **common,
    )


def encrypted_select(csv_archive: str, expression: str, prefix: str, **extra: Any) -> str:
    """A Select writing its results under ``prefix``, encrypted with the KMS key, no ACL given."""
    return call(
        "GlacierSelectOperator",
        task_id="query",
        archive_id=csv_archive,
        expression=expression,
        output_bucket=BUCKET,
        output_prefix=prefix,
        encryption="aws:kms",
        kms_key_id=KMS_KEY,
        **extra,
    )


def audit_dag(folder: DagFolder, restore_archive: str, csv_archive: str) -> Any:
    common = {"vault_name": VAULT, "aws_conn_id": CONN_ID}
    tasks = [
        call(
            "GlacierArchiveRetrievalOperator",
            task_id="restore",
            archive_id=restore_archive,
            description="audit {{ ds }}",
            tier="Expedited",
            deferrable=True,
            poll_interval=0.05,
            **common,
        ),
        encrypted_copy("restore", "audit/{{ ds }}.bin", **common),
        encrypted_select(
            csv_archive,
            "SELECT s._1 FROM archive s WHERE s._2 = 'Paris'",
            "select/{{ ds_nodash }}",
            wait_for_completion=False,
            deferrable=False,
            **common,
        ),
        call(
            "GlacierJobSensor",
            task_id="wait",
            job_id=JOB_ID_OF.format("query"),
            poke_interval=0.05,
            deferrable=True,
            **common,
        ),
        call("GlacierSelectResultsOperator", task_id="results", job_id=JOB_ID_OF.format("query"), **common),
        call("GlacierInventoryRetrievalOperator", task_id="inventory", poll_interval=0.05, **common),
    ]
    return load_dag(folder, "secrets_audit", tasks, chain=True)


def _rows(model: Any, dag_id: str) -> list[Any]:
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return list(session.scalars(select(model).where(model.dag_id == dag_id)))


def _database_sinks(dag_id: str) -> dict[str, str]:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.trigger import Trigger
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    xcoms = [(row.task_id, row.key, row.value) for row in _rows(XComModel, dag_id)]
    rendered = [(row.task_id, row.rendered_fields) for row in _rows(RenderedTaskInstanceFields, dag_id)]
    with create_session() as session:
        triggers = [(row.classpath, row.kwargs) for row in session.scalars(select(Trigger))]
    assert {task for task, *_ in rendered} >= {"restore", "copy", "query", "wait", "results"}
    assert any(classpath.endswith("GlacierJobTrigger") for classpath, _ in triggers)
    return {
        "XCom values": json.dumps(xcoms, default=str),
        "rendered template fields": json.dumps(rendered, default=str),
        "trigger kwargs (metadata database)": json.dumps(triggers, default=str),
    }


def _log_files() -> str:
    home = Path(os.environ["AIRFLOW_HOME"])
    return "\n".join(path.read_text(errors="replace") for path in home.rglob("*.log") if path.is_file())


def test_no_connection_secret_reaches_logs_xcom_trigger_kwargs_or_rendered_fields(
    dag_folder: DagFolder,
    glacier_endpoint: LocalGlacierEndpoint,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", audit_connection(glacier_endpoint.url))
    glacier_endpoint.client("s3").create_bucket(Bucket=BUCKET)
    restore_archive = glacier_endpoint.put_archive(VAULT, b"audited bytes" * 1000, "audit.bin")
    csv_archive = glacier_endpoint.put_archive(VAULT, PEOPLE_CSV, "people.csv")
    serialised: list[tuple[str, dict[str, Any]]] = []
    serialize = GlacierJobTrigger.serialize

    def recorded_serialize(self: GlacierJobTrigger) -> tuple[str, dict[str, Any]]:
        serialised.append(serialize(self))
        return serialised[-1]

    monkeypatch.setattr(GlacierJobTrigger, "serialize", recorded_serialize)
    caplog.set_level("DEBUG", logger="airflow_glacier_select")

    # The Select job runs until the sensor has deferred to the trigger, so that the sensor's
    # trigger is serialised and stored whatever the machine's speed.
    glacier_endpoint.set_tier_delay("Standard", 3600)

    def finish_select_job() -> None:
        [select] = [job for job in vault_jobs(glacier_endpoint) if job["Action"] == "Select"]
        glacier_endpoint.complete_job(VAULT, select["JobId"])

    with once(lambda: len(serialised) >= 2, finish_select_job):
        dag_run = run_dag(audit_dag(dag_folder, restore_archive, csv_archive))

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert set(states.values()) == {"success"}, states
    assert len(serialised) >= 2  # the operator's and the sensor's deferrals
    captured = capfd.readouterr()
    output, airflow_lines = AIRFLOW_MASK_REGISTRATION.subn("", captured.out + captured.err)
    sinks = {
        "task and trigger logs (captured output)": output,
        "log records": "\n".join(record.getMessage() for record in caplog.records),
        "log files under AIRFLOW_HOME": _log_files(),
        "trigger kwargs (as serialised)": json.dumps(serialised, default=str),
        **_database_sinks("secrets_audit"),
    }
    # The sinks hold what they should: the connection's id, never its secrets.
    assert GlacierJobsHook.get_connection(CONN_ID).password == SECRETS["aws_secret_access_key"]
    assert "Glacier job" in sinks["task and trigger logs (captured output)"] + sinks["log records"]
    assert CONN_ID in sinks["trigger kwargs (as serialised)"]
    assert CONN_ID in sinks["trigger kwargs (metadata database)"]
    assert "audit 2024-05-01" in sinks["rendered template fields"]
    found = {
        sink: [name for name, secret in SECRETS.items() if secret in text] for sink, text in sinks.items()
    }
    for sink, text in sinks.items():
        figures.record_secret_scan(sink, len(text), len(found[sink]))
    if airflow_lines:
        figures.note_secret_scan(f"left out {airflow_lines} lines of Airflow's own DEBUG MaskSecret messages")
    assert found == {sink: [] for sink in sinks}


def test_select_output_is_private_by_default_and_encryption_reaches_every_object(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    s3 = glacier_endpoint.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    csv_archive = glacier_endpoint.put_archive(VAULT, PEOPLE_CSV, "people.csv")
    restore_archive = glacier_endpoint.put_archive(VAULT, b"encrypted copy" * 100, "copy.bin")
    common = {"vault_name": VAULT, "aws_conn_id": glacier_connection}
    tasks = [
        encrypted_select(csv_archive, "SELECT s._1 FROM archive s", "select", poll_interval=0.05, **common),
        call("GlacierSelectResultsOperator", task_id="results", job_id=JOB_ID_OF.format("query"), **common),
        call(
            "GlacierArchiveRetrievalOperator",
            task_id="restore",
            archive_id=restore_archive,
            poll_interval=0.05,
            **common,
        ),
        encrypted_copy("restore", "copy.bin", **common),
    ]
    dag_run = run_dag(load_dag(dag_folder, "private_and_encrypted", tasks, chain=True))
    assert {str(ti.state) for ti in dag_run.get_task_instances()} == {"success"}
    query = dag_run.get_task_instance("query").xcom_pull(task_ids="query")
    results = dag_run.get_task_instance("results").xcom_pull(task_ids="results")

    # Sent: no ACL at all (Glacier echoes the request's OutputLocation in DescribeJob), so S3's
    # private default applies; the encryption settings as given.
    sent = query["job"]["OutputLocation"]["S3"]
    assert not {"CannedACL", "AccessControlList"} & set(sent)
    assert sent["Encryption"] == {"EncryptionType": "aws:kms", "KMSKeyId": KMS_KEY}
    written = [*results["result_keys"], "copy.bin"]
    assert len(written) >= 2
    for key in written:
        # Applied: the owner alone, with full control; and the KMS key on every object.
        grants = s3.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
        assert [(grant["Grantee"]["Type"], grant["Permission"]) for grant in grants] == [
            ("CanonicalUser", "FULL_CONTROL")
        ], key
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", KMS_KEY), key
