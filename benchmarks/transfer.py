"""Archive retrieval output to S3: our verified, chunked copy against the naive copy and boto3's managed one.

An archive is generated on disk and stored in the local endpoint (its own process) with
``put_archive`` (no upload: the endpoint hard-links the file), and retrieved by an
archive-retrieval job completed at once. Each case runs in a process of its own (so its
peak RSS is its own) and copies the job output to a fresh S3 key on the same endpoint:

* ``ours``: ``GlacierToS3Transfer.copy_job_output`` (16 MiB chunks, ``concurrency`` at a
  time, every chunk and the whole archive checked against Glacier's tree hashes);
* ``naive`` (the README's earlier ``baseline``): the amazon provider's ``GlacierHook``
  client, ``get_job_output`` read whole, then one ``put_object``;
* ``managed``: ``get_job_output``'s streamed body handed to boto3's managed transfer
  ``upload_fileobj`` (multipart, 10 threads): the best a user gets from boto3 alone
  (nothing verified);
* ``sharded``: our copy as ``shards`` worker processes (plan, one process per shard
  running ``copy_shard``, finish), as mapped Airflow tasks would run it;
* ``resume``: our copy killed (``os._exit``) once 60 % of its parts are uploaded, then
  retried: the bytes the retry downloads against the unfinished part of the archive.

Each case runs on plain loopback and under the endpoint's ``wan`` network model
(per-connection caps, first-byte latency, an aggregate cap; see the README). Reported:
throughput (archive bytes / wall seconds of the copy), CPU seconds and peak RSS of the
copying process. Each S3 object is checked afterwards (size, and for ours the verified
tree hash), then deleted.

    python benchmarks/transfer.py [--quick] [--runs N] [--only loopback|wan] [--sizes 512,2048]
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import threading
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
NAIVE_TARGET = 3.0
MANAGED_TARGET = 1.5
CHUNK = 16 * MIB
QUICK_MIB = 24
KILL_FRACTION = 0.6


# --- cases (each in a child process) ------------------------------------------------------------


def _glacier_and_s3() -> tuple[Any, Any]:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_glacier_select.hooks.glacier import GlacierJobsHook

    glacier_hook = GlacierJobsHook(aws_conn_id=CONN_ID)
    glacier_hook.get_conn()  # clients built outside the timing, as for the baselines
    s3_hook = S3Hook(aws_conn_id=CONN_ID)
    s3_hook.get_conn()
    return glacier_hook, s3_hook


def _transfer(concurrency: int) -> Any:
    from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer

    glacier_hook, s3_hook = _glacier_and_s3()
    return GlacierToS3Transfer(glacier_hook, s3_hook, chunk_size=CHUNK, concurrency=concurrency)


def _metrics(params: dict[str, Any], watch: Stopwatch, **extra: Any) -> dict[str, Any]:
    size = int(params["size"])
    return {
        "bytes": size,
        "wall_s": watch.wall,
        "cpu_s": watch.cpu,
        "mb_per_s": size / MB / watch.wall,
        **extra,
    }


def ours(params: dict[str, Any]) -> dict[str, Any]:
    transfer = _transfer(int(params["concurrency"]))
    with Stopwatch() as watch:
        done = transfer.copy_job_output(
            params["vault"], params["job_id"], BUCKET, params["key"], collision="overwrite"
        )
    return _metrics(
        params, watch, verified=done.verified, chunks=done.chunks, tree_hash=done.sha256_tree_hash
    )


def naive(params: dict[str, Any]) -> dict[str, Any]:
    from airflow.providers.amazon.aws.hooks.glacier import GlacierHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    glacier = GlacierHook(aws_conn_id=CONN_ID).get_conn()
    s3 = S3Hook(aws_conn_id=CONN_ID).get_conn()
    with Stopwatch() as watch:
        body = glacier.get_job_output(vaultName=params["vault"], jobId=params["job_id"])["body"].read()
        s3.put_object(Bucket=BUCKET, Key=params["key"], Body=body)
    return _metrics(params, watch, verified=False, chunks=1)


def managed(params: dict[str, Any]) -> dict[str, Any]:
    from airflow.providers.amazon.aws.hooks.glacier import GlacierHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    glacier = GlacierHook(aws_conn_id=CONN_ID).get_conn()
    s3 = S3Hook(aws_conn_id=CONN_ID).get_conn()
    with Stopwatch() as watch:
        body = glacier.get_job_output(vaultName=params["vault"], jobId=params["job_id"])["body"]
        s3.upload_fileobj(body, BUCKET, params["key"])
    return _metrics(params, watch, verified=False, chunks=-(-int(params["size"]) // (8 * MIB)))


def shard(params: dict[str, Any]) -> dict[str, Any]:
    from airflow_glacier_select.s3_copy.sharded import copy_shard

    with Stopwatch() as watch:
        done = copy_shard(_transfer(int(params["concurrency"])), params["work"])
    return {**done, "wall_s": watch.wall, "cpu_s": watch.cpu}


def sharded(params: dict[str, Any]) -> dict[str, Any]:
    """Plan here, one process per shard (all at once, like mapped tasks on workers), finish here."""
    from airflow_glacier_select.s3_copy.sharded import finish_sharded_copy, plan_sharded_copy

    transfer = _transfer(int(params["concurrency"]))
    results: list[dict[str, Any]] = []
    with Stopwatch() as watch:
        planned = time.perf_counter()
        works = plan_sharded_copy(
            transfer,
            params["vault"],
            params["job_id"],
            BUCKET,
            params["key"],
            int(params["shards"]),
            collision="overwrite",
        )
        plan_s = time.perf_counter() - planned

        def run(work: dict[str, Any]) -> None:
            results.append(run_case(__file__, "shard", {"work": work, "concurrency": params["concurrency"]}))

        threads = [threading.Thread(target=run, args=(work,)) for work in works]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if len(results) != len(works):
            raise RuntimeError("a shard process failed")
        finishing = time.perf_counter()
        done = finish_sharded_copy(transfer, works)
        finish_s = time.perf_counter() - finishing
    # Workers of a running Airflow are up before the shard tasks start; this process starts
    # one interpreter (and imports Airflow) per shard, which the second figure leaves out.
    busy = plan_s + max(result["wall_s"] for result in results) + finish_s
    return _metrics(
        params,
        watch,
        verified=done.verified,
        chunks=done.chunks,
        tree_hash=done.sha256_tree_hash,
        shard_peak_rss_mb=max(result["peak_rss_mb"] for result in results),
        mb_per_s_started_workers=int(params["size"]) / MB / busy,
    )


_KILLED = """
import os, sys
sys.path.insert(0, {here!r})
import transfer as bench
from airflow_glacier_select.s3_copy import engine
original, calls = engine._Run._copy_part, []

