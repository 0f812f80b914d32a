"""``plan``, ``apply``, ``drift``, ``effective``, ``import``: the workflow for pull requests,
merge pipelines and drift jobs (SPEC's command table)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import click
import yaml

from ..addresses import Address
from ..apply import ApplyReport, apply_plan
from ..drift import drift_items
from ..errors import StackInvalid, UsageError
from ..plandoc import read_plan
from ..planning import make_plan
from ..report import markdown, text
from ..stackfile import read
from ..store import open_store, resolve_store_url
from .app import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, format_option, pass_state, store_option

MASK = "***"


def _load(path: str):
    loaded, diags = read(path)
    if loaded is None:
        raise StackInvalid(diags)
    for d in diags:  # warnings: to stderr, so stdout stays the plan
        click.echo(d.format(), err=True)
    return loaded


def _open(state, stack_url: str | None):
    return open_store(resolve_store_url(state.store, stack_url))


def _emit(fmt: str, *, text_out: Callable[[], str], md_out: Callable[[], str], data: Callable[[], dict]) -> None:
    """Render only the format asked for (a 20,000-org plan's JSON document alone is 0.3 s)."""
    if fmt == "json":
        click.echo(json.dumps(data(), indent=2))
    elif fmt == "markdown":
        click.echo(md_out(), nl=False)
    else:
        click.echo(text_out(), nl=False)


@click.command("plan")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Save the plan (JSON) for `apply PLAN.json`.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 0 when there are no changes, 2 when there are.")
@click.option("--adopt", is_flag=True, help="Take over scopes that another stack manages.")
@click.option("--show-unchanged", is_flag=True, help="List unchanged scopes too (text format).")
@format_option("text", "json", "markdown")
@store_option
@pass_state
def plan_cmd(
    state, file: str, out: str | None, detailed_exitcode: bool, adopt: bool, show_unchanged: bool, fmt: str
) -> int:
    """Show what apply would change in the live store, and for which organizations."""
    loaded = _load(file)
    with _open(state, loaded.stack.store) as store:
        plan = make_plan(loaded, store, stack_file=file, adopt=adopt)
        if out or fmt == "json":  # a document that apply may be given: signed with the store key
            plan.seal(store.fingerprint)
    if out:
        _write_atomic(Path(out), plan.to_json())
    _emit(
        fmt,
        text_out=lambda: text.render_plan(plan, show_unchanged=show_unchanged),
        md_out=lambda: markdown.render_plan(plan),
        data=plan.to_dict,
    )
    if plan.has_errors:
        return EXIT_ERROR
    if detailed_exitcode and plan.has_changes:
        return EXIT_CHANGES
    return EXIT_OK


def _write_atomic(path: Path, content: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(path)
    except OSError as e:
        raise UsageError(f"cannot write {path}: {e.strerror or e}") from None


class _Progress:
    """A progress bar on a terminal; plain lines (one per scope event) in CI logs."""

    def __init__(self, total: int, enabled: bool):
        self.bar = None
        self.total = total
        if enabled and total and sys.stderr.isatty():
            from rich.progress import Progress

            self.bar = Progress(transient=True)
            self.task = self.bar.add_task("applying", total=total)

    def __enter__(self):
        if self.bar:
            self.bar.start()
        return self

    def __exit__(self, *exc):
        if self.bar:
            self.bar.stop()

    def event(self, address: str, what: str) -> None:
        if self.bar is not None:
            if what in ("applied", "refused", "failed", "left as it was"):
                self.bar.advance(self.task)
            self.bar.update(self.task, description=f"{address}: {what}")
        else:
            click.echo(f"{address}: {what}", err=True)


@click.command("apply")
@click.argument("source", metavar="FILE|PLAN.json", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Do not ask; required when there is no terminal.")
@click.option("--adopt", is_flag=True, help="Take over scopes that another stack manages (stack files only).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=8, show_default=True, help="SMTP checks at once.")
@format_option("text", "json", "markdown")
@store_option
@pass_state
def apply_cmd(state, source: str, yes: bool, adopt: bool, concurrency: int, fmt: str) -> int:
    """Verify, then write each changed scope (a saved plan: exactly what it showed, or nothing)."""
    if source.endswith(".json"):
        plan = read_plan(source)
        if adopt:
            raise UsageError("--adopt belongs to plan; a saved plan applies what it showed")
        stack_url = None if MASK in plan.store else plan.store
        base_dir = Path(plan.stack_file).parent
        store = _open(state, stack_url)
        if store.url_for_display != plan.store:
            # Versions and fingerprints in the plan belong to its store: another store would
            # either look "stale" for the wrong reason or, sharing the key, take the writes.
            where = store.url_for_display
            store.close()
            raise UsageError(
                f"{source} was planned against {plan.store}, not {where}; nothing applied",
                hint="apply it against the store it was planned with (--store or SMTP_IAC_STORE), "
                "or make a new plan against this one",
            )
    else:
        loaded = _load(source)
        store = _open(state, loaded.stack.store)
        base_dir = loaded.base_dir
        plan = None
    with store:
        if plan is None:
            plan = make_plan(loaded, store, stack_file=source, adopt=adopt)
        changes = plan.diff.changes
        if changes and not plan.has_errors and not yes:
            if not sys.stdin.isatty():
                raise UsageError("apply writes to the store: pass --yes (there is no terminal to ask on)")
            click.echo(text.render_plan(plan), err=True)
            if not click.confirm(f"Apply {len(changes)} change(s) to {plan.store}?", err=True):
                click.echo("nothing applied", err=True)
                return EXIT_ERROR
        with _Progress(len(changes), fmt == "text") as progress:
            report: ApplyReport = apply_plan(
                plan, store, base_dir=base_dir, concurrency=concurrency, on_event=progress.event
            )
    _emit(
        fmt,
        text_out=lambda: text.render_apply(report),
        md_out=lambda: markdown.render_apply(report),
        data=lambda: {
            "stack": report.stack,
            "ok": report.ok,
            "summary": report.counts(),
            "results": [r.to_dict() for r in report.results],
        },
    )
    return EXIT_OK if report.ok else EXIT_ERROR


@click.command("drift")
@click.argument("file", type=click.Path(dir_okay=False))
@format_option("text", "json", "markdown")
@store_option
@pass_state
def drift_cmd(state, file: str, fmt: str) -> int:
    """Compare the live store with the stack; write nothing. Exit 0 none, 2 drift, 1 error."""
    loaded = _load(file)
    with _open(state, loaded.stack.store) as store:
        plan = make_plan(loaded, store, stack_file=file, blast=False)
    unknown = [s for s in plan.diff.refused if s.refusal.kind == "unknown_tenant"]
    items = drift_items(plan.diff, plan.stack)
    _emit(
        fmt,
        text_out=lambda: text.render_drift(plan.stack, items),
        md_out=lambda: markdown.render_drift(plan.stack, items),
        data=lambda: {
            "stack": plan.stack,
            "drift": bool(items),
            "items": [i.to_dict() for i in items],
            "errors": [{"address": str(s.address), "message": s.refusal.message} for s in unknown],
        },
    )
    if unknown:
        for s in unknown:
            click.echo(f"error: {s.address}: {s.refusal.message}", err=True)
        return EXIT_ERROR
    return EXIT_CHANGES if items else EXIT_OK


@click.command("effective")
@click.argument("org", required=False)
@click.option("--all", "all_", is_flag=True, help="Every organization (address and winning tier).")
@format_option("text", "json")
@store_option
@pass_state
def effective_cmd(state, org: str | None, all_: bool, fmt: str) -> int:
    """Effective SMTP settings of an organization, and the tier they come from."""
    if bool(org) == all_:
        raise UsageError("give one ORG (partners/p/organizations/o, p/o or a unique org id) or --all")
    with _open(state, None) as store:
        snap = store.snapshot()
        if all_:
            res = snap.effective_all()
            if fmt == "json":
                click.echo(
                    json.dumps(
                        [
                            {"org": str(a), "source": str(r.source) if r.source else None, "tier": r.tier}
                            for a, r in res.items()
                        ]
                    )
                )
            else:
                for a, r in res.items():
                    click.echo(f"{a}\t{r.source or 'none'}")
            return EXIT_OK
        o = store.find_org(org)
        res = snap.effective(o.address)
    rec = res.record
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "org": str(res.org),
                    "smtp_enabled": o.smtp_enabled,
                    "source": str(res.source) if res.source else None,
                    "tier": res.tier,
                    "settings": (
                        rec.public_fields()
                        | {
                            "password_fingerprint": rec.password_fingerprint,
                            "version": rec.version,
                            "managed_by": rec.managed_by,
                        }
                    )
                    if rec
                    else None,
                    "chain": [{"address": str(s.address), "outcome": s.outcome} for s in res.chain],
                },
                indent=2,
            )
        )
    else:
        click.echo(text.render_effective(str(res.org), res, rec), nl=False)
    return EXIT_OK


def env_placeholder(address: Address) -> str:
    """SMTP_PASSWORD_<PARTNER>[__<ORG>] (ids have no '_', so the mapping is one-to-one)."""
    if address.org:
        tail = f"{address.partner}__{address.org}"
    else:
        tail = address.partner or "controller"
    return "SMTP_PASSWORD_" + tail.upper().replace("-", "_")


def _settings_yaml(rec) -> dict:
    d = {"host": rec.host, "port": rec.port, "tls": rec.tls}
    if rec.tls_mode:
        d["tls_mode"] = rec.tls_mode
    d["username"] = rec.username
    d["password"] = {"env": env_placeholder(Address.parse(rec.address))}
    if rec.sender:
        d["sender"] = rec.sender
    return d


@click.command("import")
@click.option("--partner", help="Only this partner (its record and its organizations').")
@click.option("--name", help="Stack name. Default: the records' common owner, else 'imported'.")
@store_option
@pass_state
def import_cmd(state, partner: str | None, name: str | None) -> int:
    """Print the live store as a stack file (passwords as {env: ...} placeholders)."""
    with _open(state, None) as store:
        snap = store.snapshot()
    if partner and not snap.tenants.has_partner(partner):
        raise UsageError(f"partner '{partner}' is not known to the store")
    records = {a: r for a, r in snap.records.items() if not partner or a.partner == partner}
    owners = {r.managed_by for r in records.values() if r.managed_by}
    name = name or (owners.pop() if len(owners) == 1 else "imported")
    doc: dict = {"version": 1, "name": name}
    from ..addresses import CONTROLLER

    if CONTROLLER in records:
        doc["controller"] = {"smtp": _settings_yaml(records[CONTROLLER])}
    partners: dict = {}
    for a in sorted(records):
        if not a.partner:
            continue
        entry = partners.setdefault(a.partner, {})
        if a.org:
            entry.setdefault("organizations", {})[a.org] = {"smtp": _settings_yaml(records[a])}
        else:
            entry["smtp"] = _settings_yaml(records[a])
    # a partner's own record first, then its organizations
    doc["partners"] = {
        p: ({"smtp": e["smtp"]} if "smtp" in e else {})
        | ({"organizations": e["organizations"]} if "organizations" in e else {})
        for p, e in partners.items()
    }
    envs = sorted({_settings_yaml(r)["password"]["env"] for r in records.values()})
    header = [
        "# yaml-language-server: $schema=../schemas/stack.schema.json",
        f"# Imported from {store.url_for_display}. Passwords are placeholders: set each variable",
        "# (or change the reference) before plan: " + (", ".join(envs) if envs else "(no records)"),
    ]
    click.echo("\n".join(header))
    click.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False), nl=False)
    return EXIT_OK


def register(cli: click.Group) -> None:
    for cmd in (plan_cmd, apply_cmd, drift_cmd, effective_cmd, import_cmd):
        cli.add_command(cmd)
