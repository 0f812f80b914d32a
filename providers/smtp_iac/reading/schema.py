"""``schemas/*.schema.json`` (``stack``: stack files, ``tenants``: tenants files): the published
contracts, and the validators the code uses.

Errors become ``Problem``s (path + message) built here from the failing keyword, never from
jsonschema's own text: that text echoes the offending value, and a value under ``password``
is a secret. A schema node may carry ``x-message`` (a string, or a dict keyed by keyword)
to say what a reviewer needs in place of the generic text.

One typo, one message: a close match gets a did-you-mean (an unknown key, or a word such as
``smtp: inherted``), and a required key that an unknown key of the same mapping is a likely
typo of (``hots:`` for ``host``) is not reported missing as well.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..diagnostics import Severity
from ..errors import SmtpIacError

if TYPE_CHECKING:
    # jsonschema (~70 ms to import) is loaded only when a validator is built (``_validator_class``):
    # the model decides, and a valid document is never walked by the schema (``validation``).
    from jsonschema.exceptions import ValidationError

# The published schemas live in the repository's schemas/; the package reaches them through
# its ``schemas`` link (in a checkout) or the copies the wheel carries (installed).
SCHEMA_DIR = Path(__file__).parents[1] / "schemas"
SCHEMAS = ("stack", "tenants")  # schemas/<name>.schema.json

_CTRL = re.compile(r"[\r\n\x00]")
_DOLLAR = re.compile(r"(?<!\\)\$")


JsonPath = tuple[Any, ...]
"""Where a value stands in a document: mapping keys (text) and list indexes."""


@dataclass(frozen=True)
class Problem:
    """A problem at a JSON path; ``at_key`` says to point at the key rather than the value."""

    path: JsonPath
    message: str
    severity: Severity = "error"
    at_key: bool = False
    # An unknown key's did-you-mean target, and a required key found missing: an unknown key
    # suggested as the missing one is the cause, and "missing" would be its consequence.
    suggests: str | None = field(default=None, compare=False)
    missing: str | None = field(default=None, compare=False)


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    """JSON Schema patterns are ECMA 262, where ``$`` matches only at the very end. Python's
    ``$`` also matches before a final newline, so ``"acme\\n"`` would pass ``^[a-z]+$``.
    A string longer than its ``maxLength`` is not matched (``maxLength`` reports it): Python's
    backtracking engine takes quadratic time on a long host of colons (the host pattern's
    IPv6 branch), where pydantic's (Rust) engine is linear."""
    if not validator.is_type(instance, "string"):
        return
    if isinstance(schema, dict) and len(instance) > schema.get("maxLength", len(instance)):
        return
    if not _compiled(pattern).search(instance):
        from jsonschema.exceptions import ValidationError

        yield ValidationError(f"does not match {pattern!r}")


@cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(_DOLLAR.sub(r"\\Z", pattern))


def _strict_integer(checker: Any, instance: Any) -> bool:
    """YAML keeps ``587.0`` a float; JSON Schema would call it an integer, the strict model
    would not. A stack file means what it says: a whole float is not an integer."""
    return isinstance(instance, int) and not isinstance(instance, bool)


@cache
def _validator_class() -> Any:
    """Draft 2020-12 with ECMA patterns and strict integers (jsonschema is imported here)."""
    import jsonschema
    from jsonschema import Draft202012Validator

    return jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        Draft202012Validator,
        {"pattern": _ecma_pattern},
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _strict_integer),
    )


@cache
def load_schema(schema_name: str = "stack") -> dict[str, Any]:
    """``schemas/<schema_name>.schema.json`` as data."""
    if schema_name not in SCHEMAS:
        raise ValueError(f"unknown schema {schema_name!r} (known: {', '.join(SCHEMAS)})")
    path = SCHEMA_DIR / f"{schema_name}.schema.json"
    try:
        schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return schema
    except OSError as e:
        raise SmtpIacError(f"cannot read the {schema_name} schema at {path}: {e.strerror}") from None


def stack_schema() -> dict[str, Any]:
    return load_schema("stack")


@lru_cache(maxsize=8)
def validator(definition: str | None = None, schema_name: str = "stack") -> Any:
    """The validator for a whole file (stack or tenants), or for one ``$defs`` entry (e.g. ``settings``)."""
    schema = load_schema(schema_name)
    if definition is not None:
        schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{definition}"}
    return _validator_class()(schema)


def validate(instance: Any, definition: str | None = None, *, schema_name: str = "stack") -> list[Problem]:
    return explain(instance, definition, schema_name=schema_name)[0]


