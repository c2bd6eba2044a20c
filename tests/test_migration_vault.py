"""Migration steps against the local endpoint: the retrieval policy, planning from a real inventory,
and the refusal that keeps a migration from running into PolicyEnforcedException."""

from __future__ import annotations

import json
from typing import Any

import botocore.exceptions
import pytest
from airflow.providers.amazon.aws.hooks.s3 import S3Hook

from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.migration import vault
from airflow_glacier_select.migration.plan import MigrationPlanError, MigrationSettings
from airflow_glacier_select.migration.policy import DataRetrievalPolicy
from airflow_glacier_select.s3_copy.destination import TREE_HASH_METADATA_KEY
from airflow_glacier_select.treehash import tree_hash

MIB = 2**20
BODIES = [b"a" * (3 * MIB), b"b" * (2 * MIB), b"c" * MIB, b"d" * (4 * MIB)]


@pytest.fixture
def seeded(glacier_endpoint: Any) -> list[str]:
    glacier_endpoint.client("s3").create_bucket(Bucket="migrated")
    return [glacier_endpoint.put_archive("backups", body, f"backup-{n}") for n, body in enumerate(BODIES)]


@pytest.fixture
def hooks(glacier_connection: str) -> tuple[GlacierJobsHook, S3Hook]:
    return GlacierJobsHook(aws_conn_id=glacier_connection), S3Hook(aws_conn_id=glacier_connection)


def _inventory(glacier_endpoint: Any, glacier: GlacierJobsHook) -> str:
    job_id, reused = vault.find_or_start_inventory(glacier, "backups", "CSV", 24)
    assert not reused
    glacier_endpoint.complete_job("backups", job_id)
    return job_id


def _plan(glacier: GlacierJobsHook, s3_hook: S3Hook, inventory_job: str, **kwargs: Any) -> Any:
    return vault.plan_from_inventory(
        glacier,
        s3_hook,
        vault_name="backups",
        inventory_job_id=inventory_job,
        inventory_format="CSV",
        bucket="migrated",
        prefix="vaults",
        **kwargs,
    )


def test_the_endpoint_keeps_the_data_retrieval_policy_the_guide_describes(glacier_endpoint: Any) -> None:
    # "Get Data Retrieval Policy (GET policy)" / "Set Data Retrieval Policy (PUT policy)"
    glacier = glacier_endpoint.client()
    assert glacier.get_data_retrieval_policy()["Policy"] == {"Rules": [{"Strategy": "None"}]}
    glacier.set_data_retrieval_policy(
        Policy={"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 5 * MIB}]}
    )
    assert glacier.get_data_retrieval_policy()["Policy"] == {
        "Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 5 * MIB}]
    }
    for rules in (
        [{"Strategy": "FreeTier", "BytesPerHour": 1}],
        [{"Strategy": "BytesPerHour"}],
        [{"Strategy": "Sometimes"}],
    ):
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            glacier.set_data_retrieval_policy(Policy={"Rules": rules})
        assert refused.value.response["Error"]["Code"] in (
            "InvalidParameterValueException",
            "MissingParameterValueException",
        )


def test_the_endpoint_refuses_a_standard_retrieval_beyond_the_max_retrieval_rate(
    glacier_endpoint: Any, seeded: list[str]
) -> None:
    # "Amazon S3 Glacier Data Retrieval Policies": requests that would make the in-progress jobs' peak
    # rate exceed BytesPerHour are refused; Bulk and Expedited retrievals are not subject to the policy.
    glacier = glacier_endpoint.client()
    glacier.set_data_retrieval_policy(Policy={"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": MIB}]})
    glacier_endpoint.set_tier_delay("Standard", 3600)
    standard = {"Type": "archive-retrieval", "Tier": "Standard"}
    glacier.initiate_job(
        vaultName="backups", jobParameters={**standard, "ArchiveId": seeded[0]}
    )  # 3 of 4 MiB
    with pytest.raises(glacier.exceptions.PolicyEnforcedException):
        glacier.initiate_job(vaultName="backups", jobParameters={**standard, "ArchiveId": seeded[1]})
    glacier.initiate_job(vaultName="backups", jobParameters={**standard, "ArchiveId": seeded[2]})  # 4 of 4
    glacier.initiate_job(
        vaultName="backups",
        jobParameters={"Type": "archive-retrieval", "Tier": "Bulk", "ArchiveId": seeded[3]},
    )


