"""Whole pages kept as the bytes served, so a busy console renders each page once, not per user.

A page is kept under everything that decides its bytes: the copy of the views it was read from,
what the user's scope sees (`Scope.sees`: role, contracts, customers; never the user's name
alone), the path with its checked filters, the language, the as-of time, and the second of `now`
for a page whose server-side text moves with time (the queue's time left and its order). A key
is only made after the scope has admitted what the page shows, and only pages answered 200 are
kept, so a kept page is served to a scope that was already shown it in the same views.

What differs between two users of one scope is left as slots in the kept bytes and filled per
request: the signed-in user's name, the session's CSRF token, the server's clock in ms (the
countdown's skew), whether the views are current. A slot is a random string drawn at start,
which no recorded text can carry.
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
STALE = f"slot{_NONCE}stale"  # the banner saying the views are not current (adapters.web.health)
_SLOTS = re.compile(f"({NAME}|{CSRF}|{NOW_MS}|{STALE})")
# bytes of pages kept, least recently served dropped first: a queue page at 10M events is ~0.3 MB
# and is kept per second, so a count would fill with stale queue pages; ticket pages are ~10 KB
KEPT_BYTES = 64 * 1024 * 1024


class Page:
    """A rendered page split at its slots: literal bytes at even places, slot names at odd."""

    __slots__ = ("parts", "size")

    def __init__(self, body: str) -> None:
        self.parts = [p.encode() if i % 2 == 0 else p for i, p in enumerate(_SLOTS.split(body))]
        self.size = sum(len(p) for p in self.parts)

    def fill(self, values: Mapping[str, str]) -> bytes:
        return b"".join(p if i % 2 == 0 else values[p].encode() for i, p in enumerate(self.parts))


class PageCache:
    """Pages by key, most recently used kept; one render when many ask for the same key at once
    (50 users arrive within milliseconds of each other)."""

    def __init__(self, kept_bytes: int = KEPT_BYTES) -> None:
        self.kept_bytes = kept_bytes
        self.size = 0
        self._pages: collections.OrderedDict[Hashable, Page] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, render: Callable[[], str | None]) -> Page | None:
        """The page kept under `key`, else `render()` kept under it (None: not a page to keep,
        e.g. a refusal; the caller answers it as it would without the cache)."""
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
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
                    replaced = self._pages.pop(key, None)  # rendered meanwhile by a late second builder
                    self.size += page.size - (replaced.size if replaced else 0)
                    self._pages[key] = page
                    while self.size > self.kept_bytes and len(self._pages) > 1:
                        self.size -= self._pages.popitem(last=False)[1].size
                return page
        finally:
            with self._lock:
                if self._building.get(key) is once:
                    del self._building[key]
