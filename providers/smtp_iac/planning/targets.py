"""``--target``: limit a run to some scopes, as ``terraform plan -target`` does.

Rules:

- A target is an address (``controller``, ``partners/P``, ``partners/P/organizations/O``) or
  ``partners/P/*``: the partner and every organization under it.
- A run with targets plans, applies, reports drift for and destroys only the scopes that
  match one of them; everything else (other scopes of the stack, a record removed from the
  stack, unmanaged overrides) is left out of the run, not reported as unchanged.
- No targets: every scope. A target that matches nothing the run sees is not an error (the
  plan is simply empty), as with Terraform; a target that is not an address is.

Pure: text in, a frozen matcher out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..addresses import Address
from ..errors import UsageError

_ALL_UNDER = "/*"
_SHOWN_MAX = 200


@dataclass(frozen=True)
class Targets:
    exact: frozenset[Address]
    partners: frozenset[str]  # ``partners/P/*``

    @classmethod
    def parse(cls, texts: Iterable[str]) -> Targets | None:
        """None when ``texts`` is empty (no limit); UsageError for a text that is not a target."""
        exact: set[Address] = set()
        partners: set[str] = set()
        for text in texts:
            t = text.strip()
            if t.startswith("partners/") and t.endswith(_ALL_UNDER):
                try:
                    p = Address.parse(t[: -len(_ALL_UNDER)]) if t.count("/") == 2 else None
                except ValueError:
                    p = None
                if p is None or p.org:
                    raise _bad(text)
                partners.add(p.partner)
                continue
            try:
                exact.add(Address.parse(t))
            except ValueError:
                raise _bad(text) from None
        if not exact and not partners:
            return None
        return cls(frozenset(exact), frozenset(partners))

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, Address):
            return False
        return address in self.exact or (bool(address.partner) and address.partner in self.partners)

    def texts(self) -> list[str]:
        """The targets as given on the command line, sorted (a saved plan records them)."""
        return sorted([str(a) for a in self.exact] + [f"partners/{p}{_ALL_UNDER}" for p in self.partners])


def _bad(text: str) -> UsageError:
    shown = text.encode("unicode_escape").decode("ascii")
    if len(shown) > _SHOWN_MAX:  # an address is at most a few hundred characters
        shown = shown[:_SHOWN_MAX] + f"... ({len(text)} characters)"
    return UsageError(
        f"--target '{shown}' is not a scope",
        hint="give controller, partners/P, partners/P/organizations/O, "
        "or partners/P/* (the partner and its organizations)",
    )
