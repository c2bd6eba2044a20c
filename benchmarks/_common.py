"""What every benchmark shares: one case per subprocess, interleaved runs, medians, tables, JSON.

The machine the benchmarks run on is shared and noisy, so a comparison is only
meaningful inside one run: every script measures our code and its baseline
alternately (ours, baseline, ours, baseline ...) and reports medians and ratios,
never absolute numbers from different runs.

Peak memory is the peak RSS (``ru_maxrss``) of a process that ran exactly one case,
so one case's garbage can never inflate another's peak. A script runs a case in a
child of itself (``<script> --case NAME --params JSON``); the child prints one JSON
line with the case's metrics plus ``peak_rss_mb`` and ``start_rss_mb`` (the RSS when
the case began, after imports), and the parent collects it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCHMARKS_DIR / "results"
QUICK_RESULTS_DIR = RESULTS_DIR / "quick"
MIB = 1024 * 1024
MB = 1_000_000

Case = Callable[[dict[str, Any]], dict[str, Any]]


# --- memory and time ---------------------------------------------------------------------------


def peak_rss_mb() -> float:
    """Peak resident set of this process so far, in MB (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / MB


def current_rss_mb() -> float:
    """Resident set of this process now, in MB, from ``/proc/self/statm``."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / MB


@dataclass
class Stopwatch:
    """Wall and CPU seconds (all threads of this process) since :meth:`start`."""

    wall_start: float = 0.0
    cpu_start: float = 0.0
    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> Stopwatch:
        self.wall_start, self.cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall_start
        self.cpu = time.process_time() - self.cpu_start


def children_peak_rss_mb() -> float:
    """Largest peak RSS among the waited-for child processes so far, in MB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / MB


def children_cpu_seconds() -> float:
    """User + system CPU of every waited-for child process so far (grandchildren included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- running cases in subprocesses -------------------------------------------------------------


def arguments(
    description: str,
    argv: Sequence[str] | None = None,
    extra: Sequence[tuple[tuple[str, ...], dict[str, Any]]] = (),
) -> argparse.Namespace:
    """The options every benchmark takes, plus ``extra`` (``(flags, add_argument keywords)`` pairs)."""
    parser = argparse.ArgumentParser(description=description)
    for flags, options in extra:
        parser.add_argument(*flags, **options)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one run (CI smoke mode)")
    parser.add_argument("--runs", type=int, default=None, help="runs per case (default: 1 quick, 3 full)")
    parser.add_argument("--results-dir", type=Path, default=None, help="where to save the JSON")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.runs is None:
        args.runs = 1 if args.quick else 3
    if args.results_dir is None:
        args.results_dir = QUICK_RESULTS_DIR if args.quick else RESULTS_DIR
    return args


def child_main(args: argparse.Namespace, cases: Mapping[str, Case]) -> bool:
    """In a child started by :func:`run_case`: run the one case asked for, print its JSON line.

    Returns False when this process is not such a child (the script is the parent).
    """
    if not args.case:
        return False
    start_rss = current_rss_mb()
    result = cases[args.case](json.loads(args.params))
    result["start_rss_mb"] = round(start_rss, 1)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result), flush=True)
    return True


def run_case(
    script: str | Path, case: str, params: Mapping[str, Any] | None = None, *, timeout: float = 3600
) -> dict[str, Any]:
    """Run ``case`` of ``script`` in a fresh interpreter and return its metrics."""
    command = [sys.executable, str(script), "--case", case, "--params", json.dumps(dict(params or {}))]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"case {case} of {Path(script).name} failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def interleaved(
    runs: int, cases: Sequence[str], measure: Callable[[str], dict[str, Any]]
) -> dict[str, list[dict[str, Any]]]:
    """``runs`` rounds of every case in turn, so each case sees the same machine conditions.

    The order rotates each round, so no case is always first (cold) or last.
    """
    results: dict[str, list[dict[str, Any]]] = {case: [] for case in cases}
    for round_ in range(runs):
        shift = round_ % len(cases)
        for case in [*cases[shift:], *cases[:shift]]:
            results[case].append(measure(case))
    return results


def median_of(samples: Iterable[Mapping[str, Any]], key: str) -> float:
    return float(statistics.median(sample[key] for sample in samples))


def medians(samples: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Median of every numeric metric over the runs of one case (other values from the first run)."""
    merged: dict[str, Any] = dict(samples[0])
    for key, value in samples[0].items():
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if numeric and any(sample[key] != value for sample in samples):
            merged[key] = median_of(samples, key)
    merged["runs"] = len(samples)
    return merged


# --- reporting ---------------------------------------------------------------------------------


@dataclass
class Headline:
    """One comparison that goes into the README table and the chart.

    ``advantage`` is how many times better ours is (above 1 is better, whichever way
    the metric runs); ``met`` says whether the issue's target holds.
    """

    benchmark: str
    metric: str
    ours: float
    baseline: float
    baseline_name: str
    unit: str
    higher_is_better: bool
    target: str
    met: bool | None
    note: str = ""
    advantage: float = field(init=False)

    def __post_init__(self) -> None:
        if self.higher_is_better:
            self.advantage = self.ours / self.baseline if self.baseline else float("inf")
        else:
            self.advantage = self.baseline / self.ours if self.ours else float("inf")


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else ("yes" if value else "NO")
    if isinstance(value, float):
        if value == 0 or abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A Markdown table (also readable as plain text)."""
    cells = [[fmt(value) for value in row] for row in rows]
    widths = [max(len(str(h)), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    lines = [
        "| " + " | ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    return "\n".join(lines)


def headline_table(headlines: Iterable[Headline]) -> str:
    return table(
        ["benchmark", "metric", "ours", "baseline", "baseline is", "advantage", "target", "met"],
        [
            (
                h.benchmark,
                f"{h.metric} ({h.unit})",
                h.ours,
                h.baseline,
                h.baseline_name,
                f"{h.advantage:,.2f}x" if h.advantage < 100 else f"{h.advantage:,.0f}x",
                h.target,
                h.met,
            )
            for h in headlines
        ],
    )


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(total_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {
            name: _version(name)
            for name in (
                "airflow-glacier-select",
                "apache-airflow",
                "apache-airflow-providers-amazon",
                "boto3",
                "botocore",
                "aiobotocore",
                "moto",
            )
        },
    }


def save(
    args: argparse.Namespace,
    name: str,
    cases: Mapping[str, Any],
    headlines: Sequence[Headline],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``<results-dir>/<name>.json``: per-case medians and raw runs, headlines, machine."""
    args.results_dir.mkdir(parents=True, exist_ok=True)
    path = args.results_dir / f"{name}.json"
    payload = {
        "benchmark": name,
        "quick": args.quick,
        "runs": args.runs,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "cases": cases,
        "headlines": [vars(h) for h in headlines],
        **(extra or {}),
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return path


def report(
    title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], headlines: Sequence[Headline]
) -> None:
    print(f"\n## {title}\n")
    print(table(headers, rows))
    print()
    print(headline_table(headlines))
    sys.stdout.flush()
