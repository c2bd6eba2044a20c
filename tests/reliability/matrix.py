"""The fault matrix: every fault tried at every stage of a retrieval, and the cells that cannot apply.

A logical retrieval runs through four stages: InitiateJob (``initiate``), waiting for the
job (``wait``: polling in the worker or deferred to the trigger), reading its output from
Glacier (``download``) and writing it to S3 (``upload``). Each applicable cell is covered by
tests marked ``@pytest.mark.fault_cell(fault, stage)``; a cell passes when all of them pass.
Each of those tests asserts the outcome (the right bytes, or a failure whose message is
checked), that no partial S3 object or multipart upload is left, and that the vault holds
exactly one Glacier job for the retrieval.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

FAULTS: Mapping[str, str] = {
    "throttle-storm": "throttling storm (50 in a row)",
    "http500": "HTTP 500",
    "http503": "HTTP 503",
    "reset": "connection reset mid-body",
    "truncate": "truncated body",
    "corrupt": "corrupted bytes",
    "job-failed": "job Failed",
    "output-expired": "output expired",
    "s3-multipart": "S3 fails mid multipart upload",
    "triggerer-restart": "triggerer restarts mid-wait",
    "worker-death": "worker dies, task retried",
}
STAGES = ("initiate", "wait", "download", "upload")

_NO_BODY = "S3 answers {op} with headers only (the bytes travel in the request): nothing to cut or flip"
_TRIGGERER = "only waits run in the triggerer; {stage} runs in the worker"

NOT_APPLICABLE: Mapping[tuple[str, str], str] = {
    ("truncate", "initiate"): "InitiateJob answers 202 with headers only: no body to cut short",
    ("corrupt", "initiate"): "InitiateJob answers 202 with headers only: no body to damage",
    ("job-failed", "initiate"): "a job can only fail after InitiateJob accepted it: see the wait stage",
    ("output-expired", "initiate"): "output expires 24 hours after the job completes, long after initiation",
    ("output-expired", "wait"): "a job still being waited for has no output yet, so none can expire",
    ("output-expired", "upload"): "expiry shows on GetJobOutput only: see the download stage",
    ("job-failed", "upload"): "a Failed job is refused before any byte is read or written: see download",
    ("s3-multipart", "initiate"): "no S3 request is made while initiating",
    ("s3-multipart", "wait"): "no S3 request is made while waiting",
    ("s3-multipart", "download"): "an S3 fault is an upload-stage fault: see upload",
    ("truncate", "upload"): _NO_BODY.format(op="UploadPart and PutObject"),
    ("corrupt", "upload"): _NO_BODY.format(op="UploadPart and PutObject"),
    ("triggerer-restart", "initiate"): _TRIGGERER.format(stage="initiation"),
    ("triggerer-restart", "download"): _TRIGGERER.format(stage="the download"),
    ("triggerer-restart", "upload"): _TRIGGERER.format(stage="the upload"),
}

CELLS = [(fault, stage) for fault in FAULTS for stage in STAGES]
APPLICABLE = [cell for cell in CELLS if cell not in NOT_APPLICABLE]


def render(outcomes: Mapping[tuple[str, str], Iterable[bool]]) -> list[str]:
    """The matrix as text lines: ``pass``/``FAIL`` per covered cell, ``n/a`` with reasons below.

    A cell with no recorded outcome (its tests were deselected) shows ``-`` and counts as
    not passed.
    """
    width = max(len(label) for label in FAULTS.values())
    header = f"{'fault':<{width}} | " + " | ".join(f"{stage:<8}" for stage in STAGES)
    lines = [header, "-" * len(header)]
    passed = 0
    for fault, label in FAULTS.items():
        marks = []
        for stage in STAGES:
            if (fault, stage) in NOT_APPLICABLE:
                marks.append("n/a")
                continue
            results = list(outcomes.get((fault, stage), ()))
            ok = bool(results) and all(results)
            passed += ok
            marks.append("pass" if ok else ("FAIL" if results else "-"))
        lines.append(f"{label:<{width}} | " + " | ".join(f"{mark:<8}" for mark in marks))
    lines.append(
        f"cells passed: {passed} / {len(APPLICABLE)} applicable "
        f"({len(NOT_APPLICABLE)} of {len(CELLS)} not applicable)"
    )
    lines.extend(f"  n/a {fault} @ {stage}: {reason}" for (fault, stage), reason in NOT_APPLICABLE.items())
    return lines
