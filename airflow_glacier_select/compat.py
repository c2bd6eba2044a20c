"""What differs between the Airflow releases and Pythons this package supports, in one place.

``ResumableJobMixin`` (a job the operator starts is recorded in the task state store so a
retry reconnects to it) arrived in Airflow 3.3's Task SDK. The common-compat provider
backports a stand-in for older Airflow, but only in releases that need Python 3.11+, so on
Python 3.10 with Airflow 3.0-3.2 neither exists. The stand-in below does what that one does:
every try goes through ``submit_job``, which already finds the job an earlier try started by
the resume token in its Description (:mod:`airflow_glacier_select.resumable`), so nothing is
paid for twice; only the state-store shortcut is missing.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk.definitions.context import Context

try:
    from airflow.sdk import ResumableJobMixin
except ImportError:  # Airflow < 3.3
    # Tells ``durable`` left at its default from an explicit value, which has no effect here.
    _DURABLE_UNSET: Any = object()

    class ResumableJobMixin:  # type: ignore[no-redef]
        """Airflow < 3.3 stand-in: no task state store, so each try runs ``submit_job`` again."""

        external_id_key: str = "remote_job_id"

        def __init__(self, *, durable: bool = _DURABLE_UNSET, **kwargs: Any) -> None:
            if durable is not _DURABLE_UNSET:
                warnings.warn(
                    "`durable` has no effect on Airflow versions below 3.3.", UserWarning, stacklevel=2
                )
            super().__init__(**kwargs)
            self.durable = False

        def execute_resumable(self, context: Context) -> Any:
            external_id = self.submit_job(context)  # type: ignore[attr-defined]
            self.poll_until_complete(external_id, context)  # type: ignore[attr-defined]
            return self.get_job_result(external_id, context)  # type: ignore[attr-defined]


__all__ = ["ResumableJobMixin"]
