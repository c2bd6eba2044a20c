"""Waiting for Glacier jobs: our trigger against the amazon provider's reschedule-mode sensor.

Glacier jobs take minutes to 12 hours. The amazon provider waits with
``GlacierJobOperationSensor`` in reschedule mode: every status check is a task run,
with the process start, Airflow import, DAG parse and task bookkeeping that implies.
Ours defers to :class:`GlacierJobTrigger`, and every status check is one DescribeJob
request on the triggerer's event loop.

Baseline cases (the job stays InProgress, so every check is a "not yet"):

* ``sensor_tasks_test``: ``airflow tasks test`` of a DAG holding the sensor, in a
  subprocess: one poke as a real task run (marked ``up_for_reschedule``), its CPU read
  from ``getrusage(RUSAGE_CHILDREN)``. A scheduler and executor add their own work to
  every reschedule on top of this; it is not counted. Skipped by ``--quick`` (it costs
  about 15 CPU seconds and needs a migrated metadata database).
* ``sensor_poke_floor``: the least any reschedule poke can cost, for honesty about the
  ratio: in a process that has already imported Airflow, re-run the DAG file (a new task
  object, hence a new hook and boto3 client, as each task run has) and call ``poke()``.

Ours, ``triggers_<N>`` for N = 100, 1,000 and 5,000 concurrent waits: N triggers, each
rebuilt from its serialised kwargs as a triggerer does, run in one event loop against
the local endpoint (its own process). Their starts are spread over one poll interval, as
deferrals arrive over time, and the poll interval is N/100 seconds, so the endpoint sees
about 100 DescribeJob requests a second at every N. After every trigger has polled once,
a measurement window of at least one poll interval records:

* CPU per poll: process CPU over the window / DescribeJob requests the endpoint counted;
* RSS per wait: (highest RSS in the window - RSS before the first trigger) / N, so the
  shared client and everything else the waits need is charged to them;
* event-loop lag: how late a 20 ms ``asyncio.sleep`` wakes up, p50/p99/max.

``idle_loop`` is the control for the lag: the same probe on a loop with nothing else to
do, for the same window, in the same run. On a shared machine it shows how much of the
lag is other processes holding the CPU rather than the waits.

    python benchmarks/waiting.py [--quick] [--runs N]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    Headline,
    Stopwatch,
    arguments,
    child_main,
    children_cpu_seconds,
    children_peak_rss_mb,
    current_rss_mb,
    interleaved,
    medians,
    report,
    run_case,
    save,
)
from _endpoint import CONN_ID, airflow_environment, seeded_endpoint

POLLS_PER_SECOND = 100
LAG_TICK = 0.02
MIN_WINDOW = 15.0
RSS_PER_WAIT_TARGET_KB = 50.0
LAG_P99_TARGET_MS = 100.0
CPU_RATIO_TARGET = 1000.0

SENSOR_DAG = """
import os
from datetime import datetime

from airflow.providers.amazon.aws.sensors.glacier import GlacierJobOperationSensor
from airflow.sdk import DAG

