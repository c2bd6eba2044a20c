"""Apache Airflow provider for Amazon Glacier vault jobs.

Archive retrieval, inventory retrieval and Glacier Select jobs, waited on without
holding a worker slot, with output moved into S3 verified against Glacier's
SHA-256 tree hashes.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_INTEGRATION = "Amazon Glacier vault jobs"


def get_provider_info() -> dict[str, Any]:
    """Describe this provider to Airflow's ProvidersManager (``apache_airflow_provider`` entry point).

    Only modules that exist are listed: ``tests/test_provider.py`` imports every one.
    The ``aws`` connection type is deliberately not claimed: the amazon provider owns it
    and our hooks reuse ``aws_conn_id``.
    """
    return {
        "package-name": "airflow-glacier-select",
        "name": "Glacier Select",
        "description": "Amazon Glacier vault jobs: archive retrieval, inventory retrieval and Glacier "
        "Select, deferrable job waits and tree-hash verified transfers into S3.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://docs.aws.amazon.com/amazonglacier/latest/dev/introduction.html",
                "tags": ["aws"],
            }
        ],
        "hooks": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_glacier_select.hooks.glacier",
                    "airflow_glacier_select.s3_copy.engine",
                    "airflow_glacier_select.s3_copy.select_results",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_glacier_select.operators.glacier",
                    "airflow_glacier_select.operators.select_results",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": ["airflow_glacier_select.sensors.glacier"],
            }
        ],
        "triggers": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "airflow_glacier_select.triggers.glacier",
                    "airflow_glacier_select.triggers.notifications",
                ],
            }
        ],
        "transfers": [
            {
                "source-integration-name": _INTEGRATION,
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_glacier_select.transfers.glacier_to_s3",
            },
            {
                "source-integration-name": _INTEGRATION,
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_glacier_select.transfers.sharded",
            },
            {
                "source-integration-name": _INTEGRATION,
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_glacier_select.transfers.expiry",
            },
        ],
        "extra-links": ["airflow_glacier_select.links.GlacierVaultLink"],
    }
