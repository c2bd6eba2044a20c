"""Inventory parsing: our streaming parser against reading the whole inventory and parsing it at once.

A vault inventory lists every archive; with a million archives it is hundreds of MB.
The amazon provider's ``GlacierHook.retrieve_inventory_results`` hands back the body
and the usual next step is ``json.load`` (or, for a CSV inventory, reading it whole and
splitting it with the ``csv`` module), which holds the whole text and every record at
once. Ours (:func:`airflow_glacier_select.inventory.iter_inventory_archives`) yields
one typed, validated archive at a time.

Cases, each in its own process over the same synthetic inventory file
(:func:`airflow_glacier_select.testing.inventory_fixtures.write_synthetic_inventory`,
with the quotes, commas and backslashes real descriptions hold):

* ``json_ours`` / ``csv_ours``: stream the archives, sum their sizes;
* ``json_ours_accumulate`` / ``csv_ours_accumulate``: the same plus what a DAG task
  planning retrievals keeps per archive (its size in a list, bytes per creation month):
  the memory of parse + a simple accumulation over the whole vault;
* ``json_load``: ``json.load`` the file, sum the sizes of ``ArchiveList``;
* ``json_load_typed``: the same, plus what ours also does per record (parse the
  CreationDate, build an :class:`InventoryArchive`): the same work, done the baseline's way;
* ``csv_naive``: read the file whole, ``csv.reader`` over its lines, sum the sizes. It
  does not understand the service's ``\\"`` escaping; rows it splits into the wrong
  number of fields are counted as ``misparsed``.

    python benchmarks/inventory.py [--quick] [--runs N]
"""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import Any

from _common import Headline, Stopwatch, arguments, child_main, interleaved, medians, report, run_case, save

CASES = (
    "json_ours",
    "json_load",
    "json_load_typed",
    "json_ours_accumulate",
    "csv_ours",
    "csv_naive",
    "csv_ours_accumulate",
)
RSS_TARGET_MB = 50.0
ACCUMULATE_RSS_TARGET_MB = 150.0


def _ours(path: str, format: str) -> tuple[int, int, int]:
    from airflow_glacier_select.inventory import iter_inventory_archives

    count = total = 0
    with open(path, "rb") as stream:
        for archive in iter_inventory_archives(stream, format):
            count += 1
            total += archive.size
    return count, total, 0


def _ours_accumulate(path: str, format: str) -> tuple[int, int, int]:
    """Parse and keep one entry per archive (its size) plus a total per creation month."""
    from airflow_glacier_select.inventory import iter_inventory_archives

    sizes: list[int] = []
    by_month: dict[tuple[int, int], int] = {}
    with open(path, "rb") as stream:
        for archive in iter_inventory_archives(stream, format):
            sizes.append(archive.size)
            month = (archive.creation_date.year, archive.creation_date.month)
            by_month[month] = by_month.get(month, 0) + archive.size
    if sum(by_month.values()) != sum(sizes):
        raise AssertionError("per-month totals do not add up to the archive sizes")
    return len(sizes), sum(sizes), 0


def _json_load(path: str, typed: bool) -> tuple[int, int, int]:
    from airflow_glacier_select.inventory import InventoryArchive, parse_glacier_timestamp

    with open(path, "rb") as stream:
        records = json.load(stream)["ArchiveList"]
    count = total = 0
    for record in records:
        if typed:
            archive = InventoryArchive(
                record["ArchiveId"],
                record["ArchiveDescription"],
                parse_glacier_timestamp(record["CreationDate"]),
                record["Size"],
                record["SHA256TreeHash"],
            )
            total += archive.size
        else:
            total += record["Size"]
        count += 1
    return count, total, 0


def _csv_naive(path: str) -> tuple[int, int, int]:
    with open(path, "rb") as stream:
        text = stream.read().decode("utf-8")
    rows = csv.reader(text.splitlines())
    next(rows)  # header
    count = total = misparsed = 0
    for row in rows:
        count += 1
        if len(row) == 5 and row[3].isdigit():
            total += int(row[3])
        else:
            misparsed += 1
    return count, total, misparsed


