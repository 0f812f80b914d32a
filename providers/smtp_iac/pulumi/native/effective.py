"""``getEffectiveSettings``: an organization's settings in force, as the function's outputs
(the schema's names; never a password, only what ``LiveRecord`` itself holds)."""

from __future__ import annotations

from typing import Any

from ...models import SETTINGS_FIELDS, LiveRecord
from ...resolve import Resolution


def effective_outputs(res: Resolution[LiveRecord]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "organization": str(res.org),
        "source": str(res.source) if res.source is not None else None,
        "tier": res.tier,
        "chain": [str(step.address) for step in res.chain],
    }
    if res.record is not None:
        out.update({k: getattr(res.record, k) for k in SETTINGS_FIELDS})
    return out
