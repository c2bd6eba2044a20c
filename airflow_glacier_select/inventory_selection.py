"""Choose archives from an inventory and cut them into batches for dynamic task mapping.

Everything here is lazy over an iterable of :class:`InventoryArchive`, so it composes
with the streaming parser without ever holding the whole vault listing::

    archives = iter_inventory_archives(body, "CSV")
    chosen = filter_archives(archives, created_after="2019-01-01T00:00:00Z", min_size=1)
    items = mapped_batches(chosen, max_count=100, max_bytes=50 * 2**30, max_map_length=1024)

Arguments are checked when the function is called, not when the first archive is
pulled, so a bad filter fails the task before anything is read or retrieved.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from airflow_glacier_select.archive_descriptions import archive_path
from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.inventory import InventoryArchive, parse_glacier_timestamp

__all__ = [
    "DEFAULT_MAX_MAP_LENGTH",
    "archives_from_mapped_batch",
    "batch_archives",
    "filter_archives",
    "mapped_batches",
]

#: Airflow's default for ``[core] max_map_length``; the Airflow shell passes the configured value.
DEFAULT_MAX_MAP_LENGTH = 1024


def _moment(field: str, value: datetime | str | None) -> datetime | None:
    """An aware datetime from a datetime or a Glacier-style ISO 8601 string (UTC when it has no offset).

    A naive ``datetime`` is refused: in Python it usually means local time, and guessing
    would silently shift the window by hours.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_glacier_timestamp(value)
        except ValueError:
            raise GlacierValidationError(field, value, "is not an ISO 8601 timestamp") from None
    if not isinstance(value, datetime):
        raise GlacierValidationError(field, value, "must be a datetime or an ISO 8601 string")
    if value.tzinfo is None or value.utcoffset() is None:
        raise GlacierValidationError(field, value, "must be timezone-aware (Glacier dates are UTC)")
    return value


def _size(field: str, value: int | None) -> int | None:
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise GlacierValidationError(field, value, "must be a non-negative number of bytes")
    return value


def _count(field: str, value: int, rule: str = "must be an integer of at least 1") -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise GlacierValidationError(field, value, rule)
    return value


def filter_archives(
    archives: Iterable[InventoryArchive],
    *,
    created_after: datetime | str | None = None,
    created_before: datetime | str | None = None,
    min_size: int | None = None,
    max_size: int | None = None,
    description_pattern: str | None = None,
    description_regex: str | None = None,
    path_pattern: str | None = None,
) -> Iterator[InventoryArchive]:
    """Lazily keep the archives that pass every given test (no test given keeps everything).

    - ``created_after`` is inclusive and ``created_before`` exclusive, the same window
      semantics as the inventory job's ``StartDate``/``EndDate``.
    - ``min_size`` and ``max_size`` are inclusive byte counts.
    - ``description_pattern`` is a shell-style glob (``fnmatch``, case-sensitive, ``*``
      crosses ``/``) that must match the *whole* raw description.
    - ``description_regex`` is a Python regular expression *searched* in the raw
      description (anchor it with ``^...$`` for a full match).
    - ``path_pattern`` is a glob matched against the path decoded from the description
      (:func:`~airflow_glacier_select.archive_descriptions.archive_path`), which is what
      to use for FastGlacier-style base64 metadata; an archive without a path never matches.
    """
    after = _moment("created_after", created_after)
    before = _moment("created_before", created_before)
    if after is not None and before is not None and after >= before:
        raise GlacierValidationError(
            "created_before", created_before, f"must be later than created_after ({created_after!r})"
        )
    low = _size("min_size", min_size)
    high = _size("max_size", max_size)
    if low is not None and high is not None and low > high:
        raise GlacierValidationError("max_size", max_size, f"must be at least min_size ({min_size})")
    for field, glob in (("description_pattern", description_pattern), ("path_pattern", path_pattern)):
        if glob is not None and not isinstance(glob, str):
            raise GlacierValidationError(field, glob, "must be a glob string")
    try:
        regex = re.compile(description_regex) if description_regex is not None else None
    except (re.error, TypeError) as exc:
        raise GlacierValidationError(
            "description_regex", description_regex, f"is not a regex: {exc}"
        ) from None
    return _filtered(archives, after, before, low, high, description_pattern, regex, path_pattern)


