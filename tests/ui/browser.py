"""A real browser against a real ``airflow standalone`` with signed-up users, for the Glacier view.

:class:`SignedUpAirflow` is the demo's :class:`AirflowProcesses` with the simple auth
manager's users switched on (the demo lets everyone in as admin): an ``admin`` whose
password is written to the auth manager's password file before start, so a browser can
sign in through Airflow's own login page. :func:`chromium` starts Debian's Chromium
through Playwright, or skips with the reason there is none.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from airflow_glacier_select.demo.standalone import AirflowProcesses

CHROMIUM = Path(os.environ.get("GLACIER_UI_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USERNAME = "admin"


class SignedUpAirflow(AirflowProcesses):
    """``airflow standalone`` where one must sign in: user ``admin`` with :attr:`password`."""

    def __init__(self, home: Path, dags_folder: Path, extra_env: Mapping[str, str | None]) -> None:
        self.password = secrets.token_urlsafe(12)
        passwords = home / "passwords.json"
        super().__init__(
            home,
            dags_folder,
            {
                **extra_env,
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            },
        )
        home.mkdir(parents=True, exist_ok=True)
        passwords.write_text(json.dumps({USERNAME: self.password}))

    def _request(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        # The demo asks GET /auth/token, which only the all-admins mode answers; sign in instead.
        if path == "/auth/token" and not auth:
            credentials = {"username": USERNAME, "password": self.password}
            return super()._request("POST", "/auth/token", credentials, auth=False)
        return super()._request(method, path, body, auth=auth)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Debian's package) under Playwright; skips when either is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: run `python3 scripts/browser.py` (as root) to install it")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
