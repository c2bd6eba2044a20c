"""botocore's own Glacier model, used by the job-model tests as the independent judge of request shapes."""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape
from botocore.validate import ParamValidator


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
