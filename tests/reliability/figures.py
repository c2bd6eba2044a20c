"""What the secrets audit found, kept for the reliability summary ``conftest.py`` prints at the end."""

from __future__ import annotations

SECRET_SCANS: list[tuple[str, int, int]] = []
SECRET_NOTES: list[str] = []


def record_secret_scan(sink: str, size: int, found: int) -> None:
    """One sink searched for connection secrets: its name, characters searched, secrets found in it."""
    SECRET_SCANS.append((sink, size, found))


def note_secret_scan(note: str) -> None:
    """A remark printed under the secret scans (what was left out of them, and why)."""
    SECRET_NOTES.append(note)
