"""The endpoint's S3 CompleteMultipartUpload: the object is its parts joined, checked as S3 checks them."""

from __future__ import annotations

import hashlib

import pytest
from botocore.exceptions import ClientError

from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.treehash import MIB

BUCKET = "multipart"


def _upload(s3: object, key: str, parts: list[bytes]) -> tuple[str, list[dict[str, object]]]:
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, Metadata={"a": "b"})["UploadId"]  # type: ignore[attr-defined]
    listed = []
    for number, body in enumerate(parts, start=1):
        etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=body)["ETag"]  # type: ignore[attr-defined]
        listed.append({"PartNumber": number, "ETag": etag})
    return upload, listed


def test_completed_object_reads_as_its_parts_in_order_with_s3s_multipart_etag(
    glacier_endpoint: LocalGlacierEndpoint,
) -> None:
    s3 = glacier_endpoint.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    parts = [bytes([n]) * (5 * MIB) + b"%d" % n for n in range(3)] + [b"tail"]
    upload, listed = _upload(s3, "joined.bin", parts)
    s3.complete_multipart_upload(
        Bucket=BUCKET, Key="joined.bin", UploadId=upload, MultipartUpload={"Parts": listed}
    )
    whole = b"".join(parts)
    head = s3.head_object(Bucket=BUCKET, Key="joined.bin")
    md5s = b"".join(hashlib.md5(part).digest() for part in parts)
    assert head["ContentLength"] == len(whole)
    assert head["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-4"'
    assert head["Metadata"] == {"a": "b"}
    assert s3.get_object(Bucket=BUCKET, Key="joined.bin")["Body"].read() == whole
    ranged = s3.get_object(Bucket=BUCKET, Key="joined.bin", Range=f"bytes={5 * MIB - 2}-{5 * MIB + 3}")
    assert ranged["Body"].read() == whole[5 * MIB - 2 : 5 * MIB + 4]
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    s3.put_object(Bucket=BUCKET, Key="joined.bin", Body=b"replaced")
    assert s3.get_object(Bucket=BUCKET, Key="joined.bin")["Body"].read() == b"replaced"


@pytest.mark.parametrize(
    ("parts", "listing", "code"),
    [
        ([b"x" * MIB, b"y"], None, "EntityTooSmall"),
        ([b"x" * (5 * MIB)], [{"PartNumber": 1, "ETag": '"0123"'}], "InvalidPart"),
        ([b"x" * (5 * MIB)], [{"PartNumber": 2, "ETag": '"0123"'}], "InvalidPart"),
    ],
)
def test_completion_refuses_what_s3_refuses_and_keeps_the_upload(
    glacier_endpoint: LocalGlacierEndpoint,
    parts: list[bytes],
    listing: list[dict[str, object]] | None,
    code: str,
) -> None:
    s3 = glacier_endpoint.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    upload, listed = _upload(s3, "refused.bin", parts)
    with pytest.raises(ClientError) as raised:
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key="refused.bin", UploadId=upload, MultipartUpload={"Parts": listing or listed}
        )
    assert raised.value.response["Error"]["Code"] == code
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]] == [upload]
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
