"""Schema + rules: the one validation used by ``smtp-iac validate``, plan/apply, and the
Pulumi provider's check (which reports the problems per field as CheckFailures).

The pydantic model decides, the JSON Schema explains. ``tests/test_schema_model_agreement.py``
proves that the model and ``schemas/stack.schema.json`` accept and refuse the same documents
(and that their patterns are identical), so only what the model refuses is walked by the
schema, whose problems carry a path and a message that never echoes a value. On a
20,000-organization stack this is about 0.07 s (the invisible-character check included)
instead of 1.1 s for the schema alone (performance at scale, ``benchmarks/RESULTS.md``).

Bounded work for any document (the reader builds at most ``yamlsource.MAX_NODES`` nodes; a
stack file comes from a pull request, and validate runs on every one):

- The document is cut into parts that stand apart in the file, in file order (``_parts``):
  the document itself (its type, its required keys), each top-level key but ``partners``
  and ``relays``, each relay (its name and settings), each partner (its id, the type of its
  entry), each other key of a partner's entry, each organization (its id and entry). Every
  problem of a part stands within the part.
- The model decides which parts fail, ``CHUNK`` parts at a time, so that its errors (about
  1 KB each) stay few. A part that plainly fails (``_plainly_failing``: an unknown or missing
  key, an id that is not one) is not asked: one mapping with 500,000 unknown keys would make
  500,000 model errors, 100,000 ``smtp: {}`` 600,000. An organization written exactly
  ``{smtp: inherit}`` (nine in ten of a large platform's) is not asked either: it shares the
  one model the model read that entry to (``_inherit_entry``).
- The schema explains the first ``budget`` failing parts, in file order (each has at least one
  problem). The others are only counted, one error each (``Checked.omitted``, a lower bound
  then); the rules and the invisible-character check skip them.
- A scope's ``smtp: {relay: NAME, ...}`` is checked merged with its relay (``relays``), not
  by ``rules`` as it stands.
- Invisible characters (``rules.invisible_problems``) are checked in every string, keys too; a
  schema problem at the same place gives way to the one that names the character. Given the
  document's ``text``, one search of it stands in for that walk when it finds none and no
  backslash (``rules.none_invisible``: no string read from such a text can hold one).
- With ``locate``, only the first ``budget`` problems in file order are kept; the rest are counted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ..addresses import ID_PATTERN
from ..diagnostics import ERROR_BUDGET, Omitted
from ..models import (
    ControllerEntry,
    EnvRef,
    FileRef,
    OrganizationEntry,
    PartnerEntry,
    PulumiConfigRef,
    RelayRef,
    SmtpSettings,
    Stack,
    VerifyOptions,
)
from . import relays, rules, schema
from .schema import JsonPath, Problem

__all__ = ["Checked", "Problem", "check_document", "check_settings", "validate_document", "validate_settings"]

M = TypeVar("M", bound=BaseModel)
Locate = Callable[..., tuple[int, int]]
"""``yamlsource.Document.locate``: (line, column) of a path, ``key=True`` for its key."""
Part = tuple[JsonPath, Any]

CHUNK = 1000  # parts per model run
_id = re.compile(ID_PATTERN).fullmatch  # (addresses.valid_id caches; a hostile file has 500,000)


def _keys(*models: type[BaseModel], required: bool = False) -> frozenset[str]:
    return frozenset(
        f.alias or name for m in models for name, f in m.model_fields.items() if f.is_required() or not required
    )


_ROOT, _VERIFY, _CONTROLLER = _keys(Stack), _keys(VerifyOptions), _keys(ControllerEntry)
_PARTNER, _ORGANIZATION = _keys(PartnerEntry), _keys(OrganizationEntry)
_SETTINGS, _REF = _keys(SmtpSettings), _keys(EnvRef, FileRef, PulumiConfigRef)
_RELAY_REF = _keys(RelayRef)
_ROOT_REQUIRED, _SETTINGS_REQUIRED = _keys(Stack, required=True), _keys(SmtpSettings, required=True)


@dataclass
class Checked(Generic[M]):
    problems: list[Problem] = field(default_factory=list)  # errors and warnings
    model: M | None = None  # set when there is no error
    omitted: Omitted = field(default_factory=Omitted)  # problems found but not in ``problems``

    @property
    def ok(self) -> bool:
        return not self.omitted.errors and not any(p.severity == "error" for p in self.problems)


def _decide(model_cls: type[M], data: Any, definition: str | None) -> tuple[list[Problem], M | None]:
    try:
        return [], model_cls.model_validate(data)
    except ValidationError as e:
        found = schema.validate(data, definition)
        if not found:  # the model refused what the schema accepted: a bug, said plainly
            found = [_disagreement(e)]
        return found, None


def _disagreement(e: ValidationError) -> Problem:
    first = e.errors(include_url=False, include_input=False)[0]
    return Problem(tuple(first["loc"]), f"internal: the model refused what the schema accepted ({first['type']})")


def _with_invisible(found: list[Problem], invisible: list[Problem]) -> tuple[list[Problem], frozenset[JsonPath]]:
    """``found`` but where an invisible character is reported, then those; and every path flagged."""
    hidden = {(p.path, p.at_key) for p in invisible}
    found = [p for p in found if (p.path, p.at_key) not in hidden] + invisible
    return found, frozenset(p.path for p in found)


def check_document(
    data: Any, *, locate: Locate | None = None, budget: int = ERROR_BUDGET, text: str | None = None
) -> Checked[Stack]:
    """``text``: the YAML the data was read from; when it holds no invisible character nor an
    escape (``rules.none_invisible``), the strings are not searched one by one."""
    parts = list(_parts(data))
    failing, models = _failing(data, parts)
    explained, counted = failing[:budget], failing[budget:]
    found, more = schema.explain(_assemble(data, [parts[i] for i in explained]), limit=budget) if explained else ([], 0)
    if explained and not found:
        found = [Problem(parts[explained[0]][0], "internal: the model refused what the schema accepted")]
    skipped = {parts[i][0] for i in counted}
    invisible: list[Problem] = []
    more_invisible = 0
    if text is None or not rules.none_invisible(text):
        invisible, more_invisible = rules.invisible_problems(_texts(p for p in parts if p[0] not in skipped), budget)
    found, flagged = _with_invisible(found, invisible)
    refs = list(relays.references(data))  # checked merged with their relays, not as they stand
    exclude = frozenset(path if path[-1:] == ("smtp",) else path + ("smtp",) for path in skipped)
    found += rules.check_document(data, flagged, exclude | {path for path, _ in refs})
    found += relays.check_document(data, flagged, frozenset(skipped), refs)
    checked: Checked[Stack] = Checked(found, None, Omitted(more + more_invisible + len(counted), 0, bool(counted)))
    if not failing and checked.ok:
        try:
            checked.model = Stack.model_validate(_with_models(data, models))  # every part passed: the whole does
        except ValidationError as e:
            checked.problems.append(_disagreement(e))
    return _first(checked, locate, budget) if locate is not None else checked


def _first(checked: Checked[M], locate: Locate, budget: int) -> Checked[M]:
    """Only the first ``budget`` problems in file order; the others counted."""
    if len(checked.problems) <= budget:
        return checked
    ordered = sorted(checked.problems, key=lambda p: (*locate(p.path, key=p.at_key), p.severity, p.message))
    cut = ordered[budget:]
    errors = sum(p.severity == "error" for p in cut)
    checked.problems = ordered[:budget]
    checked.omitted += Omitted(errors, len(cut) - errors)
    return checked


def _parts(data: Any) -> Iterator[Part]:
    """The parts of a stack document, in file order (mapping order is file order)."""
    yield (), data
    if not isinstance(data, dict):
        return
    for key, value in data.items():
        if key == "relays" and isinstance(value, dict):
            yield from (((key, name), relay) for name, relay in value.items())
            continue
        if key != "partners" or not isinstance(value, dict):
            yield (key,), value
            continue
        for p, entry in value.items():
            yield ("partners", p), entry
            if not isinstance(entry, dict):
                continue
            for k, v in entry.items():
                if k == "organizations" and isinstance(v, dict):
                    for o, org in v.items():
                        yield ("partners", p, "organizations", o), org
                else:
                    yield ("partners", p, k), v


def _assemble(data: Any, parts: Iterable[Part]) -> Any:
    """A document of only ``parts`` (and ``version: 1`` standing in for a version left out):
    valid if and only if each of them is."""
    if not isinstance(data, dict):
        return data
    doc: dict[str, Any] = {}
    for path, value in parts:
        if len(path) == 1:
            doc[path[0]] = value
        elif path[:1] == ("relays",):
            doc.setdefault("relays", {})[path[1]] = value
        elif len(path) > 1:
            partners = doc.setdefault("partners", {})
            if len(path) == 2:
                partners[path[1]] = {} if isinstance(value, dict) else value
            elif len(path) == 3:
                partners.setdefault(path[1], {})[path[2]] = value
            else:
                partners.setdefault(path[1], {}).setdefault("organizations", {})[path[3]] = value
    if "version" in data and "version" not in doc:
        doc["version"] = 1
    return doc


def _failing(data: Any, parts: list[Part]) -> tuple[list[int], dict[JsonPath, Any]]:
    """Indexes of the parts that fail, in order; and the models the passing organizations (and
    partner ``smtp:``) were read to, for the whole document's model (``_with_models``)."""
    out: list[int] = []
    models: dict[JsonPath, Any] = {}
    inherit = _inherit_entry()
    for start in range(0, len(parts), CHUNK):
        index: dict[JsonPath, int] = {}
        bad: set[int] = set()
        for i in range(start, min(start + CHUNK, len(parts))):
            path, value = parts[i]
            if _inherits(path, value):
                models[path] = inherit
            elif _plainly_failing(path, value):
                bad.add(i)
            else:
                index[path] = i
        try:
            stack = Stack.model_validate(_assemble(data, [parts[i] for i in index.values()]))
        except ValidationError as e:
            for error in e.errors(include_url=False, include_context=False, include_input=False):
                j = index.get(_part_of(error["loc"], data))
                if j is not None:  # else a partner's id again, with one of its organizations
                    bad.add(j)
        else:
            for path in index:
                if len(path) == 4:
                    models[path] = stack.partners[path[1]].organizations[path[3]]
                elif path[-1:] == ("smtp",) and len(path) == 3:
                    models[path] = stack.partners[path[1]].smtp
        out.extend(sorted(bad))
    return out, models


