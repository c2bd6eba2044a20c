"""Operator extra links into the AWS console, in the amazon provider's link style.

The console is where people look when a restore seems slow or costs surprise them; a
link straight to the vault from the task saves hunting for the right region and vault.
"""

from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class GlacierVaultLink(BaseAwsLink):
    """The vault a Glacier job operator started its job in."""

    name = "Glacier Vault"
    key = "glacier_vault"
    format_str = (
        BASE_AWS_CONSOLE_LINK + "/glacier/home?region={region_name}#/vault/{vault_name}/view/properties"
    )
