"""SQL text parsed once per process.

A live batch runs the same ~95 statements every time, and DuckDB parses the text of each one on
every `execute`: ~24 ms of a batch's CPU on the live bench's ledger (best of 7, the 94 statements
of one 414-event batch), whose whole cost is ~330-400 ms whatever its size (planning and
per-statement costs, not rows). A parsed `duckdb.Statement` runs on any connection and is copied by
each execution; binding and planning still happen each time, as the tables they read change.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import duckdb

_lock = threading.Lock()  # one parser connection, and a DuckDB connection is not for two threads at once


@functools.cache
def _parser() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


# texts that change with each batch (literal position lists) miss, and drop out first
@functools.lru_cache(maxsize=1024)
def parsed(sql: str) -> Any:
    """The one statement of `sql`, parsed; a text of several statements is left as text."""
    with _lock:
        statements = _parser().extract_statements(sql)
    return statements[0] if len(statements) == 1 else sql


class ParsedOnce:
    """A views connection whose `execute` runs each SQL text as parsed once; all else is the connection's."""

    def __init__(self, con: Any) -> None:
        self._con = con

    def execute(self, sql: Any, *args: Any) -> Any:
        return self._con.execute(parsed(sql) if isinstance(sql, str) else sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)
