"""Property tests over the job operators' arguments: refused only with GlacierValidationError, or valid.

The strategies are the job model property tests' own (``tests/test_jobs_properties.py``),
flattened into each operator's arguments the way :mod:`catalogue` maps them. Each example
keeps every argument plausible or spoils one with junk. An operator must then either refuse
it with :class:`GlacierValidationError` (when built, or when the job is built from its
rendered values, as ``execute`` does), or produce a request botocore's Glacier model accepts.
"""

from __future__ import annotations

from typing import Any

from hypothesis import event, example, given
from hypothesis import strategies as st

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.operators import glacier as job_operators
from airflow_glacier_select.resumable import TaskInstanceIdentity, with_token
from tests import test_jobs_properties as model_properties
from tests.support.jobs_model import initiate_job_errors

from .catalogue import FLAT_ARGUMENTS, JOB_OPERATORS, OBJECT_MEMBERS

TOKEN = TaskInstanceIdentity("dag", "task", "manual__1", -1).token()


def _flat_strategies(operator: str) -> dict[str, st.SearchStrategy[Any]]:
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    for constructor, (target, renames) in FLAT_ARGUMENTS.items():
        if target != operator:
            continue
        for argument, strategy in model_properties.CONSTRUCTORS[constructor][1].items():
            if argument not in OBJECT_MEMBERS:
                strategies[renames.get(argument, argument)] = strategy
    return strategies


FLAT = {name: _flat_strategies(name) for name in JOB_OPERATORS}


@st.composite
def operator_arguments(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An operator and its arguments: all plausible, or all but one, which is junk."""
    operator = draw(st.sampled_from(JOB_OPERATORS))
    strategies = FLAT[operator]
    arguments = {name: draw(strategy) for name, strategy in strategies.items()}
    if draw(st.booleans()):
        spoiled = draw(st.sampled_from(sorted(strategies)))
        arguments[spoiled] = draw(model_properties.junk)
        event(f"junk {spoiled}")
    return operator, arguments


#: Plausible arguments always tried first: refusing them fails the test, so the property
#: cannot pass by refusing everything.
VALID_ARGUMENTS = ("GlacierArchiveRetrievalOperator", {"archive_id": "archive-1", "tier": "Bulk"})


@model_properties.PROPERTY_SETTINGS
@given(operator_arguments(), st.sampled_from(["vault", "logs.2024_v-1"]))
@example(VALID_ARGUMENTS, "vault")
def test_operator_arguments_are_refused_cleanly_or_make_a_valid_request(
    drawn: tuple[str, dict[str, Any]], vault_name: str
) -> None:
    name, arguments = drawn
    try:
        operator = getattr(job_operators, name)(
            task_id="job", vault_name=vault_name, aws_conn_id=None, **arguments
        )
        job = operator.build_job(with_token(operator.description, TOKEN))
    except GlacierValidationError as error:
        assert drawn is not VALID_ARGUMENTS, error
        assert str(error).startswith(f"{error.field}: ")
        event(f"refused: {error.field}")
        return
    parameters = job.to_job_parameters()
    assert initiate_job_errors(parameters) == ""
    assert parameters["Description"].endswith(TOKEN)
    event(f"accepted: {name}")
