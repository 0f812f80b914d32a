"""Fixtures of the console suite: the real service (uvicorn on a free loopback port) over a
seeded SQLite store with a real STARTTLS relay, and a real headless Chromium driven by
Playwright.

The browser is Debian's ``chromium`` (``/usr/bin/chromium``, or ``SMTP_IAC_CHROMIUM``), which
``.ci/run`` installs with apt-get: ``playwright install`` cannot download browsers here. Where
no Chromium can be had, the browser tests skip and say so.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parents[1]
for extra in (_TESTS, _TESTS / "service"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from console_support import CHROMIUM_ARGS, chromium_path  # noqa: E402
from service_support import Svc, key_fixture, relay_fixture, running  # noqa: E402,F401
from smtp_servers import ca_fixture, write_ca_file  # noqa: E402,F401


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip(
            "no Chromium: the console's browser tests need Debian's chromium package "
            "(apt-get install chromium, as .ci/run does) or SMTP_IAC_CHROMIUM=/path/to/chromium"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def svc(tmp_path, key, relay, ca) -> Iterator[Svc]:
    with running(f"sqlite:///{tmp_path}/db/store.db", relay, write_ca_file(ca, tmp_path)) as s:
        yield s


@pytest.fixture
def page(browser, svc):
    """A fresh browser context (its own cookies) at the service, 1280x800: one Chromium per test
    process (``browser``, session-scoped), a new context per test (some 30 ms)."""
    context = browser.new_context(base_url=svc.url, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()
