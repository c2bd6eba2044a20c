"""The FastAPI app behind ``/glacier``: two read-only pages, only for signed-in Airflow users.

Authentication is Airflow's own: :func:`airflow.api_fastapi.core_api.security.get_user`
reads the JWT the UI holds (its cookie, so the page works inside the UI's iframe) or an
``Authorization: Bearer`` token, and the auth manager must allow the user to read
connections, since the page shows what each ``aws`` connection can see. Anything else
gets 401 or 403 before a single AWS request is made.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any

# This module is imported on the first request to the view, so only by the API server.
from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.core_api.security import get_user
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_glacier_select.ui import render
from airflow_glacier_select.ui.vaults import (
    VaultReader,
    ViewError,
    aws_connection_ids,
    migration_status,
)

__all__ = ["create_app", "ui_sign_in_reaches_plugins"]

log = logging.getLogger(__name__)
_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="24" height="24" viewBox="0 0 24 24" fill="none" '
    'stroke="#3b8ee8" stroke-width="2" stroke-linecap="round" stroke-linejoin="round">'
    '<path d="M12 2v20M4 7l16 10M20 7L4 17M9 3.5l3 2.5 3-2.5M9 20.5l3-2.5 3 2.5'
    "M3.2 10.5l3.7-.9-1.1-3.6M20.8 13.5l-3.7.9 1.1 3.6"
    'M20.8 10.5l-3.7-.9 1.1-3.6M3.2 13.5l3.7.9-1.1 3.6"/></svg>'
)
_VAULT_READS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="glacier-view")


def ui_sign_in_reaches_plugins() -> bool:
    """Whether Airflow's ``get_user`` reads the UI's cookie (Airflow 3.1+), so a signed-in browser
    can open the page. Airflow 3.0's reads only the ``Authorization`` header, and its UI keeps
    the token in local storage, out of reach of a plugin page."""
    return "request" in inspect.signature(get_user).parameters


async def _signed_in_and_may_read_connections(user: Annotated[Any, Depends(get_user)]) -> None:
    """Airflow's own user check (401/403 on a missing or bad token), then its auth manager's say."""
    if not get_auth_manager().is_authorized_connection(method="GET", user=user):
        raise HTTPException(status_code=403, detail="Reading connections is not allowed for this user")


def _message(value: Callable[[], Any]) -> Any:
    """``value()``, or the :class:`ViewError` message to show in its place."""
    try:
        return value()
    except ViewError as error:
        return str(error)


def _known_connection(conn_id: str) -> str:
    if conn_id not in aws_connection_ids():
        raise HTTPException(status_code=404, detail=f"{conn_id!r} is not an aws connection known to Airflow")
    return conn_id


def _vault_entry(reader: VaultReader, vault: dict[str, Any]) -> dict[str, Any]:
    name = vault.get("VaultName", "")
    return {
        "vault": vault,
        "counts": _message(lambda: reader.status_counts(name)),
        "migration": migration_status(reader, name, history=1),  # the overview shows the newest only
    }


def _connection_overview(conn_id: str, vault_marker: str | None) -> dict[str, Any]:
    reader = VaultReader(conn_id)
    try:
        listing = reader.list_vaults(marker=vault_marker)
    except ViewError as error:
        return {"conn_id": conn_id, "error": str(error)}
    return {
        "conn_id": conn_id,
        # A vault's reads wait on the network, not the CPU: read up to 8 vaults at once.
        "vaults": list(_VAULT_READS.map(lambda vault: _vault_entry(reader, vault), listing.vaults)),
        "next_marker": listing.next_marker,
    }


def create_app() -> FastAPI:
    """The app the plugin mounts at ``/glacier``."""
    app = FastAPI(
        title="Glacier view",
        description="Read-only view of Glacier vaults, jobs and migrations per aws connection",
        dependencies=[Depends(_signed_in_and_may_read_connections)],
    )

    @app.exception_handler(RequestValidationError)
    async def _bad_query(request: Request, error: RequestValidationError) -> HTMLResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'][1:])}: {problem['msg']}"
            for problem in error.errors()
        )
        return HTMLResponse(render.error_page("Bad request", problems, 400), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, error: StarletteHTTPException) -> HTMLResponse:
        title = {401: "Sign in to Airflow first", 403: "Not allowed", 404: "Not found"}.get(
            error.status_code, "Glacier view"
        )
        message = str(error.detail)
        if error.status_code == 401:
            message += (
                ". Open Airflow, sign in, then open Glacier from its menu."
                if ui_sign_in_reaches_plugins()
                else ". This Airflow (3.0) does not share its UI sign-in with plugin pages: send an "
                "'Authorization: Bearer <token>' header (POST /auth/token gives one), or use Airflow 3.1+."
            )
        return HTMLResponse(
            render.error_page(title, message, error.status_code), status_code=error.status_code
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> HTMLResponse:
        log.exception("Glacier view failed on %s", request.url.path)
        return HTMLResponse(
            render.error_page(
                "Glacier view",
                f"The page could not be built ({type(error).__name__}); see the API server log.",
                500,
            ),
            status_code=500,
        )

    @app.get("/icon.svg")
    def icon() -> Response:
        """The navigation item's icon: a snowflake, blue to read on the bar and on the selected item."""
        return Response(_ICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    @app.get("/", response_class=HTMLResponse)
    def overview(
        conn_id: Annotated[str | None, Query(max_length=250)] = None,
        vault_marker: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> HTMLResponse:
        """Every aws connection's vaults (or one connection's, from ``vault_marker`` on)."""
        conn_ids = [_known_connection(conn_id)] if conn_id else aws_connection_ids()
        connections = [_connection_overview(c, vault_marker if conn_id else None) for c in conn_ids]
        return HTMLResponse(render.overview_page(connections))

    @app.get("/vault", response_class=HTMLResponse)
    def vault(
        conn_id: Annotated[str, Query(max_length=250)],
        vault: Annotated[str, Query(max_length=255)],
        status: Annotated[str | None, Query(max_length=20)] = None,
        marker: Annotated[str | None, Query(max_length=1000)] = None,
    ) -> HTMLResponse:
        """One vault: one ListJobs page (``marker`` continues where the last page ended)."""
        reader = VaultReader(_known_connection(conn_id))
        try:
            description = reader.describe_vault(vault)
        except ViewError as error:  # no such vault, or no answer: every other read would say the same
            return HTMLResponse(render.vault_error_page(conn_id, vault, str(error)), error.status_code)
        page = render.vault_page(
            conn_id,
            vault,
            vault=description,
            counts=_message(lambda: reader.status_counts(vault)),
            jobs=_message(lambda: reader.job_page(vault, marker, status or None)),
            migration=migration_status(reader, vault),
            statuscode=status or None,
            marker=marker,
        )
        return HTMLResponse(page)

    return app
