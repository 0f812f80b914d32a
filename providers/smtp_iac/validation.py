"""Schema + rules: the one validation used by ``smtp-iac validate``, plan/apply, and the
Pulumi provider's check (which reports the problems per field as CheckFailures).

The pydantic model decides first, the JSON Schema explains. ``tests/test_schema_model_agreement.py``
proves that the model and ``schemas/stack.schema.json`` accept and refuse the same documents
(and that their patterns are identical), so a document the model accepts needs no second
walk; one it refuses is walked by the schema, whose problems carry a path and a message that
never echoes a value. On a 20,000-organization stack this is 0.05 s instead of 1.1 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from . import rules, schema
from .models import SmtpSettings, Stack
from .schema import Problem

__all__ = ["Checked", "Problem", "check_document", "check_settings", "validate_document", "validate_settings"]

M = TypeVar("M", bound=BaseModel)


@dataclass
class Checked(Generic[M]):
    problems: list[Problem] = field(default_factory=list)  # errors and warnings
    model: M | None = None  # set when there is no error

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def _decide(model_cls: type[M], data: Any, definition: str | None) -> tuple[list[Problem], M | None]:
    try:
        return [], model_cls.model_validate(data)
    except ValidationError as e:
        found = schema.validate(data, definition)
        if not found:  # the model refused what the schema accepts: a bug, said plainly
            first = e.errors()[0]
            found = [
                Problem(tuple(first["loc"]), f"internal: the model refused what the schema accepted ({first['type']})")
            ]
        return found, None


def _finish(checked: Checked[M], extra: list[Problem]) -> Checked[M]:
    checked.problems += extra
    if not checked.ok:
        checked.model = None
    return checked


def check_document(data: Any) -> Checked[Stack]:
    found, model = _decide(Stack, data, None)
    flagged = frozenset(p.path for p in found)
    return _finish(Checked(found, model), rules.check_document(data, flagged))


def check_settings(data: Any) -> Checked[SmtpSettings]:
    """One settings mapping; problem paths are relative to it (path[0] is the field)."""
    found, model = _decide(SmtpSettings, data, "settings")
    flagged = frozenset(p.path for p in found)
    return _finish(Checked(found, model), rules.check_settings(data, (), flagged))


def validate_document(data: Any) -> list[Problem]:
    return check_document(data).problems


def validate_settings(data: Any) -> list[Problem]:
    return check_settings(data).problems