def _inherits(path: JsonPath, value: Any) -> bool:
    """An organization with a valid id written ``{smtp: inherit}`` (nine in ten of a large
    platform's). Data read from YAML holds no other value equal to the text ``inherit``."""
    return len(path) == 4 and type(value) is dict and value == _INHERIT_DOC and _id(path[3]) is not None


_INHERIT_DOC = {"smtp": "inherit"}


@cache
def _inherit_entry() -> OrganizationEntry:
    """What the model reads ``{smtp: inherit}`` to, read once: models are frozen, so every
    organization written so can share it."""
    return OrganizationEntry.model_validate({"smtp": "inherit"})


def _with_models(data: Any, models: dict[JsonPath, Any]) -> Any:
    """``data`` with the models of its organizations and partners' ``smtp:`` in place of their
    mappings: the model takes a model as it is, so the whole document is not read twice."""
    partners = data.get("partners") if isinstance(data, dict) else None
    if not isinstance(partners, dict):
        return data
    out: dict[str, Any] = {}
    for p, entry in partners.items():
        if isinstance(entry, dict):
            entry = {k: models.get(("partners", p, k), v) for k, v in entry.items()}
            orgs = entry.get("organizations")
            if isinstance(orgs, dict):
                entry["organizations"] = {
                    o: models.get(("partners", p, "organizations", o), v) for o, v in orgs.items()
                }
        out[p] = entry
    return {**data, "partners": out}


