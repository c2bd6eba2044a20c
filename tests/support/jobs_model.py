"""botocore's own Glacier model, used by the job-model tests as the independent judge of request shapes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape
from botocore.validate import ParamValidator

from airflow_glacier_select.jobs import (
    MIB,
    ArchiveRetrievalJob,
    CsvInput,
    CsvOutput,
    Encryption,
    Grant,
    Grantee,
    InventoryRetrievalJob,
    S3OutputLocation,
    SelectJob,
)


@cache
def glacier_model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("glacier")


def initiate_job_errors(job_parameters: dict[str, Any]) -> str:
    """botocore's validation report for a full InitiateJob request ('' when botocore accepts it)."""
    request = {"accountId": "-", "vaultName": "my-vault", "jobParameters": job_parameters}
    shape = glacier_model().operation_model("InitiateJob").input_shape
    return ParamValidator().validate(request, shape).generate_report()


def describe_job_shape() -> Shape:
    return glacier_model().operation_model("DescribeJob").output_shape


def describe_job_errors(response: dict[str, Any]) -> str:
    """botocore's report on whether a response dict has the DescribeJob output shape."""
    return ParamValidator().validate(response, describe_job_shape()).generate_report()


ARCHIVE_ID = (
    "NkbByEejwEggmBz2fTHgJrg0XBoDfjP4q6iu87-TjhqG6eGoOY9Z8i1_AUyUsuhPAdTqLHy8pTl5nfCFJmDl2yEZONi5L26Omw12v"
    "cs01MNGntHEQL8MBfGlqrEXAMPLEArchiveId"
)
TOPIC = "arn:aws:sns:us-east-1:123456789012:glacier-jobs"
MARKER = "vyS0t2jHQe5qbcDggIeD50chS1SXwYMrkVKo0KHiTUjEYxBGCqRLKaiySzdN"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def full_output_location() -> S3OutputLocation:
    return S3OutputLocation(
        bucket_name="select-results.example-1",
        prefix="queries/daily",
        encryption=Encryption(encryption_type="aws:kms", kms_key_id=KMS_KEY, kms_context="e30="),
        access_control_list=(
            Grant(
                Grantee(type="CanonicalUser", id="79a59df900b949e55d96a1e698fbace", display_name="ops"),
                "READ",
            ),
            Grant(Grantee(type="AmazonCustomerByEmail", email_address="ops@example.com"), "READ_ACP"),
            Grant(Grantee(type="Group", uri="http://acs.amazonaws.com/groups/global/AllUsers"), "WRITE_ACP"),
        ),
        tagging={"team": "data", "cost-centre": "42"},
        user_metadata={"source": "glacier-select"},
        storage_class="STANDARD_IA",
    )


FULL_OUTPUT_LOCATION_DICT = {
    "S3": {
        "BucketName": "select-results.example-1",
        "Prefix": "queries/daily",
        "Encryption": {"EncryptionType": "aws:kms", "KMSKeyId": KMS_KEY, "KMSContext": "e30="},
        "AccessControlList": [
            {
                "Grantee": {
                    "Type": "CanonicalUser",
                    "DisplayName": "ops",
                    "ID": "79a59df900b949e55d96a1e698fbace",
                },
                "Permission": "READ",
            },
            {
                "Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "ops@example.com"},
                "Permission": "READ_ACP",
            },
            {
                "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                "Permission": "WRITE_ACP",
            },
        ],
        "Tagging": {"team": "data", "cost-centre": "42"},
        "UserMetadata": {"source": "glacier-select"},
        "StorageClass": "STANDARD_IA",
    }
}


def full_jobs() -> list[tuple[object, dict]]:
    """Each job type with every member set, next to the exact dict boto3 must receive."""
    return [
        (
            ArchiveRetrievalJob(
                archive_id=ARCHIVE_ID,
                description="restore 2019 ledger",
                sns_topic=TOPIC,
                retrieval_byte_range=f"{2 * MIB}-{5 * MIB - 1}",
                tier="Bulk",
            ),
            {
                "Type": "archive-retrieval",
                "Description": "restore 2019 ledger",
                "SNSTopic": TOPIC,
                "ArchiveId": ARCHIVE_ID,
                "RetrievalByteRange": "2097152-5242879",
                "Tier": "Bulk",
            },
        ),
        (
            InventoryRetrievalJob(
                format="CSV",
                description="monthly audit",
                sns_topic=TOPIC,
                start_date="2024-01-01T00:00:00Z",
                end_date=datetime(2024, 2, 1, 1, 0, tzinfo=timezone(timedelta(hours=1))),
                limit="1000",
                marker=MARKER,
            ),
            {
                "Type": "inventory-retrieval",
                "Description": "monthly audit",
                "SNSTopic": TOPIC,
                "Format": "CSV",
                "InventoryRetrievalParameters": {
                    "StartDate": "2024-01-01T00:00:00Z",
                    "EndDate": "2024-02-01T00:00:00Z",
                    "Limit": "1000",
                    "Marker": MARKER,
                },
            },
        ),
        (
            SelectJob(
                archive_id=ARCHIVE_ID,
                expression="SELECT s._1, s._3 FROM archive s WHERE s._2 = 'EU'",
                output_location=full_output_location(),
                input_serialization=CsvInput(
                    file_header_info="IGNORE",
                    comments="#",
                    quote_escape_character="\\",
                    record_delimiter="\n",
                    field_delimiter="|",
                    quote_character="'",
                ),
                output_serialization=CsvOutput(
                    quote_fields="ASNEEDED",
                    quote_escape_character='"',
                    record_delimiter="\r",
                    field_delimiter="\t",
                    quote_character='"',
                ),
                expression_type="SQL",
                description="EU rows",
                sns_topic=TOPIC,
                tier="Expedited",
            ),
            {
                "Type": "select",
                "Description": "EU rows",
                "SNSTopic": TOPIC,
                "ArchiveId": ARCHIVE_ID,
                "Tier": "Expedited",
                "SelectParameters": {
                    "InputSerialization": {
                        "csv": {
                            "FileHeaderInfo": "IGNORE",
                            "Comments": "#",
                            "QuoteEscapeCharacter": "\\",
                            "RecordDelimiter": "\n",
                            "FieldDelimiter": "|",
                            "QuoteCharacter": "'",
                        }
                    },
                    "ExpressionType": "SQL",
                    "Expression": "SELECT s._1, s._3 FROM archive s WHERE s._2 = 'EU'",
                    "OutputSerialization": {
                        "csv": {
                            "QuoteFields": "ASNEEDED",
                            "QuoteEscapeCharacter": '"',
                            "RecordDelimiter": "\r",
                            "FieldDelimiter": "\t",
                            "QuoteCharacter": '"',
                        }
                    },
                },
                "OutputLocation": FULL_OUTPUT_LOCATION_DICT,
            },
        ),
    ]
