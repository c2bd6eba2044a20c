"""Waiting on job notifications: N waits on one SQS queue against GlacierJobTrigger's DescribeJob polling.

Glacier publishes a job's DescribeJob JSON to SNS when the job ends; with an SQS queue
subscribed, :class:`GlacierJobNotificationTrigger` waits with one shared long poll per
queue and a DescribeJob only hourly (the safety net) and once per job (to confirm the
notification). The baseline is :class:`GlacierJobTrigger` polling DescribeJob every 60 s
(its default), measured in the same run. Everything runs against the local endpoint in
a process of its own: Glacier, SNS and SQS on one loopback URL.

Cases:

* ``polling_<M>``: M polling triggers (default 60 s interval, starts spread over one
  interval) over a window of one interval once each has polled: DescribeJob requests
  per wait per hour, RSS per wait, event-loop lag (``benchmarks/waiting.py``'s
  measurement, reused). M = 2,000 in the full run: at 20,000 waits polling would ask
  333 DescribeJob a second, more than this machine's endpoint answers (and far above
  what Glacier would let an account do without throttling).
* ``notifications_<N>``: N notification triggers (default hourly fallback) on one queue,
  in one event loop, all deferred at once. While they wait (a window of
  ``WINDOW`` seconds): DescribeJob and SQS requests, RSS per wait, lag. Then every job
  completes (a separate process calls the endpoint's complete-job control; the endpoint
  publishes each job's notification through SNS to the queue): jobs delivered, DescribeJob
  per job, seconds until the last wait ended, lag while delivering. Its jobs are created
  through InitiateJob over HTTP (with an SNSTopic) before the case starts, timed.
* ``fallback_rate``: the safety net's own rate, measured in compressed time: waits whose
  notification never comes, fallback interval F seconds, window 20 F: DescribeJob per wait
  per F. The per-hour figure at the default F = 3,600 s is the same number.
* ``idle_loop``: the lag probe on an idle loop in the same run, the control for lag.

    python benchmarks/waiting_notifications.py [--quick] [--runs N]
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _common import (
    Headline,
    Stopwatch,
    arguments,
    child_main,
    current_rss_mb,
    interleaved,
    medians,
    report,
    run_case,
    save,
)
from _endpoint import CONN_ID, airflow_environment, seeded_endpoint
from waiting import _lag_monitor, _lag_summary, _wait_many, idle_loop

FULL_WAITS, QUICK_WAITS = 20_000, 20
WAITS_VARIABLE = "GLACIER_BENCH_NOTIFICATION_WAITS"
"""Overrides the number of notification waits (full or quick), for scaling runs."""
POLLING_WAITS = 2_000
POLL_INTERVAL = 60.0
WINDOW = 30.0
FALLBACK_WAITS, FALLBACK_INTERVAL, FALLBACK_INTERVALS = 200, 2.0, 20
CLIENT_THREADS = 8
DESCRIBES_PER_HOUR_TARGET = 1.0
RSS_PER_WAIT_TARGET_KB = 10.0
LAG_P99_TARGET_MS = 100.0
TOPIC = "glacier-bench-jobs"
COMPLETION_RATE, QUICK_COMPLETION_RATE = 100.0, 50.0
"""Jobs ending per second. Real completions spread over hours; a burst of thousands at once
would measure moto's SQS, whose every SendMessage and ReceiveMessage scans the whole queue."""


# --- helpers run in processes of their own (their CPU is not the waits') ------------------------


