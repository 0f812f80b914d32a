"""Request and response bodies of the service: pydantic models, hence its OpenAPI 3.1 schema.

Request bodies are strict (no unknown keys, no ``"587"`` for a number, no ``"true"`` for a
bool), as stack files are. The fields reuse the stack model's types (``models``): the same
host, port, username and address syntax everywhere. A password arrives in plain (over TLS)
and is held as ``SecretStr``; no response model has a field that could carry it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StrictInt,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

from ..models import Email as AnyEmail
from ..models import Host, Port, TlsMode, Username
from ..verify import VerifyResult
from ..verify.message import UnsafeField, check_address, header_problem
from . import patterns

_IN = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


def _header_safe(header: str) -> AfterValidator:
    """422 for a value that would write header lines of its own once in a mail header (an
    RFC 2047 encoded word decoding to a line break), before any connection."""

    def check(value: str) -> str:
        why = header_problem(value, header)
        if why is not None:
            raise ValueError(why)
        return value

    return AfterValidator(check)


def _mailbox(value: str, info: ValidationInfo) -> str:
    """422 for an address a message cannot be sent from or to (not a bare local@domain, or
    holding what could split a header), whether or not this request sends one."""
    try:
        return check_address((info.field_name or "address").rstrip("_"), value)
    except UnsafeField as e:
        raise ValueError(str(e)) from None


def _doc(schema: dict[str, Any]) -> WithJsonSchema:
    """The JSON schema the document shows for a type: what the checks it goes through accept
    together (``patterns``), where pydantic's own would show only its first one."""
    return WithJsonSchema({"type": "string", **schema})


Sender = Annotated[AnyEmail, _header_safe("to"), _doc({"pattern": patterns.SENDER})]
"""A record's sender: a mail address that may go into a header."""
Mailbox = Annotated[AnyEmail, AfterValidator(_mailbox), _doc({"pattern": patterns.MAILBOX})]
"""An address a message is sent from or to (a test message, a system e-mail)."""


def _unicode(value: SecretStr) -> SecretStr:
    """JSON may escape a lone surrogate (``"\\udc80"``), which no relay or store can take: 422."""
    try:
        value.get_secret_value().encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("password must be Unicode text (it holds a lone surrogate)") from None
    return value


Password = Annotated[
    SecretStr,
    Field(min_length=1, max_length=1024),
    AfterValidator(_unicode),
    _doc({"format": "password", "writeOnly": True, "minLength": 1, "maxLength": 1024, "pattern": patterns.PASSWORD}),
]
HostName = Annotated[
    Host,
    _doc(
        {
            "minLength": 1,
            "maxLength": 253,
            "pattern": patterns.HOST,
            "description": "a DNS name, an IPv4 address (a.b.c.d) or an IPv6 address; an internationalized "
            "name as its A-labels (xn--), which must be valid ones. The service also takes one written in "
            "Unicode, in the form IDNA 2008 maps it to, which no pattern can state",
        }
    ),
]
UserName = Annotated[Username, _doc({"minLength": 1, "maxLength": 512, "pattern": patterns.TEXT})]
AddressText = Annotated[str, Field(max_length=200), _doc({"maxLength": 200, "pattern": patterns.ADDRESS})]
"""An address in a body: ``controller``, ``partners/<p>``, ``partners/<p>/organizations/<o>``."""
Timeout = Annotated[StrictInt, Field(ge=1, le=120)]


class VerifyIn(BaseModel):
    """How to check the settings before they are written (SPEC "Verify"). ``off`` only where
    the service allows unverified writes (``serve --allow-unverified``)."""

    model_config = ConfigDict(
        **_IN,
        json_schema_extra={  # mode send needs a recipient (as VerifyOptions has it)
            "if": {"properties": {"mode": {"const": "send"}}, "required": ["mode"]},
            "then": {"properties": {"to": {"type": "string"}}, "required": ["to"]},
        },
    )
    mode: Literal["send", "login", "off"] = "login"
    to: Mailbox | None = None
    from_: Mailbox | None = Field(default=None, alias="from")
    timeout_seconds: Timeout | None = None

    @model_validator(mode="after")
    def _send_needs_to(self) -> VerifyIn:
        if self.mode == "send" and self.to is None:
            raise ValueError("verify.to is required when mode is send")
        return self


class SettingsIn(BaseModel):
    """A scope's settings, password in plain, as the platform's form has them. Without a password
    the stored one is kept, as long as host, port, TLS and username stay the same (a console
    leaves the write-only Password field empty); a new record, or a change of relay or
    account, needs it."""

    model_config = ConfigDict(
        **_IN,
        json_schema_extra={  # the rules between fields (rules.check_settings) that are errors
            "allOf": [
                {  # tls_mode is only allowed with tls: true
                    "if": {"properties": {"tls": {"const": False}}, "required": ["tls"]},
                    "then": {"properties": {"tls_mode": {"type": "null"}}},
                },
                {  # port 465 is implicit TLS
                    "if": {"properties": {"port": {"const": 465}}, "required": ["port"]},
                    "then": {"properties": {"tls": {"const": True}}},
                },
            ]
        },
    )
    host: HostName
    port: Port
    tls: StrictBool
    tls_mode: TlsMode | None = None
    username: UserName
    password: Password | None = None
    sender: Sender | None = None

    def fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"password"})


