"""Liability (§4, §9.6, §9.7, §9.10, §9.11, §9.14): coverage, payer and losses per ticket."""

from __future__ import annotations

STATEMENTS: list[str] = []


def recompute(con) -> None:
    for s in STATEMENTS:
        con.execute(s)
