"""Reading a stack file: bytes -> located YAML -> schema + rules -> ``models.Stack``.

Every problem of a file is reported at once as a located ``Diagnostic``. ``read`` never
raises for anything in the file; ``load`` raises ``StackInvalid`` when there are errors.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..addresses import valid_id
from ..diagnostics import Diagnostic, Omitted, has_errors, json_path, within_budget
from ..errors import FileRefused, StackInvalid
from ..models import FileRef, RelayRef, SmtpSettings, Stack
from .filerefs import FileScope, read_regular
from .schema import JsonPath, Problem
from .validation import check_document
from .yamlsource import MAX_BYTES, Document, parse_bytes


@dataclass
class LoadedStack:
    path: Path
    stack: Stack
    name: str  # the stack's name: ``name:`` or the file's stem; owner (managed_by) of its scopes
    files: FileScope  # where its {file: ...} references and verify.ca_file may reach (``filerefs``)
    diagnostics: list[Diagnostic] = field(default_factory=list)  # warnings only, when loaded

    @property
    def base_dir(self) -> Path:
        """Relative paths in the file ({file: ...}, verify.ca_file) are relative to it."""
        return self.path.parent


def file_scope(path: Path, stack_store: str | None) -> FileScope:
    """The file rule of a stack file at ``path``: its repository and SMTP_IAC_SECRET_DIRS; never
    the files of the store it would use (``--store`` aside, which the command adds when it opens
    the store) nor of the default store."""
    from ..store import DEFAULT_URL, resolve_store_url, store_files

    urls = dict.fromkeys((resolve_store_url(None, stack_store), DEFAULT_URL))
    return FileScope.of_stack(path, store_files=[f for u in urls for f in store_files(u)])


def file_ref_problems(stack: Stack, files: FileScope) -> list[Problem]:
    """``filerefs``' rule applied to every file the stack names, each distinct reference once
    (at its first use: a 20,000-organization stack may use one reference everywhere)."""
    out = []
    ca_file = stack.verify.ca_file
    found = files.problem(ca_file, confined=False) if ca_file else None
    if found is not None:
        out.append(Problem(("verify", "ca_file"), f"file {ca_file!r} {found}"))
    refs: dict[str, list[JsonPath]] = {}
    for at, ref in _password_files(stack):
        refs.setdefault(ref, []).append(at)
    for ref, paths in refs.items():
        found = files.problem(ref)
        if found is not None:
            more = f" (used {len(paths)} times)" if len(paths) > 1 else ""
            out.append(Problem(paths[0], f"file {ref!r} {found}{more}"))
    return out


def _password_files(stack: Stack) -> Iterator[tuple[JsonPath, str]]:
    """(where, path) of every ``{file:}`` password, in file order, without building the scopes:
    each relay's, and each scope's own (its settings', or its override beside ``relay``)."""

    def file_of(smtp: object) -> str | None:
        if isinstance(smtp, (SmtpSettings, RelayRef)) and isinstance(smtp.password, FileRef):
            return smtp.password.file
        return None

    for r, relay in stack.relays.items():
        if f := file_of(relay):
            yield ("relays", r, "password", "file"), f
    tail = ("smtp", "password", "file")
    if stack.controller is not None and (f := file_of(stack.controller.smtp)):
        yield ("controller", *tail), f
    for p, pentry in stack.partners.items():
        if f := file_of(pentry.smtp):
            yield ("partners", p, *tail), f
        for o, oentry in pentry.organizations.items():
            smtp = oentry.smtp
            if smtp is not None and smtp != "inherit" and (f := file_of(smtp)):  # most orgs inherit
                yield ("partners", p, "organizations", o, *tail), f


def _diag(file: str, doc: Document, p: Problem) -> Diagnostic:
    line, col = doc.locate(p.path, key=p.at_key)
    return Diagnostic(file, line, col, p.severity, p.message, json_path(p.path))


def read(path: str | os.PathLike[str]) -> tuple[LoadedStack | None, list[Diagnostic]]:
    """Read and validate one stack file. Returns the stack (None if it has errors) and every
    diagnostic, errors and warnings, in file order."""
    p = Path(path)
    shown = str(path)
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            return None, [Diagnostic(shown, 1, 1, "error", f"file is {size} bytes, over the {MAX_BYTES} byte limit")]
        # A pull request may make a stack file a symlink to /dev/zero: regular files only.
        raw = read_regular(p, what="cannot read file", limit=MAX_BYTES)
    except OSError as e:
        return None, [Diagnostic(shown, 1, 1, "error", f"cannot read file: {e.strerror or e}")]
    except FileRefused as e:
        return None, [Diagnostic(shown, 1, 1, "error", e.message)]
    return read_bytes(raw, shown, p)


def read_bytes(raw: bytes, shown: str, path: Path | None = None) -> tuple[LoadedStack | None, list[Diagnostic]]:
    doc = parse_bytes(raw)
    diags = [Diagnostic(shown, pr.line, pr.column, "error", pr.message, json_path(pr.path)) for pr in doc.problems]
    if doc.data is None and diags:
        return None, sorted(diags)
    checked = check_document(doc.data, locate=doc.locate, text=doc.text)
    diags += [_diag(shown, doc, pr) for pr in checked.problems]
    path = path or Path(shown)
    name = doc.data.get("name") if isinstance(doc.data, dict) else None
    if not isinstance(name, str):
        name = path.stem
        # Only when the stem is really used: a name: of the wrong type, or a document that is
        # not a mapping, already has its own error.
        if isinstance(doc.data, dict) and "name" not in doc.data and not valid_id(name):
            stem = name.encode("unicode_escape").decode("ascii")
            diags.append(
                Diagnostic(
                    shown,
                    1,
                    1,
                    "error",
                    f"the stack name defaults to the file's stem '{stem}', which is not a valid id; "
                    "add a name: key (lowercase letters, digits and '-')",
                )
            )
    files = None
    if checked.model is not None and not has_errors(diags):  # None: errors, some past the budget
        files = file_scope(path, checked.model.store)
        diags += [_diag(shown, doc, pr) for pr in file_ref_problems(checked.model, files)]
    diags.sort()
    diags = within_budget(diags, checked.omitted + Omitted(doc.omitted))  # the first ERROR_BUDGET, then a count
    if has_errors(diags):
        return None, diags
    stack = checked.model
    assert stack is not None and files is not None  # no errors: the model was built, its files judged
    return LoadedStack(path, stack, name, files, diags), diags


def load(path: str | os.PathLike[str]) -> LoadedStack:
    loaded, diags = read(path)
    if loaded is None:
        raise StackInvalid(diags)
    return loaded
