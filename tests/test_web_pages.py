"""Whole pages kept as served (adapters.web.pages): filled per user, rendered once when many
ask, and kept under what the scope sees, never under a user's name alone."""

from __future__ import annotations

import threading
import time

from adapters.web import pages
from adapters.web.pages import PageCache
from adapters.web.scope import Scope
from adapters.web.users import User


def test_a_kept_page_is_filled_with_each_request_s_own_user_token_and_time() -> None:
    cache = PageCache()
    body = f'<span>{pages.NAME}</span><input value="{pages.CSRF}"><table data-now="{pages.NOW_MS}">'
    page = cache.get(("k",), lambda: body)
    assert page is not None
    a = page.fill({pages.NAME: "cust4", pages.CSRF: "tok-a", pages.NOW_MS: "1"})
    b = page.fill({pages.NAME: "cust4b", pages.CSRF: "tok-b", pages.NOW_MS: "2"})
    assert a == b'<span>cust4</span><input value="tok-a"><table data-now="1">'
    assert b == b'<span>cust4b</span><input value="tok-b"><table data-now="2">'


def test_a_page_is_rendered_once_when_many_ask_and_a_refusal_is_not_kept() -> None:
    cache = PageCache()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "page"

    threads = [threading.Thread(target=cache.get, args=(("q",), slow)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert cache.get(("refused",), lambda: None) is None
    assert cache.get(("refused",), lambda: "now a page").fill({}) == b"now a page"


def _user(name: str, role: str, **kw: object) -> User:
    return User(name, role, "", **kw)  # type: ignore[arg-type]


def test_the_key_of_a_scope_is_what_it_sees_not_who_asks() -> None:
    a = Scope.of(_user("cust4", "customer", customer="buyer-004"), None)
    b = Scope.of(_user("cust4b", "customer", customer="buyer-004"), None)
    other = Scope.of(_user("cust4", "customer", customer="buyer-000"), None)  # same name, another customer
    arb = Scope.of(_user("arb", "arbitrator", contracts=("K-004",)), None)
    assert a.sees == b.sees
    assert other.sees != a.sees and arb.sees != a.sees


def test_pages_are_kept_within_a_byte_budget_least_recently_served_first() -> None:
    cache = PageCache(kept_bytes=250)
    for k in ("a", "b"):
        cache.get((k,), lambda: "x" * 100)
    cache.get(("a",), lambda: "not rendered again")  # served: now the most recent
    cache.get(("c",), lambda: "x" * 100)  # over budget: "b" goes
    assert cache.size == 200
    assert cache.get(("a",), lambda: "gone").fill({}) == b"x" * 100
    assert cache.get(("b",), lambda: "rendered again").fill({}) == b"rendered again"
