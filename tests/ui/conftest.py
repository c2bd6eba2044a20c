"""Airflow's real API app, with the Glacier view its plugin mounts, behind the simple auth manager.

The app is built once per session by Airflow's own ``create_app`` (so the plugin is found
through its ``airflow.plugins`` entry point, exactly as the API server finds it) with
two signed-up users: ``admin`` (may read connections) and ``viewer`` (may not). Tests
sign requests with a JWT the auth manager issues, as the UI's cookie carries it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from .helpers import REPORTS_BUCKET, REPORTS_PREFIX


@pytest.fixture(scope="session")
def airflow_api(airflow_db: None) -> Iterator[Any]:
    """Airflow's API app (not started as a server: driven through FastAPI's TestClient)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
        env.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,viewer:viewer")
        # Airflow 3.0 signs tokens with ``iss`` unset unless configured, which PyJWT refuses.
        env.setenv("AIRFLOW__API_AUTH__JWT_ISSUER", "airflow-glacier-select-tests")
        env.setenv("AIRFLOW__API_AUTH__JWT_SECRET", secrets.token_urlsafe(64))  # long enough for HS512
        env.setenv("AIRFLOW__GLACIER_SELECT__UI_MIGRATION_REPORTS", f"s3://{REPORTS_BUCKET}/{REPORTS_PREFIX}")
        from airflow.api_fastapi.app import create_app, purge_cached_app

        purge_cached_app()
        app = create_app()
        yield app
        purge_cached_app()


def _token(username: str, role: str) -> str:
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=username, role=role))


@pytest.fixture
def anonymous(airflow_api: Any) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(airflow_api, raise_server_exceptions=False)


@pytest.fixture
def signed_in(airflow_api: Any) -> Any:
    """A client carrying the admin's JWT where a signed-in browser carries it: in the cookie the
    Airflow UI sets (3.1+), else (3.0) in the Authorization header, the only place 3.0 reads."""
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from fastapi.testclient import TestClient

    from airflow_glacier_select.ui.app import ui_sign_in_reaches_plugins

    client = TestClient(airflow_api, raise_server_exceptions=False)
    token = _token("admin", "ADMIN")
    if ui_sign_in_reaches_plugins():
        client.cookies.set(COOKIE_NAME_JWT_TOKEN, token)
    else:
        client.headers["Authorization"] = f"Bearer {token}"
    return client


@pytest.fixture
def viewer_token(airflow_api: Any) -> str:
    return _token("viewer", "VIEWER")


@pytest.fixture
def unreachable_connection(monkeypatch: pytest.MonkeyPatch) -> str:
    """An ``aws`` connection whose endpoint refuses connections (a closed loopback port)."""
    from airflow_glacier_select.demo.processes import free_port

    uri = json.dumps(
        {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": f"http://127.0.0.1:{free_port()}", "region_name": "us-east-1"},
        }
    )
    monkeypatch.setenv("AIRFLOW_CONN_GLACIER_UNREACHABLE", uri)
    return "glacier_unreachable"
