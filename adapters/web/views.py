"""Reading the views beside a running follower without ever being a second writer.

The follower holds `views.duckdb` and publishes `views-snapshot.duckdb` (a copy, replaced by a
rename) every few seconds; `views rebuild` publishes it too. The console reads the snapshot
through one read-only connection per copy. A new copy is warmed before pages read it: what
pages asked of the copy in use (a scope, the queue's filter values and candidates) is computed
again on the new one. When that was cheap the last time, pages wait for it (a small ledger: as
fresh as before); when it was not (at 10M events, seconds of CPU on this machine's busy cores),
it is done in the background while pages go on reading the copy in use, and a copy is taken at
most every FRESH_FACTOR times that cost. The live queue is brought up to date by the follower's
alerts (adapters.web.live), not by the copies. The old copy is closed when its last
reader is done (on Linux a renamed-over file stays readable). With no snapshot yet,
`views.duckdb` is opened read-only for one request at a time, so a follower starting later still
gets its write lock.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from ..data_folder import sql_text

log = logging.getLogger("ticketledger.web")

VIEWS_FILE = "views.duckdb"
SNAPSHOT_FILE = "views-snapshot.duckdb"
CHECK_EVERY = 0.25  # seconds between looks at the snapshot file
# A new copy costs what pages asked of the copy in use, computed again: its `spent`, in CPU
# seconds (DuckDB runs each query on the calling thread here, `threads = 1`, so this is what the
# views cost, not how busy the machine was; ~1.5 s for two suppliers' queues at 10M events)
WAIT_UP_TO = 0.25  # pages wait for a new copy when that is less than this, else read the old one meanwhile
FRESH_FACTOR = 4.0  # and a costly copy is taken at most every FRESH_FACTOR times that (~1/4 of a core)
WARM_KEYS = 64  # the most recently used values of a copy computed again on the next one
PIECES = 20_000  # parts of pages kept per copy (1,000 queue candidates per scope and filters)


class NoViews(RuntimeError):
    """No views to read yet."""


@dataclass
class Generation:
    """One opened copy of the views."""

    path: Path
    stamp: tuple[int, int]
    con: duckdb.DuckDBPyConnection
    position: int
    evaluated_at: datetime | None
    readers: int = 0
    retired: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    memo: dict[Any, Any] = field(default_factory=dict)
    computing: dict[Any, threading.Lock] = field(default_factory=dict)
    pieces: dict[Any, Any] = field(default_factory=dict)  # see `piece`
    spent: float = 0.0  # CPU seconds its remembered values took: what warming the next copy costs
    # how each remembered value is computed, most recently used last: the next copy is warmed with them
    recipes: dict[Any, Callable[[Any], Any]] = field(default_factory=dict)

    def remember(self, key: Any, compute: Callable[[Any], Any]) -> Any:
        """`compute(cursor)` on this copy of the views, kept as long as the copy is read.
        Computed once: the requests that ask while it is being computed wait for it (at 10M
        events the queue's filter values take ~0.5 s; 50 users would each run them at once).
        `compute` reads the copy only through the cursor it is given, so the next copy can be
        warmed with it before any page reads that copy."""
        with self.lock:
            self.recipes.pop(key, None)
            self.recipes[key] = compute
            if len(self.recipes) > WARM_KEYS:
                self.recipes.pop(next(iter(self.recipes)))
        try:
            return self.memo[key]
        except KeyError:
            pass
        with self.lock:
            once = self.computing.setdefault(key, threading.Lock())
        with once:
            try:
                return self.memo[key]
            except KeyError:
                cur = cursor(self)
                started = time.thread_time()
                try:
                    value = self.memo[key] = compute(cur)
                finally:
                    cur.close()
                    self.spent += time.thread_time() - started
            if len(self.memo) > 1000:
                self.memo.pop(next(iter(self.memo)))
        with self.lock:
            self.computing.pop(key, None)
        return value

    def piece(self, key: Any, make: Callable[[], Any]) -> Any:
        """A part of a page drawn from this copy (a rendered queue row, a ticket's head), made
        once per copy by whichever page asks first; never computed again on the next copy."""
        try:
            return self.pieces[key]
        except KeyError:
            pass
        if len(self.pieces) >= PIECES:
            self.pieces.clear()
        value = self.pieces[key] = make()
        return value

    def warm(self, recipes: dict[Any, Callable[[Any], Any]]) -> None:
        """Compute what another copy was asked, in the order it was last asked (a scope before
        the queue that uses it)."""
        for key, compute in recipes.items():
            self.remember(key, compute)

    @property
    def key(self) -> str:
        """Changes whenever the views do: for caches."""
        return f"{self.position}:{self.evaluated_at}"


def _open(path: Path, stamp: tuple[int, int]) -> Generation:
    # A database instance of its own, the file attached read-only: `duckdb.connect(path)` would
    # hand back the instance already open on that path (DuckDB caches them), i.e. the old copy.
    con = duckdb.connect(":memory:")
    con.execute(f"ATTACH {sql_text(path)} AS views (READ_ONLY)")
    con.execute("USE views")
    con.execute("SET TimeZone = 'UTC'")
    # many small queries at once, one per request: parallelism inside a query only adds contention
    con.execute("SET threads = 1")
    con.execute("SET enable_external_access = false")  # the console reads the views, no other file
    try:
        row = con.execute("SELECT max(position), max(evaluated_at) FROM checkpoint").fetchone()
    except duckdb.Error:
        con.close()
        raise NoViews(f"{path} is not a views database") from None
    return Generation(path, stamp, con, int(row[0] or 0), row[1])


def cursor(gen: Generation) -> Any:
    """A cursor of its own (one per request thread) reading the attached views."""
    cur = gen.con.cursor()
    cur.execute("USE views")
    return cur


class ViewsSource:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.snapshot = data_dir / SNAPSHOT_FILE
        self.main = data_dir / VIEWS_FILE
        self._lock = threading.Lock()
        self._current: Generation | None = None
        self._checked = 0.0
        self._taken = float("-inf")  # when the copy in use was opened
        self._warming: threading.Thread | None = None

    def _stamp(self, path: Path) -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _generation(self) -> Generation | None:
        now = time.monotonic()
        with self._lock:
            current = self._current
            costly = current is not None and current.spent >= WAIT_UP_TO
            if current is not None and (now - self._checked < CHECK_EVERY or self._warming is not None
                                        or (costly and now - self._taken < FRESH_FACTOR * current.spent)):
                return current
            self._checked = now
            stamp = self._stamp(self.snapshot)
            if stamp is None or (current is not None and current.stamp == stamp):
                return current
            if current is None or not costly:  # pages wait for the new copy, as fresh as can be
                self._take(current, stamp)
            else:  # pages read the copy in use meanwhile
                self._warming = threading.Thread(target=self._take_aside, args=(current, stamp), name="views-warm",
                                                 daemon=True)
                self._warming.start()
            return self._current

    def _take(self, current: Generation | None, stamp: tuple[int, int]) -> None:
        """Open the new copy, compute on it what pages asked of the current one, then serve it
        (with the lock held: pages wait)."""
        fresh = self._fresh(current, stamp)
        if fresh is None:
            return
        self._current, self._taken = fresh, time.monotonic()
        if current is not None:
            self._retire(current)

    def _fresh(self, current: Generation | None, stamp: tuple[int, int]) -> Generation | None:
        fresh = None
        try:
            fresh = _open(self.snapshot, stamp)
            if current is not None:
                with current.lock:
                    recipes = dict(current.recipes)
                fresh.warm(recipes)
            return fresh
        except Exception as e:  # noqa: BLE001 - replaced meanwhile, or not a views file: keep the copy in use
            if current is None:
                raise
            log.warning("views: new copy not taken: %s: %s", type(e).__name__, e)
            if fresh is not None:
                fresh.con.close()
            return None

    def _take_aside(self, current: Generation, stamp: tuple[int, int]) -> None:
        """`_take` in a thread of its own: pages read the current copy meanwhile."""
        fresh = self._fresh(current, stamp)
        with self._lock:
            self._warming = None
            if fresh is None or self._current is not current:
                return
            self._current, self._taken = fresh, time.monotonic()
        self._retire(current)

    def _retire(self, gen: Generation) -> None:
        with gen.lock:
            gen.retired = True
            if gen.readers == 0:
                gen.con.close()

    @contextmanager
    def reading(self) -> Iterator[tuple[Any, Generation]]:
        """(a cursor, its generation) for one request's queries."""
        gen = self._generation()
        if gen is None:
            with self._main() as pair:
                yield pair
            return
        with gen.lock:
            gen.readers += 1
        cur = cursor(gen)
        try:
            yield cur, gen
        finally:
            cur.close()
            with gen.lock:
                gen.readers -= 1
                if gen.retired and gen.readers == 0:
                    gen.con.close()

    def position(self) -> int | None:
        """The log position of the snapshot pages read now (None: no snapshot yet; the views
        file itself is not opened for this, so a follower starting meanwhile gets its lock)."""
        gen = self._generation()
        return gen.position if gen is not None else None

    @contextmanager
    def _main(self) -> Iterator[tuple[Any, Generation]]:
        stamp = self._stamp(self.main)
        if stamp is None:
            raise NoViews(f"no views in {self.data_dir}; run `ticketledger views rebuild` (or `views follow`)")
        try:
            gen = _open(self.main, stamp)
        except duckdb.Error:
            raise NoViews(f"{self.main} is held by a writer and no snapshot was published yet") from None
        try:
            yield gen.con, gen
        finally:
            gen.con.close()

    def close(self) -> None:
        warming = self._warming
        if warming is not None:
            warming.join()
        with self._lock:
            if self._current is not None:
                self._retire(self._current)
                self._current = None


@contextmanager
def reading_file(path: Path) -> Iterator[tuple[Any, Generation]]:
    """A views file of its own (an as-of replay), read-only for one request."""
    gen = _open(path, (0, 0))
    try:
        yield gen.con, gen
    finally:
        gen.con.close()
