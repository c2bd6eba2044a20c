"""Where a Glacier Select job wrote its output, and the object lists it wrote there.

Glacier reports the location as ``JobOutputPath`` (InitiateJob's ``x-amz-job-output-path``
header and DescribeJob's member), as a key prefix such as ``test/<job id>/`` or as an
``s3://bucket/prefix/`` URI; that is used rather than rebuilding ``<Prefix>/<JobId>/``
from OutputLocation, which goes wrong for a Prefix ending in ``/``.
``result_manifest.txt`` lists the result objects and ``error_manifest.txt`` the error
objects, one per line, as keys or ``s3://`` URIs. Reading them is the only reliable way to
tell success from failure, so their parsing is kept strict and separate from the S3 reads.
"""

from __future__ import annotations

from airflow_glacier_select.job_description import JobDescription
from airflow_glacier_select.output_location import job_output_prefix
from airflow_glacier_select.s3_copy.errors import GlacierTransferError

__all__ = ["parse_manifest", "select_output_location"]


def select_output_location(job: JobDescription, job_output_path: str | None, where: str) -> tuple[str, str]:
    """(bucket, key prefix ending in ``/``) of a Select job's output, as Glacier reported it.

    DescribeJob's ``JobOutputPath`` first, then ``job_output_path`` (InitiateJob's
    ``x-amz-job-output-path``, from the Select operator's XCom), and only when Glacier
    reported neither, ``<Prefix>/<JobId>/`` from OutputLocation. The bucket is
    OutputLocation's; a URI naming another bucket is refused.
    """
    location = (job.output_location or {}).get("S3") or {}
    bucket, prefix = location.get("BucketName"), location.get("Prefix")
    reported = job.job_output_path or job_output_path
    if reported:
        base = reported
        if reported.startswith("s3://"):
            reported_bucket, _, base = reported[len("s3://") :].partition("/")
            if bucket and reported_bucket != bucket:
                raise GlacierTransferError(
                    f"{where}: JobOutputPath {reported!r} is not in the OutputLocation bucket {bucket}"
                )
            bucket = reported_bucket
        if not bucket or not base.strip("/"):
            raise GlacierTransferError(f"{where}: JobOutputPath {reported!r} names no S3 bucket and prefix")
        return bucket, base.lstrip("/") if base.endswith("/") else base.lstrip("/") + "/"
    if not bucket or not prefix:
        raise GlacierTransferError(f"{where} reports no S3 output location")
    return bucket, job_output_prefix(prefix, job.job_id)


def parse_manifest(text: str, bucket: str) -> list[str]:
    """Object keys listed by a Select ``result_manifest.txt`` / ``error_manifest.txt``.

    One entry per line, as a key or an ``s3://bucket/key`` URI; blank lines are ignored.
    An entry in another bucket is refused rather than silently read from the wrong place.
    """
    keys = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry:
            continue
        if entry.startswith("s3://"):
            entry_bucket, _, key = entry[len("s3://") :].partition("/")
            if entry_bucket != bucket or not key:
                raise GlacierTransferError(f"manifest entry {entry!r} is not an object in bucket {bucket}")
            entry = key
        keys.append(entry)
    return keys