def initiate_jobs(params: dict[str, Any]) -> dict[str, Any]:
    """InitiateJob over HTTP, ``CLIENT_THREADS`` at a time; writes the job ids to ``ids_file``."""
    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint

    endpoint = RemoteGlacierEndpoint(params["url"])
    clients = [endpoint.client() for _ in range(CLIENT_THREADS)]
    job = {
        "Type": "archive-retrieval",
        "ArchiveId": params["archive_id"],
        "Tier": "Bulk",
        "SNSTopic": params["topic"],
    }

    def start(index: int) -> str:
        answer = clients[index % CLIENT_THREADS].initiate_job(vaultName=params["vault"], jobParameters=job)
        return str(answer["jobId"])

    with Stopwatch() as watch, ThreadPoolExecutor(CLIENT_THREADS) as pool:
        job_ids = list(pool.map(start, range(int(params["n"]))))
    Path(params["ids_file"]).write_text(json.dumps(job_ids))
    return {"jobs": len(job_ids), "seconds": watch.wall, "jobs_per_s": len(job_ids) / watch.wall}


def complete_jobs(params: dict[str, Any]) -> dict[str, Any]:
    """End every job through the endpoint's control at ``rate`` a second, as jobs end over time;
    the endpoint publishes each one's notification. Writes when each job ended to ``ended_file``."""
    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint

    endpoint = RemoteGlacierEndpoint(params["url"])
    job_ids = json.loads(Path(params["ids_file"]).read_text())
    rate = float(params["rate"])
    ended: dict[str, float] = {}
    started = time.time()

    def end(index: int) -> None:
        time.sleep(max(0.0, started + index / rate - time.time()))
        endpoint.complete_job(params["vault"], job_ids[index])
        ended[job_ids[index]] = time.time()

    with Stopwatch() as watch, ThreadPoolExecutor(CLIENT_THREADS) as pool:
        list(pool.map(end, range(len(job_ids))))
    Path(params["ended_file"]).write_text(json.dumps(ended))
    return {"completed": len(job_ids), "seconds": watch.wall, "late_s": watch.wall - len(job_ids) / rate}


# --- the cases -------------------------------------------------------------------------------


def polling(params: dict[str, Any]) -> dict[str, Any]:
    result = asyncio.run(_wait_many(params))
    result["describes_per_wait_per_hour"] = result["polls"] / result["waits"] / (result["window_s"] / 3600)
    return result


def _notification_template(params: dict[str, Any], job_id: str, interval: float) -> dict[str, Any]:
    from airflow_glacier_select.triggers.notifications import GlacierJobNotificationTrigger

    _, template = GlacierJobNotificationTrigger(
        vault_name=params["vault"],
        job_id=job_id,
        queue_url=params["queue_url"],
        aws_conn_id=CONN_ID,
        fallback_poll_interval=interval,
    ).serialize()
    return template


async def _start_waits(
    params: dict[str, Any], job_ids: list[str], interval: float, events: list[Any], arrived: dict[str, float]
) -> list[Any]:
    """Every wait rebuilt from serialised kwargs, as a triggerer does, all deferred at once."""
    from airflow_glacier_select.triggers.notifications import GlacierJobNotificationTrigger

    template = _notification_template(params, job_ids[0], interval)
    return [
        asyncio.create_task(
            _record(GlacierJobNotificationTrigger(**{**template, "job_id": job_id}), events, arrived)
        )
        for job_id in job_ids
    ]


async def _record(trigger: Any, events: list[Any], arrived: dict[str, float]) -> None:
    async for event in trigger.run():
        events.append(event.payload)
        arrived[event.payload["job_id"]] = time.time()


async def _counts(endpoint: Any, *operations: str) -> dict[str, int]:
    return {operation: await asyncio.to_thread(endpoint.request_count, operation) for operation in operations}


