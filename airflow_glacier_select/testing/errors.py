"""Glacier's error responses, as the service sends them.

boto3 turns a response into its modeled exception (``client.exceptions.ResourceNotFoundException``
...) only when the JSON body carries ``code``, ``message`` and ``type`` and the
``X-Amzn-ErrorType`` header names the code, so every error the endpoint answers goes
through :func:`error_response`.
"""

from __future__ import annotations

import json

__all__ = ["ServiceError", "error_response"]

# Each code's status as the Glacier Developer Guide's Error Responses page lists it (where
# botocore's model differs, as for InsufficientCapacityException's 400, the guide wins).
_STATUS = {
    "ResourceNotFoundException": 404,
    "InvalidParameterValueException": 400,
    "MissingParameterValueException": 400,
    "LimitExceededException": 400,
    "ThrottlingException": 400,
    "PolicyEnforcedException": 400,
    "InsufficientCapacityException": 503,
    "NoLongerSupportedException": 400,
    "RequestTimeoutException": 408,
    "AccessDeniedException": 403,
    "ServiceUnavailableException": 500,
}


class ServiceError(Exception):
    """An error the endpoint answers instead of a result; the status follows the code."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status or _STATUS.get(code, 400)

    @property
    def client_fault(self) -> bool:
        return self.status < 500


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


def invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValueException", message)


def missing(message: str) -> ServiceError:
    return ServiceError("MissingParameterValueException", message)


def error_response(error: ServiceError) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of an error, in the shape botocore parses into its exceptions."""
    body = json.dumps(
        {
            "code": error.code,
            "message": error.message,
            "type": "Client" if error.client_fault else "Server",
        }
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "X-Amzn-ErrorType": error.code,
    }
    return error.status, headers, body
