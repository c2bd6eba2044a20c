"""Inventory-retrieval output in JSON and CSV, with date filters, Limit and Marker."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.utils import calculate_tree_hash

from airflow_glacier_select.testing import LocalGlacierEndpoint
from tests.endpoint.helpers import finished_job


def _inventory(endpoint: LocalGlacierEndpoint, **params: Any) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    """The output, the GetJobOutput response and the job's description."""
    job_id = finished_job(endpoint, "v", Type="inventory-retrieval", **params)
    glacier = endpoint.client()
    output = glacier.get_job_output(vaultName="v", jobId=job_id)
    return output["body"].read(), output, glacier.describe_job(vaultName="v", jobId=job_id)


def test_json_inventory_lists_every_archive(glacier_endpoint: LocalGlacierEndpoint) -> None:
    bodies = {"alpha": b"a" * 100, 'quote " and \\ backslash': b"b" * 7}
    ids = {glacier_endpoint.put_archive("v", body, name): (name, body) for name, body in bodies.items()}
    raw, output, job = _inventory(glacier_endpoint)
    document = json.loads(raw)
    assert document["VaultARN"] == job["VaultARN"]
    listed = {entry["ArchiveId"]: entry for entry in document["ArchiveList"]}
    assert set(listed) == set(ids)
    for archive_id, (name, body) in ids.items():
        entry = listed[archive_id]
        assert (entry["ArchiveDescription"], entry["Size"]) == (name, len(body))
        assert entry["SHA256TreeHash"] == calculate_tree_hash(io.BytesIO(body))
    assert output["contentType"] == "application/json"
    assert "checksum" not in output
    assert job["InventorySizeInBytes"] == len(raw)
    assert job["InventoryRetrievalParameters"]["Format"] == "JSON"
    assert job["Action"] == "InventoryRetrieval"
    assert glacier_endpoint.client().describe_vault(vaultName="v")["LastInventoryDate"]


def test_csv_inventory_escapes_quotes_with_a_backslash(glacier_endpoint: LocalGlacierEndpoint) -> None:
    archive_id = glacier_endpoint.put_archive("v", b"xyz", 'say "hi", C:\\dir\\')
    raw, output, _ = _inventory(glacier_endpoint, Format="CSV")
    header, line = raw.decode().splitlines()
    assert header == "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash"
    tree_hash = calculate_tree_hash(io.BytesIO(b"xyz"))
    assert line.startswith(f'{archive_id},"say \\"hi\\", C:\\dir\\",')
    assert line.endswith(f",3,{tree_hash}")
    assert output["contentType"] == "text/csv"


def test_limit_and_marker_walk_the_whole_vault(glacier_endpoint: LocalGlacierEndpoint) -> None:
    ids = [glacier_endpoint.put_archive("v", bytes([n]) * (n + 1)) for n in range(5)]
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        params: dict[str, Any] = {"Limit": "2"}
        if marker:
            params["Marker"] = marker
        raw, _, job = _inventory(glacier_endpoint, InventoryRetrievalParameters=params)
        seen += [entry["ArchiveId"] for entry in json.loads(raw)["ArchiveList"]]
        pages += 1
        marker = job["InventoryRetrievalParameters"].get("Marker")
        assert job["InventoryRetrievalParameters"]["Limit"] == "2"
        if not marker:
            break
    assert (seen, pages) == (ids, 3)


def test_start_date_is_inclusive_and_end_date_exclusive(glacier_endpoint: LocalGlacierEndpoint) -> None:
    archive_id = glacier_endpoint.put_archive("v", b"dated")
    raw, _, _ = _inventory(glacier_endpoint)
    created = json.loads(raw)["ArchiveList"][0]["CreationDate"]

    def listed(**dates: str) -> list[str]:
        body, _, _ = _inventory(glacier_endpoint, InventoryRetrievalParameters=dates)
        return [entry["ArchiveId"] for entry in json.loads(body)["ArchiveList"]]

    assert listed(StartDate=created) == [archive_id]
    assert listed(EndDate=created) == []
    assert listed(StartDate="2000-01-01T00:00:00Z", EndDate="2001-01-01T00:00:00Z") == []
    assert listed(StartDate="2000-01-01T00:00:00Z", EndDate="2999-01-01T00:00:00Z") == [archive_id]


def test_end_before_start_is_refused(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier_endpoint.client().create_vault(vaultName="v")
    glacier = glacier_endpoint.client()
    dates = {"StartDate": "2020-01-02T00:00:00Z", "EndDate": "2020-01-01T00:00:00Z"}
    with pytest.raises(glacier.exceptions.InvalidParameterValueException):
        glacier.initiate_job(
            vaultName="v",
            jobParameters={"Type": "inventory-retrieval", "InventoryRetrievalParameters": dates},
        )
