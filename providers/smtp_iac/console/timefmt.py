"""Times as the pages show them: ``<time>`` elements with a readable UTC text ("7 Dec 2026,
13:26 UTC"), the exact value on hover (``title``) and in ``datetime``, which ``console.js``
turns into the reader's own time zone; without the script the UTC text stands.

The API gives times as ISO 8601 text (``2026-12-07T13:26:42.871912Z``); a value that is not
one is shown as it came, escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime

from markupsafe import Markup, escape


def parse(value: str | datetime | None) -> datetime | None:
    """The instant of an API time (naive: UTC), or None when it is not one."""
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, str) and value:
        try:
            at = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
        except ValueError:
            return None
    else:
        return None
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def readable(at: datetime) -> str:
    """``7 Dec 2026, 13:26 UTC``: day, month, year and minute, in UTC."""
    at = at.astimezone(UTC)
    return f"{at.day} {at:%b %Y, %H:%M} UTC"


def exact(at: datetime) -> str:
    """The exact instant, as the API has it (``2026-12-07T13:26:42.871912Z``)."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def time_tag(value: str | datetime | None) -> Markup:
    """A ``<time>`` element of an API time (empty for none; the text as it came when not a time)."""
    at = parse(value)
    if at is None:
        return Markup("") if not value else escape(str(value))
    iso = exact(at)
    return Markup('<time datetime="{0}" title="{0}" data-local>{1}</time>').format(iso, readable(at))