with DAG("glacier_sensor_baseline", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    GlacierJobOperationSensor(
        task_id="wait",
        vault_name=os.environ["BENCH_VAULT"],
        job_id=os.environ["BENCH_JOB_ID"],
        aws_conn_id="{conn_id}",
        mode="reschedule",
        poke_interval=60,
    )
"""


# --- baseline: the sensor ----------------------------------------------------------------------


def sensor_tasks_test(params: dict[str, Any]) -> dict[str, Any]:
    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint

    endpoint = RemoteGlacierEndpoint(params["url"])
    endpoint.reset_counts()
    airflow = str(Path(sys.executable).parent / "airflow")
    before = children_cpu_seconds()
    with Stopwatch() as watch:
        done = subprocess.run(
            [airflow, "tasks", "test", "glacier_sensor_baseline", "wait"],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    if done.returncode != 0 or "up_for_reschedule" not in (done.stdout + done.stderr).lower():
        raise RuntimeError(f"airflow tasks test did not reschedule the sensor:\n{done.stderr[-3000:]}")
    checks = endpoint.request_count("DescribeJob")
    return {
        "status_checks": checks,
        "cpu_per_check_s": (children_cpu_seconds() - before) / checks,
        "wall_per_check_s": watch.wall / checks,
        "task_peak_rss_mb": children_peak_rss_mb(),
    }


def sensor_poke_floor(params: dict[str, Any]) -> dict[str, Any]:
    import runpy

    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint

    endpoint = RemoteGlacierEndpoint(params["url"])

    def poke() -> None:
        task = runpy.run_path(params["dag_file"])["dag"].get_task("wait")
        if task.poke({}) is not False:
            raise RuntimeError("the sensor saw the job finish; it must stay InProgress")

    poke()  # imports and first-use costs are not part of a poke
    endpoint.reset_counts()
    pokes = 5
    with Stopwatch() as watch:
        for _ in range(pokes):
            poke()
    checks = endpoint.request_count("DescribeJob")
    return {
        "status_checks": checks,
        "cpu_per_check_s": watch.cpu / checks,
        "wall_per_check_s": watch.wall / checks,
    }


# --- ours: many triggers in one event loop ------------------------------------------------------


async def _lag_monitor(samples: list[float]) -> None:
    while True:
        started = time.perf_counter()
        await asyncio.sleep(LAG_TICK)
        samples.append(time.perf_counter() - started - LAG_TICK)


async def _consume(trigger: Any, events: list[Any]) -> None:
    async for event in trigger.run():
        events.append(event.payload)


def _lag_summary(lags: list[float]) -> dict[str, Any]:
    ordered = sorted(lags)
    return {
        "lag_p50_ms": statistics.median(ordered) * 1000,
        "lag_p99_ms": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000,
        "lag_max_ms": ordered[-1] * 1000,
        "lag_samples": len(ordered),
    }


async def _wait_many(params: dict[str, Any]) -> dict[str, Any]:
    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint
    from airflow_glacier_select.triggers.glacier import GlacierJobTrigger

    endpoint = RemoteGlacierEndpoint(params["url"])
    count, interval = int(params["n"]), float(params["interval"])
    job_ids = json.loads(Path(params["job_ids_file"]).read_text())[:count]
    rss_before = current_rss_mb()
    lags: list[float] = []
    events: list[Any] = []
    monitor = asyncio.create_task(_lag_monitor(lags))
    _, template = GlacierJobTrigger(
        vault_name=params["vault"], job_id=job_ids[0], aws_conn_id=CONN_ID, poll_interval=interval
    ).serialize()
    tasks = []
    started = time.perf_counter()
    for index, job_id in enumerate(job_ids):
        trigger = GlacierJobTrigger(**{**template, "job_id": job_id})
        tasks.append(asyncio.create_task(_consume(trigger, events)))
        # Spread the starts over one poll interval, as deferrals arrive over time.
        await asyncio.sleep(max(0.0, started + (index + 1) * interval / count - time.perf_counter()))
    while await asyncio.to_thread(endpoint.request_count, "DescribeJob") < count:
        await asyncio.sleep(0.2)
    window = max(interval, float(params["min_window"]))
    lags.clear()
    rss_samples = [current_rss_mb()]
    polls_before = await asyncio.to_thread(endpoint.request_count, "DescribeJob")
    with Stopwatch() as watch:
        while time.perf_counter() - watch.wall_start < window:
            await asyncio.sleep(min(1.0, window / 10))
            rss_samples.append(current_rss_mb())
    polls = await asyncio.to_thread(endpoint.request_count, "DescribeJob") - polls_before
    finished = sum(task.done() for task in tasks)
    if finished or events:
        raise RuntimeError(f"{finished} of {count} waits ended early: {events[:3]}")
    for task in [*tasks, monitor]:
        task.cancel()
    await asyncio.gather(*tasks, monitor, return_exceptions=True)
    return {
        "waits": count,
        "poll_interval_s": interval,
        "window_s": watch.wall,
        "polls": polls,
        "polls_per_s": polls / watch.wall,
        "cpu_per_poll_s": watch.cpu / polls,
        "cpu_share_of_core": watch.cpu / watch.wall,
        "rss_per_wait_kb": (max(rss_samples) - rss_before) * 1000 / count,
        "rss_added_mb": max(rss_samples) - rss_before,
        **_lag_summary(lags),
    }


def triggers(params: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_wait_many(params))


async def _idle(window: float) -> dict[str, Any]:
    lags: list[float] = []
    monitor = asyncio.create_task(_lag_monitor(lags))
    await asyncio.sleep(window)
    monitor.cancel()
    return _lag_summary(lags)


def idle_loop(params: dict[str, Any]) -> dict[str, Any]:
    """The control: the same lag probe on an event loop with nothing else to do. Lag seen here
    is the machine's (other processes holding the CPU), not the waits'."""
    return asyncio.run(_idle(float(params["min_window"])))


# --- the comparison -----------------------------------------------------------------------------


def _headlines(results: dict[str, dict[str, Any]], sizes: list[int]) -> list[Headline]:
    largest = results[f"triggers_{sizes[-1]}"]
    headlines = []
    for case, name in (
        ("sensor_tasks_test", "sensor task run (airflow tasks test)"),
        ("sensor_poke_floor", "sensor poke floor (warm process)"),
    ):
        if case in results:
            ratio = results[case]["cpu_per_check_s"] / largest["cpu_per_poll_s"]
            headlines.append(
                Headline(
                    "waiting",
                    f"CPU per status check, {sizes[-1]:,} waits",
                    largest["cpu_per_poll_s"] * 1000,
                    results[case]["cpu_per_check_s"] * 1000,
                    name,
                    "ms",
                    False,
                    f">= {CPU_RATIO_TARGET:,.0f}x less" if case == "sensor_tasks_test" else "-",
                    ratio >= CPU_RATIO_TARGET if case == "sensor_tasks_test" else None,
                )
            )
    headlines += [
        Headline(
            "waiting",
            f"RSS per wait, {sizes[-1]:,} waits",
            largest["rss_per_wait_kb"],
            RSS_PER_WAIT_TARGET_KB,
            "the target",
            "KB",
            False,
            f"<= {RSS_PER_WAIT_TARGET_KB:.0f} KB",
            largest["rss_per_wait_kb"] <= RSS_PER_WAIT_TARGET_KB,
        ),
        Headline(
            "waiting",
            f"event-loop lag p99, {sizes[-1]:,} waits",
            largest["lag_p99_ms"],
            LAG_P99_TARGET_MS,
            "the target",
            "ms",
            False,
            f"<= {LAG_P99_TARGET_MS:.0f} ms",
            largest["lag_p99_ms"] <= LAG_P99_TARGET_MS,
            f"idle loop (control) p99 in the same run: {results['idle_loop']['lag_p99_ms']:.0f} ms",
        ),
    ]
    return headlines


def _rows(results: dict[str, dict[str, Any]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for case, r in results.items():
        if case.startswith("sensor"):
            peak = r.get("task_peak_rss_mb", r["peak_rss_mb"])
            rows.append((case, 1, r["cpu_per_check_s"] * 1000, "-", "-", "-", "-", peak))
        elif case == "idle_loop":
            rows.append((case, 0, "-", "-", "-", r["lag_p50_ms"], r["lag_p99_ms"], r["peak_rss_mb"]))
        else:
            rows.append(
                (
                    case,
                    r["waits"],
                    r["cpu_per_poll_s"] * 1000,
                    r["polls_per_s"],
                    r["rss_per_wait_kb"],
                    r["lag_p50_ms"],
                    r["lag_p99_ms"],
                    r["peak_rss_mb"],
                )
            )
    return rows


def main() -> None:
    cases = {
        "sensor_tasks_test": sensor_tasks_test,
        "sensor_poke_floor": sensor_poke_floor,
        "idle_loop": idle_loop,
    }
    args = arguments(__doc__.split("\n")[0])
    if child_main(args, {**cases, **{f"triggers_{n}": triggers for n in (20, 100, 1000, 5000)}}):
        return
    sizes = [20] if args.quick else [100, 1000, 5000]
    names = ["sensor_poke_floor", "idle_loop", *(f"triggers_{n}" for n in sizes)]
    if not args.quick:
        names.insert(0, "sensor_tasks_test")
    with (
        seeded_endpoint(jobs=max(sizes)) as (endpoint, vault, job_ids),
        airflow_environment(endpoint.url) as home,
        tempfile.TemporaryDirectory(prefix="glacier-bench-waiting-") as scratch,
    ):
        dags = Path(scratch) / "dags"
        dags.mkdir()
        dag_file = dags / "glacier_sensor_baseline.py"
        dag_file.write_text(SENSOR_DAG.format(conn_id=CONN_ID))
        ids_file = Path(scratch) / "job_ids.json"
        ids_file.write_text(json.dumps(job_ids))
        os.environ.update(
            {"AIRFLOW__CORE__DAGS_FOLDER": str(dags), "BENCH_VAULT": vault, "BENCH_JOB_ID": job_ids[0]}
        )
        if not args.quick:
            airflow = str(Path(sys.executable).parent / "airflow")
            subprocess.run([airflow, "db", "migrate"], capture_output=True, check=True, timeout=900)
        common = {"url": endpoint.url, "vault": vault, "dag_file": str(dag_file), "home": home}

        def measure(case: str) -> dict[str, Any]:
            params: dict[str, Any] = {**common, "case": case}
            params["min_window"] = 2.0 if args.quick else MIN_WINDOW
            if case.startswith("triggers_"):
                n = int(case.split("_")[1])
                interval = 0.5 if args.quick else n / POLLS_PER_SECOND
                params.update(n=n, interval=interval, job_ids_file=str(ids_file))
            return run_case(__file__, case, params)

        runs = interleaved(args.runs, names, measure)
    results = {case: medians(samples) for case, samples in runs.items()}
    headlines = _headlines(results, sizes)
    headers = (
        "case",
        "waits",
        "CPU ms/check",
        "polls/s",
        "RSS KB/wait",
        "lag p50 ms",
        "lag p99 ms",
        "peak RSS MB",
    )
    report(f"Waiting, median of {args.runs}", headers, _rows(results), headlines)
    save(args, "waiting", {"medians": results, "runs": runs}, headlines, {"sizes": sizes})


if __name__ == "__main__":
    main()
