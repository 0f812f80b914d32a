"""What a verify check answers: the failure classes of SPEC, the result record, and the
troubleshooting advice for each class, in the words of the platform's troubleshooting section.

Pure: no I/O here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from ..addresses import Address


class Failure(StrEnum):
    """SPEC's failure classes of a check."""

    DNS = "dns"
    CONNECTION_REFUSED = "connection_refused"
    CONNECT_TIMEOUT = "connect_timeout"
    GREETING_TIMEOUT = "greeting_timeout"
    TLS_MISMATCH = "tls_mismatch"
    CERT_VERIFY = "cert_verify"
    STARTTLS_NOT_OFFERED = "starttls_not_offered"
    AUTH_NOT_OFFERED = "auth_not_offered"
    AUTH_FAILED = "auth_failed"
    SENDER_REJECTED = "sender_rejected"
    RECIPIENT_REJECTED = "recipient_rejected"
    PROTOCOL = "protocol"


class Stage(StrEnum):
    """Where in the conversation a check was when it ended."""

    CONNECT = "connect"
    GREETING = "greeting"
    EHLO = "ehlo"
    STARTTLS = "starttls"
    TLS = "tls"
    AUTH = "auth"
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"


class CheckFailed(Exception):
    """How a check ended when it failed: its class, the stage, and a detail that may still
    hold relay text (``run_check`` masks the password in it before it goes anywhere)."""

    def __init__(self, failure: Failure, stage: Stage, detail: str):
        super().__init__(detail)
        self.failure = failure
        self.stage = stage
        self.detail = detail


class Audience(StrEnum):
    """Whose words advice names the settings in: a stack file's keys (the CLI, plans, reports and
    the API, whose clients write stack files or their own forms), or the console form's labels."""

    STACK = "stack"
    FORM = "form"


FIELD_WORDS: dict[str, dict[Audience, str]] = {
    "starttls": {
        Audience.STACK: "tls: true, tls_mode: starttls",
        Audience.FORM: "TLS on, TLS mode STARTTLS",
    },
    "implicit": {
        Audience.STACK: "tls: true, tls_mode: implicit",
        Audience.FORM: "TLS on, TLS mode SSL/TLS",
    },
    "set_implicit": {
        Audience.STACK: "set tls: true and tls_mode: implicit",
        Audience.FORM: "switch TLS on and set TLS mode to SSL/TLS",
    },
    "implicit_client": {
        Audience.STACK: "an implicit-TLS client (tls_mode: implicit)",
        Audience.FORM: "an implicit-TLS client (TLS mode SSL/TLS)",
    },
    "ca_file": {
        Audience.STACK: "set verify.ca_file to that CA bundle (PEM)",
        Audience.FORM: "ask your system administrator to make the settings service trust that CA",
    },
    "password": {
        Audience.STACK: "Check that the password reference points at the current secret",
        Audience.FORM: "Check that the Password is the current one",
    },
    "from": {
        Audience.STACK: " (verify.from, or the record's sender)",
        Audience.FORM: " (the Sender field)",
    },
    "to": {
        Audience.STACK: " (verify.to)",
        Audience.FORM: "",
    },
}
"""How advice names a setting, per audience: ``{name}`` in an advice text is replaced by the
words of its audience (``advice``), so the CLI says ``tls_mode: implicit`` where the console
says "TLS mode SSL/TLS"."""

_PORTS = (
    "Common SMTP ports: 587 STARTTLS (recommended: {starttls}), "
    "465 implicit SSL/TLS ({implicit}), "
    "25 not recommended and often blocked by ISPs."
)
_PERSISTS = "If the issue persists, contact your system administrator."

