"""The migration plan's rules, without Airflow or an endpoint: pacing, skipping, policy limits, figures."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.inventory import InventoryArchive
from airflow_glacier_select.migration.plan import (
    MigrationPlanError,
    MigrationPlanner,
    MigrationSettings,
    copy_routes,
    shards_for,
)
from airflow_glacier_select.migration.policy import (
    FREE_TIER_BYTES_PER_DAY,
    STANDARD_RETRIEVAL_HOURS,
    DataRetrievalPolicy,
)
from airflow_glacier_select.migration.report import build_report

GIB = 2**30
MIB = 2**20


def _archive(n: int, size: int) -> InventoryArchive:
    return InventoryArchive(
        archive_id=f"archive-{n:04d}",
        description=f"file-{n}",
        creation_date=datetime(2020, 1, 1, tzinfo=timezone.utc),
        size=size,
        sha256_tree_hash="ab" * 32,
    )


def _plan(settings: MigrationSettings, sizes: list[int], verified: set[int] = frozenset()):  # type: ignore[assignment]
    planner = MigrationPlanner(settings)
    chosen = list(planner.choose((_archive(n, size), n in verified) for n, size in enumerate(sizes)))
    return planner, [archive.archive_id for archive in chosen]


def test_a_run_takes_archives_in_inventory_order_while_they_fit_and_skips_verified_copies() -> None:
    settings = MigrationSettings(tier="Bulk", run_byte_budget=10 * GIB)
    planner, chosen = _plan(settings, [4 * GIB, 3 * GIB, 5 * GIB, 2 * GIB, 1 * GIB], verified={1})

    plan = planner.check()
    assert chosen == ["archive-0000", "archive-0002", "archive-0004"]
    assert plan.inventory.to_dict() == {"archives": 5, "bytes": 15 * GIB}
    assert plan.already_copied.to_dict() == {"archives": 1, "bytes": 3 * GIB}
    assert plan.to_move.to_dict() == {"archives": 4, "bytes": 12 * GIB}
    assert plan.this_run.to_dict() == {"archives": 3, "bytes": 10 * GIB}
    assert plan.left_for_later.to_dict() == {"archives": 1, "bytes": 2 * GIB}
    assert plan.runs_needed == 2
    assert plan.retrieval_requests() == {
        "Bulk": {
            "requests_this_run": 3,
            "bytes_this_run": 10 * GIB,
            "requests_in_all": 4,
            "bytes_in_all": 12 * GIB,
        }
    }


def test_an_archive_larger_than_the_budget_goes_alone_and_counts_as_a_run_of_its_own() -> None:
    settings = MigrationSettings(tier="Bulk", run_byte_budget=GIB)
    planner, chosen = _plan(settings, [5 * GIB, 3 * GIB, GIB // 2])

    plan = planner.check()
    assert chosen == ["archive-0000"]
    assert plan.larger_than_budget.archives == 2
    # 8.5 GiB at 1 GiB a run would be 9 runs by bytes; the two oversize archives need a run each anyway.
    assert plan.runs_needed == 9
    assert MigrationPlanner(settings).check().runs_needed == 0


def test_archives_above_the_shard_threshold_are_counted() -> None:
    settings = MigrationSettings(tier="Bulk", run_byte_budget=100 * GIB, shard_threshold=4 * GIB)
    planner, _ = _plan(settings, [5 * GIB, 4 * GIB, 9 * GIB])

    assert planner.check().sharded.to_dict() == {"archives": 2, "bytes": 14 * GIB}


def test_copy_routes_send_archives_above_the_threshold_to_sharded_copies_with_their_shard_count() -> None:
    started = [
        {"archive_id": "small", "job_id": "job-small", "size": 5 * MIB},
        {"archive_id": "edge", "job_id": "job-edge", "size": 64 * MIB},  # at the threshold: whole
        {"archive_id": "large", "job_id": "job-large", "size": 200 * MIB},  # 13 parts of 16 MiB
        {"archive_id": "over", "job_id": "job-over", "size": 65 * MIB},  # 5 parts: 4 x 16 MiB + 1 MiB
    ]

    routes = copy_routes(started, 64 * MIB, 8)

    assert routes == {
        "whole": ["job-small", "job-edge"],
        "sharded": [{"job_id": "job-large", "shards": 8}, {"job_id": "job-over", "shards": 5}],
    }
    assert copy_routes(started, None, 8) == {
        "whole": ["job-small", "job-edge", "job-large", "job-over"],
        "sharded": [],
    }


def test_an_archive_never_gets_more_shards_than_its_output_has_parts() -> None:
    assert shards_for(20 * MIB, 8) == 2  # 16 MiB + 4 MiB
    assert shards_for(200 * MIB, 8) == 8
    assert shards_for(MIB, 8) == 1
    with pytest.raises(GlacierValidationError, match=r"^shards: 0 must be from 1 to 1000"):
        shards_for(200 * MIB, 0)


def test_a_max_retrieval_rate_policy_caps_a_standard_run_at_what_it_accepts_at_once() -> None:
    # "Amazon S3 Glacier Data Retrieval Policies": Max Retrieval Rate refuses requests that would
    # make the in-progress jobs' peak retrieval rate exceed BytesPerHour.
    policy = DataRetrievalPolicy("BytesPerHour", GIB)
    settings = MigrationSettings(tier="Standard", run_byte_budget=100 * GIB, policy=policy)
    assert settings.run_budget == STANDARD_RETRIEVAL_HOURS * GIB
    planner, chosen = _plan(settings, [2 * GIB, 2 * GIB, 2 * GIB])

    plan = planner.check()
    assert chosen == ["archive-0000", "archive-0001"]
    assert plan.left_for_later.archives == 1
    assert "policy caps the configured 100.0 GiB" in "\n".join(plan.lines())


def test_a_policy_does_not_limit_bulk_or_expedited_retrievals() -> None:
    # "Amazon S3 Glacier Data Retrieval Policies": a policy applies only to Standard retrievals.
    policy = DataRetrievalPolicy("BytesPerHour", 1)
    for tier in ("Bulk", "Expedited"):
        settings = MigrationSettings(tier=tier, run_byte_budget=10 * GIB, policy=policy)
        assert settings.run_budget == 10 * GIB
        planner, chosen = _plan(settings, [3 * GIB])
        assert chosen == ["archive-0000"]
        assert planner.check().refused_count == 0


def test_a_plan_that_can_never_fit_the_policy_is_refused_naming_archives_policy_and_ways_out() -> None:
    policy = DataRetrievalPolicy("BytesPerHour", GIB)
    settings = MigrationSettings(tier="Standard", run_byte_budget=100 * GIB, policy=policy)
    planner, chosen = _plan(settings, [GIB, 5 * GIB, GIB])

    assert chosen == ["archive-0000", "archive-0002"]
    with pytest.raises(MigrationPlanError) as refused:
        planner.check()
    message = str(refused.value)
    assert "1 archive(s)" in message
    assert "archive-0001" in message and "5,368,709,120 bytes" in message
    assert "4,294,967,296 bytes of Standard retrievals" in message
    assert "Bulk or Expedited" in message and "Nothing was started" in message


def test_free_tier_only_limits_a_standard_run_to_the_daily_free_allowance() -> None:
    policy = DataRetrievalPolicy("FreeTier")
    settings = MigrationSettings(tier="Standard", run_byte_budget=100 * GIB, policy=policy)
    assert settings.run_budget == FREE_TIER_BYTES_PER_DAY
    planner, _ = _plan(settings, [FREE_TIER_BYTES_PER_DAY + 1])
    with pytest.raises(MigrationPlanError, match="Free Tier Only"):
        planner.check()


def test_policy_is_read_from_get_data_retrieval_policy_answers() -> None:
    # "Get Data Retrieval Policy (GET policy)": {"Policy": {"Rules": [{"BytesPerHour": n, "Strategy": s}]}}
    answer = {"Policy": {"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 10_737_418_240}]}}
    assert DataRetrievalPolicy.from_response(answer) == DataRetrievalPolicy("BytesPerHour", 10_737_418_240)
    assert DataRetrievalPolicy.from_response({"Policy": {"Rules": [{"Strategy": "FreeTier"}]}}) == (
        DataRetrievalPolicy("FreeTier")
    )
    assert DataRetrievalPolicy.from_response({}) == DataRetrievalPolicy("None")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"tier": "bulk"}, "tier"),
        ({"run_byte_budget": 0}, "run_byte_budget"),
        ({"run_byte_budget": True}, "run_byte_budget"),
        ({"shard_threshold": -1}, "shard_threshold"),
        ({"policy": {"Strategy": "None"}}, "policy"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(GlacierValidationError) as refused:
        MigrationSettings(**kwargs)  # type: ignore[arg-type]
    assert refused.value.field == field


@pytest.mark.parametrize(
    ("strategy", "bytes_per_hour"), [("Bytes", None), ("BytesPerHour", None), ("BytesPerHour", 0)]
)
def test_bad_policies_are_refused(strategy: str, bytes_per_hour: int | None) -> None:
    with pytest.raises(GlacierValidationError):
        DataRetrievalPolicy(strategy, bytes_per_hour)


def test_the_report_counts_only_copies_glacier_vouched_for_and_which_went_as_shards() -> None:
    plan = {
        "inventory": {"archives": 3, "bytes": 3 + 70 * MIB},
        "already_copied": {"archives": 0, "bytes": 0},
        "left_for_later": {"archives": 0, "bytes": 0},
        **{name: None for name in ("tier", "run_budget", "runs_needed", "to_move", "policy")},
    }
    planned = [{"archive_id": name, "size": size} for name, size in (("a", 1), ("b", 2), ("big", 70 * MIB))]
    started = [{**entry, "job_id": f"job-{entry['archive_id']}", "reused_job": False} for entry in planned]

    def result(job_id: str, verification: str) -> dict[str, object]:
        return {
            "job_id": job_id,
            "key": f"k/{job_id}",
            "verification": verification,
            "verified": verification != "size-only",
        }

    report = build_report(
        run_id="r",
        vault_name="v",
        destination="s3://b/k/",
        plan=plan,
        planned=planned,
        started=started,
        copies=[result("job-a", "job-tree-hash"), result("job-b", "size-only")],
        sharded_copies=[result("job-big", "chunk-tree-hashes")],
    )

    assert report["copied"] == {"archives": 2, "bytes": 1 + 70 * MIB}
    assert report["copied_as_shards"] == {"archives": 1, "bytes": 70 * MIB}
    # No tree hash vouched for b's bytes: not a copy a migration counts.
    assert [entry["archive_id"] for entry in report["failed_archives"]] == ["b"]
    assert {entry["archive_id"]: entry["sharded"] for entry in report["copied_archives"]} == {
        "a": False,
        "big": True,
    }
