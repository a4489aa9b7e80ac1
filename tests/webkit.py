"""A running console for tests: a real ledger (SQLite), a real nats-server, the real follower
(`views follow`) and `ticketledger serve`, each a process of its own on 127.0.0.1; and a real
headless Chromium (the operating system's, driven by Playwright) with off-site requests blocked.

Two customers under two suppliers: buyer-004 (contract K-004, supplier-004: running, at-risk and
paused clocks) and buyer-000 (K-000, supplier-000), so every test can look for the other
customer's data in what a customer user is shown.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import msgspec
import pytest

from adapters.ledger import Ledger, open_ledger
from adapters.nats_server import NatsServer, free_port
from adapters.relay import relay_all
from domain import events as ev

from .domainkit import Desk

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
PASSWORDS = {"sup4": "supplier-four-pass", "cust4": "customer-four-pass", "cust0": "customer-zero-pass",
             "arb0": "arbitrator-zero-pass"}
# free text a hostile desk or user could record (issue 14 item 5)
HOSTILE = {
    "img": '<img src=x onerror="window.__xss=1">',
    "js": "javascript:window.__xss=2",
    "script": "</script><script>window.__xss=3</script>",
    "controls": "NUL\x00 BEL\x07 ESC\x1b[2J CR\r LF\n end",
    "bidi": "abc\u202egnp.exe",
}


class NamedDesk(Desk):
    """A desk whose command ids carry its name, so desks of one ledger never reuse an id."""

    def _cid(self) -> str:
        return f"{self.actor}-{super()._cid()}"


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


def record_world(ledger: Ledger, now: datetime) -> dict[str, str]:
    """The two customers' contracts, assets and tickets; returns names the tests use."""
    from adapters.cli.core import record_calendar

    record_calendar(ledger, [now.year - 1, now.year, now.year + 1])
    desk = NamedDesk("desk:world")
    facts: list[ev.Fact] = [
        desk.contract("004"), desk.asset("A4", contract="K-004", customer="buyer-004", site="site-four"),
        desk.contract("000"), desk.asset("A0", contract="K-000", customer="buyer-000", site="site-zero"),
        # seed 004 answers within 1 h: T4-run has 50 min left, T4-risk 10 min (at risk: 80 % used)
        desk.open("T4-run", "A4", iso(now - timedelta(minutes=10))),
        desk.open("T4-risk", "A4", iso(now - timedelta(minutes=50))),  # at risk for 10 min
        desk.open("T4-late", "A4", iso(now - timedelta(minutes=150))),  # response breached
        # T4-wait: acknowledged, its resolution clock paused by the customer's wait (§9.3)
        desk.open("T4-wait", "A4", iso(now - timedelta(minutes=30))),
        desk.fact(ev.TicketAcknowledged, "T4-wait", iso(now - timedelta(minutes=25))),
        desk.fact(ev.WaitStarted, "T4-wait", iso(now - timedelta(minutes=20)), reason="customer"),
        desk.open("T0-run", "A0", iso(now - timedelta(minutes=5))),
        desk.open("T0-secret", "A0", iso(now - timedelta(minutes=8)), description="buyer-000 confidential"),
    ]
    outcomes = ledger.execute_many(facts, now=now)
    assert all(o.status == "recorded" for o in outcomes), [o.error for o in outcomes if o.status != "recorded"]
    return {"customer": "buyer-004", "other": "buyer-000", "other_ticket": "T0-secret", "other_asset": "A0"}


def record_hostile(ledger: Ledger, now: datetime) -> list[str]:
    """A ticket of buyer-004 whose free text is hostile; returns the texts the ledger recorded."""
    desk = NamedDesk("desk:hostile")
    recorded = []
    # markup is text the ledger accepts; control and bidi characters it refuses since issue 14,
    # so they reach the console only from a ledger recorded before (tests/oldlog.py)
    markup = " | ".join(v for k, v in HOSTILE.items() if k not in ("controls", "bidi"))
    tries = [
        ("description", desk.open("T4-hostile", "A4", iso(now - timedelta(minutes=3)), description=markup)),
        ("technician", desk.fact(ev.TechnicianDispatched, "T4-hostile", iso(now - timedelta(minutes=2)),
                                 technician=HOSTILE["img"])),
    ]
    for field_name, fact in tries:
        outcome = ledger.execute_many([fact], now=now)[0]
        if outcome.status == "recorded":
            recorded.append(field_name)
    from .oldlog import record_the_old_way

    old = desk.fact(ev.TicketReassigned, "T4-hostile", iso(now - timedelta(minutes=1)),
                    assignee=HOSTILE["controls"] + HOSTILE["bidi"])
    record_the_old_way(ledger, [("ticket", msgspec.structs.replace(old, customer="buyer-004"))])
    recorded.append("assignee (recorded the old way)")
    return recorded


