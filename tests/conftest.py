"""Test-wide isolation (a throwaway AIRFLOW_HOME and fake AWS credentials) and the fixtures
every test directory shares.

The environment is set before anything imports Airflow or boto3, so no test can read a
developer's real configuration or reach real AWS; that is why the fixtures import Airflow and
the helpers in :mod:`tests.support` inside their bodies. Test modules import plain helpers
from :mod:`tests.support`; they never import or re-export a fixture.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_glacier_select.testing import LocalGlacierEndpoint
    from tests.support.answer_proxy import AnswerProxy
    from tests.support.dag_runs import DagFolder

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="glacier-select-airflow-home-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
pytest_plugins = ["airflow_glacier_select.testing.pytest_plugin"]


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """The session's metadata database (SQLite in the throwaway AIRFLOW_HOME), created once."""
    from airflow.utils import db

    db.initdb()


@pytest.fixture
def dag_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, airflow_db: None) -> Iterator[DagFolder]:
    """A fresh dags folder configured as Airflow's for this test (and any subprocess it starts)."""
    from airflow import settings

    from tests.support.dag_runs import DagFolder

    folder = tmp_path / "dags"
    folder.mkdir()
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(folder))
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(folder))
    yield DagFolder(folder)


@pytest.fixture
def answer_proxy(glacier_endpoint: LocalGlacierEndpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Start an :class:`~tests.support.answer_proxy.AnswerProxy` (keyword options as its own) in front
    of the test's endpoint and point the Airflow ``aws`` connection ``PROXY_CONN_ID`` (region
    us-east-1) at it."""
    from tests.support.answer_proxy import PROXY_CONN_ID, AnswerProxy

    proxies: list[AnswerProxy] = []

    def start(**options: Any) -> AnswerProxy:
        proxy = AnswerProxy(glacier_endpoint.url, **options)
        proxies.append(proxy)
        connection = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": proxy.url, "region_name": "us-east-1"},
        }
        monkeypatch.setenv(f"AIRFLOW_CONN_{PROXY_CONN_ID.upper()}", json.dumps(connection))
        return proxy

    yield start
    for proxy in proxies:
        proxy.close()
