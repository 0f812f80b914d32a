"""What the settings service keeps in the store (``store.guards``), on both backends: the
comparison budget (different candidates per scope and token within a window; a known one is
free; nothing recorded past the limit; old ones expire) and the ended console sessions; and the
saved plan's seal, under a key of its own."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from store_helpers import ACME, BLUE, CONTROLLER

HOUR = timedelta(hours=1)


def test_the_budget_counts_different_candidates_per_scope_and_token(store):
    admit = store.admit
    assert admit("t1", {BLUE: {f"c{i}" for i in range(5)}}, limit=5, window=HOUR, total=1000) is None
    assert admit("t1", {BLUE: {"c0", "c4"}}, limit=5, window=HOUR, total=1000) is None  # known: free
    assert admit("t1", {ACME: {"x"}, BLUE: {"c5"}}, limit=5, window=HOUR, total=1000) == BLUE  # the 6th
    assert admit("t1", {ACME: {"x"}}, limit=5, window=HOUR, total=1000) is None  # nothing was recorded above
    assert admit("t1", {ACME: {"x", "y", "z", "w", "v"}}, limit=5, window=HOUR, total=1000) is None  # x counted once
    assert admit("t1", {ACME: {"u"}}, limit=5, window=HOUR, total=1000) == ACME
    assert admit("t2", {BLUE: {"c5", "c6"}}, limit=5, window=HOUR, total=1000) is None  # another token


def test_candidates_older_than_the_window_no_longer_count(store):
    window = timedelta(milliseconds=200)
    assert store.admit("t", {BLUE: {"a", "b"}}, limit=2, window=window, total=1000) is None
    assert store.admit("t", {BLUE: {"c"}}, limit=2, window=window, total=1000) == BLUE
    time.sleep(0.3)
    assert store.admit("t", {BLUE: {"c", "d"}}, limit=2, window=window, total=1000) is None


def test_a_batch_of_many_scopes_is_judged_whole(store):
    many = {CONTROLLER: {"p"}} | {BLUE: {f"b{i}" for i in range(3)}}
    assert store.admit("t", many, limit=3, window=HOUR, total=1000) is None
    assert store.admit("t", {CONTROLLER: {"q", "r"}, BLUE: {"b9"}}, limit=3, window=HOUR, total=1000) == BLUE
    assert store.admit("t", {CONTROLLER: {"q", "r"}}, limit=3, window=HOUR, total=1000) is None


def test_an_ended_session_is_known_until_it_would_expire(store):
    later = datetime.now(UTC) + HOUR
    assert not store.session_ended("s1")
    store.end_session("s1", later)
    store.end_session("s1", later)  # twice: the same
    assert store.session_ended("s1") and not store.session_ended("s2")
    store.end_session("old", datetime.now(UTC) - HOUR)
    store.end_session("s3", later)  # each end prunes what expired
    assert not store.session_ended("old") and store.session_ended("s1")


def test_a_saved_plans_seal_is_not_a_fingerprint(store):
    digest = "sha256:" + "0f" * 32
    assert store.seal(digest) == store.seal(digest)
    assert store.seal(digest) != store.seal(digest.replace("0f", "f0", 1))
    assert store.fingerprint(CONTROLLER, digest)[len("hmac-sha256:") :] not in store.seal(digest)
    assert store.derived_key("a") != store.derived_key("b") and len(store.derived_key("a")) == 32


def test_a_token_holds_at_most_its_total(store):
    assert store.admit("t", {BLUE: {"a", "b"}, ACME: {"c"}}, limit=5, window=HOUR, total=4) is None
    assert store.admit("t", {CONTROLLER: {"d", "e"}}, limit=5, window=HOUR, total=4) == CONTROLLER
    assert store.admit("t", {BLUE: {"a", "b"}, CONTROLLER: {"d"}}, limit=5, window=HOUR, total=4) is None
    assert store.admit("u", {CONTROLLER: {"d", "e"}}, limit=5, window=HOUR, total=4) is None
