"""The Glacier view through Airflow's own API app, against the local endpoint.

Every request goes through Airflow's ``create_app`` (plugin found by its entry point,
authentication by the simple auth manager) and the view's boto3 clients talk to the
local endpoint over HTTP, so these tests see what a browser would, minus the browser.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from airflow_glacier_select.ui.app import ui_sign_in_reaches_plugins

from .helpers import put_report, seed_jobs

VAULT = "photos"


def _vault(client: Any, conn_id: str, vault: str = VAULT, **query: str) -> Any:
    return client.get("/glacier/vault", params={"conn_id": conn_id, "vault": vault, **query})


def _job_ids(text: str) -> list[str]:
    return re.findall(r'<tr data-job-id="([^"]+)">', text)


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text
    assert 'File "' not in text


# -- authentication -------------------------------------------------------------------------


def test_anonymous_request_is_refused_before_any_aws_request(anonymous, glacier_endpoint, glacier_connection):
    glacier_endpoint.put_archive(VAULT, b"x", "an archive")
    glacier_endpoint.reset_counts()

    for path in ("/glacier/", f"/glacier/vault?conn_id={glacier_connection}&vault={VAULT}"):
        response = anonymous.get(path)
        assert response.status_code == 401, path
        assert "Sign in to Airflow first" in response.text
        assert ("open Glacier from its menu" in response.text) == ui_sign_in_reaches_plugins()
        assert VAULT not in response.text

    assert glacier_endpoint.request_count() == 0


def test_forged_token_is_refused(anonymous, glacier_endpoint, glacier_connection):
    response = anonymous.get("/glacier/", headers={"Authorization": "Bearer not-a-jwt"})
    assert response.status_code in (401, 403)
    assert glacier_endpoint.request_count() == 0


def test_user_who_may_not_read_connections_is_refused(
    anonymous, viewer_token, glacier_endpoint, glacier_connection
):
    """The simple auth manager's Viewer role may not read connections; the page shows what they reach."""
    response = anonymous.get("/glacier/", headers={"Authorization": f"Bearer {viewer_token}"})
    assert response.status_code == 403
    assert "Reading connections is not allowed" in response.text
    assert glacier_endpoint.request_count() == 0


def test_plugin_registers_the_page_and_the_navigation_item(signed_in):
    """Airflow lists plugins in /api/v2/plugins; 3.1+ builds its navigation from their external views."""
    from airflow.plugins_manager import AirflowPlugin

    plugins = signed_in.get("/api/v2/plugins").json()["plugins"]
    ours = next(plugin for plugin in plugins if plugin["name"] == "glacier_select")
    assert [app["url_prefix"] for app in ours["fastapi_apps"]] == ["/glacier"]
    if "external_views" not in ours:
        assert not hasattr(AirflowPlugin, "external_views")  # Airflow 3.0: no plugin views in its UI
        return
    (view,) = ours["external_views"]
    assert view["name"] == "Glacier"
    assert view["href"] == "/glacier/"
    assert view["url_route"] == "glacier"
    assert view["destination"] == "nav"
    icon = signed_in.get(view["icon"])
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/svg+xml"


# -- what the page shows --------------------------------------------------------------------


def test_overview_lists_vaults_with_job_counts_and_inventory_age(
    signed_in, glacier_endpoint, glacier_connection
):
    archive_id = glacier_endpoint.put_archive(VAULT, b"photo bytes" * 100, "photo")
    glacier_endpoint.put_archive("empty-ish", b"y", "other")
    glacier = glacier_endpoint.client()
    glacier_endpoint.set_tier_delay("Standard", 3600)
    done = glacier.initiate_job(
        vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )
    failed = glacier.initiate_job(
        vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )
    glacier.initiate_job(
        vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )
    glacier_endpoint.complete_job(VAULT, done["jobId"])
    glacier_endpoint.fail_job(VAULT, failed["jobId"], "archive damaged")

    response = signed_in.get("/glacier/")

    assert response.status_code == 200
    assert f"Connection <code>{glacier_connection}</code>" in response.text
    row = re.search(rf'<tr><td class="nowrap"><a [^>]*>{VAULT}</a>.*?</tr>', response.text).group(0)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row)
    assert cells[1:3] == ["1", "1.1 KiB"]
    assert cells[3] == "no inventory yet"
    assert cells[4:7] == ["1", "1", "1"]  # InProgress, Succeeded, Failed
    assert "empty-ish" in response.text


