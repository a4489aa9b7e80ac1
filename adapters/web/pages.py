"""Whole pages kept as the bytes served, so a busy console renders each page once, not per user.

A page is kept under everything that decides its bytes: the copy of the views it was read from,
what the user's scope sees (`Scope.sees`: role, contracts, customers; never the user's name
alone), the path with its checked filters, the language, the as-of time, and the second of `now`
for a page whose server-side text moves with time (the queue's time left and its order). A key
is only made after the scope has admitted what the page shows, and only pages answered 200 are
kept, so a kept page is served to a scope that was already shown it in the same views.

What differs between two users of one scope is left as slots in the kept bytes and filled per
request: the signed-in user's name, the session's CSRF token, the server's clock in ms (the
countdown's skew). A slot is a random string drawn at start, which no recorded text can carry.
"""

from __future__ import annotations

import collections
import re
import secrets
import threading
from collections.abc import Callable, Hashable, Mapping

_NONCE = secrets.token_hex(12)
NAME = f"slot{_NONCE}name"  # the user's name, as `printable` and autoescape write it
CSRF = f"slot{_NONCE}csrf"  # the session's CSRF token
NOW_MS = f"slot{_NONCE}now"  # the server's time (ms since the epoch) when the page is served
_SLOTS = re.compile(f"({NAME}|{CSRF}|{NOW_MS})")
KEPT = 2048  # pages kept (a queue page at 10M events is ~0.3 MB: ~600 MB at worst)


class Page:
    """A rendered page split at its slots: literal bytes at even places, slot names at odd."""

    __slots__ = ("parts",)

    def __init__(self, body: str) -> None:
        self.parts = [p.encode() if i % 2 == 0 else p for i, p in enumerate(_SLOTS.split(body))]

    def fill(self, values: Mapping[str, str]) -> bytes:
        return b"".join(p if i % 2 == 0 else values[p].encode() for i, p in enumerate(self.parts))


class PageCache:
    """Pages by key, most recently used kept; one render when many ask for the same key at once
    (50 users arrive within milliseconds of each other)."""

    def __init__(self, kept: int = KEPT) -> None:
        self.kept = kept
        self._pages: collections.OrderedDict[Hashable, Page] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}
        self.hits = self.misses = 0

    def get(self, key: Hashable, render: Callable[[], str | None]) -> Page | None:
        """The page kept under `key`, else `render()` kept under it (None: not a page to keep,
        e.g. a refusal; the caller answers it as it would without the cache)."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
                self.hits += 1
                return page
            once = self._building.setdefault(key, threading.Lock())
        try:
            with once:
                with self._lock:
                    page = self._pages.get(key)
                if page is not None:
                    return page
                body = render()
                if body is None:
                    return None
                page = Page(body)
                with self._lock:
                    self.misses += 1
                    self._pages[key] = page
                    while len(self._pages) > self.kept:
                        self._pages.popitem(last=False)
                return page
        finally:
            with self._lock:
                if self._building.get(key) is once:
                    del self._building[key]
