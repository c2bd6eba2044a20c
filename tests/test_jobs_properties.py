"""Property tests: any input either builds a request botocore accepts, or fails with GlacierValidationError.

Plausible strategies draw only valid jobs (rules relating arguments included: date order,
a byte range against the archive size, a KMS key only with ``aws:kms``), and each one must
be accepted. Junky strategies spoil one argument with junk of every JSON-ish type, so the
refused side is exercised too; every accepted job must round-trip through
``job_from_parameters`` unchanged.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.jobs import (
    JOB_TYPES,
    MIB,
    TIERS,
    ArchiveRetrievalJob,
    CsvInput,
    CsvOutput,
    Encryption,
    Grant,
    Grantee,
    InventoryRetrievalJob,
    JobDescription,
    S3OutputLocation,
    SelectJob,
    job_from_parameters,
)
from tests.support.jobs_model import describe_job_errors, describe_job_shape, initiate_job_errors

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Each example of these draws one object per job type (or per part), so 100 examples
# still build 300-600 objects while keeping the suite fast on shared CI cores.
COMPOSITE_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=100)

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=2),
)


visible = st.text(alphabet=[chr(c) for c in range(0x21, 0x7F)], min_size=1, max_size=30)
printable = st.text(alphabet=[chr(c) for c in range(0x20, 0x7F)], max_size=40)
topics = st.builds(
    "arn:aws:sns:{}:{:012d}:{}".format,
    st.sampled_from(["us-east-1", "eu-west-2", "ap-southeast-1"]),
    st.integers(0, 10**12 - 1),
    st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=8),
)
byte_ranges = st.builds(
    lambda start, length: f"{start * MIB}-{(start + length) * MIB - 1}", st.integers(0, 8), st.integers(1, 8)
)
offsets = st.integers(-23 * 60, 23 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
# Years 1000-9000: an offset can move year 1 or 9999 out of range once the date is read as UTC.
datetimes = st.datetimes(
    min_value=datetime(1000, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.none() | offsets
).map(lambda moment: moment.replace(microsecond=0))
as_text_or_not = st.sampled_from([lambda moment: moment, lambda moment: moment.isoformat()])
dates = st.builds(lambda moment, form: form(moment), datetimes, as_text_or_not)
# FieldDelimiter must be \n, \r or printable ASCII; the other CSV characters may be any character.
field_delimiters = st.sampled_from("\n\r") | st.characters(min_codepoint=0x20, max_codepoint=0x7E)
limits = st.integers(1, 2**63 - 1) | st.integers(1, 10**6).map(str)
characters = st.characters()
_bucket_edge = st.sampled_from(string.ascii_lowercase + string.digits)
buckets = st.builds(
    "{}{}{}".format,
    _bucket_edge,
    st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=8),
    _bucket_edge,
)
string_maps = st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy | st.none()


def nested(name: str) -> st.SearchStrategy[Any]:
    return st.deferred(lambda: PLAUSIBLE[name])


_archive_size = st.integers(0, 64 * MIB)
# Every constructor with a plausible strategy per argument: each value is valid on its own.
# Rules relating arguments (date order, a byte range against the archive size, a KMS key
# with AES256, a canned ACL with grants) are honoured by the PLAUSIBLE overrides below, so a
# plausible job is valid.
CONSTRUCTORS: dict[str, tuple[Callable[..., Any], dict[str, st.SearchStrategy[Any]]]] = {
    "CsvInput": (
        CsvInput,
        {
            "file_header_info": opt(st.sampled_from(["USE", "IGNORE", "NONE"])),
            "comments": opt(characters),
            "quote_escape_character": opt(characters),
            "record_delimiter": opt(characters),
            "field_delimiter": opt(field_delimiters),
            "quote_character": opt(characters),
        },
    ),
    "CsvOutput": (
        CsvOutput,
        {
            "quote_fields": opt(st.sampled_from(["ALWAYS", "ASNEEDED"])),
            "quote_escape_character": opt(characters),
            "record_delimiter": opt(characters),
            "field_delimiter": opt(characters),
            "quote_character": opt(characters),
        },
    ),
    "Grantee": (
        Grantee,
        {
            "type": st.sampled_from(["AmazonCustomerByEmail", "CanonicalUser", "Group"]),
            "display_name": opt(printable),
            "uri": visible,
            "id": visible,
            "email_address": visible,
        },
    ),
    "Grant": (Grant, {"grantee": nested("Grantee"), "permission": st.sampled_from(["READ", "WRITE_ACP"])}),
    "Encryption": (
        Encryption,
        {
            "encryption_type": st.sampled_from(["aws:kms", "aws:kms", "AES256"]),
            "kms_key_id": opt(visible),
            "kms_context": opt(visible),
        },
    ),
    "S3OutputLocation": (
        S3OutputLocation,
        {
            "bucket_name": buckets,
            "prefix": visible,
            "encryption": opt(nested("Encryption")),
            "canned_acl": opt(st.sampled_from(["private", "bucket-owner-read", "aws-exec-read"])),
            "access_control_list": st.lists(nested("Grant"), max_size=2).map(tuple),
            "tagging": opt(string_maps),
            "user_metadata": opt(string_maps),
            "storage_class": opt(st.sampled_from(["STANDARD", "STANDARD_IA", "REDUCED_REDUNDANCY"])),
        },
    ),
    "archive-retrieval": (
        ArchiveRetrievalJob,
        {
            "archive_id": visible,
            "description": opt(printable),
            "sns_topic": opt(topics),
            "retrieval_byte_range": opt(byte_ranges | _archive_size.map(lambda size: f"0-{size}")),
            "tier": opt(st.sampled_from(TIERS)),
            "archive_size": opt(_archive_size.map(lambda size: size + 8 * MIB)),
        },
    ),
    "inventory-retrieval": (
        InventoryRetrievalJob,
        {
            "format": st.sampled_from(["JSON", "CSV"]),
            "description": opt(printable),
            "sns_topic": opt(topics),
            "start_date": opt(dates),
            "end_date": opt(dates),
            "limit": opt(limits),
            "marker": opt(visible),
        },
    ),
    "select": (
        SelectJob,
        {
            "archive_id": visible,
            "expression": st.text(min_size=1, max_size=30),
            "output_location": nested("S3OutputLocation"),
            "input_serialization": nested("CsvInput"),
            "output_serialization": nested("CsvOutput"),
            "expression_type": st.just("SQL"),
            "description": opt(printable),
            "sns_topic": opt(topics),
            "tier": opt(st.sampled_from(TIERS)),
        },
    ),
}


def _drawn(draw: st.DrawFn, name: str, **fixed: Any) -> dict[str, Any]:
    """Plausible values for each argument of ``name`` not given in ``fixed``."""
    _, arguments = CONSTRUCTORS[name]
    return {
        argument: draw(strategy) for argument, strategy in arguments.items() if argument not in fixed
    } | fixed


@st.composite
def valid_encryptions(draw: st.DrawFn) -> Encryption:
    """A KMS key id and context only with ``aws:kms``."""
    if draw(st.booleans()):
        return Encryption(**_drawn(draw, "Encryption", encryption_type="aws:kms"))
    return Encryption(encryption_type="AES256")


@st.composite
def valid_archive_retrievals(draw: st.DrawFn) -> ArchiveRetrievalJob:
    """A byte range that starts on a MiB and ends on one or at the last byte of a known size."""
    size = draw(opt(st.integers(1, 64 * MIB)))
    byte_range = draw(opt(byte_ranges))
    if size is not None and byte_range is not None:
        start = draw(st.integers(0, (size - 1) // MIB))
        aligned_ends = [block * MIB - 1 for block in range(start + 1, start + 9) if block * MIB <= size]
        byte_range = f"{start * MIB}-{draw(st.sampled_from([size - 1, *aligned_ends]))}"
    fixed = {"retrieval_byte_range": byte_range, "archive_size": size}
    return ArchiveRetrievalJob(**_drawn(draw, "archive-retrieval", **fixed))


@st.composite
def valid_inventory_retrievals(draw: st.DrawFn) -> InventoryRetrievalJob:
    """EndDate (exclusive) after StartDate (inclusive), when both are given."""
    start = draw(opt(datetimes))
    end = draw(opt(datetimes))
    if start is not None and end is not None:
        end = start + timedelta(seconds=draw(st.integers(1, 10**9)))
    dates = {"start_date": start, "end_date": end}
    fixed = {name: None if moment is None else draw(as_text_or_not)(moment) for name, moment in dates.items()}
    return InventoryRetrievalJob(**_drawn(draw, "inventory-retrieval", **fixed))


PLAUSIBLE = {name: st.builds(build, **arguments) for name, (build, arguments) in CONSTRUCTORS.items()}
_S3_ARGUMENTS = CONSTRUCTORS["S3OutputLocation"][1]
PLAUSIBLE |= {
    # A canned ACL or explicit grants, not both (S3 refuses the pair; so does the package).
    "S3OutputLocation": st.one_of(
        st.builds(S3OutputLocation, **(_S3_ARGUMENTS | {"access_control_list": st.just(())})),
        st.builds(S3OutputLocation, **(_S3_ARGUMENTS | {"canned_acl": st.none()})),
    ),
    "Encryption": valid_encryptions(),
    "archive-retrieval": valid_archive_retrievals(),
    "inventory-retrieval": valid_inventory_retrievals(),
}


@st.composite
def spoiled(draw: st.DrawFn, name: str) -> Any:
    """Plausible arguments except one, which is junk: every argument's junk handling gets exercised."""
    build, arguments = CONSTRUCTORS[name]
    bad = draw(st.sampled_from(sorted(arguments)))
    values = {argument: draw(strategy) for argument, strategy in arguments.items() if argument != bad}
    return build(**values, **{bad: draw(junk)})


