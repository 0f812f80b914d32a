"""Record rows to ``LiveRecord``s, fast: a plan reads every record of the platform (~2,000 at
20,000 organizations, ~20,000 at 200,000), and ``LiveRecord.model_construct`` costs ~20 µs a
row, more than the query. Every row was validated when it was written (``ResolvedSettings``,
``Address``), so a record is made by filling the frozen model's instance slots directly, as
``model_construct`` does but without its per-field loop; at import it checks that this builds
exactly what ``model_construct`` builds, and falls back to it if a pydantic release ever
changes the layout.

``RecordRows`` is the reading half of ``records.Records``: a row to its record (a row read
before gives the same frozen record again), the password fingerprint recomputed only for a row
made under another primary key (rotation pending).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..addresses import CONTROLLER, Address
from ..models import LiveRecord

if TYPE_CHECKING:
    from .db import Db

RECORD_SELECT = (
    "SELECT address, host, port, tls, tls_mode, username, sender, password_enc, "
    "password_fp, fp_key_id, version, managed_by, updated_at, updated_by FROM records"
)
ROWS_KEPT = 8192
"""Records a store keeps made from their rows (a new version is a new row): a service reads the
same few thousand over and over; past it, the memory starts over."""

_new, _set, _tuple_new, _from_iso = object.__new__, object.__setattr__, tuple.__new__, datetime.fromisoformat
_FIELDS = frozenset(LiveRecord.model_fields)


def _address(partner: str, org: str) -> Address:
    return _tuple_new(Address, (partner, org))


def _fast(values: dict[str, Any]) -> LiveRecord:
    r = _new(LiveRecord)
    _set(r, "__dict__", values)
    _set(r, "__pydantic_fields_set__", set(_FIELDS))
    _set(r, "__pydantic_extra__", None)
    _set(r, "__pydantic_private__", None)
    return r


def _construct(values: dict[str, Any]) -> LiveRecord:
    return LiveRecord.model_construct(**values)


def _fast_is_faithful() -> bool:
    """Whether ``_fast`` builds what ``model_construct`` builds (no schema is built for it)."""
    values: dict[str, Any] = {
        "address": Address.trusted("p", "o"),
        "host": "h",
        "port": 587,
        "tls": True,
        "tls_mode": None,
        "username": "u",
        "sender": None,
        "password_fingerprint": "fp",
        "version": 1,
        "managed_by": None,
        "updated_at": None,
        "updated_by": None,
    }
    try:
        fast, real = _fast(dict(values)), _construct(dict(values))
        return (
            values.keys() == _FIELDS
            and not LiveRecord.__pydantic_post_init__
            and list(fast.__dict__.items()) == list(real.__dict__.items())
            and fast.model_fields_set == real.model_fields_set
            and fast.__pydantic_extra__ == real.__pydantic_extra__
            and fast.__pydantic_private__ == real.__pydantic_private__
        )
    except Exception:  # noqa: BLE001 - any surprise: use the documented way
        return False


live_record = _fast if _fast_is_faithful() else _construct


class RecordRows:
    """Rows to records for ``Records`` (its ``db`` and ``_made``)."""

    db: Db
    _made: dict[tuple[Any, ...], LiveRecord]

    def _fp(self, fp: str, key_id: str, token: str, address: str) -> str:
        if key_id == self.db.keys.key_id:
            return fp
        # made under another primary key (rotation pending): recompute, never report false drift
        return self.db.keys.fingerprint(self.db.keys.decrypt(token, what=f"the password of {address}"))

    def record(self, row: tuple[Any, ...]) -> LiveRecord:
        """The record a row holds; a row read before gives the same (frozen) record again."""
        made = self._made.get(row)
        if made is None:
            if len(self._made) >= ROWS_KEPT:
                self._made.clear()
            made = self._made[row] = self.records((row,))[0]
        return made

    def records(self, rows: Iterable[tuple[Any, ...]]) -> list[LiveRecord]:
        """The records of many rows at once (a snapshot's every row), none kept: one loop with
        the builders at hand, not a method call and a lookup in ``_made`` per row."""
        key_id, fp_of, make, new = self.db.keys.key_id, self._fp, live_record, _address
        out: list[LiveRecord] = []
        append = out.append
        for address, host, port, tls, tls_mode, username, sender, token, fp, fp_key, version, owner, at, by in rows:
            parts = address.split("/")
            append(
                make(
                    {
                        "address": CONTROLLER
                        if address == "controller"
                        else new(parts[1], parts[3] if len(parts) == 4 else ""),
                        "host": host,
                        "port": int(port),
                        "tls": bool(tls),
                        "tls_mode": tls_mode,
                        "username": username,
                        "sender": sender,
                        "password_fingerprint": fp if fp_key == key_id else fp_of(fp, fp_key, token, address),
                        "version": int(version),
                        "managed_by": owner,
                        "updated_at": _from_iso(at) if at else None,
                        "updated_by": by,
                    }
                )
            )
        return out
