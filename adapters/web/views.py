"""Reading the views beside a running follower without ever being a second writer.

The follower holds `views.duckdb` and publishes `views-snapshot.duckdb` (a copy, replaced by a
rename) every few seconds; `views rebuild` publishes it too. The console reads the snapshot
through one read-only connection per copy: a new copy is opened when the file changes, and the
old one is closed when its last reader is done (on Linux a renamed-over file stays readable).
With no snapshot yet, `views.duckdb` is opened read-only for one request at a time, so a
follower starting later still gets its write lock.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from ..data_folder import sql_text

VIEWS_FILE = "views.duckdb"
SNAPSHOT_FILE = "views-snapshot.duckdb"
CHECK_EVERY = 0.25  # seconds between looks at the snapshot file


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

    def remember(self, key: Any, compute: Any) -> Any:
        """A value computed from this copy of the views, kept as long as the copy is read.
        Computed once: the requests that ask while it is being computed wait for it (at 10M
        events the queue's filter values take ~0.5 s; 50 users would each run them at once)."""
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
                value = self.memo[key] = compute()
            if len(self.memo) > 1000:
                self.memo.pop(next(iter(self.memo)))
        with self.lock:
            self.computing.pop(key, None)
        return value

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

    def _stamp(self, path: Path) -> tuple[int, int] | None:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def _generation(self) -> Generation | None:
        now = time.monotonic()
        with self._lock:
            if self._current is not None and now - self._checked < CHECK_EVERY:
                return self._current
            self._checked = now
            stamp = self._stamp(self.snapshot)
            if stamp is None:
                return None
            if self._current is None or self._current.stamp != stamp:
                fresh = _open(self.snapshot, stamp)
                old, self._current = self._current, fresh
                if old is not None:
                    self._retire(old)
            return self._current

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
