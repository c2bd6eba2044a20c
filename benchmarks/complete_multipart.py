"""How long the local endpoint's S3 takes to complete a multipart upload, against uploading its parts.

The transfer benchmark once measured CompleteMultipartUpload at 28.5 s of a 42.6 s copy
of 2 GiB and blamed the endpoint (moto joins every part into one buffer, copies it into
the object and spools that to disk). This isolates the call: the endpoint runs in its own
process, a 2 GiB object (``--quick``: 64 MiB) is uploaded as 16 MiB parts by 4 threads of
one boto3 client, then completed; the object's size is checked with HeadObject and it is
deleted. Reported per run: seconds uploading the parts, seconds in CompleteMultipartUpload,
and the completion's share of the whole.

    python benchmarks/complete_multipart.py [--quick] [--runs N]
"""

from __future__ import annotations

import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _common import MB, MIB, arguments, save, table
from _endpoint import seeded_endpoint

BUCKET = "benchmark-complete"
PART = 16 * MIB


def _one_run(s3: Any, size: int, key: str) -> dict[str, Any]:
    body = random.Random(1).randbytes(PART)
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    count = -(-size // PART)

    def part(number: int) -> dict[str, Any]:
        length = min(PART, size - (number - 1) * PART)
        etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=body[:length])
        return {"PartNumber": number, "ETag": etag["ETag"]}

    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        parts = list(pool.map(part, range(1, count + 1)))
    uploaded = time.perf_counter()
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    completed = time.perf_counter()
    stored = s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    if stored != size:
        raise SystemExit(f"{key}: S3 holds {stored} bytes, expected {size}")
    s3.delete_object(Bucket=BUCKET, Key=key)
    return {
        "upload_parts_s": uploaded - started,
        "complete_s": completed - uploaded,
        "share": (completed - uploaded) / (completed - started),
        "parts_mb_per_s": size / MB / (uploaded - started),
    }


def main() -> None:
    args = arguments(__doc__.split("\n")[0])
    size = (64 if args.quick else 2048) * MIB
    with (
        tempfile.TemporaryDirectory(prefix="glacier-bench-complete-") as scratch,
        seeded_endpoint(storage_dir=scratch) as (endpoint, _vault, _),
    ):
        s3 = endpoint.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        runs = [_one_run(s3, size, f"object-{n}") for n in range(args.runs)]
    rows = [
        (n + 1, size // MIB, r["upload_parts_s"], r["parts_mb_per_s"], r["complete_s"], r["share"])
        for n, r in enumerate(runs)
    ]
    headers = ("run", "MiB", "UploadPart s", "UploadPart MB/s", "CompleteMultipartUpload s", "share")
    print(f"\n## S3 CompleteMultipartUpload on the local endpoint, {size // MIB} MiB\n")
    print(table(headers, rows), flush=True)
    save(args, "complete_multipart", {"runs": runs}, [], {"size": size})


if __name__ == "__main__":
    main()