def _part_of(loc: tuple[Any, ...], data: Any) -> JsonPath:
    """The part that a model error at ``loc`` is in."""
    if not loc or not isinstance(data, dict) or loc[0] not in data:
        return ()  # the document's type or a required key
    if loc[0] == "relays" and isinstance(data["relays"], dict) and len(loc) > 1:
        return loc[:2]
    partners = data.get("partners")
    if loc[0] != "partners" or not isinstance(partners, dict) or len(loc) < 2:
        return loc[:1]
    entry = partners.get(loc[1])
    if len(loc) == 2 or loc[2] == "[key]" or not isinstance(entry, dict):
        return loc[:2]
    if loc[2] == "organizations" and isinstance(entry.get("organizations"), dict) and len(loc) > 3:
        return loc[:4]
    return loc[:3]


def _plainly_failing(path: JsonPath, value: Any) -> bool:
    """Whether the part has an id that is not one, or a mapping with a key it does not allow or
    without one it requires (never true of a part the model accepts)."""
    if not path:
        return not isinstance(value, dict) or not value.keys() >= _ROOT_REQUIRED
    if len(path) == 1:
        if path[0] not in _ROOT:
            return True
        if path[0] == "verify":
            return isinstance(value, dict) and not value.keys() <= _VERIFY
        return path[0] == "controller" and _entry_fails(value, _CONTROLLER)
    if len(path) == 2:
        return not _id(path[1]) or (path[0] == "relays" and _settings_fail(value))
    if len(path) == 3:
        return path[2] not in _PARTNER or (path[2] == "smtp" and _settings_fail(value))
    return not _id(path[3]) or _entry_fails(value, _ORGANIZATION)


