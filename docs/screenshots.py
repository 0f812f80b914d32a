"""Takes the console screenshots in docs/ (1280x800, headless Chromium), from a real service
over a SQLite store holding a small platform and a real STARTTLS relay, as the browser tests drive them.

    .venv/bin/python docs/screenshots.py        # needs /usr/bin/chromium (apt-get install chromium)
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "service"), str(ROOT / "tests" / "console")]

from console_support import CHROMIUM_ARGS, chromium_path  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from service_support import ACME, GREEN, HQ, relay_settings, running  # noqa: E402
from smtp_servers import TEST_TO, TEST_USER, make_ca, smtp_server, write_ca_file  # noqa: E402

OUT = ROOT / "docs"


def main() -> int:
    path = chromium_path()
    if path is None:
        print("no Chromium: apt-get install chromium", file=sys.stderr)
        return 1
    os.environ["SMTP_IAC_STORE_KEY"] = Fernet.generate_key().decode()
    ca = make_ca()
    tmp = tempfile.mkdtemp(prefix="smtp-iac-shots-")
    with (
        smtp_server(tls="starttls", ca=ca) as relay,
        running(f"sqlite:///{tmp}/store.db", relay, write_ca_file(ca, Path(tmp))) as svc,
    ):
        more = {f"org-{i:04d}": {"smtp_enabled": i % 4 == 0} for i in range(1200)}
        svc.store.load_tenants({"partners": {"globex": {"organizations": more}}}, actor="setup")
        svc.store.put(ACME, relay_settings(relay), expected_version=1, stack="prod", adopt=True, actor="pipeline")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)

            def signed_in(role: str):
                context = browser.new_context(base_url=svc.url, viewport={"width": 1280, "height": 800})
                page = context.new_page()
                page.goto("/signin")
                page.get_by_label("Token").fill(svc.tokens[role])
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_load_state()
                return page

            page = browser.new_page(base_url=svc.url, viewport={"width": 1280, "height": 800})
            page.goto("/signin")
            page.screenshot(path=OUT / "console-signin.png")

            page = signed_in("sysadmin")
            page.screenshot(path=OUT / "console-tier-map.png")
            page.get_by_role("heading", name="Partners").evaluate("h => h.scrollIntoView()")
            page.screenshot(path=OUT / "console-partners.png")
            page.goto(f"/organizations/{HQ}")
            page.screenshot(path=OUT / "console-organization.png")

            page = signed_in("partner-admin")
            page.goto(f"/scopes/{ACME}")
            page.get_by_label("Username").fill(TEST_USER)
            page.get_by_label("Password").fill("not-the-password")
            page.get_by_label("Test recipient (optional)").fill(TEST_TO)
            page.screenshot(path=OUT / "console-scope.png")
            page.get_by_role("button", name="Send Test Email").click()
            page.locator("#check-result").get_by_text("Test failed").wait_for()
            assert page.locator("#check-result").is_visible()  # beside the button, without scrolling
            page.screenshot(path=OUT / "console-test-failed.png")

            page = signed_in("org-admin-off")
            assert page.url.endswith(str(GREEN))
            page.screenshot(path=OUT / "console-switch-off.png")
            browser.close()
    shutil.rmtree(tmp, ignore_errors=True)
    for name in sorted(OUT.glob("console-*.png")):
        print(name.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
