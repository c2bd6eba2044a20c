"""Archives and multipart uploads: stored by tree hash, checked against the client's."""

from __future__ import annotations

import pytest
from botocore.utils import calculate_tree_hash

from airflow_glacier_select.testing import LocalGlacierEndpoint
from tests.endpoint.helpers import MIB, finished_job, patterned


def _tree_hash(data: bytes) -> str:
    import io

    return str(calculate_tree_hash(io.BytesIO(data)))


def _retrieved(endpoint: LocalGlacierEndpoint, vault: str, archive_id: str) -> bytes:
    job_id = finished_job(endpoint, vault, Type="archive-retrieval", ArchiveId=archive_id)
    return bytes(endpoint.client().get_job_output(vaultName=vault, jobId=job_id)["body"].read())


def test_upload_archive_answers_the_tree_hash_and_a_fresh_id(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier = glacier_endpoint.client()
    glacier.create_vault(vaultName="v")
    data = patterned(3 * MIB + 5)
    first = glacier.upload_archive(vaultName="v", body=data, archiveDescription="first")
    second = glacier.upload_archive(vaultName="v", body=data, archiveDescription="second")
    assert first["checksum"] == second["checksum"] == _tree_hash(data)
    assert first["archiveId"] != second["archiveId"]
    assert first["location"].endswith(f"/vaults/v/archives/{first['archiveId']}")
    assert _retrieved(glacier_endpoint, "v", first["archiveId"]) == data


def test_upload_with_a_wrong_tree_hash_is_refused_and_stores_nothing(
    glacier_endpoint: LocalGlacierEndpoint,
) -> None:
    glacier = glacier_endpoint.client()
    glacier.create_vault(vaultName="v")
    with pytest.raises(glacier.exceptions.InvalidParameterValueException) as raised:
        glacier.upload_archive(vaultName="v", body=b"payload", checksum="0" * 64)
    assert "Checksum mismatch" in raised.value.response["Error"]["Message"]
    assert glacier.describe_vault(vaultName="v")["NumberOfArchives"] == 0


def test_overlong_description_is_refused(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier = glacier_endpoint.client()
    glacier.create_vault(vaultName="v")
    with pytest.raises(glacier.exceptions.InvalidParameterValueException) as raised:
        glacier.upload_archive(vaultName="v", body=b"x", archiveDescription="d" * 1025)
    assert "1024" in raised.value.response["Error"]["Message"]


def test_upload_to_an_unknown_vault_is_not_found(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier = glacier_endpoint.client()
    with pytest.raises(glacier.exceptions.ResourceNotFoundException):
        glacier.upload_archive(vaultName="nowhere", body=b"x")


def test_delete_archive(glacier_endpoint: LocalGlacierEndpoint) -> None:
    archive_id = glacier_endpoint.put_archive("v", b"bytes")
    glacier = glacier_endpoint.client()
    glacier.delete_archive(vaultName="v", archiveId=archive_id)
    assert glacier.describe_vault(vaultName="v")["NumberOfArchives"] == 0
    with pytest.raises(glacier.exceptions.ResourceNotFoundException):
        glacier.delete_archive(vaultName="v", archiveId=archive_id)
    with pytest.raises(glacier.exceptions.ResourceNotFoundException):
        glacier.initiate_job(
            vaultName="v", jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
        )


def test_put_archive_streams_files_and_paths(glacier_endpoint: LocalGlacierEndpoint, tmp_path) -> None:
    data = patterned(2 * MIB + 1)
    source = tmp_path / "archive.bin"
    source.write_bytes(data)
    from_path = glacier_endpoint.put_archive("v", source, "from a path")
    with source.open("rb") as handle:
        from_file = glacier_endpoint.put_archive("v", handle, "from a file")
    assert _retrieved(glacier_endpoint, "v", from_path) == data
    assert _retrieved(glacier_endpoint, "v", from_file) == data


def _upload_parts(glacier, data: bytes, part_size: int) -> str:
    upload_id = glacier.initiate_multipart_upload(
        vaultName="v", partSize=str(part_size), archiveDescription="parts"
    )["uploadId"]
    for start in range(0, len(data), part_size):
        part = data[start : start + part_size]
        answer = glacier.upload_multipart_part(
            vaultName="v", uploadId=upload_id, range=f"bytes {start}-{start + len(part) - 1}/*", body=part
        )
        assert answer["checksum"] == _tree_hash(part)
    return str(upload_id)


def test_multipart_upload_round_trip(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier = glacier_endpoint.client()
    glacier.create_vault(vaultName="v")
    data = patterned(5 * MIB + 123)
    upload_id = _upload_parts(glacier, data, 2 * MIB)

    pages = list(
        glacier.get_paginator("list_parts").paginate(
            vaultName="v", uploadId=upload_id, PaginationConfig={"PageSize": 2}
        )
    )
    assert [[p["RangeInBytes"] for p in page["Parts"]] for page in pages] == [
        [f"0-{2 * MIB - 1}", f"{2 * MIB}-{4 * MIB - 1}"],
        [f"{4 * MIB}-{5 * MIB + 122}"],
    ]
    assert pages[0]["PartSizeInBytes"] == 2 * MIB and pages[0]["ArchiveDescription"] == "parts"
    assert [u["MultipartUploadId"] for u in glacier.list_multipart_uploads(vaultName="v")["UploadsList"]] == [
        upload_id
    ]

    done = glacier.complete_multipart_upload(
        vaultName="v", uploadId=upload_id, archiveSize=str(len(data)), checksum=_tree_hash(data)
    )
    assert done["checksum"] == _tree_hash(data)
    assert glacier.list_multipart_uploads(vaultName="v")["UploadsList"] == []
    assert _retrieved(glacier_endpoint, "v", done["archiveId"]) == data


def test_multipart_checks(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier = glacier_endpoint.client()
    glacier.create_vault(vaultName="v")
    with pytest.raises(glacier.exceptions.InvalidParameterValueException):
        glacier.initiate_multipart_upload(vaultName="v", partSize=str(3 * MIB))
    data = patterned(3 * MIB)
    upload_id = glacier.initiate_multipart_upload(vaultName="v", partSize=str(MIB))["uploadId"]
    bad = {"vaultName": "v", "uploadId": upload_id, "range": f"bytes 0-{MIB - 1}/*", "body": data[:MIB]}
    with pytest.raises(glacier.exceptions.InvalidParameterValueException):
        glacier.upload_multipart_part(**bad, checksum="f" * 64)
    with pytest.raises(glacier.exceptions.InvalidParameterValueException):  # not on a part boundary
        glacier.upload_multipart_part(vaultName="v", uploadId=upload_id, range="bytes 5-9/*", body=b"12345")
    glacier.upload_multipart_part(**bad)
    with pytest.raises(glacier.exceptions.InvalidParameterValueException):  # parts missing
        glacier.complete_multipart_upload(
            vaultName="v", uploadId=upload_id, archiveSize=str(len(data)), checksum=_tree_hash(data)
        )
    with pytest.raises(glacier.exceptions.InvalidParameterValueException):  # whole hash wrong
        glacier.complete_multipart_upload(
            vaultName="v", uploadId=upload_id, archiveSize=str(MIB), checksum="a" * 64
        )
    glacier.abort_multipart_upload(vaultName="v", uploadId=upload_id)
    with pytest.raises(glacier.exceptions.ResourceNotFoundException):
        glacier.list_parts(vaultName="v", uploadId=upload_id)
    assert glacier.describe_vault(vaultName="v")["NumberOfArchives"] == 0
