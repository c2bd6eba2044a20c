"""The Airflow plugin (entry point ``airflow.plugins``) that puts the Glacier view into Airflow.

- ``fastapi_apps`` mounts the view's app at :data:`URL_PREFIX` in Airflow's API server
  (Airflow 3.0 and later).
- ``external_views`` adds a "Glacier" item to the UI's navigation that shows the app in
  the UI's frame (Airflow 3.1 and later). Airflow 3.0 has no external views: it ignores
  the entry, and the page is reached at its URL, ``<api server>/glacier/``, instead.

Every Airflow process loads plugins, task runners included, so the app and its
API-server-only imports (auth manager, FastAPI security) are built on the first request,
not at import.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from airflow.plugins_manager import AirflowPlugin

__all__ = ["URL_PREFIX", "GlacierViewPlugin"]

log = logging.getLogger(__name__)

URL_PREFIX = "/glacier"
"""Where the API server mounts the view; ``/glacier/`` is the page."""
NAV_ROUTE = "glacier"
"""The UI's own route for the framed view: ``/plugin/glacier`` in Airflow 3.1+."""


class _GlacierApp:
    """ASGI app that builds the real FastAPI app on its first request."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from airflow_glacier_select.ui.app import create_app

                    if not _has_external_views():  # said here: the API server's log, not every task's
                        log.info(
                            "This Airflow has no plugin external views (added in Airflow 3.1): the Glacier "
                            "view has no menu item; it is at %s/ on the API server.",
                            URL_PREFIX,
                        )
                    self._app = create_app()
        await self._app(scope, receive, send)


class GlacierViewPlugin(AirflowPlugin):
    """Glacier vaults, jobs and migration progress, read-only, inside Airflow's UI."""

    name = "glacier_select"
    fastapi_apps = [{"app": _GlacierApp(), "url_prefix": URL_PREFIX, "name": "Glacier view"}]
    external_views = [
        {
            "name": "Glacier",
            "href": f"{URL_PREFIX}/",
            "url_route": NAV_ROUTE,
            "icon": f"{URL_PREFIX}/icon.svg",
            "destination": "nav",  # no category: a top-level item of the navigation
        }
    ]


def _has_external_views() -> bool:
    """Airflow 3.1 added ``external_views`` to ``AirflowPlugin`` (read before our subclass sets it)."""
    return hasattr(AirflowPlugin, "external_views")