def _entry_fails(entry: Any, allowed: frozenset[str]) -> bool:
    return isinstance(entry, dict) and (not entry.keys() <= allowed or _settings_fail(entry.get("smtp")))


def _settings_fail(s: Any) -> bool:
    if not isinstance(s, dict):
        return False
    ref = s.get("password")
    if "relay" in s:  # {relay: NAME, <overrides>}
        if not s.keys() <= _RELAY_REF:
            return True
    elif not _SETTINGS_REQUIRED <= s.keys() <= _SETTINGS:
        return True
    return isinstance(ref, dict) and (len(ref) != 1 or not ref.keys() <= _REF)


def _texts(parts: Iterable[Part]) -> Iterator[tuple[JsonPath, Any, bool]]:
    """What the invisible-character check reads of each part: its key and its value (a
    partner's entry is read in the parts of its keys)."""
    for path, value in parts:
        if not path:
            if not isinstance(value, dict):
                yield path, value, False
        elif len(path) == 2 and path[0] == "partners":
            yield path, None if isinstance(value, dict) else value, True
        else:
            yield path, value, True


def check_settings(data: Any) -> Checked[SmtpSettings]:
    """One settings mapping; problem paths are relative to it (path[0] is the field)."""
    found, model = _decide(SmtpSettings, data, "settings")
    invisible, more = rules.invisible_problems([((), data, False)], ERROR_BUDGET)
    found, flagged = _with_invisible(found, invisible)
    checked = Checked(found + rules.check_settings(data, (), flagged), model, Omitted(more))
    if not checked.ok:
        checked.model = None
    return checked


def validate_document(data: Any) -> list[Problem]:
    return check_document(data).problems


def validate_settings(data: Any) -> list[Problem]:
    return check_settings(data).problems
