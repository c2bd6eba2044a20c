"""What a run did, seen from the service side: Glacier jobs started and S3 objects written.

The demo does not take the DAGs' word for it. Before and after each run it lists the
run's vault (ListJobs) and bucket (ListObjectsV2), and it re-reads every object the run
wrote, hashing it with the SHA-256 tree hash, to compare with the hash computed when
the archive was seeded.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from airflow_glacier_select.s3_copy.destination import TREE_HASH_METADATA_KEY
from airflow_glacier_select.treehash import MIB, TreeHash

__all__ = ["RunDelta", "Snapshot", "object_tree_hash"]


@dataclass(frozen=True)
class Snapshot:
    """The jobs of one vault and the objects of one bucket at a moment."""

    jobs: dict[str, str]
    """job id -> status code"""
    objects: dict[str, tuple[str, int]]
    """key -> (ETag, size)"""

    @classmethod
    def take(cls, glacier: Any, s3: Any, vault_name: str, bucket: str) -> Snapshot:
        jobs = {
            job["JobId"]: job["StatusCode"]
            for page in glacier.get_paginator("list_jobs").paginate(accountId="-", vaultName=vault_name)
            for job in page.get("JobList", [])
        }
        objects = {
            item["Key"]: (item["ETag"], int(item["Size"]))
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in page.get("Contents", [])
        }
        return cls(jobs, objects)


@dataclass
class RunDelta:
    """Jobs started and objects written between two snapshots, and the tree hashes checked."""

    job_states: Counter[str] = field(default_factory=Counter)
    written: dict[str, int] = field(default_factory=dict)
    """key -> size of each object created or replaced"""
    verified: list[str] = field(default_factory=list)

    @classmethod
    def between(cls, before: Snapshot, after: Snapshot) -> RunDelta:
        return cls(
            job_states=Counter(state for job_id, state in after.jobs.items() if job_id not in before.jobs),
            written={
                key: size
                for key, (etag, size) in after.objects.items()
                if before.objects.get(key, ("", 0))[0] != etag
            },
        )

    @property
    def jobs_started(self) -> int:
        return sum(self.job_states.values())

    @property
    def bytes_written(self) -> int:
        return sum(self.written.values())


def object_tree_hash(s3: Any, bucket: str, key: str) -> tuple[str, str | None, str | None]:
    """(tree hash of the object's bytes, the tree hash in its metadata, its storage class), streamed."""
    response = s3.get_object(Bucket=bucket, Key=key)
    tree = TreeHash()
    body = response["Body"]
    try:
        for chunk in body.iter_chunks(MIB):
            tree.update(chunk)
    finally:
        body.close()
    metadata = response.get("Metadata") or {}
    return tree.hexdigest(), metadata.get(TREE_HASH_METADATA_KEY), response.get("StorageClass")
