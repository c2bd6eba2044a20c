"""Run the local Glacier endpoint as a process of its own.

    python -m airflow_glacier_select.testing --host 127.0.0.1 --port 8910 --tier-delay Bulk=5

Prints ``Local Glacier endpoint ready at http://HOST:PORT`` once it accepts requests
and stops cleanly (files removed) on SIGTERM or SIGINT. Steer it from elsewhere with
:class:`airflow_glacier_select.testing.RemoteGlacierEndpoint`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from airflow_glacier_select.testing.endpoint import LocalGlacierEndpoint
from airflow_glacier_select.testing.network import parse_network_model
from airflow_glacier_select.testing.state import parse_tier_delays


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_glacier_select.testing", description=__doc__.split("\n")[1]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--tier-delay",
        action="append",
        default=[],
        metavar="TIER=SECONDS",
        help="completion delay of Expedited, Standard, Bulk or Inventory jobs (repeatable)",
    )
    parser.add_argument(
        "--storage-dir", default=None, help="where archive files go, created if absent (default: a temp dir)"
    )
    parser.add_argument(
        "--network",
        default="",
        metavar="MODEL",
        help="latency and bandwidth caps: a preset (loopback, wan) and/or NAME=VALUE pairs, e.g. "
        "'wan,s3_bandwidth=50e6' (glacier_latency, glacier_bandwidth, s3_latency, s3_bandwidth, "
        "aggregate_bandwidth; seconds and bytes per second)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        delays = parse_tier_delays(",".join(args.tier_delay))
        network = parse_network_model(args.network)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.storage_dir is not None:
        try:
            Path(args.storage_dir).mkdir(parents=True, exist_ok=True)
        except OSError as error:
            print(f"error: --storage-dir {args.storage_dir!r} cannot be used: {error}", file=sys.stderr)
            return 2
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with LocalGlacierEndpoint(
        args.host, args.port, tier_delays=delays, storage_dir=args.storage_dir
    ) as endpoint:
        endpoint.set_network(network)
        print(f"Local Glacier endpoint ready at {endpoint.url}", flush=True)
        while not stop.wait(0.5):
            pass
    print("Local Glacier endpoint stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
