"""Run DAG files through ``dag.test()`` against this test session's metadata database.

``dag.test()`` needs the DAG to come from a file in the configured dags folder (it syncs
that bundle and runs against the stored DAG version, also to resume after a deferral),
so tests write real DAG files into a fresh folder, import them from there, and run the
DAG object they define. Tasks run in this process; triggers run inline. The ``dag_folder``
fixture (``tests/conftest.py``) gives each test such a folder.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

_MODULE_NUMBERS = itertools.count()

DAG_HEADER = """\
from __future__ import annotations

import datetime

from airflow.sdk import DAG

from airflow_glacier_select.operators.glacier import (
    GlacierArchiveRetrievalOperator,
    GlacierInventoryRetrievalOperator,
    GlacierSelectOperator,
)

# Exceptions the recording operators of this DAG raised (tasks run in the test's process;
# task failure callbacks would not do: Airflow 3.0 runs them in the DAG processor).
FAILURES: list[BaseException] = []


def recording(operator_class):
    class Recording(operator_class):
        def execute(self, context):
            try:
                return super().execute(context)
            except Exception as error:  # deferral (a BaseException) passes through
                FAILURES.append(error)
                raise

        def execute_complete(self, context, event=None):
            try:
                return super().execute_complete(context, event)
            except Exception as error:
                FAILURES.append(error)
                raise

    Recording.__name__ = Recording.__qualname__ = operator_class.__name__
    return Recording


# The first try's worker is lost while waiting for the job it started; later tries run normally.
def lost_while_waiting(operator_class):
    class LostWhileWaiting(operator_class):
        def poll_until_complete(self, external_id, context):
            if context["ti"].try_number == 1:
                raise RuntimeError("worker lost while waiting")
            return super().poll_until_complete(external_id, context)

    LostWhileWaiting.__name__ = LostWhileWaiting.__qualname__ = operator_class.__name__
    return LostWhileWaiting

"""

#: One fixed run date, so a second ``dag.test()`` of the same DAG re-runs the same run id.
RUN_DATE = datetime(2024, 5, 1, tzinfo=timezone.utc)
RUN_ID = "manual__2024-05-01T00:00:00+00:00"


@dataclass(frozen=True)
class Code:
    """A DAG-file expression written as is (``repr`` gives the text), e.g. a callback's name."""

    text: str

    def __repr__(self) -> str:
        return self.text


@dataclass
class DagFolder:
    """A dags folder of this test: write DAG files into it, import them, run them."""

    path: Path

    def write(self, dag_id: str, operator: str, params: dict[str, Any] | None = None, **kwargs: Any) -> Path:
        """A DAG file holding one ``operator`` task; keyword values are written as their ``repr``."""
        arguments = ", ".join(f"{name}={value!r}" for name, value in kwargs.items())
        source = DAG_HEADER + (
            f"with DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2024, 1, 1), "
            f"params={params or {}!r}) as dag:\n"
            f"    {operator}({arguments})\n"
        )
        file = self.path / f"{dag_id}.py"
        file.write_text(source)
        return file

    def load(
        self, dag_id: str, operator: str, params: dict[str, Any] | None = None, **kwargs: Any
    ) -> ModuleType:
        """Write the DAG file and import it, as the scheduler would."""
        return import_dag_file(self.write(dag_id, operator, params, **kwargs))


def import_dag_file(file: Path) -> ModuleType:
    """Import a DAG file under a unique module name (a file may be imported more than once)."""
    name = f"dag_file_{file.stem}_{next(_MODULE_NUMBERS)}"
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_dag(module: ModuleType) -> Any:
    """``dag.test()`` the file's DAG on :data:`RUN_DATE`; the finished DagRun."""
    return module.dag.test(logical_date=RUN_DATE, run_after=RUN_DATE, run_conf={})


def task_state(dag_run: Any, task_id: str) -> str:
    return str(dag_run.get_task_instance(task_id).state)


def xcom_result(dag_run: Any, task_id: str) -> Any:
    """The task's return value as stored in XCom."""
    return dag_run.get_task_instance(task_id).xcom_pull(task_ids=task_id)
