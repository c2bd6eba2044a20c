"""The guides in ``docs/`` say what the code does: every Python example in them runs.

Each ```` ```python ```` block of a page runs, in page order, in one namespace per page,
against a fresh local endpoint (the ``endpoint`` name the pages speak of) whose jobs
complete at once, with Airflow's ``aws_default`` connection pointing at it. A block that
defines a DAG (``with DAG(``) is written as a file into the test's dags folder and
imported from there, as the dag-processor would, so the next block can ``dag.test()`` it
under real Airflow. Blocks that cannot run here carry another language: JSON must parse,
and an IAM policy may name only actions that exist (Glacier's against botocore's Glacier
operation names) and no wildcard.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from tests.support.dag_runs import DagFolder, import_dag_file

DOCS = Path(__file__).resolve().parent.parent / "docs"
README = DOCS.parent / "README.md"
PAGES = (
    "index.md",
    "getting-started.md",
    "archive-retrieval.md",
    "inventory-retrieval.md",
    "select.md",
    "waiting.md",
    "transfers.md",
    "migration.md",
    "testing.md",
    "operations.md",
)
LANGUAGES = {"python", "json", "bash", "text", "ini"}
"""Fence languages a page may use; only ``python`` runs, so a typo must not hide an example."""

_FENCE = re.compile(r"^```([A-Za-z0-9_-]*)[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)")
_HEADING = re.compile(r"^#{1,6} (.+)$", re.MULTILINE)

S3_IAM_ACTIONS = {
    # IAM action -> the S3 API operations it authorises that this package calls
    # ("Actions, resources, and condition keys for Amazon S3" in the Service Authorization Reference).
    "s3:GetObject": ("GetObject", "HeadObject"),
    "s3:PutObject": ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"),
    "s3:PutObjectTagging": ("PutObject", "CreateMultipartUpload"),
    "s3:PutObjectAcl": ("PutObject",),
    "s3:AbortMultipartUpload": ("AbortMultipartUpload",),
    "s3:ListBucket": ("ListObjectsV2",),
    "s3:ListBucketMultipartUploads": ("ListMultipartUploads",),
    "s3:ListMultipartUploadParts": ("ListParts",),
    "s3:DeleteObject": ("DeleteObjects",),
}


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    source: str


def blocks(page: str) -> list[Block]:
    path = DOCS / page
    if not path.is_file():  # reported by test_every_page_exists_and_the_index_and_readme_link_them
        return []
    text = path.read_text()
    return [
        Block(page, text.count("\n", 0, match.start()) + 1, match.group(1), match.group(2))
        for match in _FENCE.finditer(text)
    ]


def all_blocks() -> list[Block]:
    return [block for page in PAGES for block in blocks(page)]


def test_every_page_exists_and_the_index_and_readme_link_them() -> None:
    index = (DOCS / "index.md").read_text()
    for page in PAGES:
        assert (DOCS / page).is_file(), page
        if page != "index.md":
            assert f"({page})" in index, f"index.md does not link {page}"
    assert "(docs/index.md)" in README.read_text()


def anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings (fenced blocks left out: a ``#`` there is a comment)."""
    text = _FENCE.sub("", path.read_text())
    return {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in _HEADING.findall(text)
    }


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_and_anchors_resolve(page: str) -> None:
    for target, anchor in _LINK.findall((DOCS / page).read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        path = (DOCS / (target or page)).resolve()
        assert path.exists(), f"{page}: link to {target} leads nowhere"
        if anchor:
            assert anchor in anchors(path), f"{page}: {target}#{anchor} names no heading"


def test_every_fence_names_a_known_language() -> None:
    unknown = [(b.page, b.line, b.language) for b in all_blocks() if b.language not in LANGUAGES]
    assert unknown == []


def _json_blocks() -> list[Block]:
    return [block for block in all_blocks() if block.language == "json"]


@pytest.mark.parametrize("block", _json_blocks(), ids=lambda b: f"{b.page}:{b.line}")
def test_json_blocks_parse(block: Block) -> None:
    json.loads(block.source)


def _operations(service: str) -> set[str]:
    return set(botocore.session.get_session().get_service_model(service).operation_names)


def _policy_actions() -> list[tuple[Block, str]]:
    found = []
    for block in _json_blocks():
        document = json.loads(block.source)
        if not isinstance(document, dict) or "Statement" not in document:
            continue
        for statement in document["Statement"]:
            actions = statement["Action"]
            found += [(block, action) for action in ([actions] if isinstance(actions, str) else actions)]
    return found


def test_iam_policies_name_only_real_actions_and_no_wildcards() -> None:
    found = _policy_actions()
    assert len({block.line for block, _ in found}) >= 5, "operations.md should hold the policies"
    glacier, s3 = _operations("glacier"), _operations("s3")
    others = {service: _operations(service) for service in ("sqs", "sns", "kms")}
    for block, action in found:
        where = f"{block.page}:{block.line} {action}"
        assert "*" not in action, f"{where}: least privilege names each action"
        service, _, name = action.partition(":")
        if service == "glacier":
            assert name in glacier, f"{where}: not a Glacier operation"
        elif service == "s3":
            assert action in S3_IAM_ACTIONS, f"{where}: not an S3 action this package needs"
            assert set(S3_IAM_ACTIONS[action]) <= s3
        else:
            assert service in others and name in others[service], f"{where}: unknown action"


def test_policies_cover_every_glacier_operation_the_package_calls() -> None:
    """The union of the policies holds each Glacier operation the package's code sends.

    Read from the modules that hold a Glacier client (the S3 side shares operation names such
    as AbortMultipartUpload, so the copy engine is not read here; its S3 actions are listed
    in ``S3_IAM_ACTIONS``).
    """
    package = DOCS.parent / "airflow_glacier_select"
    sources = "\n".join(
        (package / module).read_text()
        for module in ("hooks/glacier.py", "triggers/glacier.py", "migration/vault.py", "ui/vaults.py")
    )
    called = {
        name
        for name in _operations("glacier")
        if re.search(rf"[.\"']{re.sub(r'(?<!^)(?=[A-Z])', '_', name).lower()}\b", sources)
    }
    named = {action.partition(":")[2] for _, action in _policy_actions() if action.startswith("glacier:")}
    assert called, "no Glacier call found in the package"
    assert called <= named, f"not in any policy: {sorted(called - named)}"


# --- running the Python examples -----------------------------------------------------------


@pytest.fixture
def docs_environment(
    glacier_endpoint: Any,
    dag_folder: DagFolder,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, Any]:
    """What the pages assume: ``endpoint``, jobs that end at once, ``aws_default`` pointing at it."""
    for tier in ("Expedited", "Standard", "Bulk", "Inventory"):
        glacier_endpoint.set_tier_delay(tier, 0)
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": glacier_endpoint.url, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(connection))
    return {"endpoint": glacier_endpoint, "dag_folder": dag_folder}


def _python_pages() -> list[str]:
    return [page for page in PAGES if any(b.language == "python" for b in blocks(page))]


@pytest.mark.parametrize("page", _python_pages())
def test_python_examples_run(page: str, docs_environment: dict[str, Any]) -> None:
    folder: DagFolder = docs_environment["dag_folder"]
    namespace: dict[str, Any] = {"__name__": f"docs_{page[:-3].replace('-', '_')}", **docs_environment}
    del namespace["dag_folder"]
    dag_ids: list[str] = []
    for block in blocks(page):
        if block.language != "python":
            continue
        if "with DAG(" in block.source:
            file = folder.path / f"{page[:-3].replace('-', '_')}_{block.line}.py"
            file.write_text(block.source)
            module = import_dag_file(file)
            dag_ids.append(module.dag.dag_id)
            namespace.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
            continue
        # Padded so that a traceback's line numbers are the page's.
        code = compile("\n" * block.line + block.source, str(DOCS / page), "exec")
        try:
            exec(code, namespace)
        except Exception as error:
            raise AssertionError(f"{page}, block at line {block.line} failed: {error!r}") from error
    # A DAG example is only proven when the page also runs it.
    from airflow.models.dagrun import DagRun

    for dag_id in dag_ids:
        assert DagRun.find(dag_id=dag_id), f"{page}: DAG {dag_id} is defined but never run"
