"""The job model's bad-input catalogue, re-read as operator arguments.

``tests/test_jobs_bad_input.py`` holds one row per documented rule, each a call that
builds a model object from a bad value. Replaying each call against recorders (instead of
the model classes) yields the keyword arguments it used, which map onto the operators' flat
arguments. A row whose arguments have no operator form (a model object where the operator
takes flat values, a DescribeJob response) is listed with the reason instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from airflow_glacier_select.jobs import Grantee
from airflow_glacier_select.operators.glacier import _CSV_INPUT_FIELDS, _CSV_OUTPUT_FIELDS
from tests import test_jobs_bad_input as model_catalogue

ARCHIVE = "GlacierArchiveRetrievalOperator"
INVENTORY = "GlacierInventoryRetrievalOperator"
SELECT = "GlacierSelectOperator"
SENSOR = "GlacierJobSensor"
COPY = "GlacierJobOutputToS3Operator"
SELECT_RESULTS = "GlacierSelectResultsOperator"
JOB_OPERATORS = (ARCHIVE, INVENTORY, SELECT)

BASE: Mapping[str, dict[str, Any]] = {
    ARCHIVE: {"archive_id": "archive-1"},
    INVENTORY: {},
    SELECT: {
        "archive_id": "archive-1",
        "expression": "SELECT * FROM archive",
        "output_bucket": "results",
        "output_prefix": "out",
    },
    SENSOR: {"job_id": "job-1"},
    COPY: {"job_id": "job-1", "bucket": "landing"},
    SELECT_RESULTS: {"job_id": "job-1"},
}
"""Valid arguments of each operator, besides ``vault_name``, which the bad value is added to."""

_SHARED: Mapping[str, tuple[str, ...]] = {
    "description": JOB_OPERATORS,
    "sns_topic": JOB_OPERATORS,
    "tier": (ARCHIVE, SELECT),
    "archive_id": (ARCHIVE, SELECT),
}
"""Job arguments more than one job operator takes: a row on one of them applies to each."""
_OWN = {"archive": ARCHIVE, "inventory": INVENTORY, "select": SELECT}
_INVENTORY_NAMES = {"start_date": "inventory_start_date", "end_date": "inventory_end_date"}
_LOCATION_NAMES = {"bucket_name": "output_bucket", "prefix": "output_prefix", "tagging": "tags"}
_ENCRYPTION_NAMES = {"encryption_type": "encryption"}
_CSV_INPUT = {option: name for name, option in _CSV_INPUT_FIELDS.items()}
_CSV_OUTPUT = {option: name for name, option in _CSV_OUTPUT_FIELDS.items()}
FLAT_ARGUMENTS: Mapping[str, tuple[str, Mapping[str, str]]] = {
    "archive-retrieval": (ARCHIVE, {}),
    "inventory-retrieval": (INVENTORY, _INVENTORY_NAMES),
    "select": (SELECT, {}),
    "CsvInput": (SELECT, _CSV_INPUT),
    "CsvOutput": (SELECT, _CSV_OUTPUT),
    "S3OutputLocation": (SELECT, _LOCATION_NAMES),
    "Encryption": (SELECT, _ENCRYPTION_NAMES),
}
"""Model constructors whose arguments an operator takes flat: the operator and the renames."""
OBJECT_MEMBERS = frozenset(
    {"output_location", "input_serialization", "output_serialization", "encryption", "access_control_list"}
)
"""Model arguments holding model objects: the operator builds them from its flat arguments."""
_BUILDERS = (
    "archive",
    "inventory",
    "select",
    "location",
    "CsvInput",
    "CsvOutput",
    "Encryption",
    "Grantee",
    "Grant",
    "validate_vault_name",
    "job_from_parameters",
    "JobDescription",
)


@dataclass
class Recorded:
    """A call a catalogue row made: the builder's name and its arguments."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


class _Recorder:
    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Recorded:
        return Recorded(self.name, args, kwargs)

    def __getattr__(self, attribute: str) -> _Recorder:
        return _Recorder(f"{self.name}.{attribute}")


