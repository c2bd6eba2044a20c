"""Resume tokens: how a retried task finds the Glacier job its earlier try already paid for.

A worker can die between InitiateJob returning and anything being recorded about the job.
Glacier itself is then the only place that knows the job exists, so the job has to carry a
mark that the retry can recognise: a short token in the job Description, derived only from
what stays the same across tries of one task instance (dag id, task id, run id, map index;
never the try number). The retry lists the vault's jobs and reuses the one carrying its
token instead of starting (and paying for) a second one.

The token is appended to the user's own description, separated by a space, so the
description stays readable in the console. Whether the combined description still fits
Glacier's Description rule is for the job model to decide, not this module.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

TOKEN_PREFIX = "afgs:"
_DIGEST_CHARS = 12
_SEPARATOR = " "


@dataclass(frozen=True)
class TaskInstanceIdentity:
    """What identifies one task instance across all of its tries."""

    dag_id: str
    task_id: str
    run_id: str
    map_index: int = -1

    def token(self) -> str:
        """The resume token, e.g. ``afgs:3f2a9c0b1d4e``: the same on every try, different per instance.

        Fields are joined with a unit separator so that ("a b", "c") and ("a", "b c") cannot
        collide; 48 bits of SHA-256 make an accidental match within one vault's job list
        (at most a few thousand jobs live at once) vanishingly unlikely.
        """
        identity = "\x1f".join((self.dag_id, self.task_id, self.run_id, str(self.map_index)))
        digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:_DIGEST_CHARS]
        return f"{TOKEN_PREFIX}{digest}"


#: Any token, for sizing: every token has this length, so a description validated with it
#: appended is known to fit once the real token replaces it.
PLACEHOLDER_TOKEN = TOKEN_PREFIX + "0" * _DIGEST_CHARS


def with_token(description: str | None, token: str) -> str:
    """The job Description to send: the user's description (if any) followed by the token."""
    if not description:
        return token
    return f"{description}{_SEPARATOR}{token}"


def carries_token(description: str | None, token: str) -> bool:
    """Whether a job's Description (as DescribeJob/ListJobs return it) ends with ``token``.

    Only a whole trailing word counts, so a user description that merely contains the
    token text elsewhere, or a longer token sharing its prefix, does not match.
    """
    if not description:
        return False
    return description == token or description.endswith(_SEPARATOR + token)
