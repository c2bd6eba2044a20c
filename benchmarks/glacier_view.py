"""The Glacier view at scale: a vault with 10,000 jobs, through Airflow's own API app.

The view asks ListJobs for one page per request (the next page is a link carrying
Glacier's marker) and counts jobs by status from one page per status, so a page costs
the same requests (DescribeVault, 4 ListJobs, and one S3 listing per configured report
location) whatever the vault holds. The baseline is the obvious alternative: list every job (``iter_jobs``,
200 requests for 10,000 jobs), count statuses exactly, then render the same first 50
rows with the same renderer. The baseline skips HTTP and authentication, which only
flatters it.

Each case runs in its own process against the endpoint process of ``_endpoint.py``;
"ours" sends real requests to Airflow's ``create_app()`` (plugin found through its entry
point, a JWT checked by the simple auth manager) with FastAPI's TestClient, and reports
the median of several loads of the first page and of a page 100 pages deep (the last
page in a quick run).

    python benchmarks/glacier_view.py [--quick] [--runs N]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import Headline, Stopwatch, arguments, child_main, interleaved, medians, report, run_case, save
from _endpoint import CONN_ID, airflow_environment, seeded_endpoint

CASES = ("ours", "full_listing")
LOADS = 5
DEEP_PAGE = 100
TARGET_S = 1.0


def _marker_after(url: str, vault: str, pages: int) -> str | None:
    """Glacier's marker after ``pages`` ListJobs pages (fetched outside any timing)."""
    import boto3

    glacier = boto3.client("glacier", endpoint_url=url, region_name="us-east-1")
    marker = None
    for _ in range(pages):
        response = glacier.list_jobs(vaultName=vault, limit="50", **({"marker": marker} if marker else {}))
        marker = response.get("Marker")
        if not marker:
            break
    return marker


def _ours(params: dict[str, Any]) -> dict[str, Any]:
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint

    endpoint = RemoteGlacierEndpoint(params["url"])
    client = TestClient(create_app())
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    client.headers["Authorization"] = f"Bearer {token}"
    query = {"conn_id": CONN_ID, "vault": params["vault"]}

    def load(extra: dict[str, str]) -> tuple[float, int]:
        endpoint.reset_counts()
        started = time.perf_counter()
        response = client.get("/glacier/vault", params={**query, **extra})
        elapsed = time.perf_counter() - started
        if response.status_code != 200 or response.text.count("<tr data-job-id=") != 50:
            raise RuntimeError(f"unexpected page: HTTP {response.status_code}\n{response.text[:2000]}")
        return elapsed, endpoint.request_count("ListJobs")

    first_request_s, _ = load({})  # builds the view's app and clients' models: once per API server
    first = [load({}) for _ in range(LOADS)]
    deep = [load({"marker": params["deep_marker"]}) for _ in range(LOADS)]
    return {
        "first_request_s": first_request_s,
        "page_s": statistics.median(s for s, _ in first),
        "deep_page_s": statistics.median(s for s, _ in deep),
        "listjobs_requests": first[0][1],
    }


def _full_listing(params: dict[str, Any]) -> dict[str, Any]:
    from collections import Counter

    from airflow_glacier_select.hooks.glacier import GlacierJobsHook
    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint
    from airflow_glacier_select.ui import render
    from airflow_glacier_select.ui.vaults import JobPage, MigrationStatus

    endpoint = RemoteGlacierEndpoint(params["url"])

    def load() -> tuple[float, int]:
        endpoint.reset_counts()
        with Stopwatch() as watch:
            hook = GlacierJobsHook(aws_conn_id=CONN_ID)
            vault = hook.get_conn().describe_vault(vaultName=params["vault"])
            jobs = list(hook.iter_jobs(params["vault"]))
            counts = Counter(job.status_code for job in jobs)
            render.vault_page(
                CONN_ID,
                params["vault"],
                vault=vault,
                counts={status: str(counts[status]) for status in ("InProgress", "Succeeded", "Failed")},
                jobs=JobPage(jobs[:50], "next"),
                migration=MigrationStatus(),
                statuscode=None,
                marker=None,
            )
        return watch.wall, endpoint.request_count("ListJobs")

    load()  # same warm-up as ours
    timed = [load() for _ in range(LOADS)]
    median = statistics.median(s for s, _ in timed)
    return {
        "first_request_s": None,
        "page_s": median,
        "deep_page_s": median,  # every page costs the whole listing
        "listjobs_requests": timed[0][1],
    }


def _migrate_db() -> None:
    """The API app checks tokens against the metadata database: create it in the throwaway home."""
    airflow = Path(sys.executable).parent / "airflow"
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True)


def main() -> None:
    args = arguments(__doc__.split("\n")[0])
    if child_main(args, {"ours": _ours, "full_listing": _full_listing}):
        return
    jobs = 500 if args.quick else 10_000
    with seeded_endpoint(jobs=jobs) as (endpoint, vault, _), airflow_environment(endpoint.url):
        import os

        os.environ["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
        _migrate_db()
        params = {
            "url": endpoint.url,
            "vault": vault,
            "deep_marker": _marker_after(endpoint.url, vault, DEEP_PAGE),
        }
        if params["deep_marker"] is None:  # a quick run has fewer pages: go as deep as there are
            params["deep_marker"] = _marker_after(endpoint.url, vault, jobs // 50 - 1)
        runs = interleaved(args.runs, CASES, lambda case: run_case(__file__, case, params))
    results = {case: medians(samples) for case, samples in runs.items()}
    ours, base = results["ours"], results["full_listing"]
    headlines = [
        Headline(
            "Glacier view",
            f"first page of a {jobs:,}-job vault",
            ours["page_s"],
            base["page_s"],
            "list every job, then render",
            "s",
            False,
            f"< {TARGET_S:g} s",
            ours["page_s"] < TARGET_S,
        ),
    ]
    # Peak RSS is the whole process: "ours" holds Airflow's entire API app, the baseline a hook.
    headers = (
        "case",
        "jobs",
        "ListJobs per page",
        "1st page s",
        "deep page s",
        "1st request s",
        "peak RSS MB",
    )
    rows = [
        (
            case,
            jobs,
            r["listjobs_requests"],
            r["page_s"],
            r["deep_page_s"],
            r["first_request_s"],
            r["peak_rss_mb"],
        )
        for case, r in results.items()
    ]
    report(
        f"Glacier view, {jobs:,} jobs, median of {LOADS} loads x {args.runs} runs", headers, rows, headlines
    )
    save(args, "glacier_view", {"medians": results, "runs": runs}, headlines, {"jobs": jobs})


if __name__ == "__main__":
    main()
