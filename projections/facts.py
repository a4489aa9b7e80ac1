"""The typed columns of `events`, generated from the fact types (domain.events), one definition.

Each stored fact's JSON is parsed ONCE, at the load (apply._ingest_sql, which the live path runs
too), into one column per field the fact types declare; the views read those columns and never
the JSON (issue 15). The views' file holds no JSON of the log: `explain`, `ticket show` and
`verify` read it from the store.

Parse at load, after the upcast: a row of an old topic version is upcast (domain.upcasting)
before its columns are derived, so the columns always hold the current version's fields, and an
upcaster added tomorrow changes them at the next rebuild without a migration of anything stored.

Which fields are columns:
  - the fields of every fact type, except the envelope (apply._ingest_sql parses those into
    columns of their own: occurred_at, id, customer, v, ...; actor and channel, which no view
    reads, and command_id, which only audit reads, are read from the store);
  - free text meant for people (annotated `Text`: notes, description, summary, a free `reason`)
    is left out: no figure reads it. A name that is free text in one type and typed in another
    (`reason`: WaitReason in WaitStarted/WaitEnded) is a column filled for the typed ones only.
Types: str/Literal/Name -> VARCHAR, bool -> BOOLEAN, int -> BIGINT (HUGEINT when a bound caps it:
an older log may hold 2^63 there, which the views must see to flag, projections.bounds),
datetime -> TIMESTAMP (naive UTC), date -> DATE, list[date] -> DATE[], anything nested (dicts,
lists of Structs: terms, parts, changes) -> JSON.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import msgspec
import msgspec.inspect as mi

from domain.bounds import MAX_TEXT, type_info
from domain.events import FACT_TYPES, Fact

# the envelope: columns of their own (or, command_id, read from the store only)
ENVELOPE = frozenset(f.name for f in mi.type_info(Fact).fields)


@dataclass(frozen=True)
class Column:
    """One typed column of `events`: its name (the field's), SQL type and the fact types that fill it."""

    name: str
    sql_type: str
    types: tuple[str, ...]

    def cast(self, text: str) -> str:
        """SQL turning `text` (the field's JSON value as json_extract_string gives it) into the column's type."""
        return _CASTS[self.sql_type].format(text)

    def value(self, type_expr: str, text: str) -> str:
        """The column's value: the cast, for the fact types that declare it typed, else NULL."""
        types = ", ".join(f"'{t}'" for t in self.types)
        return f"CASE WHEN {type_expr} IN ({types}) THEN {self.cast(text)} END"


_CASTS = {
    "VARCHAR": "{}",
    "BOOLEAN": "CAST({} AS BOOLEAN)",
    # a number no column can hold (an old log's) is NULL rather than the end of every rebuild
    "BIGINT": "TRY_CAST({} AS BIGINT)",
    "HUGEINT": "TRY_CAST({} AS HUGEINT)",
    "TIMESTAMP": "iso_ts({})",
    "DATE": "CAST({} AS DATE)",
    "DATE[]": "CAST(CAST({} AS JSON) AS DATE[])",
    "JSON": "CAST({} AS JSON)",
}


def _is_text(t: Any) -> bool:
    """Free text for people: the `Text` annotation (domain.bounds.TEXT)."""
    return isinstance(t, mi.Metadata) and (t.extra_json_schema or {}).get("maxLength") == MAX_TEXT


def _capped(t: Any) -> bool:
    return isinstance(t, mi.Metadata) and "maximum" in (t.extra_json_schema or {})


def sql_type(t: Any) -> str | None:
    """The column type of a field's msgspec type (None: free text, not a column)."""
    if _is_text(t):
        return None
    if _capped(t) and isinstance(t.type, mi.IntType):
        return "HUGEINT"
    while isinstance(t, mi.Metadata):
        t = t.type
    if isinstance(t, mi.UnionType):  # `X | None`: the column of X, NULL when absent
        inner = [x for x in t.types if not isinstance(x, mi.NoneType)]
        if len(inner) != 1:
            return "JSON"
        return sql_type(inner[0])
    if isinstance(t, mi.StrType | mi.LiteralType):
        return "VARCHAR"
    if isinstance(t, mi.BoolType):
        return "BOOLEAN"
    if isinstance(t, mi.IntType):
        return "BIGINT"
    if isinstance(t, mi.DateTimeType):
        return "TIMESTAMP"
    if isinstance(t, mi.DateType):
        return "DATE"
    if isinstance(t, mi.ListType):
        item = t.item_type
        while isinstance(item, mi.Metadata):
            item = item.type
        if isinstance(item, mi.DateType):
            return "DATE[]"
    return "JSON"


def columns_of(fact_types: dict[str, type[msgspec.Struct]]) -> tuple[Column, ...]:
    """The typed columns these fact types declare, in first-declared order."""
    found: dict[str, tuple[str, list[str]]] = {}
    for name, cls in fact_types.items():
        for f in type_info(cls).fields:
            if f.name in ENVELOPE:
                continue
            typ = sql_type(f.type)
            if typ is None:
                continue
            if f.name in found and found[f.name][0] != typ:
                raise TypeError(f"field {f.name!r} is {found[f.name][0]} in {found[f.name][1]} but {typ} in {name}: "
                                "one column cannot hold both")
            found.setdefault(f.name, (typ, []))[1].append(name)
    return tuple(Column(n, t, tuple(types)) for n, (t, types) in found.items())


@functools.cache
def columns() -> tuple[Column, ...]:
    """The typed columns of `events` (computed on first use: inspecting every type costs an import)."""
    return columns_of(FACT_TYPES)


def ddl() -> str:
    """The typed columns as a column list of CREATE TABLE."""
    return ", ".join(f"{c.name} {c.sql_type}" for c in columns())


def _filled(c: Column, types: Collection[str] | None) -> bool:
    """Whether a row of one of `types` (None: any type) can fill column `c`."""
    return types is None or not types.isdisjoint(c.types)


def parsed_json(state: str, envelope: tuple[str, ...], types: Collection[str] | None = None) -> str:
    """SQL parsing the JSON `state` once into a struct of text: the `envelope` fields, then every
    typed column's field (absent ones NULL; nested values as their JSON text). `types`: the only
    fact types the rows hold (None: any), whose columns alone are parsed."""
    spec = {name: "VARCHAR" for name in (*envelope, *(c.name for c in columns() if _filled(c, types)))}
    return f"json_transform({state}, '{json.dumps(spec)}')"


def projection(type_expr: str, row: str, types: Collection[str] | None = None) -> str:
    """The SELECT list of the typed columns from `row`, the struct parsed_json() gives;
    `type_expr` is the row's fact type. `types`: as parsed_json's; a column none of them fills
    is NULL, as its CASE would give."""
    return ", ".join(c.value(type_expr, f'{row}."{c.name}"') if _filled(c, types) else "NULL" for c in columns())
