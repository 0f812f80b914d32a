"""Who is acting, for ``updated_by`` and the audit log.

``SMTP_IAC_ACTOR`` wins (a pipeline can name itself exactly); else the CI system's notion of
the user who triggered the run, prefixed with the system so that ``alice`` on GitHub and
``alice`` on a laptop stay apart; else ``user@host``. Never fails: an unknown user is "unknown".
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from collections.abc import Mapping

# (environment variable, prefix), first present wins.
CI_IDENTITIES = (
    ("GITHUB_ACTOR", "github"),
    ("GITLAB_USER_LOGIN", "gitlab"),
    ("BUILDKITE_BUILD_CREATOR_EMAIL", "buildkite"),
    ("BITBUCKET_STEP_TRIGGERER_UUID", "bitbucket"),
    ("BUILD_REQUESTEDFOREMAIL", "azure"),  # Azure Pipelines
    ("CIRCLE_USERNAME", "circleci"),
    ("BUILD_USER_ID", "jenkins"),  # Jenkins build-user-vars plugin
)

_MAX = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def current_actor(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    explicit = env.get("SMTP_IAC_ACTOR", "").strip()
    if explicit:
        return clean_actor(explicit)
    for var, prefix in CI_IDENTITIES:
        value = env.get(var, "").strip()
        if value:
            return clean_actor(f"{prefix}:{value}")
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        user = "unknown"
    try:
        host = socket.gethostname() or "localhost"
    except OSError:
        host = "localhost"
    return clean_actor(f"{user}@{host}")


def clean_actor(text: str) -> str:
    """An actor name fit for the audit log: no control characters (log forging), at most 200 characters."""
    return _UNSAFE.sub("?", text)[:_MAX]


def actor_of(given: str | None) -> str:
    """Who a write is by: ``given`` made fit for the audit log, else ``current_actor()``."""
    return clean_actor(given) if given else current_actor()


def actor_shown(text: str) -> str:
    """An actor read from a store, fit to print: the store is read as found (another tool, or a
    hand, may have written terminal escapes, line breaks, bidi controls or a huge name), so
    unprintable and invisible characters are escaped (``\\x1b``) and it is cut at 200."""
    from .reading.rules import INVISIBLE  # rules is heavy (idna); only readers of a store need it

    shown = "".join(
        c if c.isprintable() and not INVISIBLE.match(c) else c.encode("unicode_escape").decode("ascii")
        for c in text[:_MAX]
    )
    return shown + ("..." if len(text) > _MAX else "")
