"""The tenants document (SPEC: ``partners: {<p>: {organizations: {<o>: {smtp_enabled: bool}}}}``),
checked without touching the store against ``schemas/tenants.schema.json`` (the same validator
and messages as stack files). Pure: data in, (normalized data, problems) out; the CLI puts
file:line:col on the problems, the store refuses a document that has any.

Lenient where it is safe, strict where a mistake would silently change something:
a partner or organization may be ``null``/``{}`` (known, switch unchanged; new orgs start
disabled); unknown keys, ids that are not DNS-label-like strings and non-boolean switches are
errors. (YAML anchors/aliases and duplicate keys are refused by the reader, ``yamlsource``.)
"""

from __future__ import annotations

from typing import Any

from ..diagnostics import ERROR_BUDGET
from ..reading import schema
from ..reading.schema import Problem

# partner -> org -> smtp_enabled (None: leave as it is / default off for a new org)
Normalized = dict[str, dict[str, "bool | None"]]


def check_tenants_doc(doc: object) -> tuple[Normalized, list[Problem], bool]:
    """The document's tenants, or ``({}, problems, more)`` when it does not pass the schema:
    at most ``ERROR_BUDGET`` problems, ``more`` when there were others (not even counted, so
    that a hostile document costs bounded time)."""
    problems, more = schema.first_problems(doc, ERROR_BUDGET, schema_name="tenants")
    if problems:
        return {}, problems, more
    data: Any = doc  # the schema has vouched for its shape
    return (
        {
            p: {o: (org or {}).get("smtp_enabled") for o, org in ((partner or {}).get("organizations") or {}).items()}
            for p, partner in (data["partners"] or {}).items()
        },
        [],
        False,
    )