def measure(params: dict[str, Any]) -> dict[str, Any]:
    case, path = params["case"], params["path"]
    with Stopwatch() as watch:
        if case.endswith("_ours"):
            count, total, misparsed = _ours(path, case.split("_")[0].upper())
        elif case.endswith("_accumulate"):
            count, total, misparsed = _ours_accumulate(path, case.split("_")[0].upper())
        elif case.startswith("json_load"):
            count, total, misparsed = _json_load(path, typed=case == "json_load_typed")
        else:
            count, total, misparsed = _csv_naive(path)
    return {
        "archives": count,
        "size_sum": total,
        "misparsed": misparsed,
        "wall_s": watch.wall,
        "cpu_s": watch.cpu,
        "archives_per_cpu_s": count / watch.cpu,
    }


def _inventory(directory: Path, count: int, format: str) -> Path:
    from airflow_glacier_select.testing.inventory_fixtures import write_synthetic_inventory

    path = directory / f"inventory-{count}.{format.lower()}"
    with path.open("wb") as out:
        write_synthetic_inventory(out, count, format=format, seed=11)
    return path


def _headlines(results: dict[str, dict[str, Any]], count: int) -> list[Headline]:
    headlines = []
    for fmt, baseline in (("JSON", "json_load"), ("CSV", "csv_naive")):
        ours, base = results[f"{fmt.lower()}_ours"], results[baseline]
        name = "json.load" if fmt == "JSON" else "read whole + csv.reader"
        headlines += [
            Headline(
                "inventory",
                f"{fmt}, {count:,} archives: CPU time",
                ours["cpu_s"],
                base["cpu_s"],
                name,
                "s",
                False,
                "no worse than baseline (>= 1.0x)",
                ours["cpu_s"] <= base["cpu_s"],
            ),
            Headline(
                "inventory",
                f"{fmt}, {count:,} archives: peak RSS",
                ours["peak_rss_mb"],
                base["peak_rss_mb"],
                name,
                "MB",
                False,
                f"<= {RSS_TARGET_MB:.0f} MB",
                ours["peak_rss_mb"] <= RSS_TARGET_MB,
            ),
            Headline(
                "inventory",
                f"{fmt}, {count:,} archives + per-archive accumulation: peak RSS",
                results[f"{fmt.lower()}_ours_accumulate"]["peak_rss_mb"],
                base["peak_rss_mb"],
                name,
                "MB",
                False,
                f"<= {ACCUMULATE_RSS_TARGET_MB:.0f} MB",
                results[f"{fmt.lower()}_ours_accumulate"]["peak_rss_mb"] <= ACCUMULATE_RSS_TARGET_MB,
            ),
        ]
    typed = results["json_load_typed"]
    headlines.append(
        Headline(
            "inventory",
            f"JSON, {count:,} archives: CPU time",
            results["json_ours"]["cpu_s"],
            typed["cpu_s"],
            "json.load + same typed records",
            "s",
            False,
            "-",
            None,
        )
    )
    return headlines


def main() -> None:
    args = arguments(__doc__.split("\n")[0])
    if child_main(args, {case: measure for case in CASES}):
        return
    count = 2_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="glacier-bench-inventory-") as directory:
        files = {fmt: str(_inventory(Path(directory), count, fmt)) for fmt in ("JSON", "CSV")}
        sizes = {fmt: Path(path).stat().st_size for fmt, path in files.items()}
        runs = interleaved(
            args.runs,
            CASES,
            lambda case: run_case(__file__, case, {"case": case, "path": files[case.split("_")[0].upper()]}),
        )
    results = {case: medians(samples) for case, samples in runs.items()}
    for case in CASES:
        if case == "csv_naive":
            continue
        if (
            results[case]["archives"] != count
            or results[case]["size_sum"] != results["json_load"]["size_sum"]
        ):
            raise SystemExit(f"{case} read {results[case]['archives']} archives, expected {count}")
    headlines = _headlines(results, count)
    headers = ("case", "archives", "misparsed", "CPU s", "wall s", "archives/CPU s", "peak RSS MB")
    rows = [
        (
            case,
            r["archives"],
            r["misparsed"],
            r["cpu_s"],
            r["wall_s"],
            r["archives_per_cpu_s"],
            r["peak_rss_mb"],
        )
        for case, r in results.items()
    ]
    megabytes = {fmt: f"{size / 1e6:,.0f} MB" for fmt, size in sizes.items()}
    title = f"Inventory, {count:,} archives (JSON {megabytes['JSON']}, CSV {megabytes['CSV']})"
    report(f"{title}, median of {args.runs}", headers, rows, headlines)
    save(args, "inventory", {"medians": results, "runs": runs}, headlines, {"file_bytes": sizes})


if __name__ == "__main__":
    main()