def first_problems(instance: Any, budget: int, *, schema_name: str) -> tuple[list[Problem], bool]:
    """At most about ``budget`` problems of ``instance``, and whether there were more. Stops
    at the budget: jsonschema spends ~20 µs on each error it yields, so a document with
    300,000 bad ids would take seconds just to enumerate them."""
    problems: list[Problem] = []
    more = [0]
    for error in validator(None, schema_name).iter_errors(instance):
        if len(problems) >= budget:
            return _dedupe(problems), True
        problems.extend(_explain(error, schema_name, budget, more))
    return _dedupe(problems), more[0] > 0


def explain(
    instance: Any, definition: str | None = None, *, schema_name: str = "stack", limit: int | None = None
) -> tuple[list[Problem], int]:
    """The problems of ``instance``, and how many more were found but not itemized: the
    unknown keys of one mapping past ``limit`` (a hostile mapping may hold 500,000; each would
    cost a did-you-mean). Work is linear in the size of the instance."""
    problems: list[Problem] = []
    more = [0]
    for error in validator(definition, schema_name).iter_errors(instance):
        problems.extend(_explain(error, schema_name, limit, more))
    return _dedupe(problems), more[0]


def _dedupe(problems: Iterable[Problem]) -> list[Problem]:
    """Each problem once, without the "missing required key" an unknown key of the same
    mapping already explains (``hots:`` is reported with "did you mean 'host'?", not also as
    a missing ``host``)."""
    problems = list(problems)
    typos = {(p.path[:-1], p.suggests) for p in problems if p.suggests is not None}
    seen: set[tuple[JsonPath, str, bool]] = set()
    out: list[Problem] = []
    for p in problems:
        k = (p.path, p.message, p.at_key)
        if k in seen or (p.missing is not None and (p.path, p.missing) in typos):
            continue
        seen.add(k)
        out.append(p)
    return out


