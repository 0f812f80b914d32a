"""The TLS client context of a check: the system's trust store plus ``verify.ca_file``,
certificate and host name verified (``ssl.create_default_context``).

``verify.ca_file`` is read as any file a stack file names (``filerefs``): a regular file,
opened without blocking, size-capped (a FIFO would otherwise hang the check's caller before
any deadline starts). It is not confined to the repository: it is only used as trust
anchors, never sent, and private CAs are often installed system-wide."""

from __future__ import annotations

import ssl
from pathlib import Path

from ..errors import FileRefused, UsageError
from ..reading.filerefs import MAX_CA_FILE, read_regular

_HINT = "point verify.ca_file at a PEM CA bundle (relative paths are relative to the stack file)"


def client_context(ca_file: str | None, base_dir: Path | None = None) -> ssl.SSLContext:
    """Raises UsageError when ``ca_file`` cannot be read as PEM (a local setup error, not the relay's)."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if ca_file:
        path = Path(ca_file)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
        what = f"verify.ca_file {ca_file!r}"
        try:
            pem = read_regular(path, what=what, limit=MAX_CA_FILE)
            ctx.load_verify_locations(cadata=pem.decode("ascii"))
        except FileRefused as e:
            raise UsageError(f"{e.message}", hint=_HINT) from None
        except (UnicodeDecodeError, ssl.SSLError) as e:
            reason = getattr(e, "reason", None) or type(e).__name__
            raise UsageError(f"{what} cannot be loaded: {reason}", hint=_HINT) from None
    return ctx
