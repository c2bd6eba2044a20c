"""Tree hash throughput: ours against botocore's reference and raw SHA-256, on one core.

Every download this package makes is checked against Glacier's SHA-256 tree hash, so
the hash must cost no more than the SHA-256 it is built from. The three contenders
read the same bytes through the same ``read(1 MiB)`` calls of a source that repeats a
16 MiB random buffer (1 GiB is never held in memory, and the reads copy nothing):

* ``raw_sha256``: one ``hashlib.sha256`` over everything, the upper bound;
* ``ours``: :class:`airflow_glacier_select.treehash.TreeHash`;
* ``botocore``: ``botocore.utils.calculate_tree_hash``, the reference implementation.

Throughput is bytes per CPU second of the measuring process (single-threaded), so
other load on the machine slows the wall clock but not the figure.

    python benchmarks/treehash.py [--quick] [--runs N]
"""

from __future__ import annotations

import hashlib
import random
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

CASES = ("raw_sha256", "ours", "botocore")
READ_SIZE = MIB


class RepeatingSource:
    """``total`` bytes made of one buffer repeated, read as zero-copy memoryview slices."""

    def __init__(self, total: int, buffer: bytes) -> None:
        self.view = memoryview(buffer)
        self.total = total
        self.position = 0

    def read(self, size: int) -> memoryview:
        left = self.total - self.position
        offset = self.position % len(self.view)
        size = min(size, left, len(self.view) - offset)
        self.position += size
        return self.view[offset : offset + size]


def _hash(case: str, source: RepeatingSource) -> str:
    if case == "raw_sha256":
        digest = hashlib.sha256()
        while chunk := source.read(READ_SIZE):
            digest.update(chunk)
        return digest.hexdigest()
    if case == "ours":
        from airflow_glacier_select.treehash import TreeHash

        tree = TreeHash()
        while chunk := source.read(READ_SIZE):
            tree.update(chunk)
        return tree.hexdigest()
    from botocore.utils import calculate_tree_hash

    return str(calculate_tree_hash(source))


def measure(params: dict[str, Any]) -> dict[str, Any]:
    case, size = params["case"], int(params["size"])
    buffer = random.Random(7).randbytes(min(size, 16 * MIB))
    source = RepeatingSource(size, buffer)
    _hash(case, RepeatingSource(MIB, buffer))  # imports and first-call costs outside the timing
    with Stopwatch() as watch:
        digest = _hash(case, source)
    return {
        "bytes": size,
        "wall_s": watch.wall,
        "cpu_s": watch.cpu,
        "mb_per_cpu_s": size / MB / watch.cpu,
        "mb_per_s": size / MB / watch.wall,
        "digest": digest,
    }


def main() -> None:
    args = arguments(__doc__.split("\n")[0])
    if child_main(args, {case: measure for case in CASES}):
        return
    size = 8 * MIB if args.quick else 1024 * MIB
    runs = interleaved(args.runs, CASES, lambda case: run_case(__file__, case, {"case": case, "size": size}))
    results = {case: medians(samples) for case, samples in runs.items()}
    if results["ours"]["digest"] != results["botocore"]["digest"]:
        raise SystemExit(
            f"tree hashes differ: ours {results['ours']['digest']}, botocore {results['botocore']['digest']}"
        )
    raw, ours = results["raw_sha256"], results["ours"]
    ratio = ours["mb_per_cpu_s"] / raw["mb_per_cpu_s"]
    headlines = [
        Headline(
            "tree hash",
            f"throughput over {size // MIB} MiB",
            ours["mb_per_cpu_s"],
            raw["mb_per_cpu_s"],
            "raw hashlib.sha256",
            "MB per CPU s",
            True,
            ">= 0.95x raw SHA-256",
            ratio >= 0.95,
        ),
        Headline(
            "tree hash",
            f"throughput over {size // MIB} MiB",
            ours["mb_per_cpu_s"],
            results["botocore"]["mb_per_cpu_s"],
            "botocore calculate_tree_hash",
            "MB per CPU s",
            True,
            "-",
            None,
        ),
    ]
    rows = [
        (
            case,
            r["mb_per_cpu_s"],
            r["mb_per_s"],
            r["cpu_s"],
            r["peak_rss_mb"],
            r["mb_per_cpu_s"] / raw["mb_per_cpu_s"],
        )
        for case, r in results.items()
    ]
    headers = ("case", "MB/CPU s", "MB/s wall", "CPU s", "peak RSS MB", "x raw SHA-256")
    report(f"Tree hash, {size // MIB} MiB, median of {args.runs}", headers, rows, headlines)
    save(args, Path(__file__).stem, {"medians": results, "runs": runs}, headlines)


if __name__ == "__main__":
    main()
