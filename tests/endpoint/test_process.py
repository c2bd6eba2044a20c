"""The endpoint as a separate process: ready line, requests and controls over HTTP, clean SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from botocore.config import Config

from airflow_glacier_select.testing import RemoteGlacierEndpoint

READY = "Local Glacier endpoint ready at "


@pytest.fixture
def process(tmp_path) -> Iterator[tuple[subprocess.Popen[str], RemoteGlacierEndpoint]]:
    command = [sys.executable, "-m", "airflow_glacier_select.testing", "--host", "127.0.0.1", "--port", "0"]
    command += ["--tier-delay", "Bulk=3600", "--storage-dir", str(tmp_path)]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.startswith(READY), (
            line,
            child.stderr.read() if child.poll() is not None and child.stderr else "",
        )
        yield child, RemoteGlacierEndpoint(line[len(READY) :].strip())
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def test_serves_glacier_and_s3_and_takes_controls_over_http(process) -> None:
    child, endpoint = process
    glacier = endpoint.client()
    archive_id = endpoint.put_archive("v", b"remote bytes", "seeded over HTTP")
    job_id = glacier.initiate_job(
        vaultName="v", jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id, "Tier": "Bulk"}
    )["jobId"]
    assert glacier.describe_job(vaultName="v", jobId=job_id)["StatusCode"] == "InProgress"
    endpoint.complete_job("v", job_id)
    output = glacier.get_job_output(vaultName="v", jobId=job_id)
    assert output["body"].read() == b"remote bytes"
    assert output["archiveDescription"] == "seeded over HTTP"
    endpoint.forget_job("v", job_id)
    with pytest.raises(glacier.exceptions.ResourceNotFoundException):
        glacier.describe_job(vaultName="v", jobId=job_id)

    endpoint.inject_fault("ListVaults", "http503")
    with pytest.raises(glacier.exceptions.ServiceUnavailableException):
        endpoint.client(config=Config(retries={"total_max_attempts": 1})).list_vaults()
    assert endpoint.request_count("ListVaults") == 1
    with pytest.raises(ValueError, match="kind"):
        endpoint.inject_fault("ListVaults", "explode")

    endpoint.client("s3").create_bucket(Bucket="same-endpoint")
    assert [b["Name"] for b in endpoint.client("s3").list_buckets()["Buckets"]] == ["same-endpoint"]

    endpoint.reset()
    assert glacier.list_vaults()["VaultList"] == []

    child.send_signal(signal.SIGTERM)
    stdout, _ = child.communicate(timeout=30)
    assert child.returncode == 0
    assert "stopped" in stdout


def test_storage_dir_that_does_not_exist_is_created(tmp_path) -> None:
    storage = tmp_path / "not" / "yet"
    child = subprocess.Popen(
        [sys.executable, "-m", "airflow_glacier_select.testing", "--storage-dir", str(storage)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline() if child.stdout else ""
        assert line.startswith(READY), (
            child.stderr.read() if child.poll() is not None and child.stderr else line
        )
        RemoteGlacierEndpoint(line[len(READY) :].strip()).put_archive("v", b"kept on disk", "")
        assert any(storage.rglob("*"))
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=30)
        assert child.returncode == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def test_storage_dir_that_is_a_file_is_refused_without_a_traceback(tmp_path) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "airflow_glacier_select.testing", "--storage-dir", str(occupied)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "--storage-dir" in result.stderr and "Traceback" not in result.stderr


def test_bad_tier_delay_is_refused() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "airflow_glacier_select.testing", "--tier-delay", "Warp=1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert "Warp" in result.stderr
    assert "ready" not in result.stdout
