"""Helpers of the console suite: sign in through the real form, read what a page says."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # this machine's closed network refuses Google's hosts
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("SMTP_IAC_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def sign_in(page: Any, token: str, then: str = "") -> None:
    """Sign in as a person does: the Token field, then the Sign in button; ``then``: the page to
    land on, as a link to it does (``/signin?next=``), so that no other page is loaded first."""
    page.goto(f"/signin?next={then}" if then else "/signin")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def text(page: Any) -> str:
    """The page's visible text, whitespace collapsed."""
    return " ".join(page.inner_text("body").split())
