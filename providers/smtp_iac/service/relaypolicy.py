"""``serve --deny-relay CIDR``: destinations the service never connects to for a caller.

Send Test Email, Save and the mailer connect to a host the caller names: from inside the
platform's network, that is a way to reach what the caller cannot (cloud metadata on
link-local addresses, internal services). So the relay's name is resolved first and the
request is refused with 403 when any of its addresses lies in a denied network, before any
connection; the same rule is handed to the check (``run_check(destination=...)``), which
applies it again to the addresses it resolves itself, so a name that answers differently the
second time (DNS rebinding) is refused there too. An IPv6 address that carries an IPv4 one
(mapped, compatible, NAT64, 6to4) is judged as that IPv4 address too, and an unspecified
address (``0.0.0.0``, ``::``, ``::ffff:0:0``; the whole of ``0.0.0.0/8``), which a connection
reaches this very host through, as the loopback addresses ``127.0.0.1`` and ``::1`` too.
"""

from __future__ import annotations

import ipaddress

from ..verify.connect import resolve
from ..verify.deadline import Deadline
from ..verify.result import CheckFailed
from .config import Network
from .problems import Problem

_COMPAT = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_THIS_HOST = ipaddress.ip_network("0.0.0.0/8")
_LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


def _embedded_ipv4(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, which a route may deliver to: IPv4-mapped
    (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), NAT64 (``64:ff9b::a.b.c.d``) and 6to4
    (``2002:AABB:CCDD::``)."""
    if not isinstance(addr, ipaddress.IPv6Address):
        return []
    out = [v4 for v4 in (addr.ipv4_mapped, addr.sixtofour) if v4 is not None]
    if addr in _COMPAT or addr in _NAT64:
        out.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
    return out


class RelayPolicy:
    def __init__(self, deny: tuple[Network, ...]):
        self.deny = deny

    def refusal(self, ip: str) -> str | None:
        """Why the service may not connect to ``ip``, or None."""
        try:
            addr = ipaddress.ip_address(ip.split("%")[0])
        except ValueError:
            return None
        carried = [addr, *_embedded_ipv4(addr)]
        this_host = any(a.is_unspecified or a in _THIS_HOST for a in carried)
        for candidate in (*carried, *(_LOOPBACK if this_host else ())):
            for net in self.deny:
                if candidate.version == net.version and candidate in net:
                    how = "carrying" if candidate in carried else "which reaches this host, as"
                    shown = str(addr) if candidate == addr else f"{addr} ({how} {candidate})"
                    return f"{shown} is in {net}, which this service does not connect to (serve --deny-relay)"
        return None

    def check(self, host: str, port: int, timeout: float) -> None:
        """403 when ``host`` resolves to a denied address. A name that does not resolve is let
        through: the check then fails as ``dns``, which is what the caller needs to hear."""
        if not self.deny:
            return
        try:
            infos = resolve(host.strip().strip("[]"), port, Deadline(timeout))
        except CheckFailed:
            return
        for info in infos:
            why = self.refusal(str(info[4][0]))
            if why is not None:
                raise Problem(403, f"relay host {host!r} resolves to a denied address: {why}", kind="relay_denied")