def _filtered(
    archives: Iterable[InventoryArchive],
    after: datetime | None,
    before: datetime | None,
    low: int | None,
    high: int | None,
    description_glob: str | None,
    regex: re.Pattern[str] | None,
    path_glob: str | None,
) -> Iterator[InventoryArchive]:
    for archive in archives:
        if after is not None and archive.creation_date < after:
            continue
        if before is not None and archive.creation_date >= before:
            continue
        if low is not None and archive.size < low:
            continue
        if high is not None and archive.size > high:
            continue
        if description_glob is not None and not fnmatch.fnmatchcase(archive.description, description_glob):
            continue
        if regex is not None and regex.search(archive.description) is None:
            continue
        if path_glob is not None:
            path = archive_path(archive.description)
            if path is None or not fnmatch.fnmatchcase(path, path_glob):
                continue
        yield archive


def batch_archives(
    archives: Iterable[InventoryArchive], *, max_count: int, max_bytes: int | None = None
) -> Iterator[list[InventoryArchive]]:
    """Lazily group archives, in order, into batches of at most ``max_count`` archives and
    ``max_bytes`` total size.

    An archive larger than ``max_bytes`` on its own is never dropped: it gets a batch to
    itself (the batch before it is closed first). Empty input yields no batches.
    """
    _count("max_count", max_count)
    if max_bytes is not None:
        _count("max_bytes", max_bytes, "must be a positive number of bytes or None")
    return _batched(archives, max_count, max_bytes)


def _batched(
    archives: Iterable[InventoryArchive], max_count: int, max_bytes: int | None
) -> Iterator[list[InventoryArchive]]:
    batch: list[InventoryArchive] = []
    total = 0
    for archive in archives:
        too_big = max_bytes is not None and bool(batch) and total + archive.size > max_bytes
        if len(batch) == max_count or too_big:
            yield batch
            batch, total = [], 0
        batch.append(archive)
        total += archive.size
        if max_bytes is not None and archive.size > max_bytes:
            yield batch
            batch, total = [], 0
    if batch:
        yield batch


def mapped_batches(
    archives: Iterable[InventoryArchive],
    *,
    max_count: int,
    max_bytes: int | None = None,
    max_map_length: int = DEFAULT_MAX_MAP_LENGTH,
) -> list[dict[str, Any]]:
    """Batches as plain JSON dicts, one per mapped task instance (``.expand(batch=...)``).

    Each item is ``{"batch": i, "archive_count": n, "total_size": bytes, "archives":
    [InventoryArchive.to_dict(), ...]}``. Airflow refuses to expand a list longer than
    ``[core] max_map_length``; rather than fail later in the scheduler, this refuses up
    front with a :class:`GlacierValidationError` that says how many items the selection
    needs and which settings to change. Only ``max_map_length`` batches are ever held;
    past that the rest of the input is counted, not kept.
    """
    _count("max_map_length", max_map_length)
    items: list[dict[str, Any]] = []
    needed = 0
    for batch in batch_archives(archives, max_count=max_count, max_bytes=max_bytes):
        needed += 1
        if needed <= max_map_length:
            items.append(
                {
                    "batch": needed - 1,
                    "archive_count": len(batch),
                    "total_size": sum(archive.size for archive in batch),
                    "archives": [archive.to_dict() for archive in batch],
                }
            )
    if needed > max_map_length:
        raise GlacierValidationError(
            "max_map_length",
            max_map_length,
            f"is exceeded: the selection needs {needed} mapped batches (max_count={max_count}, "
            f"max_bytes={max_bytes}); raise max_count or max_bytes, narrow the filters, "
            "or raise Airflow's [core] max_map_length",
        )
    return items


def archives_from_mapped_batch(item: dict[str, Any]) -> list[InventoryArchive]:
    """The archives of one :func:`mapped_batches` item, back as :class:`InventoryArchive`."""
    return [InventoryArchive.from_dict(entry) for entry in item["archives"]]
