"""ListJobs at scale: our lazy job iterator against collecting every page first.

A busy vault can hold thousands of jobs, and ListJobs returns at most 50 per request.
:meth:`GlacierJobsHook.iter_jobs` asks for the next page only when the consumer has
used the last one, so the first job is available after one request and memory does not
grow with the number of jobs. The baseline is what boto3 offers ready-made:
``get_paginator("list_jobs").paginate(...).build_full_result()``, which makes every
request before returning anything and holds the whole listing.

The vault on the local endpoint (its own process, see ``_endpoint.py``) holds 10,000
jobs. Each case runs in its own process, builds its client from the same Airflow
connection, lists the whole vault at page size 50 and reports: requests counted by the
endpoint (``request_count("ListJobs")``), requests made before the first job was
available, time to the first job, total time, and RSS growth while iterating (RSS
sampled after every 50 jobs, growth = highest sample minus the one after the first page).

    python benchmarks/listjobs.py [--quick] [--runs N]
"""

from __future__ import annotations

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

CASES = ("ours", "boto3_full_result")
PAGE_SIZE = 50


def _client(params: dict[str, Any]) -> tuple[Any, Any]:
    """Ours lists through the hook (an Airflow connection); the baseline through plain boto3,
    the same botocore client without Airflow's import cost."""
    if params["case"] == "ours":
        from airflow_glacier_select.hooks.glacier import GlacierJobsHook

        hook = GlacierJobsHook(aws_conn_id=CONN_ID)
        return hook, hook.get_conn()
    import boto3

    return None, boto3.client("glacier", endpoint_url=params["url"], region_name="us-east-1")


def measure(params: dict[str, Any]) -> dict[str, Any]:
    import time

    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint

    endpoint = RemoteGlacierEndpoint(params["url"])
    hook, client = _client(params)
    client.list_vaults()  # connection and credentials set up outside the timing
    endpoint.reset_counts()
    before = current_rss_mb()
    samples: list[float] = []
    count = 0
    with Stopwatch() as watch:
        if hook is not None:
            jobs = hook.iter_jobs(params["vault"], page_size=PAGE_SIZE)
        else:
            paginator = client.get_paginator("list_jobs")
            pages = paginator.paginate(vaultName=params["vault"], PaginationConfig={"PageSize": PAGE_SIZE})
            jobs = iter(pages.build_full_result()["JobList"])
        for _ in jobs:
            count += 1
            if count == 1:
                first_after = time.perf_counter() - watch.wall_start
                requests_before_first = endpoint.request_count("ListJobs")
            if count % PAGE_SIZE == 1:
                samples.append(current_rss_mb())
    return {
        "jobs": count,
        "requests": endpoint.request_count("ListJobs"),
        "requests_before_first_job": requests_before_first,
        "first_job_s": first_after,
        "wall_s": watch.wall,
        "cpu_s": watch.cpu,
        # What the listing added to the process, and how much of it came after the first page.
        "rss_added_mb": max(samples) - before,
        "rss_growth_after_first_page_mb": max(samples) - samples[0],
        "rss_samples_mb": [round(sample - before, 2) for sample in samples[:: max(1, len(samples) // 20)]],
    }


def main() -> None:
    args = arguments(__doc__.split("\n")[0])
    if child_main(args, {case: measure for case in CASES}):
        return
    jobs = 500 if args.quick else 10_000
    with seeded_endpoint(jobs=jobs) as (endpoint, vault, _), airflow_environment(endpoint.url):
        params = {"url": endpoint.url, "vault": vault}
        runs = interleaved(args.runs, CASES, lambda case: run_case(__file__, case, {**params, "case": case}))
    results = {case: medians(samples) for case, samples in runs.items()}
    ours, base = results["ours"], results["boto3_full_result"]
    pages = -(-jobs // PAGE_SIZE)
    for case, result in results.items():
        if result["jobs"] != jobs or result["requests"] != pages:
            raise SystemExit(f"{case}: {result['jobs']} jobs in {result['requests']} requests")
    headlines = [
        Headline(
            "ListJobs",
            f"requests before the first of {jobs:,} jobs",
            ours["requests_before_first_job"],
            base["requests_before_first_job"],
            "boto3 build_full_result",
            "requests",
            False,
            f"1 (and {pages} in all)",
            ours["requests_before_first_job"] == 1 and ours["requests"] == pages,
        ),
        Headline(
            "ListJobs",
            f"RSS added by listing {jobs:,} jobs",
            max(ours["rss_added_mb"], 0.1),
            base["rss_added_mb"],
            "boto3 build_full_result",
            "MB",
            False,
            "flat: < 1 MB after the first page",
            ours["rss_growth_after_first_page_mb"] < 1.0,
        ),
    ]
    headers = (
        "case",
        "jobs",
        "requests",
        "requests before 1st",
        "1st job s",
        "total s",
        "CPU s",
        "RSS added MB",
        "after 1st page",
    )
    rows = [
        (
            case,
            r["jobs"],
            r["requests"],
            r["requests_before_first_job"],
            r["first_job_s"],
            r["wall_s"],
            r["cpu_s"],
            r["rss_added_mb"],
            r["rss_growth_after_first_page_mb"],
        )
        for case, r in results.items()
    ]
    report(
        f"ListJobs, {jobs:,} jobs at page size {PAGE_SIZE}, median of {args.runs}", headers, rows, headlines
    )
    save(args, "listjobs", {"medians": results, "runs": runs}, headlines, {"jobs": jobs})


if __name__ == "__main__":
    main()
