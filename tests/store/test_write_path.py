"""The one write path (``write.ScopeWriter``), on SQLite and PostgreSQL: refuse early (before
any SMTP connection), verify, compare-and-swap, audit, with one vocabulary and one actor
whoever writes. CLI apply and the Pulumi provider write through it (their own suites drive it
against real relays); here the check is a recording stand-in, because what is measured is
whether and when the writer calls it."""

from __future__ import annotations

import pytest
from store_helpers import ACME, BLUE, GREEN, settings

from smtp_iac.addresses import Address
from smtp_iac.errors import ConflictError, FeatureDisabled, OwnershipError, VerifyFailed
from smtp_iac.models import ResolvedSettings
from smtp_iac.planning.diff import Action
from smtp_iac.planning.write import Outcome, ScopeWrite, ScopeWriter
from smtp_iac.verify import Failure, Stage, VerifyResult
from smtp_iac.verify.result import CheckFailed, failed, succeeded

PASSWORD = "write-path-pw-123"


class Checks:
    """Answers every check with ``ok`` (or the given failure) and remembers what it was asked."""

    def __init__(self, failure: Failure | None = None):
        self.failure = failure
        self.asked: list[Address] = []

    def __call__(self, address: Address, _settings: ResolvedSettings) -> VerifyResult:
        self.asked.append(address)
        if self.failure is None:
            return succeeded(address, "login", "login check passed", 0.01)
        return failed(address, "login", CheckFailed(self.failure, Stage.AUTH, "535 5.7.8 no"), "535 5.7.8 no", 0.01)


def audit(store, address: Address) -> list[tuple[str, str, str | None]]:
    return [(e.action, e.outcome, e.actor) for e in store.audit_log(address=address)]


def test_a_create_is_verified_written_and_audited_with_the_writers_actor(loaded):
    checks = Checks()
    result = ScopeWriter(loaded, actor="alice").write(
        ScopeWrite.put(ACME, settings(password=PASSWORD), None, "prod", False), None, checks
    )
    assert (result.outcome, result.action, result.version) == (Outcome.APPLIED, Action.CREATE, 1)
    assert checks.asked == [ACME]
    rec = loaded.get(ACME)
    assert (rec.version, rec.managed_by, rec.updated_by) == (1, "prod", "alice")
    assert result.record == rec.model_copy(update={"updated_at": result.record.updated_at})
    assert audit(loaded, ACME) == [("create", "ok", "alice")]


def test_a_moved_version_is_refused_before_any_check_and_audited_as_a_conflict(loaded):
    loaded.put(ACME, settings(), expected_version=None, stack="prod", actor="bob")
    loaded.put(ACME, settings(host="b.example.com"), expected_version=1, stack="prod", actor="bob")
    checks = Checks()
    writer = ScopeWriter(loaded, actor="alice")
    live = loaded.get(ACME)
    result = writer.write(ScopeWrite.put(ACME, settings(password=PASSWORD), 1, "prod", False), live, checks)
    assert checks.asked == []  # no SMTP connection for a write that cannot succeed
    assert result.outcome is Outcome.REFUSED and isinstance(result.error, ConflictError)
    assert (result.error.expected, result.error.actual, result.error.last_writer) == (1, 2, "bob")
    assert loaded.get(ACME).version == 2 and loaded.get(ACME).host == "b.example.com"
    assert audit(loaded, ACME)[-1] == ("update", "conflict", "alice")
    assert loaded.audit_log(address=ACME)[-1].new_fingerprint == loaded.fingerprint(ACME, PASSWORD)


def test_another_stacks_scope_is_refused_before_any_check_unless_adopting(loaded):
    loaded.put(ACME, settings(), expected_version=None, stack="team-a")
    checks = Checks()
    writer = ScopeWriter(loaded, actor="alice")
    refused = writer.write(ScopeWrite.put(ACME, settings(), 1, "team-b", False), loaded.get(ACME), checks)
    assert checks.asked == [] and isinstance(refused.error, OwnershipError)
    assert audit(loaded, ACME)[-1] == ("update", "refused", "alice")

    taken = writer.write(ScopeWrite.put(ACME, settings(), 1, "team-b", True), loaded.get(ACME), checks)
    assert taken.ok and checks.asked == [ACME]
    assert loaded.get(ACME).managed_by == "team-b"
    assert audit(loaded, ACME)[-1] == ("update", "ok", "alice")


def test_a_failed_check_writes_nothing_and_is_audited_as_the_write_it_stopped(loaded):
    loaded.put(ACME, settings(), expected_version=None, stack="prod")
    before = loaded.get(ACME)
    checks = Checks(Failure.AUTH_FAILED)
    w = ScopeWrite.put(ACME, settings(password=PASSWORD), 1, "prod", False)
    result = ScopeWriter(loaded, actor="alice").write(w, before, checks)
    assert result.outcome is Outcome.VERIFY_FAILED and isinstance(result.error, VerifyFailed)
    assert result.message.startswith("verify failed (auth_failed) at auth")
    assert result.hint == result.verify.advice and result.version == 1
    assert loaded.get(ACME) == before
    entry = loaded.audit_log(address=ACME)[-1]
    assert (entry.action, entry.outcome, entry.actor) == ("update", "verify_failed", "alice")
    assert (entry.old_fingerprint, entry.new_fingerprint) == (
        before.password_fingerprint,
        loaded.fingerprint(ACME, PASSWORD),
    )
    assert PASSWORD not in entry.detail


def test_a_refusal_only_the_store_can_see_is_still_one_refused_outcome(loaded):
    checks = Checks()
    result = ScopeWriter(loaded).write(ScopeWrite.put(GREEN, settings(), None, "prod", False), None, checks)
    assert result.outcome is Outcome.REFUSED and isinstance(result.error, FeatureDisabled)
    assert loaded.get(GREEN) is None
    assert audit(loaded, GREEN) == [("create", "refused", "tester")]  # SMTP_IAC_ACTOR, as everywhere


@pytest.mark.parametrize("expected", [1, None])
def test_a_removal_compares_and_swaps_too(loaded, expected):
    loaded.put(BLUE, settings(), expected_version=None, stack="prod")
    writer = ScopeWriter(loaded, actor="alice")
    result = writer.commit(ScopeWrite.remove(BLUE, expected, "prod"))
    if expected == 1:
        assert result.ok and result.action is Action.DELETE and loaded.get(BLUE) is None
        assert audit(loaded, BLUE)[-1] == ("delete", "ok", "alice")
    else:
        assert result.outcome is Outcome.REFUSED and isinstance(result.error, ConflictError)
        assert loaded.get(BLUE).version == 1
        assert audit(loaded, BLUE)[-1] == ("delete", "conflict", "alice")
