"""A Glacier-compatible endpoint on loopback for tests, benchmarks and the demo.

Built on moto (installed with the ``endpoint`` extra) and extended from outside it:
vaults, archives and multipart uploads checked by tree hash, jobs that take their
tier's time and can fail, ranged and tree-hashed job output streamed from disk,
inventories, Glacier Select writing its results into the S3 served by the same
endpoint, and faults to inject. See :class:`LocalGlacierEndpoint`.

Only the Select SQL modules (``select_sql``, ``select_csv``) import nothing from moto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["LocalGlacierEndpoint", "RemoteGlacierEndpoint", "local_glacier_endpoint"]

if TYPE_CHECKING:
    from airflow_glacier_select.testing.endpoint import (
        LocalGlacierEndpoint,
        RemoteGlacierEndpoint,
        local_glacier_endpoint,
    )


def __getattr__(name: str) -> Any:
    """Import the endpoint (and moto) only when it is asked for, so the SQL modules stay light."""
    if name in __all__:
        from airflow_glacier_select.testing import endpoint

        return getattr(endpoint, name)
    raise AttributeError(name)
