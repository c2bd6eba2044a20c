"""Archive retrieval output to S3: our verified, chunked transfer against read-it-whole-and-put-it.

The amazon provider's Glacier code reads a job's output with ``get_job_output()["body"]``
as a whole; the obvious way to land an archive in S3 with it is that read followed by one
``put_object``. Memory then grows with the archive, and nothing checks the bytes against
Glacier's tree hash. Ours (:class:`GlacierToS3Transfer`) downloads tree-hash-aligned
chunks in a bounded pool, verifies each chunk and then the whole output, and writes them
as the parts of an S3 multipart upload.

For each size (64 MiB, 512 MiB, 2 GiB; ``--quick``: 24 MiB, two chunks) an archive is
generated on disk, stored in the local endpoint (its own process) with ``put_archive``,
and retrieved by an archive-retrieval job that is completed at once. Each case runs in
its own process and copies the job output to a fresh S3 key on the same endpoint:

* ``ours_<size>``: ``GlacierToS3Transfer.copy_job_output`` with its defaults (16 MiB
  chunks, 4 at a time), through ``GlacierJobsHook`` and ``S3Hook``;
* ``baseline_<size>``: the amazon provider's ``GlacierHook`` client, ``get_job_output``,
  ``body.read()``, then ``put_object`` with the S3 client of the same connection.

Reported: throughput (archive bytes / wall seconds of the copy), CPU seconds and peak RSS
of the copying process. The endpoint's own work (serving the ranges, storing S3 parts) is
the same for both and is not counted. Each S3 object is checked afterwards (size, and
for ours the verified tree hash), then deleted.

    python benchmarks/transfer.py [--quick] [--runs N]
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    MB,
    MIB,
    Headline,
    Stopwatch,
    arguments,
    child_main,
    interleaved,
    medians,
    report,
    run_case,
    save,
)
from _endpoint import CONN_ID, airflow_environment, seeded_endpoint

BUCKET = "benchmark-transfer"
RSS_TARGET_MB = 256 * MIB / MB
THROUGHPUT_TARGET = 2.0
QUICK_MIB = (24,)
FULL_MIB = (64, 512, 2048)


def _time_calls(client: Any, operation: str) -> list[float]:
    """Wall seconds of each ``operation`` call the client makes (botocore's before/after-call events)."""
    durations: list[float] = []
    started: list[float] = []
    client.meta.events.register(
        f"before-call.s3.{operation}", lambda **_: started.append(time.perf_counter())
    )
    client.meta.events.register(
        f"after-call.s3.{operation}", lambda **_: durations.append(time.perf_counter() - started.pop())
    )
    return durations


def copy(params: dict[str, Any]) -> dict[str, Any]:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    vault, job_id, key = params["vault"], params["job_id"], params["key"]
    result: dict[str, Any] = {"complete_s": 0.0}
    s3_hook = S3Hook(aws_conn_id=CONN_ID)
    if params["case"].startswith("ours"):
        from airflow_glacier_select.hooks.glacier import GlacierJobsHook
        from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer

        glacier_hook = GlacierJobsHook(aws_conn_id=CONN_ID)
        glacier_hook.get_conn()  # clients built outside the timing, as for the baseline
        completing = _time_calls(s3_hook.get_conn(), "CompleteMultipartUpload")
        transfer = GlacierToS3Transfer(glacier_hook, s3_hook)
        with Stopwatch() as watch:
            done = transfer.copy_job_output(vault, job_id, BUCKET, key, collision="overwrite")
        result.update(verified=done.verified, chunks=done.chunks, tree_hash=done.sha256_tree_hash)
        result["complete_s"] = sum(completing)
    else:
        from airflow.providers.amazon.aws.hooks.glacier import GlacierHook

        glacier = GlacierHook(aws_conn_id=CONN_ID).get_conn()
        s3 = s3_hook.get_conn()
        with Stopwatch() as watch:
            body = glacier.get_job_output(vaultName=vault, jobId=job_id)["body"].read()
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        result.update(verified=False, chunks=1)
    size = int(params["size"])
    return {
        **result,
        "bytes": size,
        "wall_s": watch.wall,
        "cpu_s": watch.cpu,
        "mb_per_s": size / MB / watch.wall,
        # The local endpoint's S3 (moto) assembles a multipart object in one O(size) pass.
        "mb_per_s_before_complete": size / MB / (watch.wall - result["complete_s"]),
    }


def _write_archive(path: Path, size: int) -> None:
    """``size`` bytes that differ in every 1 MiB leaf (a random buffer, each leaf stamped with its index)."""
    buffer = bytearray(random.Random(size).randbytes(16 * MIB))
    with path.open("wb") as out:
        for offset in range(0, size, len(buffer)):
            for leaf in range(0, len(buffer), MIB):
                buffer[leaf : leaf + 8] = (offset + leaf).to_bytes(8, "big")
            out.write(memoryview(buffer)[: min(len(buffer), size - offset)])


def _retrieval_job(endpoint: Any, vault: str, path: Path) -> str:
    archive_id = endpoint.put_archive(vault, path, f"benchmark/{path.name}")
    glacier = endpoint.client("glacier")
    job = glacier.initiate_job(
        vaultName=vault,
        jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id, "Tier": "Expedited"},
    )
    endpoint.complete_job(vault, job["jobId"])
    return str(job["jobId"])


