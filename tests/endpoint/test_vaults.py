"""Vault operations of the local endpoint, through a real boto3 client over HTTP."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from airflow_glacier_select.testing import LocalGlacierEndpoint


def test_create_describe_list_delete(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier = glacier_endpoint.client()
    created = glacier.create_vault(vaultName="photos")
    assert created["location"] == f"/{glacier_endpoint.account_id}/vaults/photos"

    described = glacier.describe_vault(vaultName="photos")
    assert described["VaultName"] == "photos"
    assert described["VaultARN"] == f"arn:aws:glacier:us-east-1:{glacier_endpoint.account_id}:vaults/photos"
    assert (described["NumberOfArchives"], described["SizeInBytes"]) == (0, 0)
    assert described["CreationDate"].endswith("Z")

    assert [v["VaultName"] for v in glacier.list_vaults()["VaultList"]] == ["photos"]
    glacier.delete_vault(vaultName="photos")
    assert glacier.list_vaults()["VaultList"] == []


def test_describe_counts_archives_and_bytes(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier_endpoint.put_archive("v", b"x" * 10)
    glacier_endpoint.put_archive("v", b"y" * 5)
    described = glacier_endpoint.client().describe_vault(vaultName="v")
    assert (described["NumberOfArchives"], described["SizeInBytes"]) == (2, 15)


def test_unknown_vault_is_resource_not_found_404(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier = glacier_endpoint.client()
    with pytest.raises(glacier.exceptions.ResourceNotFoundException) as raised:
        glacier.describe_vault(vaultName="missing")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "missing" in raised.value.response["Error"]["Message"]


def test_vault_with_archives_cannot_be_deleted(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier_endpoint.put_archive("full", b"data")
    glacier = glacier_endpoint.client()
    with pytest.raises(glacier.exceptions.InvalidParameterValueException):
        glacier.delete_vault(vaultName="full")
    assert glacier.describe_vault(vaultName="full")["NumberOfArchives"] == 1


def test_invalid_vault_name_is_rejected(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier = glacier_endpoint.client()
    with pytest.raises(ClientError) as raised:
        glacier.create_vault(vaultName="bad name!")
    assert raised.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert glacier.list_vaults()["VaultList"] == []


def test_list_vaults_pages_by_limit_and_marker(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier = glacier_endpoint.client()
    for name in ("c", "a", "d", "b", "e"):
        glacier.create_vault(vaultName=name)
    pages = list(glacier.get_paginator("list_vaults").paginate(PaginationConfig={"PageSize": 2}))
    assert [[v["VaultName"] for v in page["VaultList"]] for page in pages] == [["a", "b"], ["c", "d"], ["e"]]


def test_endpoints_do_not_share_state(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier_endpoint.client().create_vault(vaultName="mine")
    with LocalGlacierEndpoint() as other:
        assert other.client().list_vaults()["VaultList"] == []
    assert glacier_endpoint.client().describe_vault(vaultName="mine")["VaultName"] == "mine"


def test_reset_forgets_everything(glacier_endpoint: LocalGlacierEndpoint) -> None:
    glacier_endpoint.client().create_vault(vaultName="gone")
    glacier_endpoint.inject_fault("ListVaults", "throttle")
    glacier_endpoint.reset()
    assert glacier_endpoint.client().list_vaults()["VaultList"] == []
    assert glacier_endpoint.request_count() == 1
