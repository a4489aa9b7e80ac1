"""The console's per-copy caches of the views (adapters.web.views): computed once when many ask."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb

from adapters.web.views import _open


def _views(path: Path) -> Path:
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE checkpoint (position BIGINT, evaluated_at TIMESTAMP)")
    con.execute("INSERT INTO checkpoint VALUES (3, TIMESTAMP '2026-01-01 00:00:00')")
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
    threads = [threading.Thread(target=lambda: got.append(gen.remember(("k",), slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [42] * 8
    assert len(calls) == 1
    gen.con.close()
