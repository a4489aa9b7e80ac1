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

# the live queue on the tests' world (clocks running now)
LIVE = [
    ("queue", "sup4", "/queue?lang=zh_CN", None),
    ("queue-en", "cust4", "/queue?lang=en", None),
    ("login", None, "/login?lang=zh_CN", None),
]
# the other pages on the demo's synthetic year (a supplier user of seed 000)
DEMO = [
    ("dashboard", "sup4", "/dashboard?lang=zh_CN", '#chart-money[data-rendered="yes"]'),
    ("ticket", "sup4", "/tickets/{ticket}?lang=en", None),
    ("asset", "sup4", "/assets/{asset}?lang=zh_CN", None),
    ("statements", "sup4", "/statements?lang=zh_CN", None),
]


def shoot(b, console, pages, fill: dict[str, str]) -> None:
    for name, user, path, ready in pages:
        page = webkit.new_page(b, console, [])
        page.set_viewport_size({"width": 1360, "height": 860})
        if user:
            webkit.sign_in(page, console, user)
        page.goto(console.url + path.format(**fill))
        if ready:
            page.wait_for_selector(ready, timeout=60_000)
        page.wait_for_timeout(1500)
        out = ROOT / "docs" / f"console-{name}.png"
        page.screenshot(path=str(out), full_page=name != "ticket")
        print(out)
        page.context.close()


def demo_console(root: Path):
    """The demo's year (its views, no follower: the console reads views.duckdb read-only)."""
    import subprocess

    import duckdb

    data = root / "demo"
    done = webkit.cli(data, "demo", "--tickets", "1500", "--no-stream")
    assert done.returncode == 0, done.stderr
    done = webkit.cli(data, "users", "add", "sup4", "--role", "supplier", "--supplier", "supplier-000",
                      "--password-stdin", stdin=webkit.PASSWORDS["sup4"] + "\n")
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(data / "views.duckdb"), read_only=True)
    ticket, asset = con.execute("SELECT ticket, asset FROM sla_clocks WHERE contract = 'K-000' AND state = 'breached' "
                                "ORDER BY ticket LIMIT 1").fetchone()
    con.close()
    port = webkit.free_port()
    server = subprocess.Popen([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), "serve", "--port",
                               str(port)], cwd=ROOT)
    console = webkit.Console(data, f"http://127.0.0.1:{port}", None, None)
    webkit._wait_http(console.url, server)
    return console, server, {"ticket": ticket, "asset": asset}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, webkit.browser() as b:
        console, server, fill = demo_console(Path(tmp))
        try:
            shoot(b, console, DEMO, fill)
        finally:
            webkit._stop(server)
        with webkit.running_console(Path(tmp) / "live", hostile=False) as live:
            shoot(b, live, LIVE, {})
    return 0


if __name__ == "__main__":
    sys.exit(main())
