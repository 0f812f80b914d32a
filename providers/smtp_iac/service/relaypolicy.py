"""``serve --deny-relay CIDR``: destinations the service never connects to for a caller.

Send Test Email, Save and the mailer connect to a host the caller names: from inside the
platform's network, that is a way to reach what the caller cannot (cloud metadata on
link-local addresses, internal services). So the relay's name is resolved first and the
request is refused with 403 when any of its addresses lies in a denied network, before any
connection; the same rule is handed to the check (``run_check(destination=...)``), which
applies it again to the addresses it resolves itself, so a name that answers differently the
second time (DNS rebinding) is refused there too. An IPv4-mapped IPv6 address is judged as
the IPv4 address it carries.
"""

from __future__ import annotations

import ipaddress

from ..verify.connect import resolve
from ..verify.deadline import Deadline
from ..verify.result import CheckFailed
from .config import Network
from .problems import Problem


class RelayPolicy:
    def __init__(self, deny: tuple[Network, ...]):
        self.deny = deny

    def refusal(self, ip: str) -> str | None:
        """Why the service may not connect to ``ip``, or None."""
        try:
            addr = ipaddress.ip_address(ip.split("%")[0])
        except ValueError:
            return None
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped
        for net in self.deny:
            if addr.version == net.version and addr in net:
                return f"{addr} is in {net}, which this service does not connect to (serve --deny-relay)"
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