JUNKY = {name: spoiled(name) for name in CONSTRUCTORS}
JOBS = ("archive-retrieval", "inventory-retrieval", "select")
PARTS = ("CsvInput", "CsvOutput", "Grantee", "Grant", "Encryption", "S3OutputLocation")


def built_or_refused(draw: st.DrawFn, strategy: st.SearchStrategy[Any]) -> Any:
    """The drawn object, or None when its constructor refused the input with GlacierValidationError.

    Any other exception escapes and fails the property.
    """
    try:
        return draw(strategy)
    except GlacierValidationError as error:
        assert str(error).startswith(f"{error.field}: ")
        event(f"refused: {error.field}")
        return None


def check_job(job: Any) -> None:
    """An accepted job builds a request botocore accepts, and job_from_parameters rebuilds it exactly."""
    params = job.to_job_parameters()
    event(f"accepted {job.job_type}")
    assert params["Type"] == job.job_type
    assert initiate_job_errors(params) == ""
    wire = json.loads(json.dumps(params))
    assert wire == params
    rebuilt = job_from_parameters(wire, archive_size=getattr(job, "archive_size", None))
    assert rebuilt == job
    assert rebuilt.to_job_parameters() == params


def check_part(part: Any) -> None:
    """An accepted serialisation or location part is plain JSON and its from_api rebuilds it exactly."""
    event(f"accepted {type(part).__name__}")
    if isinstance(part, S3OutputLocation):
        api = part.to_output_location()
        rebuilt: Any = S3OutputLocation.from_output_location(api)
    else:
        api = part.to_api()
        rebuilt = type(part).from_api(api)
    assert json.loads(json.dumps(api)) == api
    assert rebuilt == part