def test_a_plan_from_a_real_inventory_reports_what_moves_and_what_is_already_copied(
    glacier_endpoint: Any, seeded: list[str], hooks: tuple[GlacierJobsHook, S3Hook]
) -> None:
    glacier, s3_hook = hooks
    s3 = glacier_endpoint.client("s3")
    # archive 1 already has a verified copy; archive 2 a copy of the right size without a tree hash.
    s3.put_object(
        Bucket="migrated",
        Key=f"vaults/backups/{seeded[1]}",
        Body=BODIES[1],
        Metadata={TREE_HASH_METADATA_KEY: tree_hash(BODIES[1])},
    )
    s3.put_object(Bucket="migrated", Key=f"vaults/backups/{seeded[2]}", Body=BODIES[2])
    inventory_job = _inventory(glacier_endpoint, glacier)
    glacier_endpoint.reset_counts()

    plan, chosen = _plan(
        glacier,
        s3_hook,
        inventory_job,
        settings=MigrationSettings(tier="Bulk", run_byte_budget=5 * MIB, shard_threshold=3 * MIB),
        skipped_key="plans/skipped.jsonl",
    )

    assert glacier_endpoint.request_count("InitiateJob") == 0
    assert [archive.archive_id for archive in chosen] == [seeded[0], seeded[2]]
    figures = plan.to_dict()
    assert figures["inventory"] == {"archives": 4, "bytes": 10 * MIB}
    assert figures["already_copied"] == {"archives": 1, "bytes": 2 * MIB}
    assert figures["to_move"] == {"archives": 3, "bytes": 8 * MIB}
    assert figures["this_run"] == {"archives": 2, "bytes": 4 * MIB}
    assert figures["left_for_later"] == {"archives": 1, "bytes": 4 * MIB}
    assert figures["sharded"] == {"archives": 1, "bytes": 4 * MIB}
    assert figures["runs_needed"] == 2
    skipped = s3.get_object(Bucket="migrated", Key="plans/skipped.jsonl")["Body"].read().decode()
    assert [json.loads(line)["archive_id"] for line in skipped.splitlines()] == [seeded[1]]


def test_a_plan_the_policy_can_never_accept_is_refused_before_any_retrieval(
    glacier_endpoint: Any, seeded: list[str], hooks: tuple[GlacierJobsHook, S3Hook]
) -> None:
    glacier, s3_hook = hooks
    glacier_endpoint.client().set_data_retrieval_policy(
        Policy={"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": MIB // 2}]}
    )
    policy = vault.read_retrieval_policy(glacier)
    assert policy == DataRetrievalPolicy("BytesPerHour", MIB // 2)
    inventory_job = _inventory(glacier_endpoint, glacier)
    glacier_endpoint.reset_counts()

    with pytest.raises(MigrationPlanError, match=r"2 archive\(s\) are larger than the 2,097,152 bytes"):
        _plan(
            glacier,
            s3_hook,
            inventory_job,
            settings=MigrationSettings(tier="Standard", run_byte_budget=100 * MIB, policy=policy),
        )
    assert glacier_endpoint.request_count("InitiateJob") == 0


def test_a_run_paced_to_the_policy_never_meets_policy_enforced_exception(
    glacier_endpoint: Any, seeded: list[str], hooks: tuple[GlacierJobsHook, S3Hook]
) -> None:
    glacier, s3_hook = hooks
    glacier_endpoint.client().set_data_retrieval_policy(
        Policy={"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 2 * MIB}]}
    )
    glacier_endpoint.set_tier_delay("Standard", 3600)
    inventory_job = _inventory(glacier_endpoint, glacier)
    settings = MigrationSettings(
        tier="Standard", run_byte_budget=100 * MIB, policy=vault.read_retrieval_policy(glacier)
    )
    plan, chosen = _plan(
        glacier,
        s3_hook,
        inventory_job,
        settings=settings,
    )
    assert plan.run_budget == 8 * MIB

    started = vault.start_retrievals(glacier, "backups", chosen, tier="Standard", description="migration")

    assert sum(entry["size"] for entry in started) <= 8 * MIB
    assert [entry["reused_job"] for entry in started] == [False] * len(chosen)
    again = vault.start_retrievals(glacier, "backups", chosen, tier="Standard", description="migration")
    assert [entry["job_id"] for entry in again] == [entry["job_id"] for entry in started]
    assert all(entry["reused_job"] for entry in again)
