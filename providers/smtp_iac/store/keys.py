"""Encryption keys of the store: Fernet for passwords at rest, HMAC for fingerprints.

- The key is a comma- (or newline-) separated list of Fernet keys; the first encrypts, every
  one decrypts (``MultiFernet``), so a key is rotated by putting the new one first and running
  ``Store.rotate_keys``. Source: the ``key=`` argument, else ``SMTP_IAC_STORE_KEY``, else (for
  sqlite only) the key file ``<db>.key`` beside the database, made on first use with mode 0600.
- Fingerprints are ``hmac-sha256:<16 hex>`` of the password under a key derived with HKDF from
  the PRIMARY Fernet key. Keyed, so an attacker who has the database but not the key cannot
  test guesses offline; deterministic, so the same password gives the same fingerprint and
  drift in a password shows. ``key_id`` names the fingerprint key: a record whose fingerprint
  was made under another primary key (key changed, ``rotate_keys`` not yet run) is recomputed
  on read, so changing the key never looks like password drift.
- A saved plan's seal is an HMAC under its own key, derived from the primary key for that
  purpose alone (``seal``), never the fingerprint key: a seal says nothing about a password.
- Key material is never put in a message: errors say which source was bad, not what it held.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from collections.abc import Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import StoreKeyError

ENV_KEY = "SMTP_IAC_STORE_KEY"
FINGERPRINT_PREFIX = "hmac-sha256:"
KEY_CHECK = "key_check"
"""The ``meta`` row holding a Fernet token of ``KEY_CHECK_PLAIN``: proof that a key fits the store."""
KEY_CHECK_PLAIN = "smtp-iac store key check"
_HKDF_INFO = b"smtp-iac password fingerprint v1"


class Keyring:
    """The decoded key list. ``source`` says where it came from, for messages."""

    __slots__ = ("_fernet", "_fp_key", "_key_id", "_seal_key", "count", "source")

    def __init__(self, fernets: list[Fernet], raw_primary: bytes, source: str):
        self.source = source
        self.count = len(fernets)
        self._fernet = MultiFernet(fernets)
        self._fp_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(raw_primary)
        self._seal_key = self.derive("saved plan seal v1")
        self._key_id = hmac.new(self._fp_key, b"smtp-iac key id", hashlib.sha256).hexdigest()[:12]

    def __repr__(self) -> str:  # never the key material
        return f"Keyring({self.count} key(s) from {self.source})"

    @classmethod
    def parse(cls, text: str, source: str) -> Keyring:
        items = [k.strip() for k in text.replace("\n", ",").split(",") if k.strip()]
        if not items:
            raise StoreKeyError(f"no store key in {source}", hint=_KEY_HINT)
        fernets = []
        for i, item in enumerate(items, 1):
            try:
                fernets.append(Fernet(item.encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise StoreKeyError(
                    f"key #{i} in {source} is not a Fernet key (32 url-safe base64-encoded bytes)", hint=_KEY_HINT
                ) from None
        return cls(fernets, base64.urlsafe_b64decode(items[0].encode("ascii")), source)

    @property
    def key_id(self) -> str:
        """Public id of the fingerprint key (reveals nothing about the key); made once, since
        every record read compares its own with it."""
        return self._key_id

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (the console's session cookies), derived with HKDF from
        the primary key: every instance with the store's key has it; a new primary key ends it."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"smtp-iac " + purpose.encode()).derive(
            self._fp_key
        )

    def fingerprint(self, password: str) -> str:
        digest = hmac.digest(self._fp_key, password.encode("utf-8"), "sha256").hex()
        return FINGERPRINT_PREFIX + digest[:16]

    def seal(self, text: str) -> str:
        """The seal of a saved plan's digest (``text``): an HMAC under the seal key."""
        return FINGERPRINT_PREFIX + hmac.new(self._seal_key, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, *, what: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise StoreKeyError(
                f"no configured store key decrypts {what}", hint=f"keys came from {self.source}; " + _KEY_HINT
            ) from None

    def rotate(self, token: str, *, what: str) -> str:
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise StoreKeyError(
                f"no configured store key decrypts {what}", hint=f"keys came from {self.source}; " + _KEY_HINT
            ) from None


_KEY_HINT = (
    f"set {ENV_KEY} to the store's Fernet key (a comma-separated list rotates: new key "
    "first, old keys after); make one with: python -c 'from cryptography.fernet import "
    "Fernet; print(Fernet.generate_key().decode())'"
)


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def keyring_from(key: str | None, *, environ: Mapping[str, str] | None = None) -> Keyring | None:
    """From the explicit key, else the environment; None if neither is set."""
    if key is not None:
        return Keyring.parse(key, "the key argument")
    env = os.environ if environ is None else environ
    value = env.get(ENV_KEY)
    if value is not None and value.strip():
        return Keyring.parse(value, ENV_KEY)
    return None


def load_key_file(path: str) -> Keyring | None:
    """Read the key file; None if it does not exist. Refuses a file others can read."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StoreKeyError(
            f"key file {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o})", hint=f"chmod 600 {path}"
        )
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise StoreKeyError(f"key file {path} is not a Fernet key list (non-ASCII bytes)", hint=_KEY_HINT) from None
    return Keyring.parse(text, f"key file {path}")


def create_key_file(path: str) -> Keyring:
    """Make the key file (mode 0600) atomically; if another process won the race, use its key."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (generate_key() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic: fails if the file exists, never leaves a half-written key
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    ring = load_key_file(path)
    assert ring is not None
    return ring
