"""Domain model (pydantic v2). Mirrors ``schemas/stack.schema.json``; a test proves the two
agree on valid and invalid documents. Rules that need more than one field live in ``rules``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from .addresses import CONTROLLER, ID_PATTERN, Address

# No CR, LF or NUL anywhere (header injection, log forging).
SAFE_TEXT = r"^[^\r\n\x00]*$"
# Control characters and every Unicode space, spelled out: ``\s`` means three different sets
# in Python (the schema validator), Rust (pydantic) and ECMA 262 (editors).
_BLANK = r"\x00-\x20\x7f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
# Host: a name or IP literal; no scheme, port, path or spaces. ``rules.check_host`` is precise.
HOST_PATTERN = rf"^[^{_BLANK}/:@]+$|^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.%a-zA-Z]*$"
EMAIL_PATTERN = rf'^[^{_BLANK}@<>"]+@[^{_BLANK}@<>"]+$'  # no identity escape: invalid in ECMA's u mode
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
CONFIG_KEY_PATTERN = r"^[A-Za-z0-9_.:-]+$"

INHERIT: Final = "inherit"
"""``smtp: inherit``: the stack manages the ABSENCE of an override at a scope."""

SETTINGS_FIELDS: Final = ("host", "port", "tls", "tls_mode", "username", "sender")
"""Every field of a record but the password, in the order reports show them."""

UNSAFE_CHARS: Final = "\r\n\x00"


def has_unsafe_chars(text: str) -> bool:
    """CR, LF or NUL: never in any field or password (header injection, log forging)."""
    return any(c in text for c in UNSAFE_CHARS)


_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)

Id = Annotated[str, Field(pattern=ID_PATTERN)]


def _address(value: Any) -> Any:
    return Address.parse(value) if isinstance(value, str) else value


AddressField = Annotated[Address, BeforeValidator(_address), PlainSerializer(str, return_type=str)]
"""An ``Address`` in a model: read from its text, dumped as its text."""
Email = Annotated[str, Field(pattern=EMAIL_PATTERN)]


class _NoNull(BaseModel):
    """An optional key of a stack file is left out, never written as null (``sender:`` with
    nothing after it, ``smtp:`` with its block mis-indented): the schema refuses null, so
    the model does too. Defaults are not validated, so None stays the default."""

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("null is not allowed here; leave the key out")
        return value


class EnvRef(BaseModel):
    """Password from an environment variable."""

    model_config = _STRICT
    env: Annotated[str, Field(pattern=ENV_NAME_PATTERN)]

    def describe(self) -> str:
        return f"env:{self.env}"


class FileRef(BaseModel):
    """Password from a file (relative paths are relative to the stack file); one trailing newline is dropped."""

    model_config = _STRICT
    file: Annotated[str, Field(min_length=1, pattern=SAFE_TEXT)]

    def describe(self) -> str:
        return f"file:{self.file}"


class PulumiConfigRef(BaseModel):
    """Password from Pulumi stack config (``pulumi config set --secret KEY``)."""

    model_config = _STRICT
    pulumi_config: Annotated[str, Field(pattern=CONFIG_KEY_PATTERN)]

    def describe(self) -> str:
        return f"pulumi_config:{self.pulumi_config}"


SecretRef = EnvRef | FileRef | PulumiConfigRef


Host = Annotated[str, Field(min_length=1, max_length=253, pattern=HOST_PATTERN)]
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
TlsMode = Literal["starttls", "implicit"]
Username = Annotated[str, Field(min_length=1, max_length=512, pattern=SAFE_TEXT)]


class SmtpSettings(_NoNull):
    """Desired settings of one scope, as written in a stack file (the password is a reference)."""

    model_config = _STRICT
    host: Host
    port: Port
    tls: StrictBool
    tls_mode: TlsMode | None = None
    username: Username
    password: SecretRef
    sender: Email | None = None

    @property
    def effective_tls_mode(self) -> str:
        return effective_tls_mode(self.tls, self.tls_mode, self.port)


def effective_tls_mode(tls: bool, tls_mode: str | None, port: int) -> str:
    """``none`` without TLS; else the explicit mode; else implicit on 465, STARTTLS elsewhere."""
    if not tls:
        return "none"
    if tls_mode:
        return tls_mode
    return "implicit" if port == 465 else "starttls"


class VerifyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)
    mode: Literal["send", "login", "off"] = "login"
    to: Email | None = None
    from_: Email | None = Field(default=None, alias="from")
    timeout_seconds: Annotated[StrictInt, Field(ge=1, le=120)] = 15
    ca_file: Annotated[str, Field(min_length=1, pattern=SAFE_TEXT)] | None = None

    @model_validator(mode="after")
    def _send_needs_to(self) -> VerifyOptions:
        if self.mode == "send" and self.to is None:
            raise ValueError("verify.to is required when mode is send")
        return self


Desired = SmtpSettings | Literal["inherit"]
"""A managed scope: complete settings, or ``inherit``."""


class RelayRef(_NoNull):
    """``smtp: {relay: NAME, ...}``: the settings of ``relays.NAME``, with any field given
    beside ``relay`` in place of the relay's (``Stack.scopes`` merges them). That the relay
    exists and that the merged settings pass the rules is checked by ``relays``."""

    model_config = _STRICT
    relay: Id
    host: Host | None = None
    port: Port | None = None
    tls: StrictBool | None = None
    tls_mode: TlsMode | None = None
    username: Username | None = None
    password: SecretRef | None = None
    sender: Email | None = None

    def overrides(self) -> dict[str, Any]:
        """The settings fields given beside ``relay``, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set if name != "relay"}

    def merged(self, relay: SmtpSettings) -> SmtpSettings:
        """The relay's settings with this scope's overrides (every field already validated)."""
        return relay.model_copy(update=self.overrides())


