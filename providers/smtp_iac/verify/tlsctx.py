"""The TLS client context of a check: the system's trust store plus ``verify.ca_file``,
certificate and host name verified (``ssl.create_default_context``)."""

from __future__ import annotations

import ssl
from pathlib import Path

from ..errors import UsageError


def client_context(ca_file: str | None, base_dir: Path | None = None) -> ssl.SSLContext:
    """Raises UsageError when ``ca_file`` cannot be read as PEM (a local setup error, not the relay's)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file:
        path = Path(ca_file)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        try:
            ctx.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as e:
            reason = getattr(e, "strerror", None) or getattr(e, "reason", None) or type(e).__name__
            raise UsageError(
                f"verify.ca_file {str(path)!r} cannot be loaded: {reason}",
                hint="point verify.ca_file at a PEM CA bundle (relative paths are relative to the stack file)",
            ) from None
    return ctx