async def _notifications(params: dict[str, Any]) -> dict[str, Any]:
    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint
    from airflow_glacier_select.triggers import notifications as _imported  # noqa: F401  (not a per-wait cost)

    endpoint = RemoteGlacierEndpoint(params["url"])
    job_ids: list[str] = json.loads(Path(params["ids_file"]).read_text())
    count, window = len(job_ids), float(params["window"])
    operations = ("DescribeJob", "ReceiveMessage", "DeleteMessageBatch")
    rss_before = current_rss_mb()
    lags: list[float] = []
    events: list[Any] = []
    monitor = asyncio.create_task(_lag_monitor(lags))
    arrived: dict[str, float] = {}
    tasks = await _start_waits(params, job_ids, float(params["fallback_interval"]), events, arrived)
    receives = (await _counts(endpoint, "ReceiveMessage"))["ReceiveMessage"]
    while (await _counts(endpoint, "ReceiveMessage"))["ReceiveMessage"] == receives:
        await asyncio.sleep(0.05)  # every wait is on the queue once the consumer's long poll is out
    lags.clear()
    before = await _counts(endpoint, *operations)
    rss_samples = [current_rss_mb()]
    with Stopwatch() as watch:
        while time.perf_counter() - watch.wall_start < window:
            await asyncio.sleep(min(1.0, window / 10))
            rss_samples.append(current_rss_mb())
    waiting = await _counts(endpoint, *operations)
    if events:
        raise RuntimeError(f"{len(events)} of {count} waits ended before their jobs did: {events[:3]}")
    waiting_lag = _lag_summary(lags)
    # Delivery: every job ends; each wait must end on its notification.
    lags.clear()
    completer = asyncio.create_task(asyncio.to_thread(run_case, __file__, "complete_jobs", params))
    with Stopwatch() as delivery:
        await asyncio.wait_for(_all_done(tasks), timeout=float(params["delivery_timeout"]))
    completion = await completer
    delivered = await _counts(endpoint, *operations)
    monitor.cancel()
    succeeded = {event["job_id"] for event in events if event["status"] == "success"}
    ended = json.loads(Path(params["ended_file"]).read_text())
    latencies = sorted(arrived[job_id] - ended[job_id] for job_id in succeeded)
    return {
        "waits": count,
        "window_s": watch.wall,
        "describes_while_waiting": waiting["DescribeJob"] - before["DescribeJob"],
        "sqs_requests_per_s_while_waiting": sum(waiting[o] - before[o] for o in operations[1:]) / watch.wall,
        "rss_per_wait_kb": (max(rss_samples) - rss_before) * 1000 / count,
        "rss_added_mb": max(rss_samples) - rss_before,
        "cpu_share_while_waiting": watch.cpu / watch.wall,
        **{f"waiting_{key}": value for key, value in waiting_lag.items()},
        "delivered": len(succeeded & set(job_ids)),
        "delivery_s": delivery.wall,
        "completion_rate_per_s": float(params["rate"]),
        "completions_late_s": completion["late_s"],
        "latency_p50_s": statistics.median(latencies),
        "latency_p99_s": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "latency_max_s": latencies[-1],
        "describes_per_job": (delivered["DescribeJob"] - waiting["DescribeJob"]) / count,
        "receives_per_job": (delivered["ReceiveMessage"] - waiting["ReceiveMessage"]) / count,
        "cpu_ms_per_delivery": delivery.cpu * 1000 / count,
        **{f"delivery_{key}": value for key, value in _lag_summary(lags).items()},
    }


async def _all_done(tasks: list[Any]) -> None:
    await asyncio.gather(*tasks)


def notifications(params: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_notifications(params))


async def _fallback_rate(params: dict[str, Any]) -> dict[str, Any]:
    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint

    endpoint = RemoteGlacierEndpoint(params["url"])
    job_ids = json.loads(Path(params["held_ids_file"]).read_text())[: int(params["n"])]
    interval = float(params["fallback_interval"])
    events: list[Any] = []
    before = (await _counts(endpoint, "DescribeJob"))["DescribeJob"]
    tasks = await _start_waits(params, job_ids, interval, events, {})
    with Stopwatch() as watch:
        await asyncio.sleep(interval * FALLBACK_INTERVALS)
    polls = (await _counts(endpoint, "DescribeJob"))["DescribeJob"] - before
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if events:
        raise RuntimeError(f"waits on held jobs ended: {events[:3]}")
    return {
        "waits": len(job_ids),
        "fallback_interval_s": interval,
        "window_s": watch.wall,
        "polls": polls,
        "describes_per_wait_per_interval": polls / len(job_ids) / (watch.wall / interval),
    }


