"""The package's exception types.

Every rule the package enforces before spending money on a Glacier request raises
:class:`GlacierValidationError`, so callers (and Airflow, at DAG parse or render
time) can tell "your parameters are wrong" from "AWS said no".
"""

from __future__ import annotations


class GlacierValidationError(ValueError):
    """A Glacier job parameter broke a documented rule; nothing was sent.

    The message always names the field, the offending value and the rule, e.g.
    ``Tier: 'Fast' is not one of Expedited, Standard, Bulk``.
    """

    def __init__(self, field: str, value: object, rule: str) -> None:
        self.field = field
        self.value = value
        self.rule = rule
        super().__init__(f"{field}: {value!r} {rule}")
