"""The bad-input catalogue: one row per documented rule, each naming the exact field, value and rule text.

The pure core sends nothing, so "nothing was sent" holds by construction here; the hook
tests prove it at the request level.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.jobs import (
    MIB,
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
    parse_byte_range,
    validate_vault_name,
)

S3 = "OutputLocation.S3"
CSV_IN = "SelectParameters.InputSerialization.csv"
CSV_OUT = "SelectParameters.OutputSerialization.csv"
INV = "InventoryRetrievalParameters"
BUCKET_RULE = (
    "must be 3-63 characters of lowercase letters, digits, '.' and '-', "
    "starting and ending with a letter or digit (a legacy us-east-1 bucket: 3-255 "
    "characters of letters, digits, '.', '-' and '_')"
)
ISO_RULE = "must be an ISO 8601 date-time such as 2024-01-31T00:00:00Z"
LIMIT_RULE = "must be an integer from 1 to 9223372036854775807"
UNALIGNED_END = "end+1 must be divisible by 1 MiB (1048576) or equal the archive size"
SNS_RULE = "must be an SNS topic ARN such as arn:aws:sns:us-east-1:123456789012:topic"
ARCHIVE_KEYS = "Type, Description, SNSTopic, ArchiveId, RetrievalByteRange, Tier"
INVENTORY_KEYS = "Type, Description, SNSTopic, Format, InventoryRetrievalParameters"
SELECT_KEYS = "Type, Description, SNSTopic, ArchiveId, Tier, SelectParameters, OutputLocation"


def archive(**overrides: Any) -> ArchiveRetrievalJob:
    return ArchiveRetrievalJob(**{"archive_id": "archive-1", **overrides})


def inventory(**overrides: Any) -> InventoryRetrievalJob:
    return InventoryRetrievalJob(**overrides)


def location(**overrides: Any) -> S3OutputLocation:
    return S3OutputLocation(**{"bucket_name": "results", "prefix": "out", **overrides})


def select(**overrides: Any) -> SelectJob:
    return SelectJob(
        **{
            "archive_id": "archive-1",
            "expression": "SELECT * FROM archive",
            "output_location": location(),
            **overrides,
        }
    )


def from_params(**params: Any) -> Callable[[], object]:
    return lambda: job_from_parameters(params)


SELECT_PARAMS = {"Expression": "SELECT * FROM archive"}
OUTPUT = {"S3": {"BucketName": "results", "Prefix": "out"}}

# (id, build, field, value, rule)
CATALOGUE: list[tuple[str, Callable[[], object], str, object, str]] = [
    # --- shared members
    ("archive id required", lambda: archive(archive_id=None), "ArchiveId", None, "is required"),
    ("archive id empty", lambda: archive(archive_id=""), "ArchiveId", "", "must not be empty"),
    ("archive id not a string", lambda: archive(archive_id=42), "ArchiveId", 42, "must be a string"),
    (
        "archive id with a space",
        lambda: select(archive_id="an id"),
        "ArchiveId",
        "an id",
        "must be printable ASCII without spaces (0x21-0x7E)",
    ),
    ("tier unknown", lambda: archive(tier="Fast"), "Tier", "Fast", "is not one of Expedited, Standard, Bulk"),
    (
        "tier is case-sensitive",
        lambda: select(tier="bulk"),
        "Tier",
        "bulk",
        "is not one of Expedited, Standard, Bulk",
    ),
    (
        "description control character",
        lambda: archive(description="a\tb"),
        "Description",
        "a\tb",
        "must be printable ASCII (0x20-0x7E)",
    ),
    (
        "description non-ASCII",
        lambda: inventory(description="café"),
        "Description",
        "café",
        "must be printable ASCII (0x20-0x7E)",
    ),
    (
        "description too long",
        lambda: select(description="x" * 1025),
        "Description",
        "x" * 1025,
        "must be at most 1024 bytes",
    ),
    ("description not a string", lambda: archive(description=1), "Description", 1, "must be a string"),
    ("sns topic not an arn", lambda: archive(sns_topic="my-topic"), "SNSTopic", "my-topic", SNS_RULE),
    (
        "sns topic of another service",
        lambda: inventory(sns_topic="arn:aws:sqs:us-east-1:123456789012:q"),
        "SNSTopic",
        "arn:aws:sqs:us-east-1:123456789012:q",
        SNS_RULE,
    ),
    # --- archive retrieval byte range
    (
        "range not start-end",
        lambda: archive(retrieval_byte_range="bytes=0-1048575"),
        "RetrievalByteRange",
        "bytes=0-1048575",
        "must have the form 'start-end' (decimal byte offsets)",
    ),
    (
        "range open end",
        lambda: archive(retrieval_byte_range="0-"),
        "RetrievalByteRange",
        "0-",
        "must have the form 'start-end' (decimal byte offsets)",
    ),
    (
        "range not a string",
        lambda: archive(retrieval_byte_range=(0, 1)),
        "RetrievalByteRange",
        (0, 1),
        "must be a string",
    ),
    (
        "range start after end",
        lambda: archive(retrieval_byte_range=f"{2 * MIB}-{MIB - 1}"),
        "RetrievalByteRange",
        f"{2 * MIB}-{MIB - 1}",
        "start must not be greater than end",
    ),
    (
        "range start unaligned",
        lambda: archive(retrieval_byte_range="1-1048575"),
        "RetrievalByteRange",
        "1-1048575",
        "start must be divisible by 1 MiB (1048576)",
    ),
    (
        "range end unaligned and short of the archive end",
        lambda: archive(retrieval_byte_range="0-4998", archive_size=5000),
        "RetrievalByteRange",
        "0-4998",
        f"{UNALIGNED_END} (5000 bytes)",
    ),
    (
        "range beyond the archive",
        lambda: archive(retrieval_byte_range="0-1048575", archive_size=5000),
        "RetrievalByteRange",
        "0-1048575",
        "end must be less than the archive size (5000 bytes)",
    ),
    (
        "archive size negative",
        lambda: archive(archive_size=-1),
        "archive_size",
        -1,
        "must be a non-negative integer",
    ),
    (
        "archive size bool",
        lambda: archive(archive_size=True),
        "archive_size",
        True,
        "must be a non-negative integer",
    ),
    # --- inventory retrieval
    ("format unknown", lambda: inventory(format="XML"), "Format", "XML", "is not one of JSON, CSV"),
    ("format lower case", lambda: inventory(format="json"), "Format", "json", "is not one of JSON, CSV"),
    (
        "start date prose",
        lambda: inventory(start_date="yesterday"),
        f"{INV}.StartDate",
        "yesterday",
        ISO_RULE,
    ),
    (
        "start date month 13",
        lambda: inventory(start_date="2024-13-01"),
        f"{INV}.StartDate",
        "2024-13-01",
        ISO_RULE,
    ),
    (
        "end date offset out of range",
        lambda: inventory(end_date="2024-01-01T00:00:00+24:00"),
        f"{INV}.EndDate",
        "2024-01-01T00:00:00+24:00",
        ISO_RULE,
    ),
    ("start date as number", lambda: inventory(start_date=20240101), f"{INV}.StartDate", 20240101, ISO_RULE),
    (
        "start date fraction of a second",
        lambda: inventory(start_date="2024-01-01T00:00:00.5Z"),
        f"{INV}.StartDate",
        "2024-01-01T00:00:00.5Z",
        "must be whole seconds (inventory dates have no fraction)",
    ),
    (
        "datetime with microseconds",
        lambda: inventory(end_date=datetime(2024, 1, 1, 0, 0, 0, 1)),
        f"{INV}.EndDate",
        datetime(2024, 1, 1, 0, 0, 0, 1),
        "must be whole seconds (inventory dates have no fraction)",
    ),
    (
        "end date before start date",
        lambda: inventory(start_date="2024-02-01", end_date="2024-01-01"),
        f"{INV}.EndDate",
        "2024-01-01T00:00:00Z",
        "must be after StartDate ('2024-02-01T00:00:00Z')",
    ),
    (
        "end date equal to start date",
        lambda: inventory(start_date="2024-02-01T01:00:00+01:00", end_date="2024-02-01"),
        f"{INV}.EndDate",
        "2024-02-01T00:00:00Z",
        "must be after StartDate ('2024-02-01T00:00:00Z')",
    ),
    ("limit zero", lambda: inventory(limit=0), f"{INV}.Limit", 0, LIMIT_RULE),
    ("limit negative string", lambda: inventory(limit="-5"), f"{INV}.Limit", "-5", LIMIT_RULE),
    ("limit bool", lambda: inventory(limit=True), f"{INV}.Limit", True, LIMIT_RULE),
    ("limit float", lambda: inventory(limit=10.0), f"{INV}.Limit", 10.0, LIMIT_RULE),
    ("limit words", lambda: inventory(limit="ten"), f"{INV}.Limit", "ten", LIMIT_RULE),
    ("limit padded", lambda: inventory(limit=" 10"), f"{INV}.Limit", " 10", LIMIT_RULE),
    ("limit beyond 64 bits", lambda: inventory(limit=2**63), f"{INV}.Limit", 2**63, LIMIT_RULE),
    ("marker empty", lambda: inventory(marker=""), f"{INV}.Marker", "", "must not be empty"),
    ("marker not a string", lambda: inventory(marker=5), f"{INV}.Marker", 5, "must be a string"),
    # --- select
    (
        "expression required",
        lambda: select(expression=None),
        "SelectParameters.Expression",
        None,
        "is required",
    ),
    (
        "expression empty",
        lambda: select(expression=""),
        "SelectParameters.Expression",
        "",
        "must not be empty",
    ),
    (
        "expression over the quota",
        lambda: select(expression="x" * 128_001),
        "SelectParameters.Expression",
        "x" * 128_001,
        "must be at most 128000 characters",
    ),
    (
        "expression type not SQL",
        lambda: select(expression_type="PartiQL"),
        "SelectParameters.ExpressionType",
        "PartiQL",
        "is not one of SQL",
    ),
    ("output location required", lambda: select(output_location=None), "OutputLocation", None, "is required"),
    (
        "output location as a dict",
        lambda: select(output_location=OUTPUT),
        "OutputLocation",
        OUTPUT,
        "must be an S3OutputLocation",
    ),
    (
        "input serialization as a dict",
        lambda: select(input_serialization={"csv": {}}),
        "SelectParameters.InputSerialization",
        {"csv": {}},
        "must be a CsvInput",
    ),
    (
        "output serialization wrong type",
        lambda: select(output_serialization=CsvInput()),
        "SelectParameters.OutputSerialization",
        CsvInput(),
        "must be a CsvOutput",
    ),
    (
        "file header info unknown",
        lambda: CsvInput(file_header_info="YES"),
        f"{CSV_IN}.FileHeaderInfo",
        "YES",
        "is not one of USE, IGNORE, NONE",
    ),
    (
        "comments two characters",
        lambda: CsvInput(comments="//"),
        f"{CSV_IN}.Comments",
        "//",
        "must be a single character",
    ),
    (
        "input field delimiter empty",
        lambda: CsvInput(field_delimiter=""),
        f"{CSV_IN}.FieldDelimiter",
        "",
        "must be a single character",
    ),
    (
        "input field delimiter tab",
        lambda: CsvInput(field_delimiter="\t"),
        f"{CSV_IN}.FieldDelimiter",
        "\t",
        "must be \\n, \\r or printable ASCII (0x20-0x7E)",
    ),
    (
        "input field delimiter non-ASCII",
        lambda: CsvInput(field_delimiter="§"),
        f"{CSV_IN}.FieldDelimiter",
        "§",
        "must be \\n, \\r or printable ASCII (0x20-0x7E)",
    ),
    (
        "input record delimiter CRLF",
        lambda: CsvInput(record_delimiter="\r\n"),
        f"{CSV_IN}.RecordDelimiter",
        "\r\n",
        "must be a single character",
    ),
    (
        "input quote character two",
        lambda: CsvInput(quote_character="''"),
        f"{CSV_IN}.QuoteCharacter",
        "''",
        "must be a single character",
    ),
    (
        "input escape not a string",
        lambda: CsvInput(quote_escape_character=92),
        f"{CSV_IN}.QuoteEscapeCharacter",
        92,
        "must be a string",
    ),
    (
        "quote fields unknown",
        lambda: CsvOutput(quote_fields="SOMETIMES"),
        f"{CSV_OUT}.QuoteFields",
        "SOMETIMES",
        "is not one of ALWAYS, ASNEEDED",
    ),
    (
        "output field delimiter two",
        lambda: CsvOutput(field_delimiter="||"),
        f"{CSV_OUT}.FieldDelimiter",
        "||",
        "must be a single character",
    ),
    (
        "output record delimiter CRLF",
        lambda: CsvOutput(record_delimiter="\r\n"),
        f"{CSV_OUT}.RecordDelimiter",
        "\r\n",
        "must be a single character",
    ),
    (
        "output quote escape two",
        lambda: CsvOutput(quote_escape_character="\\\\"),
        f"{CSV_OUT}.QuoteEscapeCharacter",
        "\\\\",
        "must be a single character",
    ),
    (
        "output quote character empty",
        lambda: CsvOutput(quote_character=""),
        f"{CSV_OUT}.QuoteCharacter",
        "",
        "must be a single character",
    ),
    # --- S3 output location
    ("bucket required", lambda: location(bucket_name=None), f"{S3}.BucketName", None, "is required"),
    ("bucket too short", lambda: location(bucket_name="ab"), f"{S3}.BucketName", "ab", BUCKET_RULE),
    ("bucket too long", lambda: location(bucket_name="b" * 256), f"{S3}.BucketName", "b" * 256, BUCKET_RULE),
    (
        "legacy bucket with a space",
        lambda: location(bucket_name="My Bucket"),
        f"{S3}.BucketName",
        "My Bucket",
        BUCKET_RULE,
    ),
    (
        "bucket leading hyphen",
        lambda: location(bucket_name="-bucket"),
        f"{S3}.BucketName",
        "-bucket",
        BUCKET_RULE,
    ),
    (
        "bucket trailing dot",
        lambda: location(bucket_name="bucket."),
        f"{S3}.BucketName",
        "bucket.",
        BUCKET_RULE,
    ),
    (
        "bucket adjacent periods",
        lambda: location(bucket_name="my..bucket"),
        f"{S3}.BucketName",
        "my..bucket",
        "must not contain two adjacent periods",
    ),
    (
        "bucket like an IP address",
        lambda: location(bucket_name="192.168.5.4"),
        f"{S3}.BucketName",
        "192.168.5.4",
        "must not be formatted as an IP address",
    ),
    ("prefix required", lambda: location(prefix=None), f"{S3}.Prefix", None, "is required"),
    ("prefix empty", lambda: location(prefix=""), f"{S3}.Prefix", "", "must not be empty"),
    (
        "prefix over 512 bytes",
        lambda: location(prefix="é" * 257),
        f"{S3}.Prefix",
        "é" * 257,
        "must be at most 512 bytes (UTF-8)",
    ),
    (
        # S3Location lists both members; S3 (PutObject) refuses a canned ACL with explicit grants.
        "canned acl with grants",
        lambda: location(
            canned_acl="private",
            access_control_list=(Grant(Grantee(type="CanonicalUser", id="abc"), "READ"),),
        ),
        f"{S3}.AccessControlList",
        [{"Grantee": {"Type": "CanonicalUser", "ID": "abc"}, "Permission": "READ"}],
        "must be empty when CannedACL is given ('private'): "
        "S3 takes a canned ACL or explicit grants, not both",
    ),
    (
        "canned acl unknown",
        lambda: location(canned_acl="public"),
        f"{S3}.CannedACL",
        "public",
        "is not one of private, public-read, public-read-write, aws-exec-read, authenticated-read, "
        "bucket-owner-read, bucket-owner-full-control",
    ),
    (
        "storage class not for results",
        lambda: location(storage_class="GLACIER"),
        f"{S3}.StorageClass",
        "GLACIER",
        "is not one of STANDARD, REDUCED_REDUNDANCY, STANDARD_IA",
    ),
    (
        "tag value not a string",
        lambda: location(tagging={"team": 1}),
        f"{S3}.Tagging",
        {"team": 1},
        "must map strings to strings",
    ),
    (
        "metadata key not a string",
        lambda: location(user_metadata={1: "a"}),
        f"{S3}.UserMetadata",
        {1: "a"},
        "must map strings to strings",
    ),
    (
        "tagging not a mapping",
        lambda: location(tagging="team=data"),
        f"{S3}.Tagging",
        "team=data",
        "must be a mapping",
    ),
    (
        "encryption as a dict",
        lambda: location(encryption={"EncryptionType": "AES256"}),
        f"{S3}.Encryption",
        {"EncryptionType": "AES256"},
        "must be an Encryption",
    ),
    (
        "encryption type unknown",
        lambda: Encryption(encryption_type="aws:kms:dsse"),
        f"{S3}.Encryption.EncryptionType",
        "aws:kms:dsse",
        "is not one of AES256, aws:kms",
    ),
    (
        "kms key with AES256",
        lambda: Encryption(encryption_type="AES256", kms_key_id="key-1"),
        f"{S3}.Encryption.KMSKeyId",
        "key-1",
        "is allowed only when EncryptionType is 'aws:kms'",
    ),
    (
        "kms context without a type",
        lambda: Encryption(kms_context="e30="),
        f"{S3}.Encryption.KMSContext",
        "e30=",
        "is allowed only when EncryptionType is 'aws:kms'",
    ),
    (
        "acl holds a dict",
        lambda: location(access_control_list=[{"Permission": "READ"}]),
        f"{S3}.AccessControlList",
        [{"Permission": "READ"}],
        "must be a sequence of Grant",
    ),
    (
        "grantee type unknown",
        lambda: Grantee(type="User", id="x"),
        f"{S3}.AccessControlList.Grantee.Type",
        "User",
        "is not one of AmazonCustomerByEmail, CanonicalUser, Group",
    ),
    (
        "grantee type required",
        lambda: Grantee(type=None, id="x"),
        f"{S3}.AccessControlList.Grantee.Type",
        None,
        "is required",
    ),
    (
        "canonical user without id",
        lambda: Grantee(type="CanonicalUser", email_address="a@example.com"),
        f"{S3}.AccessControlList.Grantee.ID",
        None,
        "is required when Type is CanonicalUser",
    ),
    (
        "email grantee without email",
        lambda: Grantee(type="AmazonCustomerByEmail", email_address=""),
        f"{S3}.AccessControlList.Grantee.EmailAddress",
        "",
        "is required when Type is AmazonCustomerByEmail",
    ),
    (
        "group without uri",
        lambda: Grantee(type="Group", id="x"),
        f"{S3}.AccessControlList.Grantee.URI",
        None,
        "is required when Type is Group",
    ),
    (
        "grantee display name not a string",
        lambda: Grantee(type="Group", uri="u", display_name=3),
        f"{S3}.AccessControlList.Grantee.DisplayName",
        3,
        "must be a string",
    ),
    (
        "permission unknown",
        lambda: Grant(Grantee(type="Group", uri="u"), "ALL"),
        f"{S3}.AccessControlList.Permission",
        "ALL",
        "is not one of FULL_CONTROL, WRITE, WRITE_ACP, READ, READ_ACP",
    ),
    (
        "grant of a dict grantee",
        lambda: Grant({"Type": "Group"}, "READ"),
        f"{S3}.AccessControlList.Grantee",
        {"Type": "Group"},
        "must be a Grantee",
    ),
    # --- job_from_parameters: required and forbidden members per Type
    (
        "parameters not a mapping",
        lambda: job_from_parameters(["Type"]),
        "jobParameters",
        ["Type"],
        "must be a mapping",
    ),
    ("type required", from_params(ArchiveId="a"), "Type", None, "is required"),
    (
        "type unknown",
        from_params(Type="restore"),
        "Type",
        "restore",
        "is not one of archive-retrieval, inventory-retrieval, select",
    ),
    (
        "byte range on inventory",
        from_params(**{"Type": "inventory-retrieval", "RetrievalByteRange": "0-1048575"}),
        "RetrievalByteRange",
        "0-1048575",
        f"is not allowed in inventory-retrieval job parameters (allowed: {INVENTORY_KEYS})",
    ),
    (
        "archive id on inventory",
        from_params(Type="inventory-retrieval", ArchiveId="a"),
        "ArchiveId",
        "a",
        f"is not allowed in inventory-retrieval job parameters (allowed: {INVENTORY_KEYS})",
    ),
    (
        "tier on inventory",
        from_params(Type="inventory-retrieval", Tier="Bulk"),
        "Tier",
        "Bulk",
        f"is not allowed in inventory-retrieval job parameters (allowed: {INVENTORY_KEYS})",
    ),
    (
        "inventory parameters on archive retrieval",
        from_params(Type="archive-retrieval", ArchiveId="a", InventoryRetrievalParameters={"Limit": "1"}),
        "InventoryRetrievalParameters",
        {"Limit": "1"},
        f"is not allowed in archive-retrieval job parameters (allowed: {ARCHIVE_KEYS})",
    ),
    (
        "format on archive retrieval",
        from_params(Type="archive-retrieval", ArchiveId="a", Format="CSV"),
        "Format",
        "CSV",
        f"is not allowed in archive-retrieval job parameters (allowed: {ARCHIVE_KEYS})",
    ),
    (
        "select parameters on archive retrieval",
        from_params(Type="archive-retrieval", ArchiveId="a", SelectParameters=SELECT_PARAMS),
        "SelectParameters",
        SELECT_PARAMS,
        f"is not allowed in archive-retrieval job parameters (allowed: {ARCHIVE_KEYS})",
    ),
    (
        "byte range on select",
        from_params(
            Type="select",
            ArchiveId="a",
            SelectParameters=SELECT_PARAMS,
            OutputLocation=OUTPUT,
            RetrievalByteRange="0-1",
        ),
        "RetrievalByteRange",
        "0-1",
        f"is not allowed in select job parameters (allowed: {SELECT_KEYS})",
    ),
    (
        "archive id required for archive retrieval",
        from_params(Type="archive-retrieval"),
        "ArchiveId",
        None,
        "is required",
    ),
    (
        "archive id required for select",
        from_params(Type="select", SelectParameters=SELECT_PARAMS, OutputLocation=OUTPUT),
        "ArchiveId",
        None,
        "is required",
    ),
    (
        "select parameters required",
        from_params(Type="select", ArchiveId="a", OutputLocation=OUTPUT),
        "SelectParameters",
        None,
        "is required",
    ),
    (
        "output location required for select",
        from_params(Type="select", ArchiveId="a", SelectParameters=SELECT_PARAMS),
        "OutputLocation",
        None,
        "is required",
    ),
    (
        "unknown inventory member",
        from_params(Type="inventory-retrieval", InventoryRetrievalParameters={"Count": "5"}),
        f"{INV}.Count",
        "5",
        f"is not allowed in {INV} (allowed: StartDate, EndDate, Limit, Marker)",
    ),
    (
        "inventory parameters not a mapping",
        from_params(Type="inventory-retrieval", InventoryRetrievalParameters="Limit=5"),
        INV,
        "Limit=5",
        "must be a mapping",
    ),
    (
        "json input serialization",
        from_params(
            Type="select",
            ArchiveId="a",
            SelectParameters={**SELECT_PARAMS, "InputSerialization": {"json": {}}},
            OutputLocation=OUTPUT,
        ),
        "SelectParameters.InputSerialization.json",
        {},
        "is not allowed in SelectParameters.InputSerialization (allowed: csv)",
    ),
    (
        "unknown csv member",
        from_params(
            Type="select",
            ArchiveId="a",
            SelectParameters={**SELECT_PARAMS, "OutputSerialization": {"csv": {"Header": "USE"}}},
            OutputLocation=OUTPUT,
        ),
        f"{CSV_OUT}.Header",
        "USE",
        f"is not allowed in {CSV_OUT} (allowed: QuoteFields, QuoteEscapeCharacter, RecordDelimiter, "
        "FieldDelimiter, QuoteCharacter)",
    ),
    (
        "output location not S3",
        from_params(Type="select", ArchiveId="a", SelectParameters=SELECT_PARAMS, OutputLocation={"S4": {}}),
        "OutputLocation.S4",
        {},
        "is not allowed in OutputLocation (allowed: S3)",
    ),
    (
        "S3 location missing",
        from_params(Type="select", ArchiveId="a", SelectParameters=SELECT_PARAMS, OutputLocation={}),
        S3,
        None,
        "is required",
    ),
    (
        "acl not a list",
        from_params(
            Type="select",
            ArchiveId="a",
            SelectParameters=SELECT_PARAMS,
            OutputLocation={"S3": {**OUTPUT["S3"], "AccessControlList": "private"}},
        ),
        f"{S3}.AccessControlList",
        "private",
        "must be a list of grants",
    ),
    (
        "grant without grantee",
        from_params(
            Type="select",
            ArchiveId="a",
            SelectParameters=SELECT_PARAMS,
            OutputLocation={"S3": {**OUTPUT["S3"], "AccessControlList": [{"Permission": "READ"}]}},
        ),
        f"{S3}.AccessControlList.Grantee",
        None,
        "is required",
    ),
    # --- vault names
    (
        "vault name empty",
        lambda: validate_vault_name(""),
        "vaultName",
        "",
        "must be 1-255 characters of a-z, A-Z, 0-9, '_', '-', '.'",
    ),
    (
        "vault name too long",
        lambda: validate_vault_name("v" * 256),
        "vaultName",
        "v" * 256,
        "must be 1-255 characters of a-z, A-Z, 0-9, '_', '-', '.'",
    ),
    (
        "vault name with a slash",
        lambda: validate_vault_name("a/b"),
        "vaultName",
        "a/b",
        "must be 1-255 characters of a-z, A-Z, 0-9, '_', '-', '.'",
    ),
    ("vault name not a string", lambda: validate_vault_name(None), "vaultName", None, "must be a string"),
    # --- job descriptions
    (
        "description without job id",
        lambda: JobDescription.from_response({"Action": "Select"}),
        "JobId",
        None,
        "is required",
    ),
    (
        "completed not a boolean",
        lambda: JobDescription.from_response({"JobId": "J", "Completed": "true"}),
        "Completed",
        "true",
        "must be a boolean",
    ),
    (
        "size negative",
        lambda: JobDescription.from_response({"JobId": "J", "ArchiveSizeInBytes": -1}),
        "ArchiveSizeInBytes",
        -1,
        "must be a non-negative integer",
    ),
    (
        "status not a string",
        lambda: JobDescription.from_response({"JobId": "J", "StatusCode": 200}),
        "StatusCode",
        200,
        "must be a string",
    ),
    (
        "nested structure not a mapping",
        lambda: JobDescription.from_response({"JobId": "J", "OutputLocation": "s3://b/p"}),
        "OutputLocation",
        "s3://b/p",
        "must be a mapping",
    ),
    (
        "response not a mapping",
        lambda: JobDescription.from_response("J"),
        "DescribeJob response",
        "J",
        "must be a mapping",
    ),
]


@pytest.mark.parametrize(
    ("build", "field", "value", "rule"), [row[1:] for row in CATALOGUE], ids=[row[0] for row in CATALOGUE]
)
def test_bad_input_names_field_value_and_rule(build, field, value, rule):
    with pytest.raises(GlacierValidationError) as caught:
        build()
    error = caught.value
    assert (error.field, error.rule) == (field, rule)
    assert error.value == value
    assert str(error) == f"{field}: {value!r} {rule}"


def test_parse_byte_range_checks_archive_size_itself():
    with pytest.raises(GlacierValidationError, match=r"^archive_size: -5 must be a non-negative integer$"):
        parse_byte_range("0-1048575", archive_size=-5)


def test_catalogue_ids_are_unique():
    ids = [row[0] for row in CATALOGUE]
    assert len(ids) == len(set(ids))
