"""HTTP handlers of the local Glacier service (moto routes each request to the operation's method).

Handlers only translate between HTTP and the backend: path parameters, query string
and headers in; status, headers and JSON out. Errors raised as
:class:`~airflow_glacier_select.testing.errors.ServiceError` become the service's
JSON error bodies. GetJobOutput is normally answered by the server's streaming fast
path; the handler here serves the same bytes for moto used without that server.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qs

from moto.core.common_types import TYPE_RESPONSE
from moto.glacier.responses import GlacierResponse

from airflow_glacier_select.testing.backend import LocalGlacierBackend, backend_for, page
from airflow_glacier_select.testing.errors import ServiceError, error_response, invalid
from airflow_glacier_select.testing.job_output import slice_output
from airflow_glacier_select.testing.models import Archive
from airflow_glacier_select.testing.retrieval_policy import validated_policy
from airflow_glacier_select.testing.rules import check_part_size, parse_content_range

__all__ = ["LocalGlacierResponse"]


def _json(status: int, payload: Any, **headers: str) -> TYPE_RESPONSE:
    body = json.dumps(payload)
    return status, {"status": str(status), "Content-Type": "application/json", **headers}, body


def _empty(status: int, **headers: str) -> TYPE_RESPONSE:
    return status, {"status": str(status), **headers}, ""


class LocalGlacierResponse(GlacierResponse):
    use_raw_body = True

    def call_action(self) -> TYPE_RESPONSE:
        """Dispatch to the operation's handler (moto's generic dispatch costs a millisecond a call)."""
        try:
            self._check_account()
            operation = self._get_action()
            if operation not in _HANDLERS:
                raise ServiceError(
                    "InvalidAction", f"Operation {operation} is not supported by this endpoint"
                )
            status, headers, body = getattr(self, _HANDLERS[operation])()
        except ServiceError as error:
            status, headers, body = error_response(error)
            headers = {"status": str(status), **headers}
        headers["x-amzn-RequestId"] = secrets.token_hex(16)
        return status, headers, body

    # request parts --------------------------------------------------------------------

    @property
    def backend(self) -> LocalGlacierBackend:
        return backend_for(self.current_account, self.region)

    def _path(self, name: str) -> str:
        return str(self.uri_match[name])  # filled from botocore's URI template by _get_action

    def _query(self, name: str) -> str | None:
        values = parse_qs(self.parsed_url.query, keep_blank_values=True).get(name)
        return values[0] if values else None

    def _header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return None if value is None else str(value)

    def _check_account(self) -> None:
        account = self.path.split("/")[1] if self.path.count("/") > 1 else "-"
        if account not in ("-", self.current_account):
            raise ServiceError("AccessDeniedException", f"Access denied for account {account}", 403)

    @property
    def _vault(self) -> str:
        return self._path("vaultName")

    def _vault_path(self) -> str:
        return f"/{self.current_account}/vaults/{self._vault}"

    # vaults ---------------------------------------------------------------------------

    def list_vaults(self) -> TYPE_RESPONSE:
        vaults, marker = self.backend.list_vault_page(self._query("limit"), self._query("marker"))
        return _json(200, {"VaultList": [vault.to_dict() for vault in vaults], "Marker": marker})

    def create_vault(self) -> TYPE_RESPONSE:
        self.backend.create_vault(self._vault)
        return _empty(201, Location=self._vault_path())

    def describe_vault(self) -> TYPE_RESPONSE:
        return _json(200, self.backend.describe_vault(self._vault).to_dict())

    def delete_vault(self) -> TYPE_RESPONSE:
        self.backend.delete_vault(self._vault)
        return _empty(204)

    # archives -------------------------------------------------------------------------

    def upload_archive(self) -> TYPE_RESPONSE:
        archive = self.backend.upload_archive_body(
            self._vault,
            self.body or b"",
            self._header("x-amz-archive-description") or "",
            self._header("x-amz-sha256-tree-hash"),
        )
        return self._archive_created(archive)

    def _archive_created(self, archive: Archive) -> TYPE_RESPONSE:
        headers = {
            "Location": f"{self._vault_path()}/archives/{archive.archive_id}",
            "x-amz-archive-id": archive.archive_id,
            "x-amz-sha256-tree-hash": archive.tree_hash,
        }
        return _empty(201, **headers)

    def delete_archive(self) -> TYPE_RESPONSE:
        self.backend.delete_archive(self._vault, self._path("archiveId"))
        return _empty(204)

    # multipart uploads ----------------------------------------------------------------

    def initiate_multipart_upload(self) -> TYPE_RESPONSE:
        part_size = check_part_size(self._header("x-amz-part-size"))
        description = self._header("x-amz-archive-description") or ""
        upload = self.backend.initiate_upload(self._vault, part_size, description)
        return _empty(
            201,
            **{
                "Location": f"{self._vault_path()}/multipart-uploads/{upload.upload_id}",
                "x-amz-multipart-upload-id": upload.upload_id,
            },
        )

    def upload_multipart_part(self) -> TYPE_RESPONSE:
        start, end = parse_content_range(self._header("Content-Range"))
        tree_hash = self.backend.upload_part(
            self._vault,
            self._path("uploadId"),
            start,
            end,
            self.body or b"",
            self._header("x-amz-sha256-tree-hash"),
        )
        return _empty(204, **{"x-amz-sha256-tree-hash": tree_hash})

    def complete_multipart_upload(self) -> TYPE_RESPONSE:
        archive = self.backend.complete_upload(
            self._vault,
            self._path("uploadId"),
            self._header("x-amz-archive-size"),
            self._header("x-amz-sha256-tree-hash"),
        )
        return self._archive_created(archive)

    def abort_multipart_upload(self) -> TYPE_RESPONSE:
        self.backend.abort_upload(self._vault, self._path("uploadId"))
        return _empty(204)

    def list_parts(self) -> TYPE_RESPONSE:
        upload = self.backend.describe_upload(self._vault, self._path("uploadId"))
        parts = [upload.parts[start] for start in sorted(upload.parts)]
        chosen, marker = page(
            parts, lambda part: str(part.start), self._query("limit"), self._query("marker"), 1000
        )
        entries = [
            {"RangeInBytes": f"{part.start}-{part.end_exclusive - 1}", "SHA256TreeHash": part.tree_hash}
            for part in chosen
        ]
        return _json(200, {**upload.summary(), "Parts": entries, "Marker": marker})

    def list_multipart_uploads(self) -> TYPE_RESPONSE:
        uploads = list(self.backend.describe_vault(self._vault).uploads.values())
        chosen, marker = page(
            uploads, lambda u: u.upload_id, self._query("limit"), self._query("marker"), 1000
        )
        return _json(200, {"UploadsList": [upload.summary() for upload in chosen], "Marker": marker})

    # jobs -----------------------------------------------------------------------------

    def initiate_job(self) -> TYPE_RESPONSE:
        try:
            params = json.loads(self.body or b"{}")
        except ValueError:
            raise invalid("The job parameters are not valid JSON") from None
        job = self.backend.start_job(self._vault, params)
        headers = {"Location": f"{self._vault_path()}/jobs/{job.job_id}", "x-amz-job-id": job.job_id}
        if job.output_path:
            headers["x-amz-job-output-path"] = job.output_path
        return _empty(202, **headers)

    def describe_job(self) -> TYPE_RESPONSE:  # type: ignore[override]
        return _json(200, self.backend.describe_job(self._vault, self._path("jobId")).to_dict())

    def list_jobs(self) -> TYPE_RESPONSE:
        jobs, marker = self.backend.list_job_page(
            self._vault,
            self._query("limit"),
            self._query("marker"),
            self._query("statuscode"),
            self._query("completed"),
        )
        return _json(200, {"JobList": [job.to_dict() for job in jobs], "Marker": marker})

    # data retrieval policy -------------------------------------------------------------

    def get_data_retrieval_policy(self) -> TYPE_RESPONSE:
        return _json(200, {"Policy": self.backend.retrieval_policy})

    def set_data_retrieval_policy(self) -> TYPE_RESPONSE:
        try:
            body = json.loads(self.body or b"{}")
        except ValueError:
            raise invalid("The policy is not valid JSON") from None
        self.backend.retrieval_policy = validated_policy(body)
        return _empty(204)

    def get_job_output(self) -> TYPE_RESPONSE:
        output = self.backend.job_output(self._vault, self._path("jobId"))
        sliced = slice_output(output, self._header("Range"))
        body = b"".join(output.body.chunks(sliced.file_offset, sliced.length))
        return sliced.status, {"status": str(sliced.status), **sliced.headers}, body


_HANDLERS = {
    "".join(part.capitalize() for part in name.split("_")): name
    for name in (
        "list_vaults",
        "create_vault",
        "describe_vault",
        "delete_vault",
        "upload_archive",
        "delete_archive",
        "initiate_multipart_upload",
        "upload_multipart_part",
        "complete_multipart_upload",
        "abort_multipart_upload",
        "list_parts",
        "list_multipart_uploads",
        "initiate_job",
        "describe_job",
        "list_jobs",
        "get_job_output",
        "get_data_retrieval_policy",
        "set_data_retrieval_policy",
    )
}
