"""``smtp-iac test-email FILE ADDRESS`` (the platform's "Send Test Email", writes nothing) and
``smtp-iac sink`` (a local SMTP sink on loopback for development and the demo)."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import signal
import sys
import threading
from typing import Any

import click

from ..addresses import Address
from ..errors import UsageError
from ..models import INHERIT
from ..reading.secrets import resolve_settings
from ..reading.stackfile import load
from ..verify import VerifyResult, run_check
from ..verify.sink import TLS_MODES, SinkMessage, start_sink
from .options import EXIT_ERROR, EXIT_OK, format_option

_UNPRINTABLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@click.command("test-email")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("address")
@format_option("text", "json")
def test_email_cmd(file: str, address: str, fmt: str) -> int:
    """Run the verify check (connect, TLS, AUTH and, in send mode, a test message) for one
    scope of FILE, with the stack's verify options. Writes nothing. Exit 0 ok, 1 failed.

    ADDRESS: controller | partners/<p> | partners/<p>/organizations/<o>. With verify.mode off
    the check still runs, in login mode (you asked for it)."""
    try:
        addr = Address.parse(address)
    except ValueError as e:
        raise UsageError(str(e)) from None
    loaded = load(file)
    desired = loaded.stack.scopes().get(addr)
    if desired is None:
        raise UsageError(
            f"{file} does not manage this scope",
            address=addr,
            hint="test-email checks a scope that the file gives settings (smtp: {...})",
        )
    if desired == INHERIT:
        raise UsageError(
            f"{file} sets 'smtp: inherit' here: there are no settings to check",
            address=addr,
            hint="test the scope whose settings it inherits",
        )
    resolved = resolve_settings(desired, files=loaded.files, address=addr)
    options = loaded.stack.verify
    if options.mode == "off":
        options = options.model_copy(update={"mode": "login"})
    result = run_check(resolved, options, address=addr, base_dir=loaded.base_dir)
    _print_result(result, fmt, resolved.public_fields())
    return EXIT_OK if result.ok else EXIT_ERROR


def _print_result(result: VerifyResult, fmt: str, fields: dict[str, Any]) -> None:
    if fmt == "json":
        click.echo(json.dumps({"settings": fields, **result.to_dict()}, indent=2))
        return
    where = f"{fields['host']}:{fields['port']}"
    if result.ok:
        click.echo(f"{result.address}: ok ({result.mode} check of {where}, {result.elapsed_seconds:.2f} s)")
        click.echo(f"  {result.detail}")
    else:
        click.echo(
            f"{result.address}: verify failed: {result.failure} at {result.stage} "
            f"({result.mode} check of {where}, {result.elapsed_seconds:.2f} s)"
        )
        click.echo(f"  {result.detail}")
        click.echo(f"  hint: {result.advice}")


@click.command("sink")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Loopback address to listen on (127.0.0.1, ::1 or localhost only).",
)
@click.option("--port", default=2525, show_default=True, type=int, help="Port; 0 picks a free one.")
@click.option(
    "--tls",
    "tls",
    type=click.Choice(TLS_MODES),
    default="none",
    show_default=True,
    help="none: plain SMTP; starttls: offer STARTTLS; implicit: TLS from the first byte. "
    "With TLS a throwaway CA is written; use it as verify.ca_file.",
)
@click.option(
    "--cert-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Where to write the throwaway CA and certificate (default: a new temp dir).",
)
def sink_cmd(host: str, port: int, tls: str, cert_dir: str | None) -> int:
    """A local SMTP sink for development and the demo: accepts any AUTH (loopback only),
    prints each message's envelope and headers (never a password), runs until Ctrl-C."""
    _quiet_server_tracebacks()
    handle = start_sink(host, port, tls=tls, cert_dir=cert_dir, on_message=_echo_message)
    click.echo(
        f"smtp-iac sink listening on {handle.host} port {handle.port} (TLS: {tls}); "
        "accepts any username and password; Ctrl-C to stop"
    )
    if handle.ca_file:
        click.echo(f"  CA certificate (set verify.ca_file to it): {handle.ca_file}")
    sys.stdout.flush()
    stop = threading.Event()
    previous = None
    with contextlib.suppress(ValueError):  # not the main thread (embedded use)
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    click.echo(f"sink stopped: {len(handle.messages)} message(s) received")
    return EXIT_OK


def _clean(text: str) -> str:
    """Network input goes to a terminal: no control characters (escape sequences)."""
    return _UNPRINTABLE.sub("?", text)


def _echo_message(m: SinkMessage) -> None:
    auth = f"AUTH as {m.auth_user}" if m.auth_user else "no AUTH"
    lines = [
        f"--- message {m.number} at {m.received_at.isoformat(timespec='seconds')} from {m.peer} "
        f"({'TLS' if m.tls else 'no TLS'}, {_clean(auth)}, {m.size} bytes)",
        f"MAIL FROM: <{_clean(m.mail_from)}>",
        *(f"RCPT TO:   <{_clean(r)}>" for r in m.rcpt_tos),
        *(f"{_clean(k)}: {_clean(v)}" for k, v in m.headers),
    ]
    click.echo("\n".join(lines))
    sys.stdout.flush()


class _OneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info:
            record.msg = f"{record.getMessage()}: {record.exc_info[1]!r}"
            record.args = ()
            record.exc_info = None
            record.exc_text = None
        return True


def _quiet_server_tracebacks() -> None:
    """aiosmtpd logs a client's failed TLS handshake with a traceback; say it in one line."""
    logger = logging.getLogger("mail.log")
    if not any(getattr(h, "_smtp_iac_sink", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("sink: %(message)s"))
        handler.setLevel(logging.WARNING)
        handler.addFilter(_OneLine())
        handler._smtp_iac_sink = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
