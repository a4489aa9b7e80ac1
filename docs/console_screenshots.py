"""Screenshots of every page of the web console for the README (docs/console-*.png).

    .venv/bin/python docs/console_screenshots.py

Starts the test world of tests/webkit.py (two customers, running, at-risk, paused and breached
clocks; a real nats-server, follower and `ticketledger serve`) and photographs each page in the
system's headless Chromium, signed in as a supplier and as a customer user.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import webkit  # noqa: E402

PAGES = [
    ("queue", "sup4", "/queue?lang=zh_CN", None),
    ("queue-en", "cust4", "/queue?lang=en", None),
    ("dashboard", "sup4", "/dashboard?lang=zh_CN", '#chart-money[data-rendered="yes"]'),
    ("ticket", "cust4", "/tickets/T4-wait?lang=en", None),
    ("asset", "sup4", "/assets/A4?lang=zh_CN", None),
    ("statements", "cust4", "/statements?lang=zh_CN", None),
    ("login", None, "/login?lang=zh_CN", None),
]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, webkit.running_console(Path(tmp), hostile=False) as console, \
            webkit.browser() as b:
        for name, user, path, ready in PAGES:
            page = webkit.new_page(b, console, [])
            page.set_viewport_size({"width": 1360, "height": 860})
            if user:
                webkit.sign_in(page, console, user)
            page.goto(console.url + path)
            if ready:
                page.wait_for_selector(ready, timeout=30_000)
            page.wait_for_timeout(1500)
            out = ROOT / "docs" / f"console-{name}.png"
            page.screenshot(path=str(out), full_page=name not in ("ticket",))
            print(out)
            page.context.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
