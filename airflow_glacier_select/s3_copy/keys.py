"""Where a job's output lands in S3: key templates filled from the job and the archive description.

Users name restored objects after the file the archive once was, and that path is only
recorded in the archive description, in whatever style the upload tool chose (raw path,
JSON ``Path``, FastGlacier, mt-aws-glacier ...). Recorded paths come from other machines
(``C:\\Users\\...``, ``/var/...``, ``../``), so they are made safe before they become keys.
"""

from __future__ import annotations

import posixpath
import re
import string
from collections.abc import Mapping

from airflow_glacier_select.archive_descriptions import archive_path
from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.job_description import JobDescription
from airflow_glacier_select.job_rules import check_non_empty

__all__ = [
    "KEY_FIELDS",
    "S3_MAX_KEY_BYTES",
    "check_s3_key",
    "default_key_template",
    "key_fields_for_job",
    "key_template_fields",
    "needs_archive_description",
    "render_key",
    "safe_key_path",
    "suffixed_key",
]

S3_MAX_KEY_BYTES = 1024
KEY_FIELDS = (
    "vault_name",
    "job_id",
    "job_type",
    "archive_id",
    "archive_path",
    "retrieval_byte_range",
    "inventory_format",
)
"""Placeholders a key template may use, as ``{name}`` (single braces survive Jinja rendering)."""
_DESCRIPTION_FIELDS = frozenset({"archive_path"})

_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def key_template_fields(template: object) -> frozenset[str]:
    """The placeholders ``template`` uses; refuses unknown, positional and formatted ones."""
    text = check_non_empty("key", template)
    names: set[str] = set()
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise GlacierValidationError("key", template, f"is not a valid key template ({error})") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in KEY_FIELDS or spec or conversion:
            raise GlacierValidationError(
                "key",
                template,
                f"uses {{{name}}}; placeholders are {', '.join('{' + f + '}' for f in KEY_FIELDS)} "
                "without conversions or format specs (use {{ and }} for literal braces)",
            )
        names.add(name)
    return frozenset(names)


def needs_archive_description(template: str) -> bool:
    """Whether rendering ``template`` needs the archive description (from GetJobOutput's headers)."""
    return bool(key_template_fields(template) & _DESCRIPTION_FIELDS)


def safe_key_path(path: str) -> str:
    """A recorded file path as an S3 key path: forward slashes, no drive, no ``.``/``..`` or empty parts.

    Backup tools record Windows paths (``C:\\Users\\ann\\tax.pdf``) and absolute Unix paths;
    as S3 keys those would start with a slash or climb out of the destination prefix.
    Control characters become ``_``.
    """
    text = _CONTROL.sub("_", path.replace("\\", "/"))
    text = _DRIVE.sub("", text)
    parts = [part for part in text.split("/") if part not in ("", ".", "..")]
    return "/".join(parts)


def check_s3_key(key: object) -> str:
    text = check_non_empty("key", key)
    if len(text.encode("utf-8", "surrogatepass")) > S3_MAX_KEY_BYTES:
        raise GlacierValidationError("key", key, f"must be at most {S3_MAX_KEY_BYTES} bytes (UTF-8)")
    return text


def default_key_template(job: JobDescription) -> str:
    """Where a job's output goes when no key is given: the archive's own path, or the inventory by job."""
    if job.action == "InventoryRetrieval":
        return "{vault_name}/inventory/{job_id}.{inventory_format}"
    if job.archive_size_in_bytes is not None and job.output_size != job.archive_size_in_bytes:
        return "{vault_name}/{archive_path}.bytes-{retrieval_byte_range}"
    return "{vault_name}/{archive_path}"


def key_fields_for_job(
    job: JobDescription, vault_name: str, archive_description: str | None
) -> dict[str, str]:
    """Values for every placeholder; ``archive_path`` falls back to the archive id.

    ``archive_description`` is decoded with
    :func:`airflow_glacier_select.archive_descriptions.archive_path` (raw, JSON ``Path``,
    FastGlacier, mt-aws-glacier ...) and made safe with :func:`safe_key_path`.
    """
    recorded = archive_path(archive_description) if archive_description else None
    path = safe_key_path(recorded) if recorded else ""
    inventory_format = str((job.inventory_retrieval_parameters or {}).get("Format") or "JSON")
    return {
        "vault_name": vault_name,
        "job_id": job.job_id,
        "job_type": job.job_type or "",
        "archive_id": job.archive_id or "",
        "archive_path": path or job.archive_id or job.job_id,
        "retrieval_byte_range": job.retrieval_byte_range or "",
        "inventory_format": inventory_format.lower(),
    }


def render_key(template: str, fields: Mapping[str, str]) -> str:
    """The destination key: the template with its placeholders filled, checked as an S3 key."""
    key_template_fields(template)
    return check_s3_key(template.format_map(dict(fields)))


def suffixed_key(key: str, number: int) -> str:
    """``dir/name.tar.gz`` -> ``dir/name-1.tar.gz``: the suffix goes before the first extension."""
    directory, name = posixpath.split(key)
    stem, dot, extension = name.partition(".") if not name.startswith(".") else (name, "", "")
    renamed = f"{stem}-{number}{dot}{extension}"
    return check_s3_key(posixpath.join(directory, renamed) if directory else renamed)
