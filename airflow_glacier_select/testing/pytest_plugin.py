"""pytest fixtures for the local Glacier endpoint.

``glacier_endpoint`` gives each test a fresh endpoint: one server runs for the whole
session and is reset before every test (new account, so no vault, job, bucket, fault,
count or tier-delay change survives). ``glacier_connection`` also exposes it to Airflow
as the ``aws`` connection ``glacier_local``.

Enable with ``pytest_plugins = ["airflow_glacier_select.testing.pytest_plugin"]``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from airflow_glacier_select.testing.endpoint import LocalGlacierEndpoint

GLACIER_CONN_ID = "glacier_local"


@pytest.fixture(scope="session")
def _glacier_endpoint_server() -> Iterator[LocalGlacierEndpoint]:
    with LocalGlacierEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def glacier_endpoint(_glacier_endpoint_server: LocalGlacierEndpoint) -> LocalGlacierEndpoint:
    """A running endpoint with nothing in it and the default tier delays."""
    _glacier_endpoint_server.reset()
    return _glacier_endpoint_server


@pytest.fixture
def glacier_connection(glacier_endpoint: LocalGlacierEndpoint, monkeypatch: pytest.MonkeyPatch) -> str:
    """The id of an Airflow ``aws`` connection to the endpoint (set through the environment)."""
    uri = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": glacier_endpoint.url, "region_name": "us-east-1"},
        }
    )
    monkeypatch.setenv(f"AIRFLOW_CONN_{GLACIER_CONN_ID.upper()}", uri)
    return GLACIER_CONN_ID