def test_vault_page_shows_one_page_of_jobs_and_a_next_link_with_the_marker(
    signed_in, glacier_endpoint, glacier_connection
):
    """ListJobs returns at most 50 jobs a page (Glacier Developer Guide, "List Jobs (GET jobs)");
    the page asks for one and links to the next with Glacier's marker."""
    seed_jobs(glacier_endpoint, VAULT, 60)
    glacier_endpoint.reset_counts()

    first = _vault(signed_in, glacier_connection)

    assert first.status_code == 200
    assert len(_job_ids(first.text)) == 50
    # DescribeVault, one page per status for the counts, one page of jobs: never the whole listing.
    assert glacier_endpoint.request_count("ListJobs") == 4
    assert glacier_endpoint.request_count("DescribeVault") == 1
    assert ">InProgress 50+</a>" in first.text
    next_href = re.search(r'<a href="([^"]*marker=[^"]*)">Next page</a>', first.text).group(1)

    second = signed_in.get("/glacier/" + next_href.replace("&amp;", "&"))

    assert second.status_code == 200
    assert len(_job_ids(second.text)) == 10
    assert "Next page" not in second.text
    assert "First page" in second.text
    assert len(set(_job_ids(first.text)) | set(_job_ids(second.text))) == 60


def test_status_filter_and_output_expiry_of_a_succeeded_job(signed_in, glacier_endpoint, glacier_connection):
    """Output of a succeeded job stays available for at least 24 h after CompletionDate
    (Glacier Developer Guide, "Get Job Output (GET output)")."""
    (job_id,) = seed_jobs(glacier_endpoint, VAULT, 1)
    seed_jobs(glacier_endpoint, VAULT, 2)
    glacier_endpoint.complete_job(VAULT, job_id)

    response = _vault(signed_in, glacier_connection, status="Succeeded")

    assert _job_ids(response.text) == [job_id]
    # 24 h from now, less the moments the test took, to the minute (never more than 24 h).
    assert re.search(r"<td>at least (23h 5\dm|24h 00m|1 d)</td>", response.text)


# -- bad input ------------------------------------------------------------------------------


def test_unreachable_connection_is_a_message_not_a_traceback(
    signed_in, glacier_endpoint, glacier_connection, unreachable_connection
):
    glacier_endpoint.put_archive(VAULT, b"x", "an archive")
    overview = signed_in.get("/glacier/")
    vault = _vault(signed_in, unreachable_connection)

    assert overview.status_code == 200
    assert re.search(
        rf"Listing vaults with connection &#x27;{unreachable_connection}&#x27; failed: cannot reach "
        r"http://127\.0\.0\.1:\d+",
        overview.text,
    )
    assert f">{VAULT}</a>" in overview.text  # the connection that works is still shown
    assert vault.status_code == 502  # AWS could not be asked
    assert f"Describing vault &#x27;{VAULT}&#x27; with connection" in vault.text
    _no_traceback(overview.text + vault.text)


def test_unknown_vault_is_a_404_with_glaciers_answer(signed_in, glacier_endpoint, glacier_connection):
    response = _vault(signed_in, glacier_connection, vault="no-such-vault")

    assert response.status_code == 404
    assert response.text.count('class="error"') == 1  # said once, not once per request
    assert "ResourceNotFoundException" in response.text
    assert "no-such-vault" in response.text
    _no_traceback(response.text)


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ({"vault": "bad/vault"}, "vaultName", "bad/vault"),
        ({"status": "Done"}, "statuscode", "Done"),
    ],
)
def test_bad_vault_name_or_status_is_named_and_nothing_is_sent(
    signed_in, glacier_endpoint, glacier_connection, query, field, value
):
    glacier_endpoint.put_archive(VAULT, b"x", "an archive")
    glacier_endpoint.reset_counts()

    response = _vault(signed_in, glacier_connection, **query)

    assert f"{field}: &#x27;{value}&#x27;" in response.text
    _no_traceback(response.text)
    if field == "vaultName":
        assert response.status_code == 400
        assert glacier_endpoint.request_count() == 0
    else:
        assert response.status_code == 200  # the rest of the vault's page is there
        assert glacier_endpoint.request_count("ListJobs") == 3  # the counts; the bad filter sent nothing


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/glacier/vault?conn_id=glacier_local", "vault: Field required"),
        ("/glacier/vault?conn_id=glacier_local&vault=" + "v" * 256, "vault: String should have at most 255"),
    ],
)
def test_bad_query_is_a_400_naming_the_parameter(
    signed_in, glacier_endpoint, glacier_connection, path, message
):
    response = signed_in.get(path)
    assert response.status_code == 400
    assert message in response.text
    assert glacier_endpoint.request_count() == 0


