"""GetJobOutput's status and headers for a whole output or a ``Range`` of it.

``Range`` is relative to the job's output (for a ranged retrieval, to the retrieved
bytes, not the archive). ``x-amz-sha256-tree-hash`` is sent exactly when the
requested bytes form a node of the output's tree hash, and only for archive
retrievals; a client must verify any other download by other means.
"""

from __future__ import annotations

import re

from airflow_glacier_select.testing.errors import ServiceError
from airflow_glacier_select.testing.models import JobOutput

__all__ = ["OutputSlice", "slice_output"]

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class OutputSlice:
    """The bytes to send (relative to the output) and the response status and headers."""

    def __init__(self, output: JobOutput, range_header: str | None) -> None:
        self.output = output
        self.start, self.end = self._parse(range_header)
        partial = range_header is not None
        self.status = 206 if partial else 200
        self.headers = {
            "Content-Type": output.content_type,
            "Content-Length": str(self.length),
            "Accept-Ranges": "bytes",
        }
        if partial:
            self.headers["Content-Range"] = f"bytes {self.start}-{self.end - 1}/{output.length}"
        tree_hash = output.range_tree_hash(self.start, self.end) if self.length else None
        if tree_hash is not None:
            self.headers["x-amz-sha256-tree-hash"] = tree_hash
        if output.archive_description is not None:
            self.headers["x-amz-archive-description"] = output.archive_description

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def file_offset(self) -> int:
        return self.output.offset + self.start

    def _parse(self, header: str | None) -> tuple[int, int]:
        size = self.output.length
        if header is None:
            return 0, size
        match = _RANGE.fullmatch(header.strip())
        if not match or not (match[1] or match[2]):
            raise ServiceError("InvalidParameterValueException", f"Invalid Range header: {header!r}")
        if not match[1]:  # suffix range: the last N bytes
            start, end = max(size - int(match[2]), 0), size
        else:
            start = int(match[1])
            end = min(int(match[2]) + 1, size) if match[2] else size
        if start >= end or start >= size:
            raise ServiceError(
                "InvalidParameterValueException",
                f"The requested range {header!r} is not satisfiable for {size} bytes",
            )
        return start, end


def slice_output(output: JobOutput, range_header: str | None) -> OutputSlice:
    return OutputSlice(output, range_header)
