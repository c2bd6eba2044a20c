"""Hand downstream tasks the result keys of a Glacier Select job.

A Select job moves nothing through Airflow: Glacier writes its results into S3 itself.
This operator only checks what Glacier wrote (result or error manifest, see
:mod:`airflow_glacier_select.s3_copy.select_results`) and pushes the result keys to XCom,
so ``.output`` feeds an S3 operator or dynamic task mapping directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_glacier_select.s3_copy.select_results import read_select_results
from airflow_glacier_select.transfers.glacier_to_s3 import FINAL_ERRORS, GlacierToS3BaseOperator, job_id_of

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["GlacierSelectResultsOperator"]


class GlacierSelectResultsOperator(GlacierToS3BaseOperator):
    """Check a Select job's output in S3 and return its result object keys.

    Success needs ``result_manifest.txt`` and no ``error_manifest.txt`` where Glacier reports
    the job's output (``JobOutputPath``, e.g. ``<Prefix>/<JobId>/``); the
    XCom value is ``{"bucket", "prefix", "result_keys", "result_uris", ...}``. With an error
    manifest the task fails, quoting the errors Glacier wrote. Run it after the Select
    operator (or sensor) has seen the job finish: it does not wait.

    :param vault_name: the job's vault.
    :param job_id: the job id, or the Select operator's XCom dict (whose ``job_output_path``,
        InitiateJob's ``x-amz-job-output-path``, is where the results are looked for when
        DescribeJob does not say).
    :param dest_aws_conn_id: connection for reading S3; None (default) uses ``aws_conn_id``.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "vault_name", "job_id", "account_id", "dest_aws_conn_id"
    )
    ui_color = "#e0eef7"

    def execute(self, context: Context) -> dict[str, Any]:
        reported = self.job_id.get("job_output_path") if isinstance(self.job_id, Mapping) else None
        try:
            results = read_select_results(
                self.hook,
                self.s3_hook,
                self.vault_name,
                job_id_of(self.job_id),
                job_output_path=reported if isinstance(reported, str) and reported else None,
            )
        except FINAL_ERRORS as error:
            raise AirflowFailException(str(error)) from error
        self.log.info(
            "Select job %s wrote %d result object(s) under s3://%s/%s",
            results.job_id,
            len(results.result_keys),
            results.bucket,
            results.prefix,
        )
        return results.to_dict()
