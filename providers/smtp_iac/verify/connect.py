"""The first stage of a check: resolve the relay's name and open a TCP connection to one of
its addresses, within a deadline, every failure classified (``dns``, ``connection_refused``,
``connect_timeout``). Both run within what is left of the check's one ``Deadline``."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable
from typing import Any

from .deadline import Deadline
from .result import CheckFailed, Failure, Stage

AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, Any]


def resolve(host: str, port: int, deadline: Deadline) -> list[AddrInfo]:
    """The relay's IPv4 and IPv6 addresses. ``getaddrinfo`` cannot be interrupted, so it runs
    in a daemon thread that the check stops waiting for at the deadline."""
    try:
        ipaddress.ip_address(host.split("%")[0])
        literal = True
    except ValueError:
        literal = False
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            flags = socket.AI_NUMERICHOST if literal else 0
            box["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=flags)
        except (OSError, UnicodeError) as e:
            box["error"] = e

    worker = threading.Thread(target=work, name="smtp-iac-dns", daemon=True)
    worker.start()
    worker.join(deadline.remaining())
    if worker.is_alive():
        raise CheckFailed(Failure.DNS, Stage.CONNECT, f"no DNS answer for {host!r}: {deadline.ran_out}")
    if "error" in box:
        e = box["error"]
        why = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise CheckFailed(Failure.DNS, Stage.CONNECT, f"cannot resolve {host!r}: {why}")
    infos = [i for i in box["infos"] if i[0] in (socket.AF_INET, socket.AF_INET6)]
    if not infos:
        raise CheckFailed(Failure.DNS, Stage.CONNECT, f"{host!r} has no IPv4 or IPv6 address")
    return infos


def allowed(infos: list[AddrInfo], refusal: Callable[[str], str | None], host: str) -> list[AddrInfo]:
    """The addresses ``refusal`` does not refuse; a check whose every address is refused ends
    as ``connection_refused``, naming why, before any connection is opened."""
    kept, why = [], ""
    for info in infos:
        reason = refusal(str(info[4][0]))
        if reason is None:
            kept.append(info)
        else:
            why = why or reason
    if not kept:
        raise CheckFailed(Failure.CONNECTION_REFUSED, Stage.CONNECT, f"{host!r}: not connected: {why}")
    return kept


def connect(infos: list[AddrInfo], host: str, port: int, deadline: Deadline) -> tuple[socket.socket, str]:
    """A connected socket to the first address that answers, and that address; its timeout
    is what is left of the deadline."""
    errors: list[str] = []
    last: tuple[Failure, str] | None = None
    for family, type_, proto, _canon, sockaddr in infos:
        remaining = deadline.remaining()
        if remaining <= 0:
            break
        ip = str(sockaddr[0])
        sock = socket.socket(family, type_, proto)
        sock.settimeout(remaining)
        try:
            sock.connect(sockaddr)
        except TimeoutError:
            sock.close()
            last = (Failure.CONNECT_TIMEOUT, f"no answer from {ip} port {port}: {deadline.ran_out}")
        except ConnectionRefusedError:
            sock.close()
            last = (Failure.CONNECTION_REFUSED, f"connection refused by {ip} port {port}")
        except OSError as e:
            sock.close()
            why = e.strerror or type(e).__name__
            last = (Failure.CONNECTION_REFUSED, f"cannot connect to {ip} port {port}: {why}")
        else:
            sock.settimeout(max(deadline.remaining(), 0.001))
            return sock, ip
        errors.append(last[1])
    if last is None:
        last = (Failure.CONNECT_TIMEOUT, f"no time left to connect to {host} port {port}: {deadline.ran_out}")
        errors.append(last[1])
    raise CheckFailed(last[0], Stage.CONNECT, "; ".join(errors))
