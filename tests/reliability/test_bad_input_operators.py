"""Bad input through every operator that takes it: refused before any request, naming field, value and rule.

The rows come from the job model's catalogue (``tests/test_jobs_bad_input.py``, re-read as
operator arguments by :mod:`catalogue`), plus the arguments the model does not own (account
id, job ids, S3 destination, transfer and wait settings). Each bad input is tried where it
can first be caught: when the DAG file is parsed (static values), and once rendered (the
same value arriving through a Jinja template) in a real ``dag.test()`` run against the
endpoint, which must not have received a single request.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_glacier_select.exceptions import GlacierValidationError
from airflow_glacier_select.hooks.glacier import GlacierJobsHook
from airflow_glacier_select.operators import glacier as job_operators
from airflow_glacier_select.operators.select_results import GlacierSelectResultsOperator
from airflow_glacier_select.sensors.glacier import GlacierJobSensor
from airflow_glacier_select.testing import LocalGlacierEndpoint
from airflow_glacier_select.testing.pytest_plugin import GLACIER_CONN_ID
from airflow_glacier_select.transfers import glacier_to_s3
from airflow_glacier_select.treehash import MIB
from airflow_glacier_select.triggers.glacier import GlacierJobTrigger
from tests.support.dag_runs import DagFolder, run_dag

from .catalogue import (
    ARCHIVE,
    BASE,
    COPY,
    INVENTORY,
    JOB_OPERATORS,
    SELECT,
    SELECT_RESULTS,
    SENSOR,
    BadInput,
    operator_cases,
)
from .dags import call, load_dag

CASES, NO_OPERATOR_FORM, HOOK_ROWS = operator_cases()
ALL_OPERATORS = tuple(BASE)
OPERATOR_CLASSES = {
    **{name: getattr(job_operators, name) for name in JOB_OPERATORS},
    COPY: glacier_to_s3.GlacierJobOutputToS3Operator,
}
RENDERED_CLASSES = {
    **OPERATOR_CLASSES,
    SENSOR: GlacierJobSensor,
    SELECT_RESULTS: GlacierSelectResultsOperator,
}


def _extra(operator: str, argument: str, value: Any, field: str, **others: Any) -> BadInput:
    """A rule outside the job model's catalogue; its rule text is the code's own (checked non-empty)."""
    return BadInput(
        f"{argument} {value!r}", operator, {**BASE[operator], argument: value, **others}, field, value, ""
    )


RENDERED_EXTRAS = [
    *(_extra(name, "account_id", "12-34", "accountId") for name in ALL_OPERATORS),
    _extra(SENSOR, "job_id", "", "jobId"),
    _extra(COPY, "job_id", "", "job_id"),
    _extra(SELECT_RESULTS, "job_id", "", "job_id"),
    _extra(COPY, "bucket", "Bad Bucket", "bucket"),
    _extra(COPY, "key", "{nope}/x", "key"),
    _extra(COPY, "collision", "sometimes", "collision"),
    _extra(COPY, "encryption", "rot13", "encryption"),
    _extra(COPY, "kms_key_id", "alias/k", "kms_key_id", encryption="AES256"),
    _extra(COPY, "storage_class", "COLD", "storage_class"),
    _extra(COPY, "tags", {"team": "a!"}, "tags"),
    _extra(COPY, "metadata", {"sha256-tree-hash": "x"}, "metadata"),
]
PARSED_EXTRAS = [
    *(_extra(name, "poll_interval", value, "poll_interval") for name in JOB_OPERATORS for value in (0, "60")),
    *(_extra(name, "max_wait", -1, "max_wait") for name in JOB_OPERATORS),
    _extra(COPY, "chunk_size", 3 * MIB, "chunk_size"),
    _extra(COPY, "concurrency", 0, "concurrency"),
    _extra(COPY, "max_attempts", 0, "max_attempts"),
    _extra(COPY, "retry_base_delay", -1.0, "base_delay"),
    _extra(COPY, "require_tree_hash", "yes", "require_tree_hash"),
]
TRIGGER_EXTRAS = [
    ("poll_interval", 0, "poll_interval"),
    ("deadline", "tomorrow", "deadline"),
    ("account_id", "12-34", "accountId"),
    ("job_id", "", "jobId"),
]


def _assert_names(error: BaseException, case: BadInput) -> None:
    """The error is the package's validation error, naming the case's field, value and rule."""
    assert isinstance(error, GlacierValidationError), repr(error)
    assert (error.field, error.value) == (case.field, case.value)
    assert error.rule == case.rule if case.rule else error.rule
    assert str(error) == f"{case.field}: {case.value!r} {error.rule}"


def _static(case: BadInput) -> bool:
    return case.operator in JOB_OPERATORS and all(
        job_operators._is_static(value) for value in case.arguments.values()
    )


PARSE_TIME = [case for case in CASES if _static(case)] + PARSED_EXTRAS


@pytest.mark.bad_input
@pytest.mark.parametrize("case", PARSE_TIME, ids=[case.id for case in PARSE_TIME])
def test_static_bad_input_is_refused_when_the_dag_is_parsed(
    case: BadInput, glacier_endpoint: LocalGlacierEndpoint
) -> None:
    with pytest.raises(Exception) as raised:
        arguments = {"vault_name": "vault", **case.arguments}
        OPERATOR_CLASSES[case.operator](task_id="job", aws_conn_id=GLACIER_CONN_ID, **arguments)
    _assert_names(raised.value, case)
    assert glacier_endpoint.request_count() == 0


VAULT_ROWS = [case for case in CASES if case.operator == ARCHIVE and "vault_name" in case.arguments]


@pytest.mark.bad_input
@pytest.mark.parametrize(
    "case",
    [
        *VAULT_ROWS,
        *(BadInput(f"{a} {v!r}", "GlacierJobTrigger", {a: v}, f, v, "") for a, v, f in TRIGGER_EXTRAS),
    ],
    ids=lambda case: f"GlacierJobTrigger: {case.row}",
)
def test_trigger_refuses_bad_input_before_it_is_deferred(
    case: BadInput, glacier_endpoint: LocalGlacierEndpoint
) -> None:
    arguments = {"vault_name": "vault", "job_id": "job-1", "aws_conn_id": None, **case.arguments}
    arguments.pop("archive_id", None)
    with pytest.raises(Exception) as raised:
        GlacierJobTrigger(**arguments)
    _assert_names(raised.value, case)
    assert glacier_endpoint.request_count() == 0


@pytest.mark.bad_input
@pytest.mark.parametrize(("row", "build"), HOOK_ROWS, ids=[row for row, _ in HOOK_ROWS])
def test_bad_job_parameters_dict_is_refused_by_the_hook(
    row: str, build: Any, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    from tests import test_jobs_bad_input as model_catalogue

    [(_, _, field, value, rule)] = [entry for entry in model_catalogue.CATALOGUE if entry[0] == row]
    recorded: dict[str, Any] = {}
    original = model_catalogue.job_from_parameters
    model_catalogue.job_from_parameters = lambda params: recorded.setdefault("params", params)
    try:
        build()
    finally:
        model_catalogue.job_from_parameters = original
    with pytest.raises(Exception) as raised:
        GlacierJobsHook(aws_conn_id=glacier_connection).initiate_job("vault", recorded["params"])
    _assert_names(raised.value, BadInput(row, "GlacierJobsHook", {}, field, value, rule))
    assert glacier_endpoint.request_count() == 0


# --- once rendered, in one dag.test() run -----------------------------------------------------


def _has_text(value: Any) -> bool:
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, str) or (isinstance(value, list) and any(_has_text(item) for item in value))


RENDER_TIME = [
    case
    for case in CASES + RENDERED_EXTRAS
    # A job operator with no text to template is final when parsed: the parse-time test has it.
    if case.operator not in JOB_OPERATORS or _has_text([{"vault_name": "vault", **case.arguments}])
]


def _templated(value: Any, params: dict[str, Any], name: str) -> Any:
    """``value`` with every string in it (nested ones too) replaced by a template that renders to it."""
    if isinstance(value, str):
        params[name] = value
        return "{{ params." + name + " }}"
    if isinstance(value, list):
        return [_templated(item, params, f"{name}_{n}") for n, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: _templated(item, params, f"{name}_{n}") for n, (key, item) in enumerate(value.items())}
    return value


def _render_then_execute(case: BadInput) -> BaseException:
    """Build the operator with every text value templated, render it as a task run would, then execute.

    Rendering needs only ``params``; the task instance identity is what the job operators read
    first (for their resume token). The sensor's work is its ``poke``.
    """
    params: dict[str, Any] = {}
    arguments = {"vault_name": "vault", **case.arguments}
    templated = {key: _templated(value, params, key) for key, value in arguments.items()}
    operator = RENDERED_CLASSES[case.operator](task_id="bad_input", aws_conn_id=GLACIER_CONN_ID, **templated)
    ti = SimpleNamespace(dag_id="bad_input", task_id="bad_input", run_id="manual__1", map_index=-1)
    context: Any = {"params": params, "ti": ti}
    operator.render_template_fields(context)
    work = operator.poke if case.operator == SENSOR else operator.execute
    with pytest.raises(Exception) as raised:
        work(context)
    return raised.value


@pytest.mark.bad_input
@pytest.mark.parametrize("case", RENDER_TIME, ids=[case.id for case in RENDER_TIME])
def test_rendered_bad_input_is_refused_before_any_request(
    case: BadInput, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    _assert_names(_render_then_execute(case), case)
    assert glacier_endpoint.request_count() == 0


# One rendered bad input per operator again, in a real dag.test() run (a task run costs about a
# second, too much for every case): the task fails with the same error and nothing is sent.
REAL_RUN = [next(case for case in RENDER_TIME if case.operator == name) for name in ALL_OPERATORS]


@pytest.mark.slow
def test_rendered_bad_input_fails_each_task_of_a_real_run_before_any_request(
    dag_folder: DagFolder, glacier_endpoint: LocalGlacierEndpoint, glacier_connection: str
) -> None:
    params: dict[str, Any] = {}
    tasks = []
    for number, case in enumerate(REAL_RUN):
        arguments = {"vault_name": "vault", **case.arguments}
        templated = {key: _templated(value, params, f"c{number}_{key}") for key, value in arguments.items()}
        tasks.append(
            call(
                f"recording({case.operator})",
                task_id=f"case_{number}",
                aws_conn_id=glacier_connection,
                trigger_rule="all_done",
                **templated,
            )
        )
    dag = load_dag(dag_folder, "rendered_bad_input", tasks, chain=True, params=params)
    dag_run = run_dag(dag)
    assert [str(ti.state) for ti in dag_run.get_task_instances()] == ["failed"] * len(REAL_RUN)
    assert len(dag.FAILURES) == len(REAL_RUN)
    for failure, case in zip(dag.FAILURES, REAL_RUN, strict=True):
        _assert_names(failure, case)
    assert glacier_endpoint.request_count() == 0


def test_every_catalogue_row_reaches_an_operator_the_hook_or_has_a_reason() -> None:
    from tests import test_jobs_bad_input as model_catalogue

    reached = {case.row for case in CASES} | {row for row, _ in HOOK_ROWS}
    explained = {row for row, _ in NO_OPERATOR_FORM}
    assert {row[0] for row in model_catalogue.CATALOGUE} <= reached | explained
    assert {INVENTORY, SELECT, ARCHIVE, SENSOR, COPY, SELECT_RESULTS} <= {case.operator for case in CASES}
