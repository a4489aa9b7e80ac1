"""Facts an older log holds beyond today's bounds (domain.bounds): flagged in `beyond_bounds`,
and their numbers left out of the views' figures, so that the views of any ledger still build.

Bounds are checked when a command comes in, never when the log is read (issue 14, settled after
review): a ledger recorded before a bound existed may hold a part line of 10^30 units, a loss of
2^63 fen or a ticket reported in 1900. The views take such a fact as it is, except that a number
beyond its bound would overflow their 64-bit arithmetic ("Overflow in multiplication of INT64"
once stopped every rebuild), so:

  - a number beyond its bound (a quantity, a unit price, a line's value, the number of lines,
    labour, a loss, a consented extension) is left out: the fact's top-level field's column of
    `events` (projections.facts) is set to NULL, as if it had not been given (a part list goes
    as a whole);
  - a time outside the days the views count is kept as recorded (its clocks show what it means);
  - each is a row of `beyond_bounds`: position, type, aggregate, id, field, value, bound, effect.

The SQL is rendered from the bounds declared on the fact types (domain.bounds.declared), one
definition, over the typed columns of `events`: a top-level field is its column, a list of
Structs (`parts`) its JSON column, read item by item. Only bounds on numbers, list lengths and times are rendered: they are what the
figures depend on. Bounds on texts (lengths, control characters) change no figure; `verify`
lists every bound an old fact breaks. Contract terms beyond their bounds are flagged by
projections.terms_flat, from domain.terms.terms_within_bounds.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence

from domain.bounds import COUNTED_DAYS, Declared, declared
from domain.events import FACT_TYPES

from . import facts, schema
from .positions import at_positions

NUMERIC = ("maximum", "minimum", "maxItems", "x-maxProduct")
TIMES = ("formatMinimum", "formatExclusiveMaximum")
COLUMNS = {"occurred_at", "source_recorded_at"}  # times `events` holds parsed, for every type
LEFT_OUT = "left out of the figures"
AS_RECORDED = "counted as recorded"

FLAG_COLUMNS = "position, type, aggregate, id, field, value, bound, effect"


def _path(parts: Sequence[str]) -> str:
    return "$." + ".".join(f'"{p}"' for p in parts)


def _num(json_expr: str, parts: Sequence[str]) -> str:
    return f"TRY_CAST(json_extract_string({json_expr}, '{_path(parts)}') AS DOUBLE)"


def _length(column: str) -> str:
    """The number of items of a list column: a JSON list's or a typed list's (DATE[])."""
    typ = next(c.sql_type for c in facts.columns() if c.name == column)
    return f"json_array_length({column})" if typ == "JSON" else f"CAST(len({column}) AS BIGINT)"


def _checks(d: Declared) -> list[tuple[str, str, str, str]]:
    """(field, value SQL, beyond SQL, bound text) of one declaration's numeric keywords over a
    row's typed columns; a list's items are checked each, the largest (smallest) shown."""
    k = d.keywords
    field = ".".join(d.path).replace(".*", "[*]")
    top = d.path[0]
    if "*" in d.path:
        i = d.path.index("*")
        within = "".join(f'."{p}"' for p in d.path[1:i])  # the list's path inside its JSON column
        items = f"json_extract({top}, '${within}[*]')"
        inner = d.path[i + 1:]

        def num(*parts: str) -> str:
            return _num("x", (*inner, *parts))

        def most(expr: str) -> str:
            return f"list_max(list_transform({items}, lambda x: {expr}))"

        def least(expr: str) -> str:
            return f"list_min(list_transform({items}, lambda x: {expr}))"
        shown = ""
    else:
        def num(*parts: str) -> str:
            if parts:  # a product's factors are fields of an object: no top-level bound names one
                raise NotImplementedError(f"{field}: a product of a top-level object's fields")
            return top

        def most(expr: str) -> str:
            return expr

        least = most
        shown = f"CAST({top} AS VARCHAR)"  # the number as recorded (the column holds any integer)
    out = []
    if "maximum" in k:
        out.append((field, shown or most(num()), f"{most(num())} > {k['maximum']}", f"at most {k['maximum']:,}"))
    if "minimum" in k:
        out.append((field, shown or least(num()), f"{least(num())} < {k['minimum']}", f"at least {k['minimum']:,}"))
    if "maxItems" in k and "*" not in d.path:
        n = _length(top)
        out.append((field, n, f"{n} > {k['maxItems']}", f"at most {k['maxItems']:,} items"))
    for p in k.get("x-maxProduct", []):
        a, b = p["of"]
        v = most(f"{num(a)} * {num(b)}")
        out.append((f"{field}: {a} x {b}", v, f"{v} > {p['maximum']}", f"at most {p['maximum']:,}"))
    return out


def _as_recorded(t: str) -> str:
    """A time column as the log writes it (msgspec: ISO in UTC, microseconds only when some)."""
    return (f"CASE WHEN date_part('microseconds', {t}) % 1000000 <> 0 THEN strftime({t}, '%Y-%m-%dT%H:%M:%S.%fZ') "
            f"ELSE strftime({t}, '%Y-%m-%dT%H:%M:%SZ') END")


@functools.cache
def _numeric_selects() -> tuple[tuple[str, str], ...]:
    """One SELECT per fact type with numeric bounds: every check of the type from its rows, the
    breaking ones kept (`{src}` is the table read: `events`, or a live batch's rows); with its type."""
    selects = []
    for name, cls in sorted(FACT_TYPES.items()):
        checks = [(d.path[0], *c) for d in declared(cls) if any(k in d.keywords for k in NUMERIC) for c in _checks(d)]
        if not checks:
            continue
        items = ", ".join(
            f"{{'field': '{f}', 'top': '{top}', 'value': CAST({v} AS VARCHAR), "
            f"'beyond': coalesce({beyond}, false), 'bound': '{bound}'}}"
            for top, f, v, beyond, bound in checks)
        selects.append((name,
            f"SELECT position, type, aggregate, id, c.field, c.top, c.value, c.bound, '{LEFT_OUT}' AS effect "
            f"FROM (SELECT position, type, aggregate, id, unnest(list_filter([{items}], lambda c: c.beyond)) AS c "
            f"FROM {{src}} WHERE type = '{name}')"))
    return tuple(selects)


@functools.cache
def _time_selects() -> tuple[tuple[str | None, str], ...]:
    """The checks of times, each with the one fact type it reads (None: every type's)."""
    lo, hi = COUNTED_DAYS[0].isoformat(), f"{COUNTED_DAYS[1].year + 1}-01-01"
    bound = f"from {COUNTED_DAYS[0]} to {COUNTED_DAYS[1]}"
    out: list[tuple[str | None, str]] = [
        (None, f"SELECT position, type, aggregate, id, '{c}' AS field, '{c}' AS top, strftime({c}, '%Y-%m-%dT%H:%M:%SZ') "
               f"AS value, '{bound}' AS bound, '{AS_RECORDED}' AS effect FROM {{src}} "
               f"WHERE {c} < TIMESTAMP '{lo}' OR {c} >= TIMESTAMP '{hi}'") for c in sorted(COLUMNS)]
    for name, cls in sorted(FACT_TYPES.items()):
        for d in declared(cls):
            if d.kind == "datetime" and d.path[0] not in COLUMNS and "*" not in d.path and any(k in d.keywords for k in TIMES):
                t = d.path[0]
                out.append((name, f"SELECT position, type, aggregate, id, '{'.'.join(d.path)}', '{d.path[0]}', "
                                  f"{_as_recorded(t)}, '{bound}', '{AS_RECORDED}' FROM {{src}} "
                                  f"WHERE type = '{name}' AND ({t} < TIMESTAMP '{lo}' OR {t} >= TIMESTAMP '{hi}')"))
    return tuple(out)


def flag(con, since: int | None = None, corrected: Sequence[int] = (),  # noqa: ANN001 - a DuckDB connection
         types: Collection[str] | None = None) -> int:
    """Flag the events beyond their bounds and leave their numbers out; returns how many flags.

    since None: every event (a rebuild). Otherwise the events from position `since` on (a live
    batch) and the facts at the positions `corrected`, whose columns a correction just recomputed
    from what was recorded (apply._correct: no other row of `events` changed, so no other flag).
    `types`: the only fact types among the rows checked (a live batch's, read from its Arrow
    columns), or None: the checks of other types find nothing, and each costs its planning (the
    union of every type's was ~8 ms of a live batch's ~300 ms on the live bench's ledger).

    Both are read with filters on position (projections.positions): only the row groups holding
    them are scanned, and the other columns are fetched only for the rows in scope."""
    if since is None:
        src, scope = "events", ""
    else:
        more = ""
        if corrected:  # older facts apart (UNION ALL): an OR of the two filters is not pushed into the scan
            more = (f" UNION ALL SELECT * FROM events WHERE position {at_positions(con, corrected, '_bb_fixed')} "
                    f"AND position < {int(since)}")
        con.execute(f"CREATE OR REPLACE TEMP TABLE _bb_src AS SELECT * FROM events "
                    f"WHERE position >= {int(since)}{more}")
        src, scope = "_bb_src", "WHERE position IN (SELECT position FROM _bb_src)"
    union = " UNION ALL ".join(s.replace("{src}", src) for t, s in (*_numeric_selects(), *_time_selects())
                               if types is None or t is None or t in types)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _bb AS {union}")
    if scope and corrected:
        con.execute(f"DELETE FROM beyond_bounds {scope} AND field NOT LIKE 'terms.%'")  # terms: terms_flat
    n = con.execute("SELECT count(*) FROM _bb").fetchall()[0][0]
    if n:
        con.execute(f"INSERT INTO beyond_bounds SELECT {FLAG_COLUMNS} FROM _bb")
        left_out = [r[0] for r in con.execute(f"SELECT DISTINCT position FROM _bb WHERE effect = '{LEFT_OUT}'").fetchall()]
        if left_out:  # kept as recorded first: a later correction starts from it (apply._correct)
            con.execute(schema.keep_as_recorded(at_positions(con, left_out, "_bb_left_out")))
        con.execute(_LEAVE_OUT.format(sets=", ".join(
            f"{c} = CASE WHEN list_contains(p.tops, '{c}') THEN NULL ELSE {c} END" for c in left_out_columns())))
    return n


_LEAVE_OUT = ("UPDATE events SET {sets} FROM (SELECT position, list(top) AS tops FROM _bb "
              f"WHERE effect = '{LEFT_OUT}' GROUP BY position) p WHERE events.position = p.position")


@functools.cache
def left_out_columns() -> tuple[str, ...]:
    """The columns a number beyond its bound can leave out: the top-level fields with numeric bounds."""
    return tuple(sorted({d.path[0] for cls in FACT_TYPES.values() for d in declared(cls)
                         if any(k in d.keywords for k in NUMERIC)}))
