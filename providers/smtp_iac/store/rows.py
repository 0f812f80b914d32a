"""Rows to model objects, fast. Reading the whole platform builds ~20,000 ``Organization`` and
``Address`` objects per plan; validating each again costs more than the query. Every row was
validated when it was written (ids by ``Address``/``check_tenants_doc``, records by
``ResolvedSettings``), so these builders skip validation.

``organization`` fills a pydantic model's instance slots directly (about twice as fast as
``model_construct``); at import it checks that it builds exactly what ``Organization(...)``
builds, and falls back to ``model_construct`` if a pydantic release ever changes the layout.
"""

from __future__ import annotations

from ..addresses import Address
from ..models import Organization

_set = object.__setattr__
_ORG_FIELDS = frozenset(("partner", "name", "smtp_enabled"))


def trusted_address(partner: str, org: str = "") -> Address:
    """An Address from trusted parts (no id check)."""
    return Address.trusted(partner, org)


def _org_fast(partner: str, name: str, smtp_enabled: bool) -> Organization:
    o = object.__new__(Organization)
    _set(o, "__dict__", {"partner": partner, "name": name, "smtp_enabled": smtp_enabled})
    _set(o, "__pydantic_fields_set__", set(_ORG_FIELDS))
    _set(o, "__pydantic_extra__", None)
    _set(o, "__pydantic_private__", None)
    return o


def _org_construct(partner: str, name: str, smtp_enabled: bool) -> Organization:
    return Organization.model_construct(partner=partner, name=name, smtp_enabled=smtp_enabled)


def _fast_is_faithful() -> bool:
    try:
        fast, real = _org_fast("p", "o", True), Organization(partner="p", name="o", smtp_enabled=True)
        return (
            fast == real
            and fast.model_dump() == real.model_dump()
            and repr(fast) == repr(real)
            and fast.address == real.address
            and fast.model_fields_set == real.model_fields_set
        )
    except Exception:  # noqa: BLE001 - any surprise: use the documented way
        return False


trusted_organization = _org_fast if _fast_is_faithful() else _org_construct
