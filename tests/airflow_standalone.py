"""Real Airflow processes for tests that are about deferral.

``airflow standalone`` on SQLite starts the scheduler, triggerer, dag-processor and
API server in one process group. Tests that must prove a trigger runs in a real
triggerer process (not in-process as under ``dag.test()``) start it here, each in its
own AIRFLOW_HOME with its own free ports, so runs never collide with one another or
with a developer's Airflow.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

_AIRFLOW = str(Path(sys.executable).parent / "airflow")
FINISHED_STATES = frozenset({"success", "failed"})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AirflowStandalone:
    """One ``airflow standalone`` process group with an isolated home, stopped on exit."""

    def __init__(self, home: Path, dags_folder: Path, extra_env: Mapping[str, str] | None = None) -> None:
        self.home = home
        self.dags_folder = dags_folder
        self.log_path = home / "standalone.log"
        api_port = free_port()
        self.env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            **(extra_env or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 240) -> None:
        """Start the process group and wait until the scheduler and the triggerer both run."""
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [_AIRFLOW, "standalone"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_text()
            if "Starting the triggerer" in text and "Starting the scheduler" in text:
                return
            if self._process.poll() is not None:
                raise RuntimeError(f"airflow standalone exited early:\n{text[-4000:]}")
            time.sleep(1)
        raise TimeoutError(f"airflow standalone not ready after {timeout}s:\n{self.log_text()[-4000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def cli(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [_AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def cli_json(self, *args: str) -> list[dict[str, object]]:
        """Run a CLI command with ``--output json``; warnings the CLI prints first are skipped."""
        for line in self.cli(*args, "--output", "json").splitlines():
            if line.startswith("[{") or line.strip() == "[]":
                return list(json.loads(line))
        return []

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Wait until the dag-processor has serialised ``dag_id`` (it must be importable)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dags = self.cli_json("dags", "list")
            if any(d.get("dag_id") == dag_id for d in dags):
                return
            time.sleep(3)
        errors = self.cli("dags", "list-import-errors")
        raise TimeoutError(f"DAG {dag_id} never appeared; import errors:\n{errors}")

    def trigger(self, dag_id: str, run_id: str, conf: Mapping[str, object] | None = None) -> None:
        args = ["dags", "trigger", dag_id, "--run-id", run_id]
        if conf:
            args += ["--conf", json.dumps(dict(conf))]
        self.cli(*args)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        rows = self.cli_json("tasks", "states-for-dag-run", dag_id, run_id)
        return {str(row["task_id"]): str(row["state"]) for row in rows}

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 300) -> str:
        """Poll the run until it finishes; returns its final state."""
        deadline = time.monotonic() + timeout
        state = "unknown"
        while time.monotonic() < deadline:
            runs = self.cli_json("dags", "list-runs", dag_id)
            state = next((str(r["state"]) for r in runs if r["run_id"] == run_id), "unknown")
            if state in FINISHED_STATES:
                return state
            time.sleep(3)
        raise TimeoutError(f"run {run_id} of {dag_id} still {state} after {timeout}s")

    def wait_for_task_state(
        self, dag_id: str, run_id: str, task_id: str, state: str, timeout: float = 300
    ) -> None:
        """Poll until ``task_id`` of the run is in ``state`` (fails fast if the run finishes first)."""
        deadline = time.monotonic() + timeout
        seen = "unknown"
        while time.monotonic() < deadline:
            seen = self.task_states(dag_id, run_id).get(task_id, "unknown")
            if seen == state:
                return
            if seen in FINISHED_STATES:
                raise AssertionError(f"{task_id} finished as {seen} before reaching {state}")
            time.sleep(2)
        raise TimeoutError(f"{task_id} still {seen}, not {state}, after {timeout}s")

    @staticmethod
    def wait_for_requests(condition: Callable[[], bool], timeout: float = 120) -> None:
        """Poll a condition on the endpoint (e.g. a request count) until it holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met after {timeout}s")
            time.sleep(1)

    def stop(self) -> None:
        process = self._process
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> AirflowStandalone:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
