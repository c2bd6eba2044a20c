"""Real Airflow for the demo: ``airflow standalone`` in a throwaway home, driven over its REST API.

``airflow standalone`` on SQLite runs the scheduler, the triggerer (where deferred
waits on Glacier jobs go), the dag-processor and the API server as one process group.
The demo gives it its own AIRFLOW_HOME and free loopback ports so it never touches a
developer's Airflow, turns off time-based scheduling (only the demo's runs happen), and
lets every request in as admin (the API listens on loopback only, for the demo's
lifetime). Runs are triggered and followed through the public REST API.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlencode

from airflow_glacier_select.demo.processes import free_port, stop_process_group

__all__ = ["AirflowProcesses", "RunResult"]

FINISHED = frozenset({"success", "failed"})


class RunResult:
    """A finished DAG run as the REST API reports it, with its task instances."""

    def __init__(self, run: Mapping[str, Any], tasks: list[Mapping[str, Any]]) -> None:
        self.run = dict(run)
        self.tasks = [dict(task) for task in tasks]

    @property
    def state(self) -> str:
        return str(self.run.get("state"))

    def task_states(self) -> dict[str, str]:
        """``task_id`` or ``task_id[i]`` for mapped instances -> state."""
        states = {}
        for task in self.tasks:
            index = task.get("map_index", -1)
            name = task["task_id"] if index in (-1, None) else f"{task['task_id']}[{index}]"
            states[name] = str(task.get("state"))
        return states


class AirflowProcesses:
    """``airflow standalone`` with an isolated home; a context manager that stops the whole group."""

    def __init__(self, home: Path, dags_folder: Path, extra_env: Mapping[str, str | None]) -> None:
        """``extra_env`` adds to the environment; a None value removes that variable."""
        self.home = home
        self.log_path = home / "standalone.log"
        port = free_port()
        self.api = f"http://127.0.0.1:{port}"
        bindir = str(Path(sys.executable).parent)
        self.env = {
            **os.environ,
            "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            # Airflow 3.0 signs the all-admins token with ``iss`` unset, which PyJWT refuses.
            "AIRFLOW__API_AUTH__JWT_ISSUER": "airflow-glacier-select-demo",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__ENABLE_XCOM_DESERIALIZE_SUPPORT": "True",  # XCom values as JSON, not repr
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        }
        for name, value in extra_env.items():
            if value is None:
                self.env.pop(name, None)
            else:
                self.env[name] = value
        self._process: subprocess.Popen[bytes] | None = None
        self._token = ""

    # -- processes ----------------------------------------------------------------------

    def start(self, timeout: float) -> None:
        """Start the group and wait until the API answers with a token."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self._process = subprocess.Popen(
                [str(Path(sys.executable).parent / "airflow"), "standalone"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"airflow standalone exited early; see {self.log_path}")
            try:
                self._token = str(self._request("GET", "/auth/token", auth=False)["access_token"])
                return
            except (OSError, ValueError):
                time.sleep(2)
        raise TimeoutError(f"Airflow's API did not answer within {timeout:g}s; see {self.log_path}")

    def stop(self) -> None:
        stop_process_group(self._process)

    def __enter__(self) -> AirflowProcesses:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def waits_in_triggerer(self, dag_id: str, run_id: str) -> int:
        """Task instances of the run whose wait a triggerer process ran.

        The triggerer logs each trigger it runs to ``<attempt log>.trigger.<triggerer id>.log``.
        """
        run_logs = self.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        return len(
            {
                path.parent / path.name.split(".log.trigger.")[0]
                for path in run_logs.glob("**/*.log.trigger.*.log")
            }
        )

    # -- REST API -----------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None, *, auth: bool = True) -> Any:
        request = urllib.request.Request(
            self.api + path,
            data=json.dumps(body).encode() if body is not None else None,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        if auth:
            request.add_header("Authorization", f"Bearer {self._token}")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def _get_or_none(self, path: str) -> Any:
        try:
            return self._request("GET", path)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def wait_for_dags(self, dag_ids: list[str], timeout: float) -> None:
        """Wait until the dag-processor has parsed every DAG; fail fast on an import error."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            errors = self._request("GET", "/api/v2/importErrors").get("import_errors", [])
            if errors:
                details = "\n".join(f"{e.get('filename')}:\n{e.get('stack_trace')}" for e in errors)
                raise RuntimeError(f"example DAGs failed to import:\n{details}")
            if all(self._get_or_none(f"/api/v2/dags/{quote(dag_id)}") for dag_id in dag_ids):
                return
            time.sleep(2)
        raise TimeoutError(f"DAGs {dag_ids} were not parsed within {timeout:g}s; see {self.log_path}")

    def trigger(self, dag_id: str, run_id: str, conf: Mapping[str, Any]) -> None:
        self._request(
            "POST",
            f"/api/v2/dags/{quote(dag_id)}/dagRuns",
            {"dag_run_id": run_id, "logical_date": None, "conf": dict(conf)},
        )

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float) -> RunResult:
        """Poll the run until it finishes (or ``timeout``); its final state and task instances."""
        base = f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}"
        deadline = time.monotonic() + timeout
        run: Mapping[str, Any] = {}
        while time.monotonic() < deadline:
            run = self._request("GET", base)
            if run.get("state") in FINISHED:
                break
            time.sleep(2)
        tasks = self._request("GET", f"{base}/taskInstances?{urlencode({'limit': 1000})}")
        return RunResult(run, tasks.get("task_instances", []))

    def xcom(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> Any:
        """A task's return value (None when it pushed none)."""
        query = urlencode({"map_index": map_index, "deserialize": "true", "stringify": "false"})
        path = (
            f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task_id)}"
            f"/xcomEntries/return_value?{query}"
        )
        entry = self._get_or_none(path)
        return None if entry is None else entry.get("value")