def then_die(*args, **kwargs):
    result = original(*args, **kwargs)
    calls.append(1)
    if len(calls) >= {parts}:
        os._exit(75)
    return result

engine._Run._copy_part = then_die
transfer = bench._transfer({concurrency})
transfer.copy_job_output({vault!r}, {job_id!r}, {bucket!r}, {key!r}, collision="overwrite")
"""


def resume(params: dict[str, Any]) -> dict[str, Any]:
    """Kill a copy once 60 % of its parts are in S3, retry it; count the bytes downloaded again."""
    from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint

    size, concurrency = int(params["size"]), int(params["concurrency"])
    parts = -(-size // CHUNK)
    killed_after = max(1, int(parts * KILL_FRACTION))
    program = _KILLED.format(
        here=str(Path(__file__).parent),
        parts=killed_after,
        concurrency=concurrency,
        vault=params["vault"],
        job_id=params["job_id"],
        bucket=BUCKET,
        key=params["key"],
    )
    died = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False)
    if died.returncode != 75:
        raise RuntimeError(f"the copy was not killed as planned: {died.stderr[-2000:]}")
    endpoint = RemoteGlacierEndpoint(params["url"])
    endpoint.reset_counts()
    result = ours(params)
    refetched = sum(last + 1 - first for first, last in endpoint.job_output_ranges(params["job_id"]))
    unfinished = size - killed_after * CHUNK
    return {
        **result,
        "parts": parts,
        "killed_after_parts": killed_after,
        "refetched_bytes": refetched,
        "unfinished_bytes": unfinished,
        "within_bound": refetched <= unfinished,
    }


CASES = {
    "ours": ours,
    "naive": naive,
    "managed": managed,
    "sharded": sharded,
    "shard": shard,
    "resume": resume,
}


# --- the plan of a run --------------------------------------------------------------------------


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


def plan_cases(quick: bool, sizes: list[int], networks: list[str]) -> list[dict[str, Any]]:
    """Every case of the run: name, kind, size, network, concurrency, shards."""
    cases: list[dict[str, Any]] = []

    def add(name: str, kind: str, mib: int, network: str, concurrency: int = 4, shards: int = 1) -> None:
        cases.append(
            {
                "name": name,
                "kind": kind,
                "mib": mib,
                "network": network,
                "concurrency": concurrency,
                "shards": shards,
            }
        )

    if quick:
        add(f"ours_{QUICK_MIB}", "ours", QUICK_MIB, "loopback")
        add(f"baseline_{QUICK_MIB}", "naive", QUICK_MIB, "loopback")
        add(f"managed_{QUICK_MIB}", "managed", QUICK_MIB, "loopback")
        add(f"ours_{QUICK_MIB}_wan_c4", "ours", QUICK_MIB, "wan")
        add(f"sharded_{QUICK_MIB}_wan_s2", "sharded", QUICK_MIB, "wan", shards=2)
        add(f"resume_{QUICK_MIB}_wan", "resume", QUICK_MIB, "wan", concurrency=1)
        return cases
    for mib in sizes:
        if mib > 2048:
            if "loopback" in networks:
                add(f"ours_{mib}", "ours", mib, "loopback")  # one worker's memory at 8 GiB
            continue
        if "loopback" in networks:
            add(f"ours_{mib}", "ours", mib, "loopback")
            add(f"baseline_{mib}", "naive", mib, "loopback")
            add(f"managed_{mib}", "managed", mib, "loopback")
        if "wan" in networks:
            add(f"naive_{mib}_wan", "naive", mib, "wan")
            add(f"managed_{mib}_wan", "managed", mib, "wan")
            sweep = (1, 2, 4, 8, 16) if mib <= 512 else (8,)
            for concurrency in sweep:
                add(f"ours_{mib}_wan_c{concurrency}", "ours", mib, "wan", concurrency=concurrency)
            if mib >= 2048:
                for shards in (1, 2, 4):
                    add(f"sharded_{mib}_wan_s{shards}", "sharded", mib, "wan", shards=shards)
                add(f"resume_{mib}_wan", "resume", mib, "wan", concurrency=8)
    return cases


def _headlines(results: dict[str, dict[str, Any]], cases: list[dict[str, Any]]) -> list[Headline]:
    headlines: list[Headline] = []
    sizes = sorted({case["mib"] for case in cases})

    def has(*names: str) -> bool:
        return all(name in results for name in names)

    for mib in sizes:
        if has(f"ours_{mib}", f"baseline_{mib}"):
            ours_r, base = results[f"ours_{mib}"], results[f"baseline_{mib}"]
            target = mib >= 512
            headlines.append(
                Headline(
                    "transfer to S3",
                    f"loopback throughput, {mib} MiB",
                    ours_r["mb_per_s"],
                    base["mb_per_s"],
                    "get_job_output read() + put_object",
                    "MB/s",
                    True,
                    ">= 1x (no slower), every chunk verified" if target else "-",
                    (ours_r["mb_per_s"] >= base["mb_per_s"] and ours_r["verified"]) if target else None,
                )
            )
        best = max(
            (name for name in results if name.startswith(f"ours_{mib}_wan_c")),
            key=lambda name: results[name]["mb_per_s"],
            default=None,
        )
        if best is not None and has(f"naive_{mib}_wan", f"managed_{mib}_wan"):
            ours_r = results[best]
            for kind, name, target in (
                ("naive", "get_job_output read() + put_object", NAIVE_TARGET),
                ("managed", "get_job_output body -> boto3 upload_fileobj", MANAGED_TARGET),
            ):
                base = results[f"{kind}_{mib}_wan"]
                headlines.append(
                    Headline(
                        "transfer to S3",
                        f"network model throughput, {mib} MiB ({best.rsplit('_', 1)[1]})",
                        ours_r["mb_per_s"],
                        base["mb_per_s"],
                        name,
                        "MB/s",
                        True,
                        f">= {target}x" if mib == 2048 else "-",
                        ours_r["mb_per_s"] >= target * base["mb_per_s"] if mib == 2048 else None,
                    )
                )
    largest = max((mib for mib in sizes if f"ours_{mib}" in results), default=None)
    if largest is not None:
        ours_r = results[f"ours_{largest}"]
        base = results.get(f"baseline_{largest}") or results.get(
            f"baseline_{max(s for s in sizes if s <= 2048)}"
        )
        headlines.append(
            Headline(
                "transfer to S3",
                f"peak RSS, {largest} MiB, one worker",
                ours_r["peak_rss_mb"],
                base["peak_rss_mb"] if base else 0.0,
                "get_job_output read() + put_object"
                + ("" if f"baseline_{largest}" in results else " (2 GiB)"),
                "MB",
                False,
                f"<= {RSS_TARGET_MB:.0f} MB (256 MiB)",
                ours_r["peak_rss_mb"] <= RSS_TARGET_MB,
            )
        )
    for name, result in results.items():
        if name.startswith("resume_"):
            headlines.append(
                Headline(
                    "transfer to S3",
                    f"killed at 60 % and retried, {result['bytes'] // MIB} MiB: MiB re-fetched",
                    result["refetched_bytes"] / MIB,
                    result["unfinished_bytes"] / MIB,
                    "unfinished + in-flight chunks (the bound)",
                    "MiB",
                    False,
                    "<= unfinished + in flight",
                    bool(result["within_bound"]),
                )
            )
    return headlines


def main() -> None:
    args = arguments(__doc__.split("\n")[0], extra=_extra_arguments())
    if child_main(args, CASES):
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    networks = [args.only] if args.only else ["loopback", "wan"]
    cases = plan_cases(args.quick, sizes, networks)
    if args.cases:
        wanted = set(args.cases.split(","))
        cases = [case for case in cases if case["name"] in wanted]
    by_name = {case["name"]: case for case in cases}
    from airflow_glacier_select.testing.network import PRESETS

    with (
        tempfile.TemporaryDirectory(prefix="glacier-bench-transfer-") as scratch,
        seeded_endpoint(storage_dir=scratch) as (endpoint, vault, _),
        airflow_environment(endpoint.url),
    ):
        s3 = endpoint.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        jobs: dict[int, str] = {}
        for mib in sorted({case["mib"] for case in cases}):
            path = Path(scratch) / f"archive-{mib}MiB.bin"
            _write_archive(path, mib * MIB)
            jobs[mib] = _retrieval_job(endpoint, vault, path)
            path.unlink()
        expected = {
            mib: endpoint.client("glacier").describe_job(vaultName=vault, jobId=job)["SHA256TreeHash"]
            for mib, job in jobs.items()
        }
        counter = iter(range(1_000_000))

        def measure(name: str) -> dict[str, Any]:
            case = by_name[name]
            endpoint.set_network(PRESETS[case["network"]])
            key = f"{name}/{next(counter)}"
            params = {
                **case,
                "vault": vault,
                "job_id": jobs[case["mib"]],
                "key": key,
                "size": case["mib"] * MIB,
                "url": endpoint.url,
            }
            started = time.monotonic()
            result = run_case(__file__, case["kind"], params)
            print(f"  {name}: {result['mb_per_s']:.1f} MB/s ({time.monotonic() - started:.0f} s)", flush=True)
            stored = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
            if stored != case["mib"] * MIB or (
                "tree_hash" in result and result["tree_hash"] != expected[case["mib"]]
            ):
                raise SystemExit(f"{name}: S3 holds {stored} bytes, tree hash {result.get('tree_hash')}")
            s3.delete_object(Bucket=BUCKET, Key=key)
            return result

        runs = interleaved(args.runs, list(by_name), measure)
        endpoint.set_network(PRESETS["loopback"])
    results = {name: medians(samples) for name, samples in runs.items()}
    headlines = _headlines(results, cases)
    headers = (
        "case",
        "network",
        "MiB",
        "workers",
        "chunks",
        "verified",
        "MB/s",
        "MB/s, workers up",
        "CPU s",
        "wall s",
        "peak RSS MB",
    )
    rows = [
        (
            name,
            by_name[name]["network"],
            r["bytes"] // MIB,
            _workers(by_name[name]),
            r["chunks"],
            r["verified"],
            r["mb_per_s"],
            r.get("mb_per_s_started_workers", r["mb_per_s"]),
            r["cpu_s"],
            r["wall_s"],
            r.get("shard_peak_rss_mb", r["peak_rss_mb"]),
        )
        for name, r in results.items()
    ]
    networks_used = {name: PRESETS[name].to_dict() for name in PRESETS}
    save(
        args,
        "transfer",
        {"medians": results, "runs": runs},
        headlines,
        {"planned": cases, "network": networks_used},
    )
    report(f"Transfer to S3, median of {args.runs}", headers, rows, headlines)


def _workers(case: dict[str, Any]) -> str:
    """``shards x concurrency`` for our copies; the baselines have one stream each."""
    return f"{case['shards']}x{case['concurrency']}" if case["kind"] in ("ours", "sharded", "resume") else "-"


def _extra_arguments() -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    return [
        (("--sizes",), {"default": "512,2048,8192", "help": "archive sizes in MiB (full runs)"}),
        (("--only",), {"choices": ["loopback", "wan"], "default": None, "help": "one network only"}),
        (("--cases",), {"default": "", "help": "comma-separated case names to run (default: all)"}),
    ]


if __name__ == "__main__":
    main()