@COMPOSITE_SETTINGS
@given(st.data())
def test_plausible_jobs_are_accepted_and_build_valid_requests_that_round_trip(data):
    for name in JOBS:
        check_job(data.draw(PLAUSIBLE[name]))  # a refusal (GlacierValidationError) fails the property


@COMPOSITE_SETTINGS
@given(st.data())
def test_any_job_input_is_refused_only_with_validation_errors(data):
    for name in JOBS:
        job = built_or_refused(data.draw, JUNKY[name])
        if job is not None:
            check_job(job)


@COMPOSITE_SETTINGS
@given(st.data())
def test_plausible_serialisation_and_location_parts_are_accepted_and_round_trip(data):
    for name in PARTS:
        check_part(data.draw(PLAUSIBLE[name]))


@COMPOSITE_SETTINGS
@given(st.data())
def test_junky_serialisation_and_location_parts_round_trip_or_refuse(data):
    for name in PARTS:
        part = built_or_refused(data.draw, JUNKY[name])
        if part is not None:
            check_part(part)


JOB_KEYS = (
    "Type",
    "Format",
    "ArchiveId",
    "Description",
    "SNSTopic",
    "RetrievalByteRange",
    "Tier",
    "InventoryRetrievalParameters",
    "SelectParameters",
    "OutputLocation",
    "Unknown",
)