def suggestion(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to a mistyped ``word`` (a key or a value), if any is close."""
    if len(word) > 64:
        return None
    hint = difflib.get_close_matches(word, sorted(choices), n=1)
    return hint[0] if hint else None


def _custom(schema: Any, keyword: str) -> str | None:
    if not isinstance(schema, dict):
        return None
    m = schema.get("x-message")
    if isinstance(m, str):
        return m
    if isinstance(m, dict):
        return m.get(keyword)
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


def _field(path: JsonPath) -> str:
    named = [p for p in path if isinstance(p, str)]
    return named[-1] if named else "document"


def _secret_path(path: JsonPath) -> bool:
    return "password" in path


def _explain(
    error: ValidationError, schema_name: str, limit: int | None = None, more: list[int] | None = None
) -> list[Problem]:
    path = tuple(error.absolute_path)
    kw = str(error.validator)
    schema: Any = error.schema  # the failing schema node (jsonschema types it loosely)
    inst: Any = error.instance
    field = _field(path)

    if "propertyNames" in error.schema_path:
        # error.instance is the bad key itself; point at the key. ``title`` names it (e.g. "partner id").
        why = _custom(schema, kw) or "invalid key"
        if isinstance(inst, str) and _CTRL.search(inst):
            why = "must not contain CR, LF or NUL characters"
        what = schema.get("title", "id") if isinstance(schema, dict) else "id"
        return [Problem(path + (inst,), f"invalid {what} '{_printable(inst)}': {why}", at_key=True)]
    if schema_name == "stack" and _secret_path(path) and path[-1] == "password" and isinstance(inst, str):
        return [
            Problem(
                path,
                "a plain password is not allowed in a stack file; "
                "use {env: NAME}, {file: PATH} or {pulumi_config: KEY}",
            )
        ]

    if kw in ("oneOf", "anyOf"):
        branch = _matching_branch(error, schema_name)
        if branch is not None:
            out: list[Problem] = []
            for sub in branch:
                out.extend(_explain(sub, schema_name, limit, more))
            return out
        message = _custom(schema, kw) or f"{field} does not match any allowed form"
        word = suggestion(inst, _branch_words(error, schema_name)) if isinstance(inst, str) else None
        if word is not None and not _secret_path(path):
            message += f" (did you mean '{word}'?)"
        return [Problem(path, message)]

    custom = _custom(schema, kw)
    if kw == "additionalProperties" or kw == "unevaluatedProperties":
        properties: set[str] = set(schema.get("properties", {})) if isinstance(schema, dict) else set()
        extras = [k for k in inst if k not in properties] if isinstance(inst, dict) else []
        known = ", ".join(sorted(properties))
        if extras and _secret_path(path):
            # {env: A, hunter2}: a password typed as a key must not be echoed, in the message or the path
            return [Problem(path, f"{len(extras)} unknown key(s) in {field} (allowed: {known})")]
        out = []
        if limit is not None and len(extras) > limit and more is not None:
            more[0] += len(extras) - limit
            extras = extras[:limit]
        for k in extras:
            hint = suggestion(k, properties)
            tail = f" (did you mean '{hint}'?)" if hint else f" (allowed: {known})"
            where = f" in {field}" if path else ""
            message = f"unknown key '{_printable(k)}'{where}{tail}"
            out.append(Problem(path + (k,), message, at_key=True, suggests=hint))
        return out
    if kw == "required":
        missing = [r for r in schema.get("required", []) if isinstance(inst, dict) and r not in inst]
        return [Problem(path, custom or f"missing required key '{m}' in {field}", missing=m) for m in missing]
    if kw == "type":
        message = custom or f"{field} must be {_a(schema['type'])}, not {_json_type(inst)}"
        if schema.get("type") == "string" and isinstance(inst, (bool, int, float)) and not custom:
            message += " (put it in quotes to keep it as written)"
        return [Problem(path, message)]
    if kw in ("const", "enum"):
        allowed = [schema["const"]] if kw == "const" else schema["enum"]
        shown = ", ".join(json.dumps(a) for a in allowed)
        return [Problem(path, custom or f"{field} must be {'' if kw == 'const' else 'one of '}{shown}")]
    if kw in ("minimum", "maximum"):
        lo, hi = schema.get("minimum"), schema.get("maximum")
        rng = f"{lo}..{hi}" if lo is not None and hi is not None else (f">= {lo}" if lo is not None else f"<= {hi}")
        val = "" if _secret_path(path) or _huge(inst) else f" {inst}"
        return [Problem(path, custom or f"{field}{val} is out of range {rng}")]
    if kw in ("minLength", "maxLength"):
        if kw == "minLength" and schema["minLength"] == 1:
            return [Problem(path, custom or f"{field} must not be empty")]
        return [Problem(path, custom or f"{field} must be at most {schema['maxLength']} characters")]
    if kw == "pattern":
        if isinstance(inst, str) and _CTRL.search(inst):
            return [Problem(path, f"{field} must not contain CR, LF or NUL characters")]
        return [Problem(path, custom or f"{field} has an invalid format")]
    return [Problem(path, custom or f"{field} is invalid ({kw})")]


def _matching_branch(error: ValidationError, schema_name: str) -> list[ValidationError] | None:
    """For oneOf/anyOf: the errors of the branch whose shape (type, mapping keys) fits the
    instance, so the user hears about that branch and not a list of alternatives."""
    branches: dict[int, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
    fitting = []
    for idx, errs in branches.items():
        shallow = [e for e in errs if not e.relative_path]
        if any(e.validator in ("type", "const", "enum") for e in shallow):
            continue
        if (
            any(e.validator in ("required", "additionalProperties") for e in shallow)
            and len(branches) > 1
            and isinstance(error.instance, dict)
            and not _keys_overlap(error, idx, schema_name)
        ):
            continue
        fitting.append(errs)
    return fitting[0] if len(fitting) == 1 else None


def _branch_words(error: ValidationError, schema_name: str) -> list[str]:
    """The words a oneOf/anyOf allows (its ``const`` and ``enum`` branches), e.g. 'inherit'."""
    schema: Any = error.schema
    words: list[str] = []
    for branch in schema.get(str(error.validator), []) if isinstance(schema, dict) else []:
        if isinstance(branch, dict) and "$ref" in branch:
            branch = _resolve_local(branch["$ref"], schema_name)
        if not isinstance(branch, dict):
            continue
        allowed = [branch["const"]] if "const" in branch else branch.get("enum", [])
        words += [w for w in allowed if isinstance(w, str)]
    return words


def _keys_overlap(error: ValidationError, idx: int, schema_name: str) -> bool:
    schema: Any = error.schema
    branch = schema[error.validator][idx]
    if "$ref" in branch:
        branch = _resolve_local(branch["$ref"], schema_name)
    props = set(branch.get("properties", {}))
    instance: Any = error.instance
    return bool(props & set(instance))


def _resolve_local(ref: str, schema_name: str) -> dict[str, Any]:
    node: Any = load_schema(schema_name)
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return dict(node)


def _a(t: Any) -> str:
    names = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "integer": "an integer",
        "boolean": "true or false",
        "number": "a number",
        "null": "empty",
    }
    if isinstance(t, list):
        return " or ".join(names.get(x, str(x)) for x in t)
    return names.get(t, str(t))


def _huge(value: Any) -> bool:
    """An integer too long to show (``0x`` and 16 MiB of hex digits is one)."""
    return isinstance(value, int) and value.bit_length() > 128


def _printable(s: Any) -> str:
    return str(s)[:80].encode("unicode_escape").decode("ascii")[:80]