def fallback_rate(params: dict[str, Any]) -> dict[str, Any]:
    return asyncio.run(_fallback_rate(params))


# --- the comparison -----------------------------------------------------------------------------


def _headlines(results: dict[str, dict[str, Any]], waits: int, polled: int) -> list[Headline]:
    ours, baseline = results[f"notifications_{waits}"], results[f"polling_{polled}"]
    rate = results["fallback_rate"]["describes_per_wait_per_interval"]
    idle = results["idle_loop"]["lag_p99_ms"]
    return [
        Headline(
            "waiting on notifications",
            "DescribeJob per wait per hour",
            rate,
            baseline["describes_per_wait_per_hour"],
            f"GlacierJobTrigger, {baseline['poll_interval_s']:g} s polls",
            "requests",
            False,
            f"<= {DESCRIBES_PER_HOUR_TARGET:.0f}",
            rate <= DESCRIBES_PER_HOUR_TARGET,
            f"fallback rate measured over {FALLBACK_INTERVALS} compressed intervals; "
            f"{ours['describes_while_waiting']} DescribeJob from {waits:,} waits in {ours['window_s']:.0f} s",
        ),
        Headline(
            "waiting on notifications",
            f"RSS per wait, {waits:,} waits",
            ours["rss_per_wait_kb"],
            RSS_PER_WAIT_TARGET_KB,
            "the target",
            "KB",
            False,
            f"<= {RSS_PER_WAIT_TARGET_KB:.0f} KB",
            ours["rss_per_wait_kb"] <= RSS_PER_WAIT_TARGET_KB,
            f"polling, {polled:,} waits: {baseline['rss_per_wait_kb']:.1f} KB",
        ),
        Headline(
            "waiting on notifications",
            f"completions delivered, {waits:,} waits",
            ours["delivered"],
            waits,
            "jobs completed",
            "waits",
            True,
            "all",
            ours["delivered"] == waits,
            f"last one {ours['delivery_s']:.1f} s after the first job ended; "
            f"{ours['describes_per_job']:.2f} DescribeJob per job",
        ),
        Headline(
            "waiting on notifications",
            f"event-loop lag p99 while delivering, {waits:,} waits",
            ours["delivery_lag_p99_ms"],
            LAG_P99_TARGET_MS,
            "the target",
            "ms",
            False,
            f"<= {LAG_P99_TARGET_MS:.0f} ms",
            ours["delivery_lag_p99_ms"] <= LAG_P99_TARGET_MS,
            f"while waiting: {ours['waiting_lag_p99_ms']:.0f} ms; idle loop (control): {idle:.0f} ms",
        ),
    ]