def _headlines(results: dict[str, dict[str, Any]], sizes: list[int]) -> list[Headline]:
    headlines = []
    for size in sizes:
        ours, base = results[f"ours_{size // MIB}"], results[f"baseline_{size // MIB}"]
        large = size >= 512 * MIB
        headlines.append(
            Headline(
                "transfer to S3",
                f"throughput, {size // MIB} MiB",
                ours["mb_per_s"],
                base["mb_per_s"],
                "get_job_output body.read() + put_object",
                "MB/s",
                True,
                f">= {THROUGHPUT_TARGET:.0f}x, every chunk verified" if large else "-",
                (ours["mb_per_s"] >= THROUGHPUT_TARGET * base["mb_per_s"] and ours["verified"])
                if large
                else None,
            )
        )
    largest = sizes[-1]
    ours, base = results[f"ours_{largest // MIB}"], results[f"baseline_{largest // MIB}"]
    headlines.append(
        Headline(
            "transfer to S3",
            f"peak RSS, {largest // MIB} MiB",
            ours["peak_rss_mb"],
            base["peak_rss_mb"],
            "get_job_output body.read() + put_object",
            "MB",
            False,
            f"<= {RSS_TARGET_MB:.0f} MB (256 MiB), flat",
            ours["peak_rss_mb"] <= RSS_TARGET_MB,
        )
    )
    return headlines


def main() -> None:
    args = arguments(__doc__.split("\n")[0])
    if child_main(
        args, {f"{kind}_{mib}": copy for kind in ("ours", "baseline") for mib in QUICK_MIB + FULL_MIB}
    ):
        return
    sizes_mib = QUICK_MIB if args.quick else FULL_MIB
    sizes = [mib * MIB for mib in sizes_mib]
    names = [f"{kind}_{size // MIB}" for size in sizes for kind in ("ours", "baseline")]
    with (
        tempfile.TemporaryDirectory(prefix="glacier-bench-transfer-") as scratch,
        seeded_endpoint(storage_dir=scratch) as (endpoint, vault, _),
        airflow_environment(endpoint.url),
    ):
        s3 = endpoint.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        jobs = {}
        for size in sizes:
            path = Path(scratch) / f"archive-{size // MIB}MiB.bin"
            _write_archive(path, size)
            jobs[size] = _retrieval_job(endpoint, vault, path)
            path.unlink()
        expected = {
            size: endpoint.client("glacier").describe_job(vaultName=vault, jobId=jobs[size]) for size in sizes
        }
        counter = iter(range(1_000_000))

        def measure(case: str) -> dict[str, Any]:
            size = int(case.split("_")[1]) * MIB
            key = f"{case}/{next(counter)}"
            params = {"case": case, "vault": vault, "job_id": jobs[size], "key": key, "size": size}
            result = run_case(__file__, case, params)
            stored = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
            if stored != size or (
                case.startswith("ours") and result["tree_hash"] != expected[size]["SHA256TreeHash"]
            ):
                raise SystemExit(f"{case}: S3 holds {stored} bytes, tree hash {result.get('tree_hash')}")
            s3.delete_object(Bucket=BUCKET, Key=key)
            return result

        runs = interleaved(args.runs, names, measure)
    results = {case: medians(samples) for case, samples in runs.items()}
    headlines = _headlines(results, sizes)
    headers = (
        "case",
        "MiB",
        "chunks",
        "verified",
        "MB/s",
        "CPU s",
        "wall s",
        "of which S3 completes",
        "MB/s before completion",
        "peak RSS MB",
    )
    rows = [
        (
            case,
            r["bytes"] // MIB,
            r["chunks"],
            r["verified"],
            r["mb_per_s"],
            r["cpu_s"],
            r["wall_s"],
            r["complete_s"],
            r["mb_per_s_before_complete"],
            r["peak_rss_mb"],
        )
        for case, r in results.items()
    ]
    report(f"Transfer to S3, median of {args.runs}", headers, rows, headlines)
    save(args, "transfer", {"medians": results, "runs": runs}, headlines, {"sizes": sizes})


if __name__ == "__main__":
    main()