def test_connection_that_is_not_an_aws_connection_is_refused(signed_in, glacier_endpoint, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SOME_DATABASE", "postgres://user:pw@db:5432/x")
    response = _vault(signed_in, "some_database")
    assert response.status_code == 404
    assert "&#x27;some_database&#x27; is not an aws connection" in response.text
    assert "pw" not in response.text


# -- migration reports ----------------------------------------------------------------------


def _report(run_id: str, **counts: tuple[int, int]) -> dict[str, Any]:
    base = {
        "inventory": (10, 10 * 2**30),
        "copied": (2, 2 * 2**30),
        "skipped": (3, 3 * 2**30),
        "failed": (1, 2**30),
        "left_for_later_runs": (4, 4 * 2**30),
    }
    base.update(counts)
    return {
        "run_id": run_id,
        "vault_name": VAULT,
        "destination": f"s3://dest/vaults/{VAULT}/",
        **{name: {"archives": a, "bytes": b} for name, (a, b) in base.items()},
        "jobs_started": 3,
        "jobs_reused": 0,
        "copied_archives": [],
        "failed_archives": [],
    }


def test_migration_progress_from_the_newest_report(signed_in, glacier_endpoint, glacier_connection):
    glacier_endpoint.put_archive(VAULT, b"x", "an archive")
    put_report(
        glacier_endpoint, VAULT, "scheduled__2024-01-01", _report("scheduled__2024-01-01", skipped=(0, 0))
    )
    put_report(glacier_endpoint, VAULT, "scheduled__2024-01-02", _report("scheduled__2024-01-02"))

    response = _vault(signed_in, glacier_connection)

    text = response.text
    assert "<code>scheduled__2024-01-02</code>" in text
    assert "<td>2.0 GiB of 3.0 GiB (2 archive(s))</td>" in text  # copied / planned (copied + failed)
    assert '<td class="Failed">1 (1.0 GiB)</td>' in text
    assert "<td>5.0 GiB of 10.0 GiB</td>" in text  # in S3: earlier runs' plus this run's
    # 4 GiB left plus 1 GiB failed, at this run's 3 GiB per day: 2 more daily runs.
    assert "<td>2 day(s) at the last run&#x27;s 3.0 GiB per day</td>" in text
    assert text.count('aria-label="bytes in S3 per run"') == 1
    assert text.count("scheduled__2024-01-0") >= 3  # both runs in the chart's titles

    overview = signed_in.get("/glacier/")
    assert "5.0 GiB of 10.0 GiB (50%)" in overview.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "report: "),
        (b"[]", "report: [] must be a JSON object"),
        (None, "copied.bytes: -5 must be a whole number &gt;= 0"),
    ],
)
def test_malformed_report_is_named_and_the_page_still_renders(
    signed_in, glacier_endpoint, glacier_connection, body, message
):
    glacier_endpoint.put_archive(VAULT, b"x", "an archive")
    if body is None:
        report = _report("bad")
        report["copied"]["bytes"] = -5
        key = put_report(glacier_endpoint, VAULT, "bad", report)
    else:
        key = put_report(glacier_endpoint, VAULT, "bad", body)

    response = _vault(signed_in, glacier_connection)

    assert response.status_code == 200
    assert f"s3://migration-reports/{key} is not a migration report: {message}" in response.text
    assert "Vault photos" in response.text  # the rest of the page is there
    _no_traceback(response.text)


def test_overview_pages_vaults_with_listvaults_marker(signed_in, glacier_endpoint, glacier_connection):
    """ListVaults returns at most 50 vaults a page (Glacier Developer Guide, "List Vaults (GET vaults)");
    the overview links to the next page with Glacier's marker."""
    glacier = glacier_endpoint.client()
    names = [f"vault-{index:02d}" for index in range(51)]
    for name in names:
        glacier.create_vault(vaultName=name)

    first = signed_in.get("/glacier/")
    more = re.search(r'<a href="([^"]*vault_marker=[^"]*)">more vaults</a>', first.text)
    second = signed_in.get("/glacier/" + more.group(1).replace("&amp;", "&"))

    shown = re.findall(r'<tr><td class="nowrap"><a href="vault\?[^"]*">([^<]+)</a>', first.text + second.text)
    assert first.text.count('<tr><td class="nowrap"><a href="vault?') == 50
    assert sorted(shown) == names


def test_throttled_listjobs_is_a_message_where_the_jobs_would_be(
    signed_in, glacier_endpoint, glacier_connection
):
    seed_jobs(glacier_endpoint, VAULT, 2)
    glacier_endpoint.inject_fault("ListJobs", "throttle", count=100)

    response = _vault(signed_in, glacier_connection)

    assert response.status_code == 200
    assert "Archives</th>" in response.text  # DescribeVault answered: the vault's part is there
    assert (
        response.text.count(f"Listing jobs of vault &#x27;{VAULT}&#x27; with connection") == 2
    )  # counts, page
    assert "ThrottlingException" in response.text
    _no_traceback(response.text)


def test_garbled_describevault_answer_is_a_502_message(signed_in, glacier_endpoint, glacier_connection):
    glacier_endpoint.put_archive(VAULT, b"x", "an archive")
    glacier_endpoint.inject_fault("DescribeVault", "corrupt", count=100)

    response = _vault(signed_in, glacier_connection)

    assert response.status_code == 502
    assert (
        f"Describing vault &#x27;{VAULT}&#x27; with connection &#x27;{glacier_connection}&#x27; failed"
        in (response.text)
    )
    _no_traceback(response.text)
