"""Resume tokens: stable per task instance, distinct across instances, found only as a trailing word."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from airflow_glacier_select.resumable import (
    PLACEHOLDER_TOKEN,
    TaskInstanceIdentity,
    carries_token,
    with_token,
)

TOKEN_SHAPE = re.compile(r"afgs:[0-9a-f]{12}")


def test_token_is_the_same_for_every_try_of_one_instance() -> None:
    first = TaskInstanceIdentity("dag", "restore", "manual__2024-01-01", 3).token()
    again = TaskInstanceIdentity("dag", "restore", "manual__2024-01-01", 3).token()
    assert first == again
    assert TOKEN_SHAPE.fullmatch(first)


@pytest.mark.parametrize(
    "other",
    [
        TaskInstanceIdentity("dag2", "restore", "run", -1),
        TaskInstanceIdentity("dag", "restore2", "run", -1),
        TaskInstanceIdentity("dag", "restore", "run2", -1),
        TaskInstanceIdentity("dag", "restore", "run", 0),
    ],
)
def test_token_differs_when_any_part_of_the_identity_differs(other: TaskInstanceIdentity) -> None:
    assert TaskInstanceIdentity("dag", "restore", "run", -1).token() != other.token()


def test_fields_cannot_bleed_into_each_other() -> None:
    assert TaskInstanceIdentity("a b", "c", "r").token() != TaskInstanceIdentity("a", "b c", "r").token()
    assert TaskInstanceIdentity("ab", "c", "r").token() != TaskInstanceIdentity("a", "bc", "r").token()


def test_placeholder_has_the_length_of_every_real_token() -> None:
    token = TaskInstanceIdentity("d", "t", "r").token()
    assert len(PLACEHOLDER_TOKEN) == len(token)
    assert TOKEN_SHAPE.fullmatch(PLACEHOLDER_TOKEN)


def test_token_is_appended_to_the_user_description() -> None:
    token = TaskInstanceIdentity("d", "t", "r").token()
    assert with_token("nightly restore", token) == f"nightly restore {token}"
    assert with_token(None, token) == token
    assert with_token("", token) == token


def test_token_is_found_only_as_the_trailing_word() -> None:
    token = TaskInstanceIdentity("d", "t", "r").token()
    other = TaskInstanceIdentity("d", "t", "r2").token()
    assert carries_token(with_token("restore", token), token)
    assert carries_token(token, token)
    assert not carries_token(with_token("restore", other), token)
    assert not carries_token(f"{token} restore", token)
    assert not carries_token(f"x{token}", token)
    assert not carries_token(None, token)
    assert not carries_token("", token)


def test_module_does_not_import_airflow() -> None:
    code = "import sys, airflow_glacier_select.resumable; print('airflow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
