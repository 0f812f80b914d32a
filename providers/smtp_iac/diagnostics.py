"""Located problems: ``FILE:LINE:COL: error: MESSAGE [at $.json.path]``. Results as data;
the reporters in ``cli.reporters`` render them per format."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    severity: Severity
    message: str
    path: str = "$"  # JSON path of the offending value

    def format(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message} [at {self.path}]"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def has_errors(diags: list[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diags)
