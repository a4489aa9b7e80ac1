"""Rows of `events` read at known positions, by a filter the scan itself applies.

A literal list of positions is a filter of the table scan: DuckDB skips every row group whose
min/max of `position` excludes them all (events are stored in position order) and fetches the
other columns only for the rows that pass. `position IN (SELECT ...)` is a hash join instead,
whose probe side fetches every projected column of every row of `events` (at 10M, ~1.5 s for a
statement reading a fact's ~50 columns, against a few ms at a handful of positions).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

# beyond this many positions (a rebuild's corrections, tens of thousands) a literal list is long
# to plan and prunes nothing: they are scattered over every row group, and the join costs no more
LITERAL_POSITIONS = 2000


def at_positions(con: duckdb.DuckDBPyConnection, positions: Sequence[int], table: str) -> str:
    """`IN (...)` for the rows at `positions`: a literal list, or beyond LITERAL_POSITIONS the
    column `position` of the temporary `table`, (re)created here from them."""
    if len(positions) <= LITERAL_POSITIONS:
        return "IN (" + ", ".join(str(int(p)) for p in positions) + ")"
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT UNNEST(?::BIGINT[]) AS position",
                [[int(p) for p in positions]])
    return f"IN (SELECT position FROM {table})"
