"""Return visits (§4, §9.8, §9.9): schedule periods, first-time fix, repeat failures."""

from __future__ import annotations

STATEMENTS: list[str] = []


def recompute(con) -> None:
    for s in STATEMENTS:
        con.execute(s)
