"""The environment that gives real Airflow processes the ``glacier_local`` connection to an endpoint."""

from __future__ import annotations

import json


def glacier_connection_env(endpoint_url: str) -> dict[str, str]:
    """``AIRFLOW_CONN_GLACIER_LOCAL`` for the endpoint at ``endpoint_url``.

    Fake keys: the local endpoint accepts any signature. Nothing here is a real secret.
    """
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": endpoint_url, "region_name": "us-east-1"},
    }
    return {"AIRFLOW_CONN_GLACIER_LOCAL": json.dumps(connection)}