@dataclass
class Console:
    data: Path
    url: str
    nats: NatsServer
    ledger: Ledger
    procs: list[subprocess.Popen] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    def relay(self) -> int:
        """Publish what the stream lacks (in a thread: Playwright's sync API holds this one's loop)."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(relay_all, self.ledger, self.nats.url).result()

    def record(self, facts: list[ev.Fact]) -> None:
        outcomes = self.ledger.execute_many(facts)
        assert all(o.status == "recorded" for o in outcomes), [o.error for o in outcomes]

    def views(self, sql: str, params: list | None = None) -> list[tuple]:
        """Rows of the analysts' snapshot (read-only, beside the follower)."""
        con = duckdb.connect(str(self.data / "views-snapshot.duckdb"), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()

    def wait_position(self, position: int, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(duckdb.Error):
                if self.views("SELECT max(position) FROM checkpoint")[0][0] >= position:
                    return
            time.sleep(0.2)
        raise AssertionError(f"the follower's snapshot did not reach position {position}")


def _wait_http(url: str, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the console exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url + "/healthz", timeout=2) as r:
            if r.status == 200:
                return
        time.sleep(0.2)
    raise AssertionError("the console did not answer")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cli(data: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "adapters.cli", "--data-dir", str(data), *args], input=stdin,
                          capture_output=True, text=True, timeout=120, env=env)


@contextlib.contextmanager
def running_console(root: Path, *, hostile: bool = True, serve_args: tuple[str, ...] = ()) -> Iterator[Console]:
    data = root / "data"
    now = datetime.now(UTC)
    ledger = open_ledger(data)
    names = record_world(ledger, now)
    if hostile:
        names["hostile"] = ",".join(record_hostile(ledger, now))
    for name, role, scope in (("sup4", "supplier", ["--supplier", "supplier-004"]),
                              ("cust4", "customer", ["--customer", "buyer-004"]),
                              ("cust0", "customer", ["--customer", "buyer-000"]),
                              ("arb0", "arbitrator", ["--contract", "K-000"])):
        done = cli(data, "users", "add", name, "--role", role, *scope, "--password-stdin", stdin=PASSWORDS[name] + "\n")
        assert done.returncode == 0, done.stderr
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TICKETLEDGER_WEB_SECRET": "test-secret-" + "x" * 32}
    with NatsServer(root / "nats", log_file=root / "nats.log") as nats:
        console = Console(data, "", nats, ledger, names=names)
        try:
            console.relay()
            follower = subprocess.Popen(
                [sys.executable, "-m", "adapters.cli", "--data-dir", str(data), "views", "follow", "--nats-url",
                 nats.url, "--interval", "2", "--snapshot-every", "0.5"],
                env=env, stdout=subprocess.DEVNULL, stderr=(root / "follower.log").open("w"))
            console.procs.append(follower)
            deadline = time.monotonic() + 60
            while not (data / "views-snapshot.duckdb").exists():
                assert time.monotonic() < deadline and follower.poll() is None, (root / "follower.log").read_text()
                time.sleep(0.2)
            console.wait_position(ledger.position)
            port = free_port()
            server = subprocess.Popen(
                [sys.executable, "-m", "adapters.cli", "--data-dir", str(data), "serve", "--port", str(port),
                 "--nats-url", nats.url, *serve_args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            console.procs.append(server)
            console.url = f"http://127.0.0.1:{port}"
            _wait_http(console.url, server)
            yield console
        finally:
            for p in reversed(console.procs):
                _stop(p)
            ledger.close()


# --- the browser -----------------------------------------------------------------------------------


def chromium_or_skip() -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no {CHROMIUM}: `make test` installs it (.ci/system-deps.sh)")


@contextlib.contextmanager
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    chromium_or_skip()
    args = ["--no-sandbox"] if os.geteuid() == 0 else []  # the sandbox cannot start as root
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            yield b
        finally:
            b.close()


def new_page(b, console: Console, offsite: list[str]):
    """A page in a fresh context; every request to another host is aborted and noted."""
    context = b.new_context(locale="en-US", timezone_id="Asia/Shanghai")
    page = context.new_page()

    def route(r) -> None:
        if r.request.url.startswith(console.url) or r.request.url.startswith(("data:", "about:")):
            r.continue_()
        else:
            offsite.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    return page


def sign_in(page, console: Console, user: str, lang: str = "en") -> None:
    page.goto(f"{console.url}/login?lang={lang}")
    page.fill("input[name=user]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("form.login button[type=submit]")
    page.wait_for_url(re.compile(r".*/queue.*"))


# --- PDFs as a reader meets them (poppler: pdftotext reads 页 and 小 right) -----------------------------

A4_PTS = "594.96 x 841.92 pts"  # A4 as Chromium prints it


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True,
                          text=True).stdout


def pdf_page_sizes(path: Path) -> list[str]:
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "999", str(path)], check=True, capture_output=True,
                          text=True).stdout
    return re.findall(r"Page\s+\d+ size:\s+([\d.]+ x [\d.]+ pts)", info)


# --- plain HTTP as one user (the security tests) -------------------------------------------------------


class Http:
    """An HTTP client signed in as one user. The session cookie is Secure, which a client keeps
    only over HTTPS, so it is carried by hand here (a browser keeps it on http://127.0.0.1)."""

    def __init__(self, console: Console, user: str) -> None:
        import httpx

        self.client = httpx.Client(base_url=console.url, follow_redirects=False, timeout=30)
        r = self.client.get("/login")
        self.cookie = r.cookies.get("ticketledger_session")
        token = re.search(r'name="csrf" value="([^"]+)"', r.text).group(1)
        r = self.client.post("/login", data={"user": user, "password": PASSWORDS[user], "csrf": token, "next": "/queue"},
                             headers={"cookie": f"ticketledger_session={self.cookie}", "origin": console.url})
        assert r.status_code == 303 and r.headers["location"] == "/queue", r.text[:500]
        self.cookie = r.cookies.get("ticketledger_session")

    def get(self, path: str, **kw):
        return self.client.get(path, headers={"cookie": f"ticketledger_session={self.cookie}"}, **kw)

    def stream(self, path: str):
        return self.client.stream("GET", path, headers={"cookie": f"ticketledger_session={self.cookie}"})


# A test module's own console (the demo ledger, no hostile inputs) and browser: in the module,
# `console = webkit.module_console` and `browser = webkit.module_browser`
@pytest.fixture(scope="module")
def module_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("console"), hostile=False) as c:
        yield c


@pytest.fixture(scope="module")
def module_browser() -> Iterator[object]:
    with browser() as b:
        yield b
