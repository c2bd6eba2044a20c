"""The demo's archives: deterministic content, written to files and seeded into vaults.

Every byte is derived from a fixed seed, so a run can check what landed in S3 against
what it put into Glacier without keeping a second copy: the tree hash of each archive
is computed while its file is written, and the Select report is recomputed from the
same CSV generator.

Three vaults, one per example DAG:

- ``demo-sales``: one CSV archive of orders, queried in place by Glacier Select;
- ``demo-photos``: files from a photo backup (one larger than 64 MiB), some of which
  the restore DAG picks by path;
- ``demo-backups``: database backups (one larger than 64 MiB), migrated whole into S3.

Descriptions use the conventions of real upload tools (a bare path, JSON with
``Path``, FastGlacier's base64 metadata), so the DAGs recover the file paths the way
they would from a real vault.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from airflow_glacier_select.treehash import MIB, TreeHash

__all__ = [
    "BACKUPS_VAULT",
    "PHOTOS_VAULT",
    "SALES_COLUMNS",
    "SALES_MIN_QUANTITY",
    "SALES_STATUS",
    "SALES_VAULT",
    "ArchiveSpec",
    "SeededArchive",
    "archive_specs",
    "expected_sales_report",
    "seed_archives",
]

SALES_VAULT = "demo-sales"
PHOTOS_VAULT = "demo-photos"
BACKUPS_VAULT = "demo-backups"
SALES_COLUMNS = ("order_id", "order_date", "region", "product", "quantity", "unit_price", "status")
SALES_ROWS = 40_000
SALES_STATUS = "shipped"
"""The Select job keeps shipped orders ..."""
SALES_MIN_QUANTITY = 2
"""... of at least this many units."""
_REGIONS = ("EU", "NA", "APAC", "LATAM")
_PRODUCTS = ("tea", "coffee", "cocoa", "mate")
_STATUSES = ("shipped", "shipped", "shipped", "returned", "cancelled")


class ArchiveStore(Protocol):
    """Where archives go: ``RemoteGlacierEndpoint`` (or the in-process endpoint)."""

    def put_archive(self, vault_name: str, body: Path, description: str = "") -> str: ...


@dataclass(frozen=True)
class ArchiveSpec:
    """One archive to seed: where, under which description, and how its bytes are made."""

    vault_name: str
    path: str
    description: str
    size: int | None
    """Bytes of a binary archive; None for the CSV, whose size is what its generator writes."""
    seed: int
    kind: str = "binary"

    def chunks(self) -> Iterator[bytes]:
        """The archive's bytes, in pieces of at most 1 MiB."""
        if self.kind == "csv":
            yield sales_csv(self.seed)
            return
        rng = random.Random(self.seed)
        left = self.size or 0
        while left > 0:
            piece = min(MIB, left)
            yield rng.randbytes(piece)
            left -= piece


@dataclass(frozen=True)
class SeededArchive:
    """An archive now in a vault, with the tree hash computed while its bytes were written."""

    spec: ArchiveSpec
    archive_id: str
    size: int
    sha256_tree_hash: str


def _fastglacier(path: str) -> str:
    encoded = base64.b64encode(path.encode()).decode()
    return f"<m><v>4</v><p>{encoded}</p><lm>20240105T101500Z</lm></m>"


def archive_specs() -> list[ArchiveSpec]:
    """What the demo seeds: CSV and binary archives, two of them larger than 64 MiB."""
    photos = [
        ("photos/2019/beach.raw", 3 * MIB + 17, "raw"),
        ("photos/2019/city-panorama.raw", 70 * MIB + 4097, "json"),
        ("photos/2019/notes.txt", 2_345, "fastglacier"),
        ("photos/2020/forest.raw", 5 * MIB, "raw"),
        ("documents/tax-2019.pdf", MIB + 1, "json"),
    ]
    backups = [
        ("backups/db-2024-01.tar", 66 * MIB + 123, "raw"),
        ("backups/db-2024-02.tar", 12 * MIB + 5, "fastglacier"),
        ("backups/config.tar", 200 * 1024, "json"),
    ]
    describe = {
        "raw": lambda path: path,
        "json": lambda path: json.dumps({"Path": path, "Tool": "demo"}),
        "fastglacier": _fastglacier,
    }
    specs = [ArchiveSpec(SALES_VAULT, "sales/orders-2024.csv", "sales/orders-2024.csv", None, 2024, "csv")]
    for seed, (vault, entries) in enumerate(((PHOTOS_VAULT, photos), (BACKUPS_VAULT, backups)), start=1):
        specs += [
            ArchiveSpec(vault, path, describe[style](path), size, seed * 100 + index)
            for index, (path, size, style) in enumerate(entries)
        ]
    return specs


def _sales_rows(seed: int) -> Iterator[tuple[str, ...]]:
    rng = random.Random(seed)
    for number in range(1, SALES_ROWS + 1):
        yield (
            f"O{number:06d}",
            f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            rng.choice(_REGIONS),
            rng.choice(_PRODUCTS),
            str(rng.randint(1, 9)),
            f"{rng.randint(150, 4999) / 100:.2f}",
            rng.choice(_STATUSES),
        )


def sales_csv(seed: int) -> bytes:
    """The orders CSV (a header line, then one order per line); about 1.6 MiB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SALES_COLUMNS)
    writer.writerows(_sales_rows(seed))
    return buffer.getvalue().encode()


def expected_sales_report(seed: int = 2024) -> dict[str, dict[str, int | str]]:
    """Per region: shipped orders of at least ``SALES_MIN_QUANTITY`` units, units and revenue.

    Computed from the generator, independently of Glacier Select and of the DAG, so the
    demo can check the report the select DAG wrote.
    """
    orders: dict[str, int] = {}
    units: dict[str, int] = {}
    revenue: dict[str, Decimal] = {}
    for row in _sales_rows(seed):
        record = dict(zip(SALES_COLUMNS, row, strict=True))
        quantity = int(record["quantity"])
        if record["status"] != SALES_STATUS or quantity < SALES_MIN_QUANTITY:
            continue
        region = record["region"]
        orders[region] = orders.get(region, 0) + 1
        units[region] = units.get(region, 0) + quantity
        revenue[region] = revenue.get(region, Decimal(0)) + quantity * Decimal(record["unit_price"])
    return {
        region: {"orders": orders[region], "units": units[region], "revenue": str(revenue[region])}
        for region in sorted(orders)
    }


def seed_archives(
    endpoint: ArchiveStore, folder: Path, specs: Iterable[ArchiveSpec] | None = None
) -> list[SeededArchive]:
    """Write each archive (default: :func:`archive_specs`) to a file under ``folder``, hashing
    as it goes, and store it in its vault; the file is removed once stored."""
    folder.mkdir(parents=True, exist_ok=True)
    seeded = []
    for number, spec in enumerate(archive_specs() if specs is None else specs):
        file = folder / f"archive-{number}.bin"
        tree = TreeHash()
        with file.open("wb") as handle:
            for chunk in spec.chunks():
                tree.update(chunk)
                handle.write(chunk)
        archive_id = endpoint.put_archive(spec.vault_name, file, spec.description)
        file.unlink()
        seeded.append(SeededArchive(spec, archive_id, tree.size, tree.hexdigest()))
    return seeded