class PutIn(SettingsIn):
    verify: VerifyIn | None = None


class TestEmailIn(BaseModel):
    """The platform's Send Test Email: ``settings`` to check (else the scope's stored ones); with
    ``to``, a test message is sent there too (mode ``send``), else the check stops after login."""

    model_config = _IN
    settings: SettingsIn | None = None
    to: Mailbox | None = None
    from_: Mailbox | None = Field(default=None, alias="from")
    timeout_seconds: Timeout | None = None


class SwitchIn(BaseModel):
    model_config = _IN
    enabled: StrictBool


class MessageIn(BaseModel):
    """A system e-mail of the platform (registrations, password resets, alerts)."""

    model_config = _IN
    kind: Literal["registration", "password_reset", "alert"]
    to: Mailbox
    subject: Annotated[
        str,
        Field(min_length=1, max_length=998, pattern=r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"),
        _header_safe("subject"),
    ]
    text: Annotated[str, Field(max_length=256 * 1024)]


# ----- responses ---------------------------------------------------------------------------


class RecordOut(BaseModel):
    """A record as stored: never the password; its keyed fingerprint where the caller may see it."""

    address: str
    host: str
    port: int
    tls: bool
    tls_mode: str | None
    username: str
    sender: str | None
    password_fingerprint: str | None
    version: int
    managed_by: str | None
    updated_at: datetime | None
    updated_by: str | None


class CheckOut(BaseModel):
    """The outcome of a verify check: ``ok``, or the failure class with the platform's advice."""

    address: str
    ok: bool
    mode: str
    failure: str | None
    stage: str | None
    detail: str
    advice: str
    elapsed_seconds: float
    skipped: bool

    @classmethod
    def of(cls, r: VerifyResult) -> CheckOut:
        return cls.model_validate(r.to_dict())


class FieldProblem(BaseModel):
    field: str
    message: str


class PutOut(BaseModel):
    record: RecordOut
    verify: CheckOut | None
    warnings: list[FieldProblem] = Field(description="what the stack-file rules warn of (tls: false, port 25)")


class StepOut(BaseModel):
    address: str
    outcome: str


class EffectiveOut(BaseModel):
    organization: str
    smtp_enabled: bool
    source: str | None = Field(description="the address whose record applies; null: no SMTP settings at all")
    tier: str
    settings: RecordOut | None
    chain: list[StepOut]


class SwitchOut(BaseModel):
    organization: str
    smtp_enabled: bool


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str | None
    stack: str | None
    address: str | None
    action: str
    outcome: str
    old_fingerprint: str | None
    new_fingerprint: str | None
    detail: str


class MessageOut(BaseModel):
    organization: str
    source: str
    accepted: bool
    detail: str


class OrgRowOut(BaseModel):
    organization: str
    smtp_enabled: bool
    tier: str = Field(description="where its settings come from: organization, partner, controller or none")
    own_record: bool = Field(description="it has a record of its own (used only while smtp_enabled)")
    managed_by: str | None = Field(description="the stack managing its own record; null: none or out of band")


class OrgPageOut(BaseModel):
    total: int = Field(description="how many matched, over every page")
    offset: int
    limit: int
    items: list[OrgRowOut]


class PartnerRowOut(BaseModel):
    partner: str
    organizations: int
    has_record: bool
    managed_by: str | None
    host: str | None = Field(default=None, description="its record's relay host; null: no record")
    port: int | None = Field(default=None, description="its record's relay port; null: no record")


class PartnerPageOut(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[PartnerRowOut]


class BlastOut(BaseModel):
    address: str
    organizations: int = Field(description="organizations whose mail a record here carries once saved")


class WhoAmIOut(BaseModel):
    """The caller's own token, without its secret (what a console signs in with)."""

    id: str
    name: str
    role: str
    partner: str | None
    org: str | None
    expires_at: datetime | None


class ProblemOut(BaseModel):
    """``application/problem+json`` (RFC 9457)."""

    title: str
    status: int
    detail: str
    address: str | None = None
    hint: str | None = None
    kind: str | None = None
    errors: list[dict[str, str]] | None = None
    verify: CheckOut | None = None
    expected: int | None = None
    actual: int | None = None
    last_writer: str | None = None
    last_written: str | None = None
    owner: str | None = None
    stack: str | None = None
    fault: Literal["connection", "pool", "lock", "statement", "busy", "error"] | None = Field(
        None, description="a 503's cause: the store's connection lost, none free, a lock or statement past its limit"
    )
    write: Literal["not_applied", "unknown"] | None = Field(
        None,
        description="a 503 that ended a write: not applied (retry), or unknown (read the record: "
        "a moved version means it was applied; a retry with the same If-Match is refused 412)",
    )


class HealthOut(BaseModel):
    status: Literal["ok"]
