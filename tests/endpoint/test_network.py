"""The endpoint's network model: first-byte latency and bandwidth caps, per connection and shared.

Only lower bounds are asserted (a cap that did nothing would break them); how fast the
package copies under the model is the transfer benchmark's business.
"""

from __future__ import annotations

import threading
import time

import pytest

from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.testing.__main__ import main
from airflow_glacier_select.testing.endpoint import RemoteGlacierEndpoint
from airflow_glacier_select.testing.network import PRESETS, NetworkModel, parse_network_model
from airflow_glacier_select.treehash import MIB


def _job(endpoint: LocalGlacierEndpoint, size: int) -> str:
    archive_id = endpoint.put_archive("v", b"n" * size)
    job = endpoint.client().initiate_job(
        vaultName="v", jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )["jobId"]
    endpoint.complete_job("v", job)
    return str(job)


def _download_seconds(endpoint: LocalGlacierEndpoint, job_id: str, byte_range: str | None = None) -> float:
    started = time.monotonic()
    extra = {"range": byte_range} if byte_range else {}
    body = endpoint.client().get_job_output(vaultName="v", jobId=job_id, **extra)["body"].read()
    assert body
    return time.monotonic() - started


def test_job_output_waits_for_its_first_byte_and_streams_at_the_connection_cap(
    glacier_endpoint: LocalGlacierEndpoint,
) -> None:
    job_id = _job(glacier_endpoint, 4 * MIB)
    glacier_endpoint.set_network(NetworkModel(glacier_latency=0.2, glacier_bandwidth=8e6))
    assert _download_seconds(glacier_endpoint, job_id) >= 0.2 + 4 * MIB / 8e6
    glacier_endpoint.set_network(NetworkModel())
    assert (
        glacier_endpoint.client().get_job_output(vaultName="v", jobId=job_id)["body"].read() == b"n" * 4 * MIB
    )


def test_connections_share_the_aggregate_cap(glacier_endpoint: LocalGlacierEndpoint) -> None:
    job_id = _job(glacier_endpoint, 4 * MIB)
    glacier_endpoint.set_network(NetworkModel(glacier_bandwidth=1e9, aggregate_bandwidth=4e6))
    times: list[float] = []
    ranges = [f"bytes=0-{2 * MIB - 1}", f"bytes={2 * MIB}-{4 * MIB - 1}"]
    started = time.monotonic()
    threads = [
        threading.Thread(target=lambda r=r: times.append(_download_seconds(glacier_endpoint, job_id, r)))
        for r in ranges
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(times) == 2
    assert time.monotonic() - started >= 4 * MIB / 4e6


def test_s3_uploads_pay_latency_and_the_upload_cap(glacier_endpoint: LocalGlacierEndpoint) -> None:
    s3 = glacier_endpoint.client("s3")
    s3.create_bucket(Bucket="network-model")
    glacier_endpoint.set_network(NetworkModel(s3_latency=0.1, s3_bandwidth=4e6))
    started = time.monotonic()
    s3.put_object(Bucket="network-model", Key="k", Body=b"u" * 2 * MIB)
    assert time.monotonic() - started >= 0.1 + 2 * MIB / 4e6
    assert s3.get_object(Bucket="network-model", Key="k")["Body"].read() == b"u" * 2 * MIB


def test_network_model_is_set_and_read_over_http(glacier_endpoint: LocalGlacierEndpoint) -> None:
    remote = RemoteGlacierEndpoint(glacier_endpoint.url)
    remote.set_network(PRESETS["wan"])
    assert remote.network() == PRESETS["wan"]
    remote.set_network(NetworkModel())
    assert remote.network() == NetworkModel()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus", "'bogus' is not a preset"),
        ("s3_bandwidth=0", "s3_bandwidth: 0 would never send a byte"),
        ("s3_latency=-1", "s3_latency: -1.0 must be a number >= 0"),
        ("speed=3", "unknown setting(s) ['speed']"),
        ("wan,s3_latency", "'s3_latency' must be NAME=VALUE"),
    ],
)
def test_a_bad_network_model_is_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_network_model(text)
    assert message in str(raised.value)


def test_presets_and_overrides_parse() -> None:
    model = parse_network_model("wan,s3-bandwidth=50e6,aggregate_bandwidth=none")
    assert model.s3_bandwidth == 50e6 and model.aggregate_bandwidth is None
    assert model.glacier_latency == PRESETS["wan"].glacier_latency
    assert parse_network_model("") == NetworkModel() and not NetworkModel().active


def test_command_line_refuses_a_bad_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--network", "bogus"]) == 2
    assert "'bogus' is not a preset" in capsys.readouterr().err
