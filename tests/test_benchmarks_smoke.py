"""Smoke run of every benchmark (``benchmarks/run_all.py --quick``): tiny sizes, one run each.

Timing is never asserted here (the shared CI machine makes it meaningless); what is
checked is that every script runs end to end against the real endpoint and baselines and
saves what the README's Performance section is built from, and that the facts each
benchmark rests on hold even at tiny sizes: the tree hashes agree with botocore, the
parsers read every archive, ListJobs is lazy, the waits were really polling, and our
transfer verified what it copied while the baseline did not.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = (
    "treehash",
    "inventory",
    "migration_plan",
    "listjobs",
    "waiting",
    "waiting_notifications",
    "transfer",
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("benchmarks")
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--quick", "--results-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def load(results_dir: Path, name: str) -> dict[str, Any]:
    return dict(json.loads((results_dir / f"{name}.json").read_text()))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_saves_cases_headlines_and_machine(results_dir: Path, name: str) -> None:
    saved = load(results_dir, name)
    assert saved["quick"] is True and saved["runs"] == 1
    assert saved["machine"]["nproc"] >= 1 and saved["machine"]["versions"]["apache-airflow"]
    medians = saved["cases"]["medians"]
    assert len(medians) >= 2, "every benchmark compares ours with at least one baseline"
    for case, result in medians.items():
        assert result["peak_rss_mb"] >= result["start_rss_mb"] > 0, case
    assert saved["headlines"]
    for headline in saved["headlines"]:
        assert headline["ours"] >= 0 and headline["baseline"] >= 0 and headline["target"]


def test_summary_and_chart_cover_every_benchmark(results_dir: Path) -> None:
    summary = (results_dir / "summary.md").read_text()
    for benchmark in (
        "tree hash",
        "inventory",
        "migration plan",
        "ListJobs",
        "waiting",
        "waiting on notifications",
        "transfer to S3",
    ):
        assert f"| {benchmark} " in summary
    assert "Machine:" in summary
    assert (results_dir / "performance.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tree_hash_matches_botocore(results_dir: Path) -> None:
    medians = load(results_dir, "treehash")["cases"]["medians"]
    assert medians["ours"]["digest"] == medians["botocore"]["digest"] != medians["raw_sha256"]["digest"]


def test_inventory_parsers_read_every_archive(results_dir: Path) -> None:
    medians = load(results_dir, "inventory")["cases"]["medians"]
    for case in ("json_ours", "csv_ours", "json_load"):
        assert medians[case]["archives"] == 2000 and medians[case]["misparsed"] == 0
    assert medians["csv_ours"]["size_sum"] == medians["json_load"]["size_sum"]
    # The naive CSV baseline trips over the service's \" escaping; the benchmark shows it.
    assert medians["csv_naive"]["misparsed"] > 0


def test_migration_plans_agree_with_the_baseline(results_dir: Path) -> None:
    medians = load(results_dir, "migration_plan")["cases"]["medians"]
    ours, baseline = medians["plan_ours"], medians["plan_json_load"]
    assert ours["archives"] == baseline["archives"] == 2000
    assert ours["chosen"] == baseline["chosen"] > 0


def test_listjobs_is_lazy(results_dir: Path) -> None:
    medians = load(results_dir, "listjobs")["cases"]["medians"]
    ours, full = medians["ours"], medians["boto3_full_result"]
    assert ours["jobs"] == full["jobs"] == 500
    assert ours["requests"] == full["requests"] == 10
    assert ours["requests_before_first_job"] == 1
    assert full["requests_before_first_job"] == 10


def test_waits_were_polling_and_the_sensor_really_poked(results_dir: Path) -> None:
    medians = load(results_dir, "waiting")["cases"]["medians"]
    triggers = medians["triggers_20"]
    assert triggers["waits"] == 20 and triggers["polls"] > 0 and triggers["lag_samples"] > 0
    assert medians["sensor_poke_floor"]["status_checks"] == 5


def test_notification_waits_ended_on_their_notifications(results_dir: Path) -> None:
    medians = load(results_dir, "waiting_notifications")["cases"]["medians"]
    notified = medians["notifications_20"]
    assert notified["delivered"] == notified["waits"] == 20
    assert notified["describes_while_waiting"] == 0 and notified["describes_per_job"] == 1
    assert medians["fallback_rate"]["polls"] > 0 and medians["polling_20"]["polls"] > 0


def test_our_transfer_verified_what_it_copied(results_dir: Path) -> None:
    medians = load(results_dir, "transfer")["cases"]["medians"]
    assert medians["ours_24"]["verified"] is True and medians["ours_24"]["chunks"] == 2
    assert medians["baseline_24"]["verified"] is False