def _nested(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), junk | st.sampled_from(["1", "SQL", "CSV"]), max_size=3)


job_values = st.one_of(
    junk,
    st.sampled_from([*JOB_TYPES, *TIERS, "JSON", "0-1048575", "archive-1"]),
    _nested(["StartDate", "EndDate", "Limit", "Marker", "Other"]),
    st.fixed_dictionaries(
        {"Expression": st.text(max_size=5)},
        optional={
            "InputSerialization": st.fixed_dictionaries({"csv": _nested(["FileHeaderInfo", "Comments", "X"])})
            | junk,
            "OutputSerialization": st.fixed_dictionaries({"csv": _nested(["QuoteFields", "X"])}) | junk,
            "ExpressionType": st.sampled_from(["SQL", "sql"]),
        },
    ),
    st.fixed_dictionaries(
        {"S3": _nested(["BucketName", "Prefix", "CannedACL", "AccessControlList", "Tagging"])}
    ),
)


# Valid inputs the properties below always try first: refusing one fails the test, so a
# property cannot pass by refusing everything.
VALID_JOB_PARAMETERS = {
    "Type": "archive-retrieval",
    "ArchiveId": "archive-1",
    "Tier": "Bulk",
    "Description": "restore",
}
VALID_DESCRIBE_JOB = {
    "JobId": "job-1",
    "Action": "InventoryRetrieval",
    "StatusCode": "Succeeded",
    "Completed": True,
    "InventorySizeInBytes": 10,
}


@PROPERTY_SETTINGS
@given(
    st.dictionaries(st.sampled_from(JOB_KEYS), job_values, max_size=5) | junk,
    st.sampled_from(JOB_TYPES),
)
@example(VALID_JOB_PARAMETERS, "archive-retrieval")
def test_job_from_parameters_refuses_only_with_validation_errors(params, job_type):
    if isinstance(params, dict) and "Type" not in params:
        params = {**params, "Type": job_type}
    try:
        job = job_from_parameters(params)
    except GlacierValidationError as error:
        assert params is not VALID_JOB_PARAMETERS, error
        assert str(error).startswith(f"{error.field}: "), error
        return
    assert initiate_job_errors(job.to_job_parameters()) == ""


_response_value: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "string": lambda: st.text(max_size=8),
    "boolean": st.booleans,
    "long": lambda: st.integers(0, 2**45),
    "structure": lambda: st.dictionaries(
        st.text(max_size=4), st.text(max_size=4) | st.integers(), max_size=2
    ),
}
response_members = st.fixed_dictionaries(
    {"JobId": st.text(min_size=1, max_size=8) | junk},
    optional={
        key: st.one_of(_response_value[shape.type_name](), junk)
        for key, shape in describe_job_shape().members.items()
        if key != "JobId"
    },
)


@PROPERTY_SETTINGS
@given(response_members | junk)
@example(VALID_DESCRIBE_JOB)
def test_job_description_reads_any_response_or_refuses_with_validation_error(response):
    try:
        job = JobDescription.from_response(response)
    except GlacierValidationError as error:
        assert response is not VALID_DESCRIBE_JOB, error
        assert str(error).startswith(f"{error.field}: "), error
        return
    as_dict = json.loads(json.dumps(job.to_dict()))
    assert as_dict == job.to_dict()
    # Nested structures are kept as Glacier sent them (unknown members included), so
    # botocore's shape judges the top level only.
    top_level = {key: value for key, value in as_dict.items() if not isinstance(value, dict)}
    assert describe_job_errors(top_level) == ""
    assert JobDescription.from_response(as_dict) == job
    assert job.output_size is None or job.output_size >= 0
