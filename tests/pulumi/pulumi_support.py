"""Shared constants and helpers of the Pulumi tests (a module with a unique name: every test
directory has its own conftest.py, so ``from conftest import ...`` would be ambiguous)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from smtp_iac.addresses import Address
from smtp_iac.store import open_store

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent

PASSWORD = "pw-Plain-3f9a1c-NEVER-IN-STATE"
NEW_PASSWORD = "pw-Rotated-77b2e4-NEVER-IN-STATE"
USER = "mailer"
TENANTS = {
    "partners": {
        "acme": {"organizations": {"acme-eu": {"smtp_enabled": True}, "acme-us": {"smtp_enabled": True}}},
        "globex": {"organizations": {}},
    }
}


@dataclass
class StoreInfo:
    url: str
    key: str
    path: Path | None  # the SQLite file; None on PostgreSQL
    marker: str  # a string of the URL that no state or output may hold (file name, schema name)
    direct_url: str | None = None  # through the settings service: the database behind it
    token: str | None = None  # through the settings service: a sysadmin token

    def open(self):
        """The store itself (the database), for out-of-band changes and proofs."""
        return open_store(self.direct_url or self.url, key=self.key)

    def shown_fingerprint(self, address: Address, password: str) -> str:
        """The fingerprint of ``password`` at ``address`` as the provider sees it: the store's,
        or through the settings service bound to the scope (``service.fingerprints``)."""
        from smtp_iac.service.fingerprints import KEY_PURPOSE, ScopeFingerprints

        with self.open() as s:
            fp = s.fingerprint(address, password)
            shown = ScopeFingerprints(s.derived_key(KEY_PURPOSE)).shown(address, fp) if self.token else fp
        assert shown is not None
        return shown

    def config(self, **extra: str) -> dict[str, str]:
        if self.token:  # a pipeline that holds a token, never the database or its key
            cfg = {"smtp-iac:store": self.url, "smtp-iac:token": self.token}
        else:
            cfg = {"smtp-iac:store": self.url, "smtp-iac:storeKey": self.key}
        cfg.update(extra)
        return cfg

    @property
    def secret_keys(self) -> set[str]:
        return {"smtp-iac:token"} if self.token else {"smtp-iac:storeKey"}

    @property
    def secrets(self) -> tuple[str, ...]:
        """What no state, output or log may hold."""
        return (self.key, *((self.token,) if self.token else ()))

    def snapshot(self) -> tuple:
        """Records and audit entries, to prove that nothing was written."""
        with self.open() as s:
            records = [r.model_dump() for r in s.list_records()]
            audit = [e.to_dict() for e in s.audit_log()]
        return records, audit


def inputs(address: str, relay, ca_file: Path, **over) -> dict:
    """A settings resource's inputs at ``address``, pointing at ``relay`` (login check, the
    session's CA), as the engine sends them to the dynamic provider host; ``over`` replaces any."""
    from pulumi.dynamic.dynamic import serialize_provider

    from smtp_iac.pulumi.provider import SmtpSettingsProvider

    d = {
        "address": address,
        "stack": "prod",
        "host": "127.0.0.1",
        "port": relay.port,
        "tls": True,
        "username": USER,
        "password": PASSWORD,
        "verify": {"mode": "login", "timeout_seconds": 10, "ca_file": str(ca_file)},
        "__provider": serialize_provider(SmtpSettingsProvider()),
    }
    d.update(over)
    return d


def configured(cls, cfg: dict[str, str]):
    """A provider of class ``cls`` configured with ``cfg`` as the host would (its Configure)."""
    from pulumi.dynamic import Config, ConfigureRequest

    p = cls()
    p.configure(ConfigureRequest(Config(cfg, "smtp-iac")))
    return p
