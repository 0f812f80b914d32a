"""``smtp-iac validate FILE...``: schema + rules, no store. Exit 0 valid (warnings allowed), 1 errors.

Past the error budget (``diagnostics.ERROR_BUDGET`` per file), each format shows the first
diagnostics in file order and then ONE more that counts the rest: a line in text, an annotation
in github, the last entry of ``diagnostics`` in json (with ``omitted``: errors, warnings,
at_least; the file's entry has the same ``omitted``). Text's summary line totals them all.
"""

from __future__ import annotations

import json

import click

from ..diagnostics import Diagnostic, has_errors, summary
from ..reading.stackfile import read
from .options import EXIT_ERROR, EXIT_OK, format_option


def _gh_escape(text: str, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def github_annotation(d: Diagnostic) -> str:
    """A GitHub Actions workflow command; the run's summary shows it on the file and line."""
    return (
        f"::{d.severity} file={_gh_escape(d.file, True)},line={d.line},col={d.column},"
        f"title={_gh_escape('smtp-iac validate', True)}::{_gh_escape(d.message + ' [at ' + d.path + ']')}"
    )


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True))
@format_option("text", "json", "github")
def validate_cmd(files: tuple[str, ...], fmt: str) -> int:
    """Check stack files against the schema and rules (no store, no network)."""
    results = []
    for f in files:
        _, diags = read(f)
        results.append((f, diags))
    failed = any(has_errors(d) for _, d in results)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "valid": not failed,
                    "files": [
                        {
                            "file": f,
                            "valid": not has_errors(d),
                            "diagnostics": [x.to_dict() for x in d],
                            "omitted": _omitted(d),
                        }
                        for f, d in results
                    ],
                },
                indent=2,
            )
        )
    elif fmt == "github":
        for _, diags in results:
            for d in diags:
                click.echo(github_annotation(d))
    else:
        for f, diags in results:
            for d in diags:
                click.echo(d.format())
            errors, warnings, at_least = summary(diags)
            state = "invalid" if errors else "valid"
            least = "at least " if at_least else ""
            click.echo(f"{f}: {state} ({least}{errors} error(s), {warnings} warning(s))")
    return EXIT_ERROR if failed else EXIT_OK


def _omitted(diags: list[Diagnostic]) -> dict[str, object]:
    """What the error budget left out of ``diags`` (nothing: zeros)."""
    for d in diags:
        if d.omitted is not None:
            return {"errors": d.omitted.errors, "warnings": d.omitted.warnings, "at_least": d.omitted.at_least}
    return {"errors": 0, "warnings": 0, "at_least": False}