@contextmanager
def _recorders() -> Iterator[None]:
    saved = {name: getattr(model_catalogue, name) for name in _BUILDERS}
    try:
        for name in _BUILDERS:
            setattr(model_catalogue, name, _Recorder(name))
        yield
    finally:
        for name, value in saved.items():
            setattr(model_catalogue, name, value)


def _renamed(kwargs: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    return {names.get(key, key): value for key, value in kwargs.items()}


def _grantee_dict(call: Recorded) -> dict[str, Any]:
    return {Grantee.API_NAMES[key]: value for key, value in call.kwargs.items() if value is not None}


def _operator_arguments(call: Recorded) -> tuple[dict[str, dict[str, Any]], str | None]:
    """``{operator: arguments}`` for a recorded call, or the reason it has no operator form."""
    objects = [value for value in call.kwargs.values() if isinstance(value, Recorded)]
    if call.name == "validate_vault_name":
        return {name: {"vault_name": call.args[0]} for name in BASE}, None
    if call.name in _OWN:
        if OBJECT_MEMBERS & set(call.kwargs):
            return {}, "the operator builds this model object from flat arguments itself"
        targets = [_OWN[call.name]]
        if set(call.kwargs) <= set(_SHARED):
            targets = [name for name in JOB_OPERATORS if all(name in _SHARED[key] for key in call.kwargs)]
        return {name: _renamed(call.kwargs, _INVENTORY_NAMES) for name in targets}, None
    if call.name == "location":
        if OBJECT_MEMBERS & set(call.kwargs):
            return {}, "the operator takes encryption as flat values and grants as Glacier's dicts"
        return {SELECT: _renamed(call.kwargs, _LOCATION_NAMES)}, None
    if call.name in ("CsvInput", "CsvOutput"):
        names = _CSV_INPUT if call.name == "CsvInput" else _CSV_OUTPUT
        return {SELECT: _renamed(call.kwargs, names)}, None
    if call.name == "Encryption":
        return {SELECT: _renamed(call.kwargs, _ENCRYPTION_NAMES)}, None
    if call.name == "Grantee":
        return {SELECT: {"grants": [{"Grantee": _grantee_dict(call), "Permission": "READ"}]}}, None
    if call.name == "Grant" and isinstance(call.args[0], Recorded):
        grant = {"Grantee": _grantee_dict(call.args[0]), "Permission": call.args[1]}
        return {SELECT: {"grants": [grant]}}, None
    if call.name == "job_from_parameters":
        if not isinstance(call.args[0], Mapping):
            return {}, "not a dict: the hook's own type rule refuses it first (jobParameters must be ...)"
        return {}, "a jobParameters dict: taken by GlacierJobsHook.initiate_job (see the hook cases)"
    if call.name.startswith("JobDescription"):
        return {}, "a DescribeJob response, not an argument"
    assert objects or call.name == "Grant", call
    return {}, "the operator takes the grantee as Glacier's dict, not a Grantee object"


@dataclass(frozen=True)
class BadInput:
    """One catalogue rule as one operator's arguments; the error must name ``field``, ``value``, ``rule``."""

    row: str
    operator: str
    arguments: dict[str, Any]
    field: str
    value: Any
    rule: str

    @property
    def id(self) -> str:
        return f"{self.operator}: {self.row}"


def operator_cases() -> tuple[list[BadInput], list[tuple[str, str]], list[tuple[str, Callable[[], object]]]]:
    """(bad inputs through operators, rows with no operator form and why, jobParameters rows for the hook)."""
    cases: list[BadInput] = []
    skipped: list[tuple[str, str]] = []
    hook_rows: list[tuple[str, Callable[[], object]]] = []
    for row, build, field_name, value, rule in model_catalogue.CATALOGUE:
        with _recorders():
            call = build()
        assert isinstance(call, Recorded), row
        arguments, reason = _operator_arguments(call)
        if call.name == "job_from_parameters" and isinstance(call.args[0], Mapping):
            hook_rows.append((row, build))
        if reason is not None:
            skipped.append((row, reason))
        for operator, extra in arguments.items():
            cases.append(BadInput(row, operator, {**BASE[operator], **extra}, field_name, value, rule))
    return cases, skipped, hook_rows
