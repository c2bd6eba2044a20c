"""What one endpoint owns: its account, files, tier delays, armed faults and request counts.

moto keeps service state in process-wide backends keyed by account id. Each endpoint
gets an account id of its own (the server stamps it on every request it forwards to
moto), so two endpoints in one process, or one endpoint across reset tests, never see
each other's vaults, jobs or S3 buckets. Backends find their endpoint's settings here
by that account id.
"""

from __future__ import annotations

import os
import secrets
import tempfile
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from airflow_glacier_select.testing.faults import FaultPlan
from airflow_glacier_select.testing.network import NetworkModel, Pacer, parse_network_model
from airflow_glacier_select.testing.storage import ArchiveStore

__all__ = [
    "DEFAULT_TIER_DELAYS",
    "TIER_DELAYS_ENV",
    "EndpointState",
    "parse_tier_delays",
    "register",
    "state_for_account",
    "unregister",
]

TIER_DELAYS_ENV = "GLACIER_LOCAL_TIER_DELAYS"
NETWORK_ENV = "GLACIER_LOCAL_NETWORK"
"""A network model for every endpoint of the process, e.g. ``wan`` (see ``testing/network.py``)."""
DEFAULT_TIER_DELAYS: Mapping[str, float] = {"Expedited": 0.5, "Standard": 1.0, "Bulk": 2.0, "Inventory": 1.0}
"""Seconds from InitiateJob to Succeeded; ``Inventory`` applies to inventory-retrieval jobs."""


def parse_tier_delays(text: str) -> dict[str, float]:
    """``"Expedited=0.5,Standard=1,Bulk=2"`` as a mapping; unknown tiers and bad numbers are errors."""
    delays: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        tier, sep, seconds = item.partition("=")
        tier = tier.strip()
        if not sep or tier not in DEFAULT_TIER_DELAYS:
            raise ValueError(
                f"tier delay {item!r}: expected TIER=SECONDS, TIER one of {', '.join(DEFAULT_TIER_DELAYS)}"
            )
        delays[tier] = check_delay(tier, float(seconds))
    return delays


def check_delay(tier: str, seconds: float) -> float:
    if tier not in DEFAULT_TIER_DELAYS:
        raise ValueError(f"tier: {tier!r} is not one of {', '.join(DEFAULT_TIER_DELAYS)}")
    if not seconds >= 0:
        raise ValueError(f"seconds: {seconds!r} must be zero or more")
    return float(seconds)


def initial_tier_delays(overrides: Mapping[str, float] | None = None) -> dict[str, float]:
    """Defaults, then the environment variable, then explicit overrides."""
    delays = dict(DEFAULT_TIER_DELAYS)
    delays.update(parse_tier_delays(os.environ.get(TIER_DELAYS_ENV, "")))
    for tier, seconds in (overrides or {}).items():
        delays[tier] = check_delay(tier, seconds)
    return delays


def new_account_id() -> str:
    return "1" + "".join(secrets.choice("0123456789") for _ in range(11))


@dataclass
class EndpointState:
    account_id: str
    store: ArchiveStore
    tier_delays: dict[str, float]
    faults: FaultPlan = field(default_factory=FaultPlan)
    counts: Counter[str] = field(default_factory=Counter)
    job_output_ranges: list[tuple[str, int, int]] = field(default_factory=list)
    """(job id, first byte, last byte) of every GetJobOutput answered with a body, in order."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    expedited_capacity: bool = True  # False: every Expedited InitiateJob gets InsufficientCapacityException
    pacer: Pacer = field(default_factory=lambda: Pacer(parse_network_model(os.environ.get(NETWORK_ENV, ""))))

    @property
    def network(self) -> NetworkModel:
        return self.pacer.model

    @classmethod
    def create(
        cls, storage_dir: Path | None, tier_delays: Mapping[str, float] | None = None
    ) -> EndpointState:
        account_id = new_account_id()
        base = storage_dir or Path(tempfile.gettempdir())
        store = ArchiveStore(Path(tempfile.mkdtemp(prefix=f"glacier-local-{account_id}-", dir=base)))
        return cls(account_id, store, initial_tier_delays(tier_delays))

    def count(self, operation: str) -> None:
        with self.lock:
            self.counts[operation] += 1

    def log_job_output(self, job_id: str, first: int, last: int) -> None:
        with self.lock:
            self.job_output_ranges.append((job_id, first, last))


_STATES: dict[str, EndpointState] = {}
_REGISTRY_LOCK = threading.Lock()


def register(state: EndpointState) -> None:
    with _REGISTRY_LOCK:
        _STATES[state.account_id] = state


def unregister(account_id: str) -> None:
    with _REGISTRY_LOCK:
        _STATES.pop(account_id, None)


def state_for_account(account_id: str) -> EndpointState:
    """The endpoint that owns ``account_id``; moto used without an endpoint gets a default one."""
    with _REGISTRY_LOCK:
        state = _STATES.get(account_id)
        if state is None:
            state = EndpointState.create(None)
            state.account_id = account_id
            _STATES[account_id] = state
        return state