_ADVICE: dict[Failure, str] = {
    Failure.DNS: (
        "Verify the SMTP hostname is correct: it does not resolve from here. Check its spelling "
        "(a host name only: no scheme, port or path) and that this machine can resolve it. " + _PERSISTS
    ),
    Failure.CONNECTION_REFUSED: (
        "Verify the SMTP hostname and port are correct: nothing accepted a connection on that "
        "port. " + _PORTS + " Ensure your network allows outbound connections on the configured "
        "SMTP port. " + _PERSISTS
    ),
    Failure.CONNECT_TIMEOUT: (
        "Ensure your network allows outbound connections on the configured SMTP port: the "
        "connection attempt got no answer at all, which usually means a firewall silently drops "
        "it (port 25 is often blocked by ISPs and cloud providers; prefer 587). Also verify the "
        "SMTP hostname and port. " + _PERSISTS
    ),
    Failure.GREETING_TIMEOUT: (
        "The server accepted the connection but never sent the SMTP greeting. A plain or "
        "STARTTLS client on an implicit-TLS port looks exactly like a silent server: if the port "
        "is 465 (or your provider says SSL/TLS), {set_implicit}. Confirm "
        "the TLS setting matches your SMTP provider's requirements. " + _PORTS + " " + _PERSISTS
    ),
    Failure.TLS_MISMATCH: (
        "Confirm the TLS setting matches your SMTP provider's requirements: the TLS handshake "
        "failed, typically {implicit_client} on a plain or STARTTLS "
        "port. " + _PORTS + " " + _PERSISTS
    ),
    Failure.CERT_VERIFY: (
        "The server's TLS certificate is not trusted or does not match the host name. Use the "
        "host name the certificate was issued for (not an IP address or an alias). For a relay "
        "with a certificate from a private CA, {ca_file}. " + _PERSISTS
    ),
    Failure.STARTTLS_NOT_OFFERED: (
        "Confirm the TLS setting matches your SMTP provider's requirements: the server does not "
        "offer STARTTLS on this port. " + _PORTS + " Turning TLS off would send the credentials "
        "in clear and is not recommended. " + _PERSISTS
    ),
    Failure.AUTH_NOT_OFFERED: (
        "The server does not offer a usable AUTH (many servers offer it only after TLS, or only "
        "on the submission port 587, not on 25). Verify the SMTP port and TLS setting, and that "
        "this relay takes a username and password. " + _PERSISTS
    ),
    Failure.AUTH_FAILED: (
        "Verify the SMTP credentials (username and password) are correct: the server refused "
        "them. {password}; some providers "
        "need an app password or an API key (e.g. SendGrid: username 'apikey'). " + _PERSISTS
    ),
    Failure.SENDER_REJECTED: (
        "The server refused the sender address. Use a From address this account may send as"
        "{from}, e.g. a verified sender or domain at your "
        "provider. " + _PERSISTS
    ),
    Failure.RECIPIENT_REJECTED: (
        "The server refused the test recipient{to}. Check the address and that this "
        "account may send to it. " + _PERSISTS
    ),
    Failure.PROTOCOL: (
        "The server did not answer as an SMTP server should. Verify the SMTP hostname and port "
        "point at an SMTP relay, and confirm the TLS setting matches your SMTP provider's "
        "requirements. " + _PORTS + " " + _PERSISTS
    ),
}


def advice(failure: Failure, audience: Audience = Audience.STACK) -> str:
    """The advice for a failure class, naming the settings in ``audience``'s words."""
    return _ADVICE[failure].format_map({name: words[audience] for name, words in FIELD_WORDS.items()})


ADVICE: dict[Failure, str] = {f: advice(f) for f in Failure}
"""Each failure class's advice in a stack file's words (what a result carries: the CLI's, the API's)."""

assert set(_ADVICE) == set(Failure)


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of one check. ``detail`` keeps the server's reply (it helps), never the password."""

    ok: bool
    address: Address
    mode: str
    failure: Failure | None
    stage: Stage | None
    detail: str
    advice: str
    elapsed_seconds: float
    skipped: bool = False
    cert_not_after: datetime | None = None  # the relay's TLS certificate's expiry, when TLS was used

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)} | {"address": str(self.address)}
        out["cert_not_after"] = self.cert_not_after.isoformat() if self.cert_not_after is not None else None
        return out

    def __post_init__(self) -> None:
        if self.ok != (self.failure is None):
            raise ValueError("ok must be True exactly when there is no failure")

    def for_address(self, address: Address) -> VerifyResult:
        """The same outcome, reported for another scope that shares the settings."""
        return dataclasses.replace(self, address=address)

    def summary(self) -> str:
        if self.skipped:
            return f"{self.address}: skipped ({self.detail})"
        if self.ok:
            return f"{self.address}: ok ({self.detail}, {self.elapsed_seconds:.2f} s)"
        return f"{self.address}: FAILED [{self.failure}] at {self.stage}: {self.detail} ({self.elapsed_seconds:.2f} s)"


def failed(
    address: Address, mode: str, f: CheckFailed, detail: str, elapsed: float, cert_not_after: datetime | None = None
) -> VerifyResult:
    """The result of a failed check; ``detail`` is ``f.detail`` with the password masked;
    ``cert_not_after``: the relay's certificate's expiry when the TLS handshake got that far."""
    return VerifyResult(
        ok=False,
        address=address,
        mode=mode,
        failure=f.failure,
        stage=f.stage,
        detail=detail,
        advice=ADVICE[f.failure],
        elapsed_seconds=round(elapsed, 3),
        cert_not_after=cert_not_after,
    )


def succeeded(
    address: Address, mode: str, detail: str, elapsed: float, cert_not_after: datetime | None = None
) -> VerifyResult:
    return VerifyResult(
        ok=True,
        address=address,
        mode=mode,
        failure=None,
        stage=None,
        detail=detail,
        advice="",
        elapsed_seconds=round(elapsed, 3),
        cert_not_after=cert_not_after,
    )


def skipped(address: Address) -> VerifyResult:
    return VerifyResult(
        ok=True,
        address=address,
        mode="off",
        failure=None,
        stage=None,
        detail="verify.mode is off: settings not checked",
        advice="",
        elapsed_seconds=0.0,
        skipped=True,
    )