Written = Annotated[Literal["inherit"] | SmtpSettings | RelayRef, Field(union_mode="left_to_right")]
"""A scope's ``smtp:`` as written in the file. At most one of the three takes a value
(``inherit``; settings, which have no ``relay``; a ``relay`` reference), so the first that does
is the one: tried in turn, most common first, not all of them as a "smart" union would."""


class OrganizationEntry(_NoNull):
    model_config = _STRICT
    smtp: Written | None = None


class PartnerEntry(_NoNull):
    model_config = _STRICT
    smtp: Written | None = None
    organizations: dict[Id, OrganizationEntry] = Field(default_factory=dict)


class ControllerEntry(_NoNull):
    model_config = _STRICT
    smtp: Written | None = None


class Stack(_NoNull):
    """A whole stack file. ``name`` defaults to the file's stem (set by ``stackfile.load``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    version: Literal[1]
    name: Id | None = None
    store: Annotated[str, Field(min_length=1, pattern=SAFE_TEXT)] | None = None
    verify: VerifyOptions = Field(default_factory=VerifyOptions)
    relays: dict[Id, SmtpSettings] = Field(default_factory=dict)
    controller: ControllerEntry | None = None
    partners: dict[Id, PartnerEntry] = Field(default_factory=dict)

    @field_validator("version", mode="before")
    @classmethod
    def _version_is_int(cls, value: Any) -> Any:
        # Literal[1] alone would take True and 1.0 (they compare equal to 1); the schema does not.
        if type(value) is not int:
            raise ValueError("version must be 1")
        return value

    @field_validator("verify", mode="before")
    @classmethod
    def _verify_no_null(cls, value: Any) -> Any:
        # VerifyOptions itself takes None for its optional keys (the Pulumi provider passes them
        # so); in a stack file, as in the schema, they are left out instead.
        if isinstance(value, dict):
            for key, item in value.items():
                if item is None:
                    raise ValueError(f"verify.{key}: null is not allowed here; leave the key out")
        return value

    def scopes(self) -> dict[Address, Desired]:
        """Managed scopes, in address order: complete settings (a ``{relay: NAME}`` merged with
        its relay) or ``"inherit"``. Unmentioned = unmanaged."""
        out: dict[Address, Desired] = {}
        if self.controller is not None and self.controller.smtp is not None:
            out[CONTROLLER] = self._desired(CONTROLLER, self.controller.smtp)
        trusted = Address.trusted  # the ids were checked when the model was built
        for p, pentry in sorted(self.partners.items()):
            if pentry.smtp is not None:
                a = trusted(p)
                out[a] = self._desired(a, pentry.smtp)
            for o, oentry in sorted(pentry.organizations.items()):
                smtp = oentry.smtp
                if smtp is not None:
                    a = trusted(p, o)
                    out[a] = self._desired(a, smtp) if isinstance(smtp, RelayRef) else smtp
        return out

    def split_scopes(self) -> tuple[dict[Address, SmtpSettings], list[Address]]:
        """``scopes`` in two parts, each in address order: the scopes with settings, and the
        addresses of the ``inherit`` ones (most of a large stack: no dict entry each)."""
        settings: dict[Address, SmtpSettings] = {}
        inherit: list[Address] = []
        new, add = tuple.__new__, inherit.append  # the ids were checked when the model was built

        def put(a: Address, smtp: Written | None) -> None:
            if isinstance(smtp, str):
                add(a)
            elif smtp is not None:
                settings[a] = self._settings(a, smtp)

        if self.controller is not None:
            put(CONTROLLER, self.controller.smtp)
        for p, pentry in sorted(self.partners.items()):
            put(new(Address, (p, "")), pentry.smtp)
            orgs = pentry.organizations
            for o in sorted(orgs):
                smtp = orgs[o].smtp
                if isinstance(smtp, str):  # ``inherit``: most organizations
                    add(new(Address, (p, o)))
                elif smtp is not None:
                    put(new(Address, (p, o)), smtp)
        return settings, inherit

    def _settings(self, address: Address, smtp: SmtpSettings | RelayRef) -> SmtpSettings:
        return smtp.merged(self._relay(address, smtp)) if isinstance(smtp, RelayRef) else smtp

    def _relay(self, address: Address, ref: RelayRef) -> SmtpSettings:
        relay = self.relays.get(ref.relay)
        if relay is None:  # validation reports it, located; only a model built without it gets here
            raise ValueError(f"{address}: unknown relay '{ref.relay}'")
        return relay

    def _desired(self, address: Address, smtp: Written) -> Desired:
        if not isinstance(smtp, RelayRef):
            return smtp
        return smtp.merged(self._relay(address, smtp))


# ----- live state ------------------------------------------------------------------------


class ResolvedSettings(BaseModel):
    """Settings with the password resolved, for the verify check and the store write only.
    ``SecretStr`` keeps the password out of repr, str, logs and model dumps."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built at first use: validate needs none
    host: str
    port: int
    tls: bool
    tls_mode: str | None = None
    username: str
    password: SecretStr
    sender: str | None = None

    @property
    def effective_tls_mode(self) -> str:
        return effective_tls_mode(self.tls, self.tls_mode, self.port)

    def public_fields(self) -> dict[str, Any]:
        """Every field but the password."""
        return public_fields(self)


class LiveRecord(BaseModel):
    """A record as the store answers: never the password, only its keyed fingerprint."""

    model_config = ConfigDict(frozen=True, defer_build=True)  # built at first use: validate needs none
    address: AddressField
    host: str
    port: int
    tls: bool
    tls_mode: str | None = None
    username: str
    sender: str | None = None
    password_fingerprint: str
    version: int
    managed_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None

    def public_fields(self) -> dict[str, Any]:
        return public_fields(self)


class Organization(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)  # built at first use: validate needs none
    partner: str
    name: str
    smtp_enabled: bool = False

    @property
    def address(self) -> Address:
        return Address(self.partner, self.name)


def public_fields(settings: SmtpSettings | ResolvedSettings | LiveRecord) -> dict[str, Any]:
    """``SETTINGS_FIELDS`` of any settings, by name: everything but the password."""
    return {name: getattr(settings, name) for name in SETTINGS_FIELDS}
