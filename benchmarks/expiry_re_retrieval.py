"""Bytes retrieved again after a job's output expired mid-copy: missing ranges against the whole archive.

A copy of a 256 MiB archive (``--quick``: 40 MiB) in 16 MiB chunks (quick: 8 MiB) is
interrupted once 60 % of its chunks are uploaded and verified, and Glacier then forgets
the job. Two ways to finish it, each from the same interrupted state, on the local
endpoint in its own process:

* ``ranges`` (ours): ``on_output_expired="re-retrieve-missing"``'s steps: range jobs for
  the missing tree-hash-aligned ranges only, the verified parts reused from the ledger;
* ``whole archive`` (baseline): a new retrieval of the whole archive, copied from the start.

Reported per case: archive-retrieval jobs started, bytes GetJobOutput served, their share
of the archive, wall seconds and peak RSS; the headline is the ratio of bytes served.

    python benchmarks/expiry_re_retrieval.py [--quick] [--runs N]
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import MIB, Headline, arguments, peak_rss_mb, save, table
from _endpoint import CONN_ID, airflow_environment, seeded_endpoint

BUCKET = "benchmark-expiry"
SHARE_KEPT = 0.6


class _Interrupted(BaseException):
    """The worker is gone (as a terminated task): the engine keeps the upload and its ledger."""


def _transfer(chunk: int, concurrency: int = 4) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_glacier_select.hooks.glacier import GlacierJobsHook
    from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer

    return GlacierToS3Transfer(
        GlacierJobsHook(aws_conn_id=CONN_ID),
        S3Hook(aws_conn_id=CONN_ID),
        chunk_size=chunk,
        concurrency=concurrency,
    )


def _retrieval(endpoint: Any, vault: str, archive_id: str) -> str:
    job = endpoint.client().initiate_job(
        vaultName=vault, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )["jobId"]
    endpoint.complete_job(vault, job)
    return str(job)


def _interrupted_copy(endpoint: Any, vault: str, archive_id: str, key: str, chunk: int, kept: int) -> str:
    """Copy until ``kept`` chunks are uploaded and verified, then stop; Glacier forgets the job."""
    from airflow_glacier_select.s3_copy.engine import _Run

    job_id = _retrieval(endpoint, vault, archive_id)
    original, done = _Run._copy_part, []

    def copy_then_stop(self: Any, upload_id: str, part: Any) -> Any:
        if len(done) == kept:
            raise _Interrupted
        done.append(part)
        return original(self, upload_id, part)

    _Run._copy_part = copy_then_stop  # type: ignore[method-assign]
    try:
        # One chunk at a time, so exactly ``kept`` chunks are verified when the worker stops.
        _transfer(chunk, concurrency=1).copy_job_output(vault, job_id, BUCKET, key)
    except _Interrupted:
        pass
    finally:
        _Run._copy_part = original  # type: ignore[method-assign]
    endpoint.forget_job(vault, job_id)
    return job_id


def _served(endpoint: Any) -> int:
    return sum(last + 1 - first for first, last in endpoint.job_output_ranges())


def _ranges(endpoint: Any, vault: str, job_id: str, chunk: int) -> dict[str, Any]:
    from airflow_glacier_select.s3_copy.range_jobs import find_or_start_range_jobs, wait_for_range_jobs

    transfer = _transfer(chunk)
    expired = transfer.find_expired_copy(vault, job_id, BUCKET)
    assert expired is not None
    archive = expired.archive
    jobs = find_or_start_range_jobs(
        transfer.glacier_hook,
        vault,
        archive.archive_id,
        archive.archive_size,
        expired.missing,
        token="afgs:benchmark0001",
        log=transfer.log,
    )
    for job in jobs:
        endpoint.complete_job(vault, job.job_id)
    described = wait_for_range_jobs(
        transfer.glacier_hook, vault, jobs, poll_interval=0.05, max_wait=60, log=transfer.log
    )
    result = transfer.continue_expired_copy(expired, described)
    return {"verified": result.verified, "reused": expired.bytes_verified, "ranges": len(jobs)}


def _whole(endpoint: Any, vault: str, archive_id: str, key: str, chunk: int) -> dict[str, Any]:
    job_id = _retrieval(endpoint, vault, archive_id)
    result = _transfer(chunk).copy_job_output(vault, job_id, BUCKET, key, collision="overwrite")
    return {"verified": result.verified, "reused": 0, "ranges": 1}


def _one_run(endpoint: Any, vault: str, archive_id: str, size: int, chunk: int, run: int) -> dict[str, Any]:
    kept = int(-(-size // chunk) * SHARE_KEPT)
    results = {}
    for case in ("ranges", "whole archive"):
        key = f"run-{run}/{case.replace(' ', '-')}.bin"
        job_id = _interrupted_copy(endpoint, vault, archive_id, key, chunk, kept)
        endpoint.reset_counts()
        started = time.perf_counter()
        if case == "ranges":
            outcome = _ranges(endpoint, vault, job_id, chunk)
        else:
            outcome = _whole(endpoint, vault, archive_id, key, chunk)
        seconds = time.perf_counter() - started
        served = _served(endpoint)
        results[case] = {
            **outcome,
            "jobs_started": endpoint.request_count("InitiateJob"),
            "bytes_served": served,
            "share": served / size,
            "seconds": seconds,
            "peak_rss_mb": peak_rss_mb(),
        }
    return results


def _archive_file(folder: Path, size: int) -> Path:
    """``size`` pseudo-random bytes in a file, written in 8 MiB blocks (never all in memory)."""
    path, rng = folder / "archive.bin", random.Random(5)
    with path.open("wb") as handle:
        for start in range(0, size, 8 * MIB):
            handle.write(rng.randbytes(min(8 * MIB, size - start)))
    return path


def main() -> None:
    args = arguments(__doc__.split("\n")[0])
    size, chunk = (40 * MIB + 17, 8 * MIB) if args.quick else (256 * MIB + 17, 16 * MIB)
    with (
        tempfile.TemporaryDirectory(prefix="glacier-bench-expiry-") as scratch,
        seeded_endpoint(storage_dir=scratch) as (endpoint, vault, _),
        airflow_environment(endpoint.url),
    ):
        endpoint.client("s3").create_bucket(Bucket=BUCKET)
        archive_id = endpoint.put_archive(vault, _archive_file(Path(scratch), size), "expiring.bin")
        runs = [_one_run(endpoint, vault, archive_id, size, chunk, n) for n in range(args.runs)]
    rows = [
        (
            n + 1,
            case,
            r["jobs_started"],
            r["reused"],
            r["bytes_served"],
            r["share"],
            r["seconds"],
            r["peak_rss_mb"],
            r["verified"],
        )
        for n, run in enumerate(runs)
        for case, r in run.items()
    ]
    headers = (
        "run",
        "case",
        "jobs started",
        "bytes reused",
        "bytes served",
        "share",
        "seconds",
        "peak RSS MB",
        "verified",
    )
    print(f"\n## Finishing a copy of {size:,} bytes after expiry at {SHARE_KEPT:.0%} of its chunks\n")
    print(table(headers, rows), flush=True)
    ours = min(run["ranges"]["bytes_served"] for run in runs)
    baseline = min(run["whole archive"]["bytes_served"] for run in runs)
    headline = Headline(
        benchmark="expiry_re_retrieval",
        metric="bytes retrieved again",
        ours=ours / 1e6,
        baseline=baseline / 1e6,
        baseline_name="whole-archive retrieval",
        unit="MB",
        higher_is_better=False,
        target="only the missing ranges",
        met=ours == size - max(run["ranges"]["reused"] for run in runs),
    )
    ratio = baseline / ours
    print(f"\nbytes retrieved again: {ours:,} (ranges) vs {baseline:,} (whole archive): {ratio:.2f}x fewer")
    save(args, "expiry_re_retrieval", {"runs": runs}, [headline], {"size": size, "chunk_size": chunk})


if __name__ == "__main__":
    main()
