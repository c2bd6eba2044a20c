"""Reading a Glacier Select job's results where Glacier wrote them in S3.

A Select job copies nothing: Glacier itself writes ``result_manifest.txt`` and the
``results/*`` objects (or ``error_manifest.txt`` and ``errors/*``) into the caller's
bucket. What is left to do is find them, tell success from failure by the manifests (not
by DescribeJob alone) and hand downstream tasks the result keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_glacier_select.s3_copy.errors import GlacierTransferError, SelectJobFailedError
from airflow_glacier_select.s3_copy.manifests import parse_manifest, select_output_location
from airflow_glacier_select.s3_copy.s3_objects import read_text

if TYPE_CHECKING:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_glacier_select.hooks.glacier import GlacierJobsHook

__all__ = ["SelectResults", "read_select_results"]

_SELECT_ERROR_BYTES = 4096
_SELECT_ERROR_OBJECTS = 5


@dataclass(frozen=True)
class SelectResults:
    """Where a succeeded Select job's results are; :meth:`to_dict` is the operator's XCom value."""

    vault_name: str
    job_id: str
    bucket: str
    prefix: str
    result_keys: tuple[str, ...]

    @property
    def result_uris(self) -> list[str]:
        return [f"s3://{self.bucket}/{key}" for key in self.result_keys]

    def to_dict(self) -> dict[str, Any]:
        return {
            "vault_name": self.vault_name,
            "job_id": self.job_id,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "result_keys": list(self.result_keys),
            "result_uris": self.result_uris,
        }


def read_select_results(
    glacier_hook: GlacierJobsHook,
    s3_hook: S3Hook,
    vault_name: str,
    job_id: str,
    job_output_path: str | None = None,
) -> SelectResults:
    """The result object keys of a finished Select job, or :class:`SelectJobFailedError` quoting its errors.

    Glacier writes ``result_manifest.txt`` only when the query succeeded and
    ``error_manifest.txt`` (listing ``errors/*``) when it failed; success therefore needs the
    first and not the second, whatever DescribeJob says. The objects are looked for where
    Glacier says it wrote them (:func:`~airflow_glacier_select.s3_copy.manifests.select_output_location`);
    ``job_output_path`` is InitiateJob's ``x-amz-job-output-path``, used when DescribeJob
    gives no ``JobOutputPath``.
    """
    job = glacier_hook.get_job_description(vault_name, job_id)
    where = f"select job {job_id} in vault {vault_name}"
    if job.action != "Select":
        raise GlacierTransferError(f"{where}: the job is a {job.job_type or job.action} job, not select")
    if job.in_progress:
        raise GlacierTransferError(f"{where} is still in progress; wait for it to finish first")
    bucket, base = select_output_location(job, job_output_path, where)
    s3 = s3_hook.get_conn()
    errors = read_text(s3, bucket, base + "error_manifest.txt")
    if errors is not None:
        quoted = []
        error_keys = parse_manifest(errors, bucket)
        for key in error_keys[:_SELECT_ERROR_OBJECTS]:
            text = read_text(s3, bucket, key, _SELECT_ERROR_BYTES)
            quoted.append(f"{key}: {text.strip() if text is not None else '(missing)'}")
        more = len(error_keys) - len(quoted)
        raise SelectJobFailedError(
            f"{where} wrote errors to s3://{bucket}/{base}error_manifest.txt"
            f" (status {job.status_code}: {job.status_message}):\n"
            + "\n".join(quoted)
            + (f"\n... and {more} more error object(s)" if more > 0 else "")
        )
    if job.failed:
        raise SelectJobFailedError(
            f"{where} failed: {job.status_message} (no error manifest in s3://{bucket}/{base})"
        )
    results = read_text(s3, bucket, base + "result_manifest.txt")
    if results is None:
        raise SelectJobFailedError(
            f"{where} succeeded but s3://{bucket}/{base}result_manifest.txt is missing"
        )
    keys = tuple(parse_manifest(results, bucket))
    return SelectResults(vault_name, job_id, bucket, base, keys)
