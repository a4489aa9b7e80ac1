"""`diff`: the rows that differ between two rebuilds of the views (two as-of points, or two
sets of terms). Pure SQL over one DuckDB connection with both databases attached (the CLI
attaches them read-only and hands the connection over).
"""

from __future__ import annotations

from typing import Any

from .explain import iso

# The columns that name a row of each view; other tables are compared as whole rows.
KEYS: dict[str, tuple[str, ...]] = {
    "sla_clocks": ("ticket", "clock"),
    "liability": ("ticket",),
    "first_time_fix": ("ticket",),
    "warranty": ("asset",),
    "visit_periods": ("asset", "obligation", "schedule_no", "one_off", "period"),
    "replacement_obligations": ("asset", "fault_category"),
    "liability_totals": ("contract", "supplier"),
    "sla_summary": ("dimension", "key", "clock"),
}
DEFAULT_TABLES = ("sla_clocks", "liability", "visit_periods", "warranty", "replacement_obligations")
IGNORED = ("evaluated_at",)


class MissingTable(ValueError):
    """`table` is not in the attached database `db`, which holds `have`."""

    def __init__(self, table: str, db: str, have: list[str]) -> None:
        super().__init__(f"table {table!r} is not in {db}; its tables: {', '.join(have)}")
        self.table, self.db, self.have = table, db, have


def columns(con: Any, db: str, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_name = ? "
        "ORDER BY ordinal_position", [db, table]).fetchall()
    return [r[0] for r in rows]


def diff_table(con: Any, a: str, b: str, table: str, *,
               ignore: tuple[str, ...] = IGNORED) -> list[dict[str, Any]]:
    """Every row of `table` that differs between databases `a` and `b`, sorted by key:
    {"table", "change": changed|only_in_a|only_in_b, "key": {...}, "columns": {col: [a, b]}}.
    Whole, never cut: the counts are taken from it; the CLI's --limit cuts only what it lists."""
    cols_a, cols_b = columns(con, a, table), columns(con, b, table)
    if not cols_a or not cols_b:
        missing = a if not cols_a else b
        have = [r[0] for r in con.execute(
            "SELECT DISTINCT table_name FROM information_schema.tables WHERE table_catalog = ? ORDER BY 1",
            [missing]).fetchall()]
        raise MissingTable(table, missing, have)
    cols = [c for c in cols_a if c in cols_b and c not in ignore]
    keys = [k for k in KEYS.get(table, ()) if k in cols] or cols
    sel = ", ".join(f'"{c}"' for c in cols)
    q = lambda x, y: (f'SELECT {sel} FROM "{x}".main."{table}" EXCEPT ALL '  # noqa: E731
                      f'SELECT {sel} FROM "{y}".main."{table}"')
    only_a = [dict(zip(cols, r, strict=True)) for r in con.execute(q(a, b)).fetchall()]
    only_b = [dict(zip(cols, r, strict=True)) for r in con.execute(q(b, a)).fetchall()]

    def key_of(r: dict[str, Any]) -> tuple:
        return tuple(r[k] for k in keys)

    index_b: dict[tuple, list[dict[str, Any]]] = {}
    for r in only_b:
        index_b.setdefault(key_of(r), []).append(r)
    out: list[dict[str, Any]] = []
    for r in only_a:
        k = key_of(r)
        match = index_b.get(k)
        if match:
            other = match.pop(0)
            changed = {c: [iso(r[c]), iso(other[c])] for c in cols if r[c] != other[c] and c not in keys}
            out.append({"table": table, "change": "changed", "key": {c: iso(r[c]) for c in keys}, "columns": changed})
        else:
            out.append({"table": table, "change": "only_in_a", "key": {c: iso(r[c]) for c in keys},
                        "columns": {c: [iso(r[c]), None] for c in cols if c not in keys}})
    for rs in index_b.values():
        for r in rs:
            out.append({"table": table, "change": "only_in_b", "key": {c: iso(r[c]) for c in keys},
                        "columns": {c: [None, iso(r[c])] for c in cols if c not in keys}})
    out.sort(key=lambda d: (tuple(_sortable(v) for v in d["key"].values()), d["change"]))
    return out


def _sortable(v: Any) -> tuple:
    return (v is None, str(v) if v is not None else "")


def flat(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One printable line per changed column, for the table output."""
    out = []
    for d in rows:
        key = " ".join(f"{k}={v}" for k, v in d["key"].items())
        for c, (va, vb) in d["columns"].items():
            if d["change"] == "changed" or c in ("state", "coverage", "deadline", "breach_minutes"):
                out.append({"table": d["table"], "key": key, "change": d["change"], "column": c, "a": va, "b": vb})
        if d["change"] != "changed" and not any(c in d["columns"] for c in ("state", "coverage", "deadline")):
            out.append({"table": d["table"], "key": key, "change": d["change"], "column": "", "a": "", "b": ""})
    return out


def summary(rows: list[dict[str, Any]], tables: tuple[str, ...] | list[str]) -> list[dict[str, Any]]:
    """One line per compared table: how many rows changed, are only in A, only in B (issue 14
    item 20: a diff starts with these counts, before the rows)."""
    out = {t: {"table": t, "changed": 0, "only_in_a": 0, "only_in_b": 0} for t in tables}
    for d in rows:
        out.setdefault(d["table"], {"table": d["table"], "changed": 0, "only_in_a": 0, "only_in_b": 0})
        out[d["table"]][d["change"]] += 1
    return list(out.values())
