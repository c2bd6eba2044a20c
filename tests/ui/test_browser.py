"""The Glacier view in a real browser, inside a real Airflow: sign in, navigate, watch a job finish.

``airflow standalone`` (API server, scheduler, triggerer, dag-processor) runs with the
simple auth manager's sign-in switched on and the ``aws`` connection ``glacier_local``
pointing at the local endpoint. Debian's Chromium, driven by Playwright, signs in through
Airflow's login page, follows the "Glacier" item of Airflow's navigation (Airflow 3.1+
external view) and reads the view inside the UI's frame, as a user would. A browser
without Airflow's cookie is refused.

Set ``GLACIER_UI_SCREENSHOT=<path>`` to keep a screenshot of the vault page (README image).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from airflow_glacier_select.ui.app import ui_sign_in_reaches_plugins

from .browser import USERNAME, SignedUpAirflow, chromium
from .helpers import REPORTS_BUCKET, REPORTS_PREFIX, put_report, seed_jobs

pytestmark = [
    pytest.mark.processes,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not ui_sign_in_reaches_plugins(),
        reason="Airflow 3.0's UI has no plugin views and keeps its sign-in from plugin pages; "
        "tests/ui/test_view.py covers the page there with a Bearer token",
    ),
]

VAULT = "photo-archive"
REPORTS_ENV = {"AIRFLOW__GLACIER_SELECT__UI_MIGRATION_REPORTS": f"s3://{REPORTS_BUCKET}/{REPORTS_PREFIX}"}
TIMEOUT_MS = 60_000


def _migration_report(run_id: str, copied_gib: int, in_s3_before_gib: int) -> dict[str, object]:
    gib = 2**30
    left = 40 - in_s3_before_gib - copied_gib
    return {
        "run_id": run_id,
        "vault_name": VAULT,
        "inventory": {"archives": 400, "bytes": 40 * gib},
        "copied": {"archives": 10 * copied_gib, "bytes": copied_gib * gib},
        "skipped": {"archives": 10 * in_s3_before_gib, "bytes": in_s3_before_gib * gib},
        "failed": {"archives": 0, "bytes": 0},
        "left_for_later_runs": {"archives": 10 * left, "bytes": left * gib},
    }


def test_sign_in_open_glacier_and_see_a_job_finish(
    glacier_endpoint, glacier_connection, tmp_path: Path
) -> None:
    """``glacier_connection`` puts the connection in this process's environment, which the
    Airflow processes inherit."""
    from playwright.sync_api import expect

    running = seed_jobs(glacier_endpoint, VAULT, 3)
    finished = seed_jobs(glacier_endpoint, VAULT, 1)[0]
    glacier_endpoint.complete_job(VAULT, finished)
    for day, (copied, before) in enumerate([(5, 0), (5, 5), (4, 10)], start=1):
        run_id = f"scheduled__2026-11-2{day}T00:00:00+00:00"
        put_report(glacier_endpoint, VAULT, run_id, _migration_report(run_id, copied, before))
    dags = tmp_path / "dags"
    dags.mkdir()

    with (
        SignedUpAirflow(tmp_path / "home", dags, REPORTS_ENV) as airflow,
        chromium() as browser,
    ):
        airflow.start(timeout=300)

        # Anonymous: refused before anything is asked of AWS.
        glacier_endpoint.reset_counts()
        stranger = browser.new_context()
        refused = stranger.request.get(f"{airflow.api}/glacier/")
        assert refused.status == 401
        assert "Sign in to Airflow first" in refused.text()
        assert VAULT not in refused.text()
        assert glacier_endpoint.request_count() == 0
        stranger.close()

        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{airflow.api}/")
        page.wait_for_url(re.compile(r".*/auth/login.*"))
        page.locator("input[name=username]").fill(USERNAME)
        page.locator("input[name=password]").fill(airflow.password)
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"))

        page.get_by_role("link", name="Glacier").click()
        page.wait_for_url(re.compile(r".*/plugin/glacier$"))
        view = page.frame_locator("iframe")
        expect(view.locator("h2", has_text=glacier_connection)).to_be_visible()
        vault_row = view.locator("tr", has=view.get_by_role("link", name=VAULT, exact=True))
        expect(vault_row.locator("td.InProgress")).to_have_text("3")
        expect(vault_row.locator("td.Succeeded")).to_have_text("1")
        expect(vault_row).to_contain_text("14.0 GiB of 40.0 GiB (35%)")

        view.get_by_role("link", name=VAULT, exact=True).click()
        expect(view.locator("h1")).to_have_text(f"Vault {VAULT}")
        expect(view.locator("tr[data-job-id]")).to_have_count(4)
        expect(view.locator(f'tr[data-job-id="{finished}"]')).to_contain_text(re.compile(r"at least 2[34]h"))
        expect(view.locator(f'tr[data-job-id="{running[0]}"] td.InProgress')).to_have_text("InProgress")
        expect(view.locator("svg[aria-label='bytes in S3 per run'] rect")).to_have_count(3)

        # Glacier finishes a job; the page shows it on its next load.
        glacier_endpoint.complete_job(VAULT, running[0])
        view.get_by_role("link", name="Refresh").click()
        expect(view.locator(f'tr[data-job-id="{running[0]}"] td.Succeeded')).to_have_text("Succeeded")
        expect(view.get_by_role("link", name="Succeeded 2")).to_be_visible()
        expect(view.get_by_role("link", name="InProgress 2")).to_be_visible()

        screenshot = tmp_path / "glacier-ui.png"
        page.screenshot(path=str(screenshot), full_page=True)
        if os.environ.get("GLACIER_UI_SCREENSHOT"):
            shutil.copyfile(screenshot, os.environ["GLACIER_UI_SCREENSHOT"])
