"""The service's cache of write checks (``service.checkcache``): identical settings in one
rollout make one SMTP conversation; a failure is reused only briefly, and says so; writes that
arrive together wait for the one check in flight."""

from __future__ import annotations

import threading
import time

from pydantic import SecretStr

from smtp_iac.addresses import Address
from smtp_iac.models import ResolvedSettings, VerifyOptions
from smtp_iac.service.checkcache import FAILED_TTL_SECONDS, TTL_SECONDS, CheckCache
from smtp_iac.verify.result import CheckFailed, Failure, Stage, failed, succeeded

A, B = Address("acme"), Address("acme", "blue")
S = ResolvedSettings(host="smtp.example.com", port=587, tls=True, username="u", password=SecretStr("pw-1"))
LOGIN = VerifyOptions(mode="login")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_passed_check_is_reused_for_the_same_settings_until_it_expires() -> None:
    clock, runs = Clock(), []
    cache = CheckCache(clock)

    def run():
        runs.append(1)
        return succeeded(A, "login", "ok", 0.1)

    assert cache.check(A, S, LOGIN, run).ok and len(runs) == 1
    again = cache.check(B, S, LOGIN, run)
    assert again.ok and again.address == B and len(runs) == 1
    other_pw = S.model_copy(update={"password": SecretStr("pw-2")})
    cache.check(B, other_pw, LOGIN, run)
    cache.check(B, S, VerifyOptions(mode="send", to="ops@example.com"), run)
    assert len(runs) == 3  # another password, another mode: their own checks
    clock.now += TTL_SECONDS + 1
    cache.check(B, S, LOGIN, run)
    assert len(runs) == 4


def test_a_failure_is_reused_briefly_and_says_so() -> None:
    clock, runs = Clock(), []
    cache = CheckCache(clock)

    def run():
        runs.append(1)
        return failed(A, "login", CheckFailed(Failure.AUTH_FAILED, Stage.AUTH, "535"), "535 no", 0.1)

    assert not cache.check(A, S, LOGIN, run).ok
    reused = cache.check(B, S, LOGIN, run)
    assert len(runs) == 1 and reused.failure is Failure.AUTH_FAILED and "not tried again yet" in reused.detail
    clock.now += FAILED_TTL_SECONDS + 0.1
    cache.check(B, S, LOGIN, run)
    assert len(runs) == 2


def test_writes_arriving_together_wait_for_one_check() -> None:
    cache, runs = CheckCache(), []
    gate = threading.Event()

    def run():
        runs.append(1)
        gate.wait(5)
        return succeeded(A, "login", "ok", 0.1)

    results = []
    threads = [threading.Thread(target=lambda: results.append(cache.check(A, S, LOGIN, run))) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    gate.set()
    for t in threads:
        t.join(10)
    assert len(runs) == 1 and len(results) == 8 and all(r.ok for r in results)