def _rows(results: dict[str, dict[str, Any]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for case, r in results.items():
        if case.startswith("polling"):
            rows.append(
                (
                    case,
                    r["waits"],
                    r["describes_per_wait_per_hour"],
                    "-",
                    r["rss_per_wait_kb"],
                    r["lag_p99_ms"],
                    "-",
                    "-",
                    "-",
                    r["peak_rss_mb"],
                )
            )
        elif case.startswith("notifications"):
            rows.append(
                (
                    case,
                    r["waits"],
                    "-",
                    r["sqs_requests_per_s_while_waiting"],
                    r["rss_per_wait_kb"],
                    r["waiting_lag_p99_ms"],
                    r["delivered"],
                    r["describes_per_job"],
                    r["latency_p99_s"],
                    r["peak_rss_mb"],
                )
            )
        elif case == "fallback_rate":
            per_hour = r["describes_per_wait_per_interval"]
            rows.append((case, r["waits"], per_hour, "-", "-", "-", "-", "-", "-", r["peak_rss_mb"]))
        else:
            rows.append((case, 0, "-", "-", "-", r["lag_p99_ms"], "-", "-", "-", r["peak_rss_mb"]))
    return rows


def main() -> None:
    cases = {
        "idle_loop": idle_loop,
        "fallback_rate": fallback_rate,
        "initiate_jobs": initiate_jobs,
        "complete_jobs": complete_jobs,
    }
    args = arguments(__doc__.split("\n")[0])
    waits = int(os.environ.get(WAITS_VARIABLE, QUICK_WAITS if args.quick else FULL_WAITS))
    if child_main(
        args,
        {
            **cases,
            # A child is not told --quick: every size it may be asked for is a case.
            **{f"notifications_{n}": notifications for n in (QUICK_WAITS, FULL_WAITS, waits)},
            **{f"polling_{n}": polling for n in (20, POLLING_WAITS)},
        },
    ):
        return
    polled = 20 if args.quick else POLLING_WAITS
    fallback_waits = 20 if args.quick else FALLBACK_WAITS
    names = ["idle_loop", "fallback_rate", f"polling_{polled}", f"notifications_{waits}"]
    held = max(polled, fallback_waits)
    with (
        seeded_endpoint(jobs=held) as (endpoint, vault, held_ids),
        airflow_environment(endpoint.url),
        tempfile.TemporaryDirectory(prefix="glacier-bench-notifications-") as scratch,
    ):
        from airflow_glacier_select.testing.notifications import notification_queue

        queue = notification_queue(endpoint, TOPIC)
        archive_id = endpoint.put_archive(vault, b"benchmark archive\n", "benchmark")
        held_file = Path(scratch) / "held_ids.json"
        held_file.write_text(json.dumps(held_ids))
        common = {
            "url": endpoint.url,
            "vault": vault,
            "queue_url": queue.queue_url,
            "held_ids_file": str(held_file),
        }
        creation: list[dict[str, Any]] = []

        def measure(case: str) -> dict[str, Any]:
            params: dict[str, Any] = {**common, "case": case}
            if case == "idle_loop":
                params["min_window"] = 2.0 if args.quick else WINDOW
            elif case == "fallback_rate":
                interval = 0.25 if args.quick else FALLBACK_INTERVAL
                params.update(n=fallback_waits, fallback_interval=interval)
            elif case.startswith("polling_"):
                interval = 0.5 if args.quick else POLL_INTERVAL
                params.update(
                    n=polled,
                    interval=interval,
                    job_ids_file=str(held_file),
                    min_window=2.0 if args.quick else interval,
                )
            else:
                ids_file = Path(scratch) / f"jobs_{len(creation)}.json"
                made = run_case(
                    __file__,
                    "initiate_jobs",
                    {
                        **params,
                        "n": waits,
                        "archive_id": archive_id,
                        "topic": queue.topic_arn,
                        "ids_file": str(ids_file),
                    },
                )
                creation.append(made)
                params.update(
                    ids_file=str(ids_file),
                    ended_file=str(Path(scratch) / "ended.json"),
                    rate=QUICK_COMPLETION_RATE if args.quick else COMPLETION_RATE,
                    fallback_interval=3600.0,
                    window=2.0 if args.quick else WINDOW,
                    delivery_timeout=60 if args.quick else 1800,
                )
            return run_case(__file__, case, params)

        runs = interleaved(args.runs, names, measure)
    results = {case: medians(samples) for case, samples in runs.items()}
    headlines = _headlines(results, waits, polled)
    headers = (
        "case",
        "waits",
        "DescribeJob/wait/h",
        "SQS req/s",
        "RSS KB/wait",
        "lag p99 ms",
        "delivered",
        "DescribeJob/job",
        "latency p99 s",
        "peak RSS MB",
    )
    report(f"Waiting on notifications, median of {args.runs}", headers, _rows(results), headlines)
    print(
        f"\nJob creation (InitiateJob over HTTP, {CLIENT_THREADS} threads): "
        + ", ".join(f"{c['jobs']:,} jobs in {c['seconds']:.1f} s ({c['jobs_per_s']:.0f}/s)" for c in creation)
    )
    save(
        args,
        "waiting_notifications",
        {"medians": results, "runs": runs},
        headlines,
        {"waits": waits, "polled": polled, "job_creation": creation},
    )


if __name__ == "__main__":
    main()
