"""The glacier_connection fixture gives Airflow's AWS hooks the endpoint."""

from __future__ import annotations

from airflow_glacier_select.testing import LocalGlacierEndpoint


def test_amazon_provider_hook_reaches_the_endpoint(
    glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    glacier_endpoint.client().create_vault(vaultName="through-airflow")
    hook = AwsBaseHook(aws_conn_id=glacier_connection, client_type="glacier")
    assert glacier_connection == "glacier_local"
    assert [v["VaultName"] for v in hook.conn.list_vaults()["VaultList"]] == ["through-airflow"]
