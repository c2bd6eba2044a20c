"""The provider registers with Airflow and every module it advertises imports."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import airflow_glacier_select
from airflow_glacier_select import get_provider_info

PACKAGE_DIR = Path(airflow_glacier_select.__file__).parent


def _advertised_modules() -> list[str]:
    info = get_provider_info()
    modules: list[str] = []
    for section in ("hooks", "operators", "sensors", "triggers", "transfers"):
        for entry in info.get(section, []):
            # Transfers name one module ("python-module"); the other sections a list.
            modules.extend(entry.get("python-modules", []))
            if "python-module" in entry:
                modules.append(entry["python-module"])
    return modules


def test_every_advertised_module_imports() -> None:
    for module in _advertised_modules():
        importlib.import_module(module)


def test_every_airflow_module_is_advertised() -> None:
    advertised = set(_advertised_modules())
    for section in ("hooks", "operators", "sensors", "triggers", "transfers"):
        for path in (PACKAGE_DIR / section).glob("*.py"):
            if path.name == "__init__.py":
                continue
            module = f"airflow_glacier_select.{section}.{path.stem}"
            assert module in advertised, f"{module} is missing from get_provider_info()"


def test_provider_info_does_not_claim_the_aws_connection_type() -> None:
    info = get_provider_info()
    assert "connection-types" not in info
    assert info["package-name"] == "airflow-glacier-select"


def test_airflow_providers_list_shows_the_package() -> None:
    airflow_cli = Path(sys.executable).parent / "airflow"
    result = subprocess.run(
        [str(airflow_cli), "providers", "list", "--output", "plain"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "airflow-glacier-select" in result.stdout
    assert "Error" not in result.stderr or "airflow-glacier-select" not in result.stderr
