"""Run every benchmark, then print the headline table and draw the chart for the README.

    .venvs/airflow-3.3.2/bin/python benchmarks/run_all.py            # full: several minutes
    .venvs/airflow-3.3.2/bin/python benchmarks/run_all.py --quick    # tiny sizes, one run (CI smoke)
    .venvs/airflow-3.3.2/bin/python benchmarks/run_all.py --only treehash inventory

Each benchmark saves ``<results-dir>/<name>.json``; this script then writes
``summary.md`` (the headline table) and ``performance.png`` (every headline as "times
better than the baseline", green where the issue's target is met, red where it is not)
next to them. Full runs go to ``benchmarks/results/``, quick runs to
``benchmarks/results/quick/`` unless ``--results-dir`` says otherwise.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import BENCHMARKS_DIR, QUICK_RESULTS_DIR, RESULTS_DIR, Headline, headline_table, machine

BENCHMARKS = (
    "treehash",
    "inventory",
    "migration_plan",
    "listjobs",
    "waiting",
    "waiting_notifications",
    "transfer",
)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one run per case (CI smoke)")
    parser.add_argument("--runs", type=int, default=None, help="runs per case (default: 1 quick, 3 full)")
    parser.add_argument("--results-dir", type=Path, default=None)
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=None, help="run just these")
    parser.add_argument("--chart-only", action="store_true", help="redraw from the saved JSON, run nothing")
    args = parser.parse_args()
    if args.results_dir is None:
        args.results_dir = QUICK_RESULTS_DIR if args.quick else RESULTS_DIR
    return args


def _load_headlines(results_dir: Path) -> list[Headline]:
    headlines = []
    for name in BENCHMARKS:
        path = results_dir / f"{name}.json"
        if path.exists():
            for saved in json.loads(path.read_text())["headlines"]:
                saved.pop("advantage", None)
                headlines.append(Headline(**saved))
    return headlines


def draw_chart(headlines: list[Headline], path: Path) -> None:
    """One bar per headline: how many times better ours is, on a log scale; 1x is parity."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{h.benchmark}: {h.metric}\nvs {h.baseline_name}" for h in headlines]
    values = [h.advantage for h in headlines]
    colours = ["#2e7d32" if h.met else "#c62828" if h.met is False else "#78909c" for h in headlines]
    figure, axes = plt.subplots(figsize=(11, 0.55 * len(headlines) + 1.5))
    positions = range(len(headlines))
    axes.barh(positions, values, color=colours)
    axes.set_yticks(list(positions), labels, fontsize=7)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.axvline(1.0, color="black", linewidth=0.8)
    for position, headline in zip(positions, headlines, strict=True):
        axes.annotate(
            f" {headline.advantage:,.2f}x" if headline.advantage < 100 else f" {headline.advantage:,.0f}x",
            (headline.advantage, position),
            va="center",
            fontsize=7,
        )
    axes.set_xlabel("times better than the baseline (log scale; right of the line = ours is better)")
    axes.set_title(
        "airflow-glacier-select against the baselines (green: target met, red: missed, grey: no target)",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _summary(headlines: list[Headline], results_dir: Path) -> str:
    info: dict[str, Any] = machine()
    versions = ", ".join(f"{name} {version}" for name, version in info["versions"].items() if version)
    notes = "".join(f"- {h.benchmark}, {h.metric}: {h.note}\n" for h in headlines if h.note)
    return (
        f"{headline_table(headlines)}\n\n{notes}{chr(10) if notes else ''}"
        f"Machine: {info['nproc']} CPUs ({info['cpu_model']}), {info['ram_gib']} GiB RAM, "
        f"Python {info['python']}, {info['platform']}; {versions}.\n"
    )


def main() -> int:
    args = _arguments()
    names = args.only or BENCHMARKS
    if not args.chart_only:
        for name in names:
            command = [
                sys.executable,
                str(BENCHMARKS_DIR / f"{name}.py"),
                "--results-dir",
                str(args.results_dir),
            ]
            if args.quick:
                command.append("--quick")
            if args.runs is not None:
                command += ["--runs", str(args.runs)]
            started = time.perf_counter()
            subprocess.run(command, check=True)
            print(f"({name}: {time.perf_counter() - started:.0f} s)", flush=True)
    headlines = _load_headlines(args.results_dir)
    summary = _summary(headlines, args.results_dir)
    (args.results_dir / "summary.md").write_text(summary)
    draw_chart(headlines, args.results_dir / "performance.png")
    print(f"\n## All benchmarks\n\n{summary}\nSaved {args.results_dir / 'performance.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
