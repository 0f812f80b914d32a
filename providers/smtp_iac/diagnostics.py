"""Located problems: ``FILE:LINE:COL: error: MESSAGE [at $.json.path]``. Results as data;
the reporters in ``cli.reporters`` render them per format.

Error budget: a file's diagnostics are listed up to ``ERROR_BUDGET``, the first ones in file
order; past it, ONE more diagnostic (``within_budget``), at the place of the last one listed,
says how many errors and warnings were left out after it. It carries the counts (``Diagnostic.omitted``) for reporters
that total them. The counts are exact, or lower bounds (``Omitted.at_least``) when some parts of
the file were only known to hold errors (counted one each) and not examined further.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

ERROR_BUDGET = 1000
"""Diagnostics listed per file; past it, one more line counts the rest. A file with thousands of
errors is generated or hostile: nobody reads past the first screens, and building, locating and
printing every one of 100,000 would make validate (run in pre-commit and on every pull request)
take a minute."""


@dataclass(frozen=True)
class Omitted:
    """Diagnostics found but not listed."""

    errors: int = 0
    warnings: int = 0
    at_least: bool = False  # some parts were only counted (one error each): the counts are lower bounds

    def __add__(self, other: Omitted) -> Omitted:
        return Omitted(self.errors + other.errors, self.warnings + other.warnings, self.at_least or other.at_least)

    def __bool__(self) -> bool:
        return bool(self.errors or self.warnings)

    def describe(self, budget: int = ERROR_BUDGET) -> str:
        least = "at least " if self.at_least else ""
        return (
            f"{least}{self.errors:,} more error(s) and {self.warnings:,} more warning(s) not listed "
            f"(only the first {budget:,} diagnostics are; fix those and run again)"
        )


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    severity: Severity
    message: str
    path: str = "$"  # JSON path of the offending value
    omitted: Omitted | None = field(default=None, compare=False)  # set on the error budget's line only

    def format(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [at {self.path}]"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.omitted is None:
            del out["omitted"]
        return out


def has_errors(diags: list[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diags)


def within_budget(
    diags: list[Diagnostic], omitted: Omitted = Omitted(), budget: int = ERROR_BUDGET
) -> list[Diagnostic]:
    """The first ``budget`` of ``diags`` (sorted), then, if any were left out here or before
    (``omitted``), one diagnostic that counts them, at the place of the last one listed."""
    kept, cut = diags[:budget], diags[budget:]
    left = sum(d.severity == "error" for d in cut)
    total = omitted + Omitted(left, len(cut) - left)
    if not total or not diags:
        return kept
    at = kept[-1]
    severity: Severity = "error" if total.errors else "warning"
    return [*kept, Diagnostic(at.file, at.line, at.column, severity, total.describe(budget), at.path, total)]


def summary(diags: list[Diagnostic]) -> tuple[int, int, bool]:
    """Errors and warnings in ``diags``, with those the budget's line counts; and whether the
    counts are lower bounds."""
    errors = warnings = 0
    at_least = False
    for d in diags:
        if d.omitted is not None:
            errors += d.omitted.errors
            warnings += d.omitted.warnings
            at_least = at_least or d.omitted.at_least
        elif d.severity == "error":
            errors += 1
        else:
            warnings += 1
    return errors, warnings, at_least


def json_path(path: Sequence[str | int]) -> str:
    """Where in a document a problem is, as a JSON path (``$.scopes[3].host``): keys that are
    plain identifiers with dots, others quoted and escaped, each cut to 80 characters."""
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.replace("_", "a").replace("-", "a").isalnum() and part.isascii():
            out += f".{part[:80]}"
        else:
            escaped = str(part)[:80].encode("unicode_escape").decode("ascii")[:80].replace("'", "\\'")
            out += f"['{escaped}']"
    return out
