"""The console as an attacker meets it: a customer user trying to see another customer's
tickets, assets, statements and proofs, and hostile text recorded through the real ledger."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from . import webkit

pytestmark = pytest.mark.slow

# anything of buyer-000 (contract K-000, supplier-000, asset A0 at site-zero)
OTHER = ("buyer-000", "T0-", "site-zero", "K-000", "supplier-000", "confidential", "SN-A0")


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory):
    with webkit.running_console(tmp_path_factory.mktemp("security")) as c:
        yield c


@pytest.fixture(scope="module")
def customer(console) -> webkit.Http:
    return webkit.Http(console, "cust4")


def assert_refused(r, *codes: int) -> None:
    assert r.status_code in (codes or (403, 404)), (r.status_code, r.text[:300])
    leaked = [s for s in OTHER if s in r.text]
    assert not leaked, f"{r.request.url} leaked {leaked}"


def test_the_customer_sees_its_own_pages(customer) -> None:
    for path in ("/queue", "/dashboard", "/statements", "/tickets/T4-run", "/assets/A4", "/tickets/T4-run/report.html"):
        r = customer.get(path)
        assert r.status_code == 200, path
        assert not [s for s in OTHER if s in r.text], path


@pytest.mark.parametrize("path", [
    "/tickets/T0-secret", "/tickets/T0-secret/report.html", "/tickets/T0-secret/report.pdf",
    "/tickets/T0-secret/proof", "/assets/A0", "/statements/buyer-000/2026-12.xlsx",
    "/statements/buyer-000/2026-12.pdf?contract=K-000", "/statements/buyer-004/2026-12.xlsx?contract=K-000",
])
def test_another_customers_things_by_url_are_refused(customer, path: str) -> None:
    assert_refused(customer.get(path))


def this_month() -> str:
    return datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


def test_the_customer_gets_its_own_documents(customer) -> None:
    """The refusals above are refusals: the same routes give the customer its own documents."""
    month = this_month()
    for fmt, media in (("html", "text/html"), ("xlsx", "application/vnd.openxmlformats"), ("pdf", "application/pdf")):
        r = customer.get(f"/statements/buyer-004/{month}.{fmt}", params={"contract": "K-004"})
        assert r.status_code == 200 and r.headers["content-type"].startswith(media), (fmt, r.status_code)
        assert "attachment" in r.headers["content-disposition"]
        assert not [s for s in OTHER if s.encode() in r.content]
    r = customer.get("/tickets/T4-run/report.pdf")
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    r = customer.get("/tickets/T4-run/proof")  # no transparency log on this ledger yet: said, not faked
    assert r.status_code == 501 and r.text.startswith("proofs not available on this ledger")


@pytest.mark.parametrize("query", [
    "/statements/buyer-004/{month}.xlsx?contract=K-000",
    "/statements/buyer-004/{month}.pdf?contract=K-000&customer=buyer-000",
    "/statements/buyer-000/{month}.html?contract=K-004",
    "/statements/buyer-000/{month}.xlsx?customer=buyer-004",
    "/statements/buyer-004/{month}.xlsx?contract=K-004&contract=K-000",
    "/statements/buyer-000/{month}.xlsx?as_of=2020-01-01T00:00",
    "/tickets/T0-secret/proof?customer=buyer-004",
    "/tickets/T0-secret/proof?as_of=2020-01-01T00:00",
    "/tickets/T0-secret/report.pdf?ticket=T4-run",
    "/tickets/T0-secret/report.pdf?as_of=2020-01-01T00:00",
])
def test_documents_through_query_parameter_tampering_are_refused(customer, query: str) -> None:
    r = customer.get(query.format(month=this_month()))
    assert r.status_code in (400, 403, 404), (query, r.status_code, r.text[:300])
    assert not [s for s in OTHER if s.encode() in r.content], query


def test_the_statements_page_lists_only_the_customer_s_own(customer) -> None:
    r = customer.get("/statements", params={"customer": "buyer-000", "contract": "K-000"})
    assert r.status_code == 200 and "buyer-004" in r.text
    assert not [s for s in OTHER if s in r.text]


@pytest.mark.parametrize("query", [
    "/queue?customer=buyer-000", "/queue?site=site-zero", "/dashboard?customer=buyer-000",
    "/queue?customer=buyer-004&customer=buyer-000", "/tickets/T0-secret?as_of=2020-01-01T00:00",
    "/live?customer=buyer-000",
])
def test_query_parameter_tampering_is_refused(customer, query: str) -> None:
    assert_refused(customer.get(query))


@pytest.mark.parametrize("value", [
    "' OR '1'='1", "buyer-004' OR customer = 'buyer-000", "x'); DROP TABLE sla_clocks; --",
    "buyer-004%' UNION SELECT ticket, asset FROM sla_clocks --",
])
def test_a_filter_value_carrying_sql_is_refused(customer, value: str) -> None:
    for name in ("customer", "site", "technician", "severity", "clock"):
        assert_refused(customer.get("/queue", params={name: value}))
    assert_refused(customer.get("/dashboard", params={"site": value}))
    assert_refused(customer.get("/live", params={"customer": value}))


def test_the_live_stream_carries_nothing_of_another_customer(console, customer) -> None:
    received: list[str] = []
    done = threading.Event()

    def read() -> None:
        with customer.stream("/live") as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                received.append(line)
                if done.is_set():
                    return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(1.0)
    desk = webkit.NamedDesk("desk:sse")
    now = webkit.iso(datetime.now(UTC))
    console.record([desk.open("T0-sse", "A0", now), desk.open("T4-sse", "A4", now)])
    console.relay()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any("T4-sse" in x for x in received):
        time.sleep(0.2)
    time.sleep(1.0)  # anything of the other customer would have come by now
    done.set()
    # the clock events' payloads (the stream's status events say whether the data is current)
    payloads = [json.loads(x[6:]) for before, x in zip(received, received[1:], strict=False)
                if before == "event: clock" and x.startswith("data: ")]
    assert any(p["ticket"] == "T4-sse" for p in payloads)
    assert all(p["customer"] == "buyer-004" for p in payloads)
    assert not [s for s in OTHER if any(s in x for x in received)]


@pytest.mark.parametrize("path", [
    "/tickets/T4-run/evidence/..%2F..%2Fweb-users.toml",
    "/tickets/T4-run/evidence/../../web-users.toml",
    "/tickets/T4-run/evidence/" + "0" * 64,
    "/tickets/..%2F..%2Fweb-users.toml/report.html",
    "/static/..%2F..%2F..%2Fledger-data%2Fweb-users.toml",
    "/static/../users.py",
    "/statements/..%2Fbuyer-000/2026-12.xlsx",
    "/statements/buyer-004/..%2F..%2Fweb-users.xlsx",
    "/statements/buyer-004/2026-12.xlsx?contract=..%2F..%2Fweb-users",
    "/statements/buyer-004/..%2F2026-12.xlsx",
    "/statements/buyer-004/2026-12.toml",
    "/statements/%2E%2E/2026-12.xlsx",
    "/tickets/..%2FT0-secret/proof",
    "/tickets/T4-run/proof/..%2F..%2Fweb-users.toml",
])
def test_path_traversal_on_downloads_is_refused(customer, path: str) -> None:
    r = customer.get(path)
    assert r.status_code in (400, 404), (path, r.status_code)
    assert "argon2" not in r.text and "[users" not in r.text
    assert not [s for s in OTHER if s in r.text]


def test_pages_carry_the_security_headers_and_a_secure_session_cookie(console) -> None:
    import httpx

    r = httpx.get(console.url + "/login")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "secure" in cookie and "samesite=lax" in cookie
    # a sign-in without the form's token, or from another site, is refused
    r2 = httpx.post(console.url + "/login", data={"user": "cust4", "password": webkit.PASSWORDS["cust4"]})
    assert r2.status_code == 403
    r3 = httpx.post(console.url + "/login", data={"user": "cust4", "password": webkit.PASSWORDS["cust4"]},
                    headers={"origin": "https://evil.example"})
    assert r3.status_code == 403
    assert httpx.get(console.url + "/queue").status_code == 303  # signed out: to the sign-in page


def test_hostile_text_recorded_through_the_ledger_is_shown_as_text(console) -> None:
    assert console.names["hostile"], "the ledger refused every hostile text; nothing to show"
    with webkit.browser() as b:
        offsite: list[str] = []
        page = webkit.new_page(b, console, offsite)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        webkit.sign_in(page, console, "sup4")
        for path in ("/queue", "/tickets/T4-hostile", "/assets/A4", "/dashboard"):
            page.goto(console.url + path)
            page.wait_for_timeout(500)
            for frame in page.frames:
                assert frame.evaluate("() => window.__xss") is None, (path, frame.url)
                assert frame.evaluate("() => document.querySelectorAll('[onerror], script:not([src]):not([type])').length") == 0
                assert frame.evaluate("() => document.querySelectorAll('a[href^=\"javascript:\"]').length") == 0
        page.goto(console.url + "/tickets/T4-hostile")
        report = page.frame_locator("#report").locator("body").inner_text()
        assert "<img src=x onerror=" in report  # shown as the text it is
        if "technician" in console.names["hostile"]:
            page.goto(console.url + "/queue")
            assert "<img src=x onerror=" in page.inner_text('tr[data-key="T4-hostile|resolution"]')
        assert dialogs == [] and offsite == []


def test_an_as_of_page_is_replayed_in_the_background_and_leaves_the_live_views_alone(console, customer) -> None:
    before = console.views("SELECT max(position), max(evaluated_at) FROM checkpoint")[0]
    cut = datetime.now(UTC)
    time.sleep(1.1)
    desk = webkit.NamedDesk("desk:asof")
    console.record([desk.open("T4-after", "A4", webkit.iso(datetime.now(UTC)))])
    console.relay()
    console.wait_position(console.ledger.position)
    # Beijing time without a zone, as a person types it in the page's as-of field
    asked = {"as_of": cut.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M:%S")}
    first = customer.get("/queue", params=asked)
    assert first.status_code == 202, first.status_code  # a job: the page says so and refreshes itself
    assert 'http-equiv="refresh"' in first.text
    deadline = time.monotonic() + 120
    r = first
    while r.status_code == 202 and time.monotonic() < deadline:
        time.sleep(1)
        r = customer.get("/queue", params=asked)
    assert r.status_code == 200, r.text[:300]
    assert "T4-run" in r.text and "T4-after" not in r.text  # what the ledger knew at the cut
    assert "T4-after" in customer.get("/queue").text  # the live page is live
    assert not [s for s in OTHER if s in r.text]
    files = list((console.data / "web-cache" / "asof").glob("asof-*.duckdb"))
    assert len(files) == 1
    after = console.views("SELECT max(position) FROM checkpoint")[0][0]
    assert after >= before[0]  # the follower's views went on; nothing was rebuilt in their place


# anything of buyer-004 (contract K-004, supplier-004, asset A4 at site-four): what cust0 must not see
MINE = ("buyer-004", "T4-", "site-four", "K-004", "supplier-004", "cust4")


def test_a_kept_page_of_one_customer_is_never_served_to_another(console, customer) -> None:
    """Pages are kept whole and served again (adapters.web.pages): one customer's page, just
    rendered for the same path, language and second, is not what another customer gets."""
    other = webkit.Http(console, "cust0")
    for _ in range(5):  # back to back: the same second, the same copy of the views
        mine, theirs = customer.get("/queue"), other.get("/queue")
        assert mine.status_code == theirs.status_code == 200
        assert "T4-run" in mine.text and "cust4" in mine.text
        assert "T0-run" in theirs.text and "cust0" in theirs.text
        assert not [s for s in MINE if s in theirs.text], "cust0 was served cust4's queue"
        assert not [s for s in OTHER if s in mine.text], "cust4 was served cust0's queue"
    for ticket, first, then, leak in (("T4-run", customer, other, MINE), ("T0-run", other, customer, OTHER)):
        assert first.get(f"/tickets/{ticket}").status_code == 200
        r = then.get(f"/tickets/{ticket}")
        assert r.status_code == 404, (ticket, r.status_code)
        assert not [s for s in leak if s in r.text], f"a kept page of {ticket} leaked"
