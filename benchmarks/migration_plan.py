"""Planning a vault migration: our streaming planner against planning from ``json.load``.

A migration plan reads the whole inventory (a million archives is hundreds of MB of JSON)
and decides per archive: already copied, this run, later, refused by the policy. Ours
(:class:`airflow_glacier_select.migration.plan.MigrationPlanner` over
:func:`~airflow_glacier_select.inventory.iter_inventory_archives`) keeps counters only;
the baseline loads the inventory with ``json.load`` and applies the same budget rule to
the list. Both see every tenth archive as already copied (a re-run's typical state) and
take a 500 GiB run budget in the Bulk tier (the synthetic archives reach 40 TiB,
which a Max Retrieval Rate policy would refuse in the Standard tier).

    python benchmarks/migration_plan.py [--quick] [--runs N]
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from _common import Headline, Stopwatch, arguments, child_main, interleaved, medians, report, run_case, save

CASES = ("plan_ours", "plan_json_load")
RSS_TARGET_MB = 150.0
BUDGET = 500 * 2**30


def _plan_ours(path: str) -> dict[str, Any]:
    from airflow_glacier_select.inventory import iter_inventory_archives
    from airflow_glacier_select.migration.plan import MigrationPlanner, MigrationSettings

    planner = MigrationPlanner(MigrationSettings(tier="Bulk", run_byte_budget=BUDGET))
    with open(path, "rb") as stream:
        archives = ((a, n % 10 == 0) for n, a in enumerate(iter_inventory_archives(stream, "JSON")))
        chosen = sum(1 for _ in planner.choose(archives))
    plan = planner.check()
    return {"archives": plan.inventory.archives, "chosen": chosen, "to_move_bytes": plan.to_move.bytes}


def _plan_json_load(path: str) -> dict[str, Any]:
    budget = BUDGET
    with open(path, "rb") as stream:
        records = json.load(stream)["ArchiveList"]
    spent = chosen = to_move = 0
    for n, record in enumerate(records):
        if n % 10 == 0:
            continue
        size = record["Size"]
        to_move += size
        if spent + size <= budget or spent == 0:
            spent += size
            chosen += 1
    return {"archives": len(records), "chosen": chosen, "to_move_bytes": to_move}


def measure(params: dict[str, Any]) -> dict[str, Any]:
    with Stopwatch() as watch:
        result = (_plan_ours if params["case"] == "plan_ours" else _plan_json_load)(params["path"])
    return {**result, "wall_s": watch.wall, "cpu_s": watch.cpu}


def main() -> None:
    args = arguments(__doc__.split("\n")[0])
    if child_main(args, {case: measure for case in CASES}):
        return
    count = 2_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="glacier-bench-plan-") as directory:
        from airflow_glacier_select.testing.inventory_fixtures import write_synthetic_inventory

        path = Path(directory) / "inventory.json"
        with path.open("wb") as out:
            write_synthetic_inventory(out, count, format="JSON", seed=11)
        runs = interleaved(
            args.runs, CASES, lambda case: run_case(__file__, case, {"case": case, "path": str(path)})
        )
    results = {case: medians(samples) for case, samples in runs.items()}
    ours, base = results["plan_ours"], results["plan_json_load"]
    if (ours["archives"], ours["chosen"], ours["to_move_bytes"]) != (
        base["archives"],
        base["chosen"],
        base["to_move_bytes"],
    ):
        raise SystemExit(f"the plans disagree: ours {ours}, baseline {base}")
    headlines = [
        Headline(
            "migration plan",
            f"{count:,} archives: peak RSS",
            ours["peak_rss_mb"],
            base["peak_rss_mb"],
            "json.load + same budget rule",
            "MB",
            False,
            f"<= {RSS_TARGET_MB:.0f} MB",
            ours["peak_rss_mb"] <= RSS_TARGET_MB,
        ),
        Headline(
            "migration plan",
            f"{count:,} archives: CPU time",
            ours["cpu_s"],
            base["cpu_s"],
            "json.load + same budget rule",
            "s",
            False,
            "reported",
            None,
        ),
    ]
    headers = ("case", "archives", "chosen", "CPU s", "wall s", "peak RSS MB")
    rows = [
        (case, r["archives"], r["chosen"], r["cpu_s"], r["wall_s"], r["peak_rss_mb"])
        for case, r in results.items()
    ]
    report(f"Migration plan, {count:,} archives, median of {args.runs}", headers, rows, headlines)
    save(args, "migration_plan", {"medians": results, "runs": runs}, headlines)


if __name__ == "__main__":
    main()
