"""DAG files with several tasks and any of the package's operators, written for ``dag.test()``."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from tests.support.dag_runs import DAG_HEADER, DagFolder, import_dag_file

IMPORTS = """\
from airflow_glacier_select.sensors.glacier import GlacierJobSensor
from airflow_glacier_select.operators.select_results import GlacierSelectResultsOperator
from airflow_glacier_select.transfers.glacier_to_s3 import GlacierJobOutputToS3Operator
"""


def call(name: str, **kwargs: Any) -> str:
    """Source text of ``name(...)`` with each keyword value written as its ``repr``."""
    return f"{name}(" + ", ".join(f"{key}={value!r}" for key, value in kwargs.items()) + ")"


def load_dag(
    folder: DagFolder,
    dag_id: str,
    tasks: list[str],
    chain: bool = False,
    params: dict[str, Any] | None = None,
) -> ModuleType:
    """Write a DAG file holding ``tasks`` (source texts, see :func:`call`) and import it.

    With ``chain`` the tasks run one after another in the order given.
    """
    body = "".join(f"    task_{number} = {task}\n" for number, task in enumerate(tasks))
    if chain and len(tasks) > 1:
        body += "    " + " >> ".join(f"task_{number}" for number in range(len(tasks))) + "\n"
    source = (
        DAG_HEADER
        + IMPORTS
        + f"\nwith DAG({dag_id!r}, schedule=None, start_date=datetime.datetime(2024, 1, 1), "
        f"params={params or {}!r}) as dag:\n" + body
    )
    file = folder.path / f"{dag_id}.py"
    file.write_text(source)
    return import_dag_file(file)
