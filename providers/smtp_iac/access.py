"""Who may do what, from SPEC's role table (the platform's people), as one pure function.

    decide(token, Act.WRITE, address, smtp_enabled=...) -> None (allowed) | Denied (why)

- sysadmin: reads everything; writes every scope, tenants, SMTP switches, tokens.
- partner-admin of P: reads partners/P, its organizations and the controller's non-secret
  fields; writes partners/P, its organizations and their SMTP switches.
- org-admin of O: reads its organization and the effective settings it gets; writes its own
  record, only while its SMTP switch is on.
- mailer: reads the effective settings of any organization, to send; writes nothing; sends
  system e-mail.
- viewer: reads everything but secrets; writes nothing.

Choices where the table is silent, each the narrower reading:

- Send Test Email with a scope's stored password (``TEST``) is allowed to whoever may write the
  scope: it uses a secret they could replace but never read.
- A password fingerprint is a keyed digest, not a secret, but it tells whether two scopes share
  a password: a partner admin reads the controller's record without it ("non-secret fields").
- Only the ``mailer`` sends system e-mail (``SEND``): the table gives it to no other role.
- The audit log is read as the records are: all of it by sysadmin and viewer, its partner's and
  organizations' entries by a partner admin, its organization's by an org admin.
- The service's metrics are read by sysadmin and viewer.
- Relay health (``HEALTH``: the last checks of the relays carrying mail) is read as the tier
  map's organizations are: all of it by sysadmin and viewer, its partner's by a partner admin,
  its organization's by an org admin; the mailer reads none. Checks run now (``HEALTH_CHECK``)
  open SMTP connections, as a write's check does: sysadmin, and a partner admin for its
  partner; the read-only roles and org admins wait for the service's own runs.
- A list of partners (the tier map's) is read by whoever reads those partners' records; an org
  admin and the mailer read organizations' lists only (``lists_partners``).
- A plan's snapshot (``PLAN``) is read by every role that reads records (not the mailer), each
  limited to what it reads. Keyed digests of secrets (``FINGERPRINT``, which a plan needs to
  compare passwords) are made only for roles that write: for a read-only token they would be
  an oracle to test password guesses against the fingerprints it reads.

Every refusal names the role and what it may do instead, so a 403 explains itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .addresses import CONTROLLER, Address
from .errors import FeatureDisabled
from .tokens import Role, TokenInfo


class Act(StrEnum):
    READ = "read"  # a record (GET scope)
    WRITE = "write"  # create, replace or remove a record (PUT, DELETE)
    TEST = "test"  # Send Test Email (with the stored password when the body has none)
    EFFECTIVE = "effective"  # an organization's effective settings
    SWITCH = "switch"  # an organization's SMTP switch
    AUDIT = "audit"  # audit entries of a scope
    SEND = "send"  # system e-mail through an organization's effective settings
    TENANTS = "tenants"  # partners and organizations (load)
    TOKENS = "tokens"
    METRICS = "metrics"
    PLAN = "plan"  # read the snapshot a plan is made from (the records and tenants in reach)
    FINGERPRINT = "fingerprint"  # the store's keyed digest of a secret (plans compare passwords by it)
    HEALTH = "health"  # relay health: the last checks of the relays that carry mail
    HEALTH_CHECK = "health-check"  # check the relays in force now (SMTP logins)


SWITCHED = frozenset({Act.WRITE, Act.TEST})
"""What an org admin does at its organization only while the organization's SMTP switch is on
(``decide``'s ``smtp_enabled``)."""


@dataclass(frozen=True)
class Denied:
    """Why a request is refused (HTTP 403). ``hint``: the platform's advice where there is one."""

    reason: str
    hint: str | None = None


def within(token: TokenInfo, address: Address) -> bool:
    """Whether ``address`` lies in the scope the token is limited to (a partner admin's partner
    and its organizations; an org admin's organization; everything for the other roles)."""
    if token.role is Role.PARTNER_ADMIN:
        return address.partner == token.partner
    if token.role is Role.ORG_ADMIN:
        return address == token.org
    return True


def decide(token: TokenInfo, act: Act, address: Address = CONTROLLER, *, smtp_enabled: bool = True) -> Denied | None:
    """None when ``token`` may ``act`` at ``address``; else why not. ``smtp_enabled``: the SMTP
    switch of ``address`` when it is an organization (an org admin writes only while it is on)."""
    role = token.role
    who = f"a {token.scope_text} token"
    if role is Role.SYSADMIN:
        return None if act is not Act.SEND else Denied(f"{who} does not send system e-mail; the mailer role does")
    if role is Role.VIEWER:
        if act in (Act.READ, Act.EFFECTIVE, Act.AUDIT, Act.METRICS, Act.PLAN, Act.HEALTH):
            return None
        return Denied(f"{who} only reads")
    if role is Role.MAILER:
        if act in (Act.EFFECTIVE, Act.SEND):
            return None
        return Denied(f"{who} reads effective settings and sends system e-mail, nothing else")
    if act in (Act.TENANTS, Act.TOKENS, Act.METRICS):
        return Denied(f"{who} may not manage {act}; a sysadmin does")
    if act is Act.SEND:
        return Denied(f"{who} does not send system e-mail; the mailer role does")
    if act in (Act.PLAN, Act.FINGERPRINT):
        return None
    if role is Role.PARTNER_ADMIN:
        if act is Act.READ and address == CONTROLLER:
            return None  # its non-secret fields (``shows_fingerprint``)
        if act is Act.SWITCH and not address.org:
            return Denied(f"{address} has no SMTP switch; organizations do")
        if within(token, address):
            return None
        return Denied(f"{who} manages partners/{token.partner} and its organizations, not {address}")
    # org-admin
    if act is Act.HEALTH_CHECK:
        return Denied(f"{who} reads its organization's relay health; a partner admin or sysadmin runs checks")
    if not within(token, address):
        return Denied(f"{who} manages {token.org} only, not {address}")
    if act is Act.SWITCH:
        return Denied(
            f"{who} may not switch its own organization's SMTP feature",
            hint=FeatureDisabled.ADVICE.replace("to enable it", "to change it"),
        )
    if act in SWITCHED and not smtp_enabled:
        return Denied(f"organization-level SMTP is disabled for {address}", hint=FeatureDisabled.ADVICE)
    return None


def turns_on_switch(token: TokenInfo, act: Act, address: Address) -> bool:
    """Whether ``decide``'s answer for ``token`` at ``address`` depends on the organization's SMTP
    switch: only then is the switch worth looking up (an org admin's writes at its organization).
    Beyond the token's reach the answer is the same either way: reach is judged first."""
    if not address.org or act not in SWITCHED:
        return False
    return decide(token, act, address, smtp_enabled=False) != decide(token, act, address)


def recorded_at(token: TokenInfo, address: Address) -> Address:
    """Where a refused attempt of ``token`` at ``address`` is audited: at ``address`` when it lies
    within the token's reach; else at the token's own scope (a partner admin's partner, an org
    admin's organization), so that no tenant's audit trail shows another tenant's attempts (nor
    can be buried under them). The entry's detail names the address that was tried."""
    if within(token, address):
        return address
    if token.role is Role.PARTNER_ADMIN:
        return Address(token.partner)
    return token.org if token.org is not None else address


def shows_fingerprint(token: TokenInfo, address: Address) -> bool:
    """Whether a record read at ``address`` carries its password fingerprint for ``token``."""
    return not (token.role is Role.PARTNER_ADMIN and address == CONTROLLER)


def audit_scope(token: TokenInfo) -> tuple[str, Address | None] | Denied:
    """What part of the audit log ``token`` reads when it names no address: ("all", None),
    ("partner", None) with ``token.partner``, or ("address", the org); or why none."""
    if token.role is Role.MAILER:
        return Denied(f"a {token.scope_text} token does not read the audit log")
    if token.role is Role.PARTNER_ADMIN:
        return "partner", None
    if token.role is Role.ORG_ADMIN:
        return "address", token.org
    return "all", None


def listing(token: TokenInfo, partner: str | None, org: str | None = None) -> tuple[str | None, str | None]:
    """The partner and organization a listing of tenants (a page of the tier map) is limited to
    for ``token``, from those it asks for (None: every one): an org admin's lists its own
    organization, whatever it asks; a partner admin's its own partner when it names none (one it
    names is judged as any address: beyond its reach, 403); the other roles' as asked."""
    if token.role is Role.ORG_ADMIN and token.org is not None:
        return token.org.partner, token.org.org
    if token.role is Role.PARTNER_ADMIN and partner is None:
        return token.partner, org
    return partner, org


def lists_partners(token: TokenInfo, partner: str | None) -> str | Denied | None:
    """Which partners a list of partners holds for ``token``: the one asked for (a partner admin:
    its own, when it names none) if the token reads that partner's record; every one (None) for
    the roles that read them all; none for org admins and the mailer, which read no partner's
    record (they are sent to the organizations' list)."""
    if token.role is Role.PARTNER_ADMIN and partner is None:
        partner = token.partner
    if partner is not None:
        denied = decide(token, Act.READ, Address.trusted(partner))
        return partner if denied is None else denied
    if token.role in (Role.ORG_ADMIN, Role.MAILER):
        return Denied(f"a {token.scope_text} token does not read the partners; GET /v1/tiermap/organizations")
    return None


def own_reach(token: TokenInfo) -> tuple[frozenset[str], frozenset[Address]]:
    """The partners and organizations a question of ``token`` that names none covers (relay
    health): a partner admin's partner, an org admin's organization; for the other roles
    nothing named, which is everything. What a token names is judged as any address."""
    if token.role is Role.PARTNER_ADMIN and token.partner:
        return frozenset({token.partner}), frozenset()
    if token.role is Role.ORG_ADMIN and token.org is not None:
        return frozenset(), frozenset({token.org})
    return frozenset(), frozenset()


def reach_partners(token: TokenInfo) -> frozenset[str] | None:
    """The partners an answer that counts organizations (relay health) is cut to for ``token``:
    a partner admin's, an org admin's organization's partner; None (all) for the other roles."""
    if token.role is Role.PARTNER_ADMIN:
        return frozenset({token.partner})
    if token.role is Role.ORG_ADMIN and token.org is not None:
        return frozenset({token.org.partner})
    return None
