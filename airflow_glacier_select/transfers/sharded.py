"""One archive copied into S3 by many workers at once, as mapped tasks over range shards.

A single :class:`~airflow_glacier_select.transfers.glacier_to_s3.GlacierJobOutputToS3Operator`
moves one archive on one worker. For archives of many GiB, :func:`sharded_copy` spreads the
same verified copy over ``shards`` mapped tasks that write one S3 multipart upload::

    finish = sharded_copy(
        group_id="copy_big_archive", vault_name="photos", job_id=retrieve.output,
        bucket="restored", key="photos/{archive_path}", shards=4,
    )

- :class:`GlacierShardedCopyPlanOperator` checks the job and the key, cuts the output into
  contiguous shards of tree-hash-aligned chunks and opens the upload (or continues the one
  an earlier run left); its XCom value is the list the shard tasks are mapped over.
- :class:`GlacierCopyShardOperator` (mapped with ``.expand(shard=plan.output)``) copies one
  shard, recording each verified part in the copy's ledger; a failed shard is retried alone
  and its retry skips every part the ledger proves.
- :class:`GlacierShardedCopyFinishOperator` runs once every shard is done, succeeded or not:
  it completes the upload only if the ledger proves every part and the archive's tree hash
  matches the job's, and otherwise aborts it (nothing kept, nothing billed) and fails,
  naming the missing parts.

The engine is :mod:`airflow_glacier_select.s3_copy.sharded`.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_glacier_select.s3_copy.engine import GlacierToS3Transfer
from airflow_glacier_select.s3_copy.plan import DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY, check_concurrency
from airflow_glacier_select.s3_copy.retry import RetryPolicy
from airflow_glacier_select.s3_copy.sharded import (
    UploadNotResumableError,
    copy_shard,
    finish_sharded_copy,
    plan_sharded_copy,
)
from airflow_glacier_select.s3_copy.shards import check_shard_count
from airflow_glacier_select.transfers.glacier_to_s3 import (
    FINAL_ERRORS,
    GlacierJobOutputToS3Operator,
    GlacierToS3BaseOperator,
    job_id_of,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = [
    "GlacierCopyShardOperator",
    "GlacierShardedCopyFinishOperator",
    "GlacierShardedCopyPlanOperator",
    "sharded_copy",
]

_SHARD_FINAL_ERRORS = (*FINAL_ERRORS, UploadNotResumableError)
_CHUNK_RETRY_ARGUMENTS = ("max_attempts", "retry_base_delay", "retry_max_delay")
_CONNECTION_ARGUMENTS = ("account_id", "dest_aws_conn_id", "region_name", "verify", "botocore_config")


class GlacierShardedCopyPlanOperator(GlacierJobOutputToS3Operator):
    """Plan a sharded copy: check job and key, open the multipart upload, return the shards.

    Takes every argument of ``GlacierJobOutputToS3Operator`` (destination, object settings,
    collision policy, chunk size) plus ``shards``. The XCom value is a list of one dict per
    shard: map :class:`GlacierCopyShardOperator` over it. A shard count above the number of
    parts fails here, before anything is written; an output of one chunk (with
    ``shards=1``) or a verified copy already at the key is finished here and the shard
    tasks have nothing to do.

    :param shards: range shards, 1-1000 (at most the number of parts of the output).
    """

    template_fields: Sequence[str] = GlacierJobOutputToS3Operator.template_fields

    def __init__(self, *, shards: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shards = check_shard_count(shards)

    def execute(self, context: Context) -> list[dict[str, Any]]:  # type: ignore[override]
        transfer = GlacierToS3Transfer(self.hook, self.s3_hook, chunk_size=self.chunk_size, log=self.log)
        try:
            return plan_sharded_copy(
                transfer,
                self.vault_name,
                job_id_of(self.job_id),
                self.bucket,
                self.key or None,
                self.shards,
                collision=self.collision,
                settings=self.object_settings(),
                archive_description=self.archive_description or None,
            )
        except FINAL_ERRORS as error:
            raise AirflowFailException(str(error)) from error


class GlacierCopyShardOperator(GlacierToS3BaseOperator):
    """Copy one range shard of a planned copy into its multipart upload (map it over the plan).

    :param shard: one item of the planning step's XCom list.
    :param concurrency: chunks of this shard in flight at once, 1-32 (default 4).
    :param max_attempts: attempts per chunk before this try fails (default 5).
    :param retry_base_delay: backoff after a chunk's first failed attempt (default 1 s).
    :param retry_max_delay: the backoff's cap (default 30 s).
    """

    template_fields: Sequence[str] = aws_template_fields(
        "vault_name", "job_id", "account_id", "dest_aws_conn_id", "shard"
    )
    ui_color = "#e0eef7"

    def __init__(
        self,
        *,
        shard: Mapping[str, Any],
        concurrency: int = DEFAULT_CONCURRENCY,
        max_attempts: int = 5,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shard = shard
        self.concurrency = check_concurrency(concurrency)
        self.retry = RetryPolicy(
            max_attempts=max_attempts, base_delay=retry_base_delay, max_delay=retry_max_delay
        )

    def execute(self, context: Context) -> dict[str, Any]:
        chunk_size = self.shard.get("chunk_size") if isinstance(self.shard, Mapping) else None
        transfer = GlacierToS3Transfer(
            self.hook,
            self.s3_hook,
            chunk_size=chunk_size if isinstance(chunk_size, int) else DEFAULT_CHUNK_SIZE,
            concurrency=self.concurrency,
            retry=self.retry,
            log=self.log,
        )
        try:
            return copy_shard(transfer, self.shard)
        except _SHARD_FINAL_ERRORS as error:
            raise AirflowFailException(str(error)) from error


class GlacierShardedCopyFinishOperator(GlacierToS3BaseOperator):
    """Complete the sharded copy's upload once every part is proven, or abort it.

    Runs when all shard tasks are done, whatever their state (``all_done_min_one_success``,
    on Airflow 3.0 ``all_done``). Its XCom value is the same dict
    ``GlacierJobOutputToS3Operator`` returns.

    :param plan: the planning step's XCom list (``plan.output``).
    """

    template_fields: Sequence[str] = aws_template_fields(
        "vault_name", "job_id", "account_id", "dest_aws_conn_id", "plan"
    )
    ui_color = "#e0eef7"

    def __init__(self, *, plan: Sequence[Mapping[str, Any]] | Any, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", _finish_trigger_rule())
        super().__init__(**kwargs)
        self.plan = plan

    def execute(self, context: Context) -> dict[str, Any]:
        transfer = GlacierToS3Transfer(self.hook, self.s3_hook, log=self.log)
        try:
            return finish_sharded_copy(transfer, self.plan).to_dict()
        except FINAL_ERRORS as error:
            raise AirflowFailException(str(error)) from error


def _finish_trigger_rule() -> str:
    """``all_done_min_one_success`` where Airflow has it (3.1+), else ``all_done`` (3.0).

    Both run the finishing step once every shard is done, failed or not; the first also
    skips it when the planning step itself failed (there is no upload to finish).
    """
    try:
        from airflow.task.trigger_rule import TriggerRule
    except ImportError:  # Airflow 3.0
        from airflow.utils.trigger_rule import TriggerRule  # type: ignore[no-redef]
    rules = {str(rule.value) for rule in TriggerRule}
    return "all_done_min_one_success" if "all_done_min_one_success" in rules else "all_done"


def sharded_copy(
    *,
    vault_name: str,
    job_id: str | Mapping[str, Any] | Any,
    bucket: str,
    key: str | None = None,
    shards: int = 4,
    group_id: str = "sharded_copy",
    concurrency: int = DEFAULT_CONCURRENCY,
    shard_retries: int = 2,
    shard_retry_delay: datetime.timedelta = datetime.timedelta(seconds=30),
    aws_conn_id: str | None = "aws_default",
    **copy_kwargs: Any,
) -> GlacierShardedCopyFinishOperator:
    """Plan, ``shards`` mapped shard copies and the finishing step, in a task group; returns the finish task.

    ``copy_kwargs`` go to the planning step (``collision``, ``storage_class``, ``encryption``,
    ``chunk_size`` ...), connection settings (``account_id``, ``dest_aws_conn_id``,
    ``region_name``, ``verify``, ``botocore_config``) to all three steps; ``concurrency``,
    ``shard_retries``, ``shard_retry_delay`` and the per-chunk retry settings
    (``max_attempts``, ``retry_base_delay``, ``retry_max_delay``) to each shard task. Call it
    inside a DAG and chain the returned task:
    ``sharded_copy(...) >> report``.
    """
    from airflow.sdk import TaskGroup

    common = {"vault_name": vault_name, "job_id": job_id, "aws_conn_id": aws_conn_id}
    common.update({name: copy_kwargs.pop(name) for name in _CONNECTION_ARGUMENTS if name in copy_kwargs})
    chunk_retries = {name: copy_kwargs[name] for name in _CHUNK_RETRY_ARGUMENTS if name in copy_kwargs}
    with TaskGroup(group_id):
        plan = GlacierShardedCopyPlanOperator(
            task_id="plan", bucket=bucket, key=key, shards=shards, **common, **copy_kwargs
        )
        copies = GlacierCopyShardOperator.partial(
            task_id="copy_shard",
            concurrency=concurrency,
            retries=shard_retries,
            retry_delay=shard_retry_delay,
            **chunk_retries,
            **common,
        ).expand(shard=plan.output)
        finish = GlacierShardedCopyFinishOperator(task_id="finish", plan=plan.output, **common)
        copies >> finish
    return finish
