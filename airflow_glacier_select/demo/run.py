"""Run the demo end to end: endpoint, seeding, Airflow, the DAG runs, the checks, the summary."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from airflow_glacier_select.demo.archives import SeededArchive, seed_archives
from airflow_glacier_select.demo.endpoint import EndpointProcess
from airflow_glacier_select.demo.observe import RunDelta, Snapshot
from airflow_glacier_select.demo.scenario import (
    BUCKETS,
    BULK_SECONDS,
    CONN_ID,
    POLL_SECONDS,
    Check,
    CheckContext,
    DemoRun,
    demo_runs,
)
from airflow_glacier_select.demo.standalone import AirflowProcesses
from airflow_glacier_select.demo.summary import RunOutcome, render_summary
from airflow_glacier_select.s3_copy.progress import format_bytes
from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint
from airflow_glacier_select.testing.notifications import notification_queue

__all__ = ["main"]

COUNTED_REQUESTS = ("InitiateJob", "DescribeJob", "ReceiveMessage")
"""Requests counted per wave of runs, for the checks."""
NOTIFICATION_QUEUE = "demo-migration-jobs"
"""The SNS topic the migration's jobs notify, and the SQS queue subscribed to it."""
TIER_DELAYS = {"Expedited": 5.0, "Standard": 10.0, "Bulk": float(BULK_SECONDS), "Inventory": 20.0}
"""Seconds each kind of job takes on the local endpoint: long enough that every wait defers,
even a sensor that starts a few task launches after its job."""
EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_glacier_select.demo",
        description="Run the example DAGs through real Airflow against a local Glacier endpoint.",
    )
    parser.add_argument("--work-dir", type=Path, help="where everything goes (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (Airflow logs) afterwards")
    parser.add_argument("--dags-folder", type=Path, default=EXAMPLE_DAGS, help="the example DAGs")
    parser.add_argument("--run-timeout", type=float, default=900, help="seconds each DAG run may take")
    parser.add_argument("--startup-timeout", type=float, default=600, help="seconds for Airflow to start")
    return parser.parse_args(argv)


def _say(started: float, message: str) -> None:
    print(f"[{time.monotonic() - started:6.1f}s] {message}", flush=True)


def _airflow_env(endpoint_url: str) -> dict[str, str | None]:
    """The connection every example DAG uses, and AWS settings that cannot reach real AWS.

    The connection's keys are fake: the local endpoint accepts any signature.
    """
    connection = {
        "conn_type": "aws",
        "login": "demo",
        "password": "demo",
        "extra": {"endpoint_url": endpoint_url, "region_name": "us-east-1"},
    }
    return {
        f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(connection),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PROFILE": None,
        "AWS_ACCESS_KEY_ID": None,
        "AWS_SECRET_ACCESS_KEY": None,
        "AWS_SESSION_TOKEN": None,
        "GLACIER_EXAMPLE_POLL_SECONDS": str(POLL_SECONDS),
    }


def _copy_dags(source: Path, target: Path) -> list[str]:
    """Copy the example DAG files; their DAG ids are their file names."""
    if not source.is_dir():
        raise SystemExit(f"no example DAGs at {source}; run from a source checkout or pass --dags-folder")
    target.mkdir(parents=True, exist_ok=True)
    files = sorted(source.glob("example_*.py"))
    for file in files:
        shutil.copy2(file, target / file.name)
    return [file.stem for file in files]


def _run_wave(
    wave: list[DemoRun],
    airflow: AirflowProcesses,
    endpoint: RemoteGlacierEndpoint,
    seeded: list[SeededArchive],
    timeout: float,
    started: float,
) -> list[RunOutcome]:
    """Trigger runs together, wait for all, then measure and check each."""
    glacier, s3 = endpoint.client("glacier"), endpoint.client("s3")
    before = {run.run_id: Snapshot.take(glacier, s3, run.vault_name, run.bucket) for run in wave}
    counted = {name: endpoint.request_count(name) for name in COUNTED_REQUESTS}
    for run in wave:
        airflow.trigger(run.dag_id, run.run_id, run.conf)
        _say(started, f"triggered {run.dag_id} ({run.label})")
    results = {}
    for run in wave:
        results[run.run_id] = result = airflow.wait_for_run(run.dag_id, run.run_id, timeout)
        _say(started, f"{run.dag_id} ({run.label}): {result.state}")
    counted = {name: endpoint.request_count(name) - counted[name] for name in COUNTED_REQUESTS}
    outcomes = []
    for run in wave:
        delta = RunDelta.between(before[run.run_id], Snapshot.take(glacier, s3, run.vault_name, run.bucket))
        waits = airflow.waits_in_triggerer(run.dag_id, run.run_id)
        context = CheckContext(s3, run.bucket, delta, seeded, counted["InitiateJob"], counted, waits)
        try:
            checks = run.checks(context)
        except Exception as error:  # a check that cannot even look is a failed check
            checks = [Check(f"checking the run raised {error!r}", False)]
        outcomes.append(RunOutcome(run, results[run.run_id], delta, checks, waits))
    return outcomes


def _demo(args: argparse.Namespace, work: Path, started: float) -> list[RunOutcome]:
    dag_ids = _copy_dags(args.dags_folder, work / "dags")
    with EndpointProcess(work / "endpoint", work / "endpoint.log", TIER_DELAYS) as endpoint:
        _say(started, f"local Glacier endpoint at {endpoint.url} (separate process)")
        seeded = seed_archives(endpoint, work / "seed")
        total = format_bytes(sum(archive.size for archive in seeded))
        _say(started, f"seeded {len(seeded)} archives ({total}) into their vaults:")
        for archive in seeded:
            print(
                f"{'':10}{archive.spec.vault_name:14}{archive.spec.path:32}{format_bytes(archive.size):>10}"
            )
        s3: Any = endpoint.client("s3")
        for bucket in BUCKETS:
            s3.create_bucket(Bucket=bucket)
        queue = notification_queue(endpoint, NOTIFICATION_QUEUE)
        _say(
            started,
            f"SNS topic {queue.topic_arn} -> SQS queue {queue.queue_url} (migration job notifications)",
        )
        with AirflowProcesses(work / "airflow", work / "dags", _airflow_env(endpoint.url)) as airflow:
            _say(started, f"starting airflow standalone in {work / 'airflow'} ...")
            airflow.start(args.startup_timeout)
            airflow.wait_for_dags(dag_ids, args.startup_timeout)
            _say(started, f"Airflow is up at {airflow.api}; DAGs parsed: {', '.join(dag_ids)}")
            _say(started, f"Glacier view: {airflow.api}/glacier/ (also the Glacier item of Airflow's menu)")
            runs = demo_runs(seeded, queue)
            # select, restore and the migration's dry run together; then the migration, then its re-run
            outcomes = _run_wave(runs[:3], airflow, endpoint, seeded, args.run_timeout, started)
            for run in runs[3:]:
                outcomes += _run_wave([run], airflow, endpoint, seeded, args.run_timeout, started)
    return outcomes


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    started = time.monotonic()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="glacier-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    outcomes: list[RunOutcome] = []
    try:
        outcomes = _demo(args, work, started)
    except (RuntimeError, TimeoutError) as error:
        print(f"demo failed: {error}", file=sys.stderr)
    ok = bool(outcomes) and all(outcome.ok for outcome in outcomes)
    if outcomes:
        print()
        print(render_summary(outcomes, time.monotonic() - started))
    if ok and not args.keep and args.work_dir is None:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"\nwork dir kept: {work} (Airflow logs under {work / 'airflow' / 'logs'})")
    return 0 if ok else 1
