"""Saved plans on disk: ``plan --out PLAN.json`` writes one, ``apply PLAN.json`` reads it back.

Reading checks the document against ``schemas/plan.schema.json`` before anything in it is
believed, and names the JSON path of the first problem; the settings in it are validated
again by apply before anything is written. Writing replaces the file atomically, so a reader
never sees half a plan.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ..errors import FileRefused, UsageError
from ..reading.filerefs import read_regular
from ..reading.schema import SCHEMA_DIR
from .plan import Plan, plan_from_dict

if TYPE_CHECKING:
    import jsonschema

PLAN_SCHEMA = SCHEMA_DIR / "plan.schema.json"
MAX_PLAN_BYTES = 256 * 1024 * 1024


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # ~60 ms: only reading a saved plan needs it, not writing one

    return jsonschema.Draft202012Validator(json.loads(PLAN_SCHEMA.read_text(encoding="utf-8")))


def read_plan(path: str) -> Plan:
    """Load a saved plan, or raise UsageError saying why it is not one."""
    try:
        raw = read_regular(Path(path), what=f"{path}: cannot read plan", limit=MAX_PLAN_BYTES)
    except FileRefused as e:
        raise UsageError(e.message) from None
    try:
        doc: Any = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        where = f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        raise UsageError(f"{path}: not a JSON plan file{where}") from None
    except RecursionError:  # ``[[[[...`` a hundred thousand deep: no plan nests like that
        raise UsageError(f"{path}: not a JSON plan file (nested too deeply)") from None
    errors = sorted(_validator().iter_errors(doc), key=lambda err: list(err.absolute_path))
    if errors:
        first = errors[0]
        loc = "$" + "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in first.absolute_path)
        raise UsageError(
            f"{path}: not a valid smtp-iac plan ({first.validator} at {loc})",
            hint="make it with: smtp-iac plan STACK.yaml --out PLAN.json",
        )
    try:
        return plan_from_dict(doc)
    except ValidationError:  # pydantic's message may echo values; keep ours
        raise UsageError(f"{path}: the plan's verify options are invalid") from None
    except ValueError as e:  # an address the schema's pattern lets through (``-acme``)
        raise UsageError(f"{path}: not a valid smtp-iac plan ({e})") from None


def write_plan(path: Path, plan: Plan) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(plan.to_json(), encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None
