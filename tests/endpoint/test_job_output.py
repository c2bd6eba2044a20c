"""GetJobOutput: whole outputs, ranges relative to the retrieved bytes, tree-hash headers."""

from __future__ import annotations

import io

import pytest
from botocore.utils import calculate_tree_hash

from airflow_glacier_select.testing import LocalGlacierEndpoint
from tests.endpoint.helpers import MIB, finished_job, patterned

SIZE = 5 * MIB + 1000


@pytest.fixture
def archive(glacier_endpoint: LocalGlacierEndpoint) -> tuple[bytes, str]:
    data = patterned(SIZE)
    return data, glacier_endpoint.put_archive("v", data, "five and a bit MiB")


def test_whole_output(glacier_endpoint: LocalGlacierEndpoint, archive: tuple[bytes, str]) -> None:
    data, archive_id = archive
    job_id = finished_job(glacier_endpoint, "v", Type="archive-retrieval", ArchiveId=archive_id)
    output = glacier_endpoint.client().get_job_output(vaultName="v", jobId=job_id)
    assert output["status"] == 200
    assert output["body"].read() == data
    assert output["checksum"] == calculate_tree_hash(io.BytesIO(data))
    assert output["acceptRanges"] == "bytes"
    assert output["archiveDescription"] == "five and a bit MiB"
    assert output["contentType"] == "application/octet-stream"


# (start, end inclusive, whether the range is a node of the 6-leaf tree over the output)
RANGES = [
    (0, MIB - 1, True),
    (MIB, 2 * MIB - 1, True),
    (0, 2 * MIB - 1, True),
    (2 * MIB, 4 * MIB - 1, True),
    (0, 4 * MIB - 1, True),
    (4 * MIB, SIZE - 1, True),
    (5 * MIB, SIZE - 1, True),
    (MIB, 3 * MIB - 1, False),
    (0, 3 * MIB - 1, False),
    (2 * MIB, SIZE - 1, False),
    (10, 2 * MIB - 1, False),
    (0, 100, False),
]


@pytest.mark.parametrize(("start", "end", "aligned"), RANGES)
def test_range_and_tree_hash_header(
    glacier_endpoint: LocalGlacierEndpoint, archive: tuple[bytes, str], start: int, end: int, aligned: bool
) -> None:
    data, archive_id = archive
    job_id = finished_job(glacier_endpoint, "v", Type="archive-retrieval", ArchiveId=archive_id)
    output = glacier_endpoint.client().get_job_output(
        vaultName="v", jobId=job_id, range=f"bytes={start}-{end}"
    )
    assert output["status"] == 206
    assert output["contentRange"] == f"bytes {start}-{end}/{SIZE}"
    assert output["body"].read() == data[start : end + 1]
    expected = calculate_tree_hash(io.BytesIO(data[start : end + 1])) if aligned else None
    assert output.get("checksum") == expected


def test_range_is_relative_to_the_retrieved_range(
    glacier_endpoint: LocalGlacierEndpoint, archive: tuple[bytes, str]
) -> None:
    data, archive_id = archive
    retrieved = data[2 * MIB : 4 * MIB]
    job_id = finished_job(
        glacier_endpoint,
        "v",
        Type="archive-retrieval",
        ArchiveId=archive_id,
        RetrievalByteRange=f"{2 * MIB}-{4 * MIB - 1}",
    )
    glacier = glacier_endpoint.client()
    whole = glacier.get_job_output(vaultName="v", jobId=job_id)
    assert whole["body"].read() == retrieved
    assert whole["checksum"] == calculate_tree_hash(io.BytesIO(retrieved))
    second = glacier.get_job_output(vaultName="v", jobId=job_id, range=f"bytes={MIB}-{2 * MIB - 1}")
    assert second["contentRange"] == f"bytes {MIB}-{2 * MIB - 1}/{2 * MIB}"
    assert second["body"].read() == retrieved[MIB:]
    assert second["checksum"] == calculate_tree_hash(io.BytesIO(retrieved[MIB:]))


def test_unsatisfiable_range_is_refused(
    glacier_endpoint: LocalGlacierEndpoint, archive: tuple[bytes, str]
) -> None:
    _, archive_id = archive
    job_id = finished_job(glacier_endpoint, "v", Type="archive-retrieval", ArchiveId=archive_id)
    glacier = glacier_endpoint.client()
    with pytest.raises(glacier.exceptions.InvalidParameterValueException):
        glacier.get_job_output(vaultName="v", jobId=job_id, range=f"bytes={SIZE}-{SIZE + 10}")
    with pytest.raises(glacier.exceptions.InvalidParameterValueException):
        glacier.get_job_output(vaultName="v", jobId=job_id, range="pages=1-2")
