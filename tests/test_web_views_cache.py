"""The console's per-copy caches of the views (adapters.web.views): computed once when many ask,
and computed again on a new copy before pages read it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb

from adapters.web import views
from adapters.web.views import SNAPSHOT_FILE, ViewsSource, _open


def _views(path: Path, position: int = 3) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE checkpoint (position BIGINT, evaluated_at TIMESTAMP)")
    con.execute(f"INSERT INTO checkpoint VALUES ({position}, TIMESTAMP '2026-01-01 00:00:00')")
    con.execute("CREATE TABLE facts (position BIGINT, id VARCHAR, lateness_minutes DOUBLE)")
    con.execute("INSERT INTO facts VALUES (1, 'T-1', 2000), (2, 'T-2', 10), (3, 'T-1', 3000)")
    con.execute("CREATE VIEW late_entries AS SELECT position, id, lateness_minutes, 1440 AS tolerance_minutes "
                "FROM facts WHERE lateness_minutes > 1440")
    con.close()
    return path


def test_a_value_of_a_copy_is_computed_once_when_many_ask_at_once(tmp_path: Path) -> None:
    gen = _open(_views(tmp_path / "v.duckdb"), (0, 0))
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    got: list[int] = []
    threads = [threading.Thread(target=lambda: got.append(gen.remember(("k",), lambda _cur: slow()))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [42] * 8
    assert len(calls) == 1
    gen.con.close()


def _publish(data: Path, position: int) -> None:
    """A new copy as the follower publishes it: written aside, then renamed over the snapshot."""
    tmp = _views(data / f"v{position}.tmp", position)
    tmp.replace(data / SNAPSHOT_FILE)


def _late(cur) -> int:
    return cur.execute("SELECT count(*) FROM late_entries").fetchone()[0]


def test_a_costly_new_copy_is_warmed_aside_while_pages_read_the_one_in_use(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(views, "CHECK_EVERY", 0.0)
    _publish(tmp_path, 3)
    source = ViewsSource(tmp_path)
    with source.reading() as (_cur, gen):
        assert gen.position == 3 and gen.remember(("late",), _late) == 2
    gen.spent = 1.0  # its values took long to compute: the next copy is warmed aside
    _publish(tmp_path, 4)
    source._taken -= 5.0
    with source.reading() as (_cur, gen):
        assert gen.position == 3  # the copy in use, while the new one is warmed
    source._warming.join()
    with source.reading() as (_cur, gen):
        assert gen.position == 4
        assert ("late",) in gen.memo  # computed before any page read this copy
    gen.spent = 1.0
    _publish(tmp_path, 5)
    with source.reading() as (_cur, gen):
        assert gen.position == 4  # a copy is taken at most every FRESH_FACTOR times its cost
    source.close()


def test_a_cheap_new_copy_is_read_at_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(views, "CHECK_EVERY", 0.0)
    _publish(tmp_path, 3)
    source = ViewsSource(tmp_path)
    with source.reading() as (_cur, gen):
        gen.remember(("late",), _late)
    _publish(tmp_path, 4)
    with source.reading() as (_cur, gen):
        assert gen.position == 4 and ("late",) in gen.memo
    source.close()
