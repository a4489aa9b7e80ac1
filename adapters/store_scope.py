"""Which stored events a scoped replay needs, selected in SQL on the store (issue 15).

A replay scoped to a customer, a contract or some tickets reads only:
  - the scope's tickets, and every other ticket of the same assets (downtime §9.7, repeats §9.9);
  - those assets, the units they replaced or that replaced them (§9.6), and their tickets;
  - the other assets ever at the same sites (site-wide visits §9.8 reach them), without their
    tickets: their rows are dropped after the replay (replay.scope.prune);
  - the contracts those assets and tickets were ever under (contract moves), and the calendar
    data.
A correction that changes one of these links (asset_id, site, contract_id, customer_id,
replaces, by_asset) counts both ways: the scope is a closure, so any superset is correct.

Every lookup is an indexed SQL query (SQLite or PostgreSQL); the partial expression indexes are
created on first use, idempotently (`ensure_indexes`). Nothing here reads every event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import msgspec

from domain import events as ev
from domain.base import aggregate_uuid
from replay.scope import Scope

from .store import ChainedPostgresRecorder, EventStoreApp, LogRow

KINDS = ("ticket", "asset", "contract", "calendar")
LINKS = ("asset_id", "site", "contract_id", "customer_id", "replaces", "by_asset")


def topics(*names: str) -> list[str]:
    """Every stored topic of these fact types: each schema version, each aggregate kind."""
    out = []
    for name in names:
        cls = ev.FACT_TYPES[name]
        kinds = KINDS if cls.aggregate == "any" else (cls.aggregate,)
        out += [f"{k}.{name}.v{v}" for k in kinds for v in range(1, cls.version + 1)]
    return out


OPENED = topics("TicketOpened")
REGISTERED = topics("AssetRegistered")
ON_CONTRACT = topics("AssetRegistered", "AssetContractChanged")
AT_SITE = topics("AssetRegistered", "AssetMoved")
REPLACING = topics("AssetRegistered", "AssetReplaced")
RARE = topics("ContractRegistered", "ContractAmended", "CalendarYearRecorded", "FactCorrected")
CORRECTED = topics("FactCorrected")
CONTRACTS = topics("ContractRegistered")
CALENDAR = topics("CalendarYearRecorded")


class UnknownInScope(ValueError):
    """A scope names something the ledger does not hold."""

    def __init__(self, kind: str, name: str, known: list[str] | None = None) -> None:
        self.kind, self.name, self.known = kind, name, known or []
        super().__init__(f"no {kind} {name!r} in the ledger")


class _Dialect:
    """The few SQL differences between the two recorders."""

    def __init__(self, app: EventStoreApp) -> None:
        rec = app.recorder
        self.pg = isinstance(rec, ChainedPostgresRecorder)
        self.rec = rec
        if self.pg:
            self.events = f'"{rec.datastore.schema}".{rec.events_table_name}'
            self.chain = f'"{rec.datastore.schema}".ledger_chain'
            self.fn = f'"{rec.datastore.schema}".ticketledger_state'
        else:
            self.events, self.chain = "stored_events", "ledger_chain"

    def field(self, name: str, nested: str | None = None) -> str:
        if self.pg:  # an IMMUTABLE wrapper: convert_from alone may not be indexed
            return f"({self.fn}(state)->'{nested}'->>'{name}')" if nested else f"({self.fn}(state)->>'{name}')"
        path = f"$.{nested}.{name}" if nested else f"$.{name}"
        return f"json_extract(CAST(state AS TEXT), '{path}')"

    def among(self, expr: str, pg_type: str = "text") -> str:
        """`expr` is one of a list parameter."""
        return f"{expr} = ANY(%s::{pg_type}[])" if self.pg else f"{expr} IN (SELECT value FROM json_each(?))"

    def param(self, values: Iterable[str]) -> Any:
        values = list(values)
        return values if self.pg else msgspec.json.encode(values).decode()

    def oid(self) -> str:
        return "originator_id::text" if self.pg else "originator_id"

    def topic_in(self, names: Sequence[str]) -> str:
        return "topic IN (" + ", ".join(f"'{t}'" for t in names) + ")"

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        sql = sql if self.pg else sql.replace("%s", "?")
        with self.rec.datastore.transaction(commit=False) as c:
            c.execute(sql, tuple(params))
            rows = c.fetchall()
        if self.pg:
            return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]
        return [tuple(r) for r in rows]


def _indexes(d: _Dialect) -> list[tuple[str, str, Sequence[str]]]:
    """(name, indexed expression, topics of the partial index)."""
    return [
        ("ledger_scope_opened_asset", d.field("asset_id"), OPENED),
        ("ledger_scope_asset_customer", d.field("customer_id"), REGISTERED),
        ("ledger_scope_asset_contract", d.field("contract_id"), ON_CONTRACT),
        ("ledger_scope_asset_site", d.field("site"), AT_SITE),
        ("ledger_scope_asset_replacing", f"coalesce({d.field('replaces')}, {d.field('by_asset')})", REPLACING),
        ("ledger_scope_rare", "topic", RARE),
    ]


def ensure_indexes(app: EventStoreApp) -> list[str]:
    """Create the scope lookups' partial indexes if missing; the names of those created."""
    d = _Dialect(app)
    have = {r[0] for r in d.run(
        "SELECT indexname FROM pg_indexes WHERE schemaname = %s" if d.pg else
        "SELECT name FROM sqlite_master WHERE type = 'index'", [d.rec.datastore.schema] if d.pg else [])}
    wanted = _indexes(d)
    missing = [(n, e, t) for n, e, t in wanted if n not in have]
    if not missing:
        return []
    with d.rec.datastore.transaction(commit=True) as c:
        if d.pg:
            c.execute(f"CREATE OR REPLACE FUNCTION {d.fn}(s bytea) RETURNS jsonb LANGUAGE sql IMMUTABLE "
                      "PARALLEL SAFE AS $$ SELECT convert_from(s, 'UTF8')::jsonb $$")
        for name, expr, tps in missing:
            c.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {d.events} (({expr})) WHERE {d.topic_in(tps)}"
                      if d.pg else
                      f"CREATE INDEX IF NOT EXISTS {name} ON {d.events} ({expr}) WHERE {d.topic_in(tps)}")
    return [n for n, _, _ in missing]


def _hex(oid: str) -> str:
    return oid.replace("-", "")


class _Lookups:
    def __init__(self, app: EventStoreApp) -> None:
        self.d = _Dialect(app)
        d = self.d
        # corrections that change a link: few, read once (indexed by topic)
        cond = " OR ".join(f"{d.field(f, 'changes')} IS NOT NULL" for f in LINKS)
        self.corrections = d.run(
            f"SELECT {d.oid()}, {d.field('id')}, " + ", ".join(d.field(f, "changes") for f in LINKS)
            + f" FROM {d.events} WHERE {d.topic_in(RARE)} AND {d.topic_in(CORRECTED)} AND ({cond})")

    def _corrected(self, field: str) -> list[tuple[str, str]]:
        """(aggregate name, corrected value) of corrections changing `field`."""
        if field not in LINKS:
            return []
        i = 2 + LINKS.index(field)
        return [(r[1], r[i]) for r in self.corrections if r[i] is not None]

    def values_of(self, kind_topics: Sequence[str], field: str, names: set[str], kind: str) -> set[str]:
        """`field` of these aggregates' facts of these topics (by primary key), corrected values too."""
        if not names:
            return set()
        d = self.d
        oids = [aggregate_uuid(kind, n).hex for n in names]
        if d.pg:
            oids = [str(aggregate_uuid(kind, n)) for n in names]
        rows = d.run(f"SELECT {d.field(field)} FROM {d.events} WHERE {d.among('originator_id', 'uuid')} "
                     f"AND {d.topic_in(kind_topics)}", [d.param(oids)])
        out = {r[0] for r in rows if r[0] is not None}
        out |= {v for n, v in self._corrected(field) if n in names}
        return out

    def holders(self, expr_field: str, tps: Sequence[str], values: set[str], expr: str | None = None) -> set[str]:
        """Names of the aggregates whose facts of these topics hold one of `values` (by index)."""
        if not values:
            return set()
        d = self.d
        expr = expr or d.field(expr_field)
        rows = d.run(f"SELECT {d.field('id')} FROM {d.events} WHERE {d.topic_in(tps)} AND {d.among(expr)}",
                     [d.param(values)])
        out = {r[0] for r in rows}
        fields = expr_field.split("|")
        out |= {n for f in fields for n, v in self._corrected(f) if v in values}
        return out

    def existing(self, kind: str, tps: Sequence[str], names: Sequence[str]) -> set[str]:
        return {n for n in names if self.values_of(tps, "id", {n}, kind)}


def select_scope(app: EventStoreApp, kind: str, names: Sequence[str]) -> Scope:
    """The events a replay scoped to these customers, contracts or tickets needs (module doc).
    Raises UnknownInScope for a name the ledger does not hold."""
    ensure_indexes(app)
    look = _Lookups(app)
    d = look.d
    tickets: set[str] = set()
    assets: set[str] = set()
    for name in names:
        if kind == "customer":
            found = look.holders("customer_id", REGISTERED, {name})
            if not found:
                raise UnknownInScope("customer", name, _known(d, "customer_id", REGISTERED))
            assets |= found
        elif kind == "contract":
            if not look.values_of(CONTRACTS, "id", {name}, "contract"):
                raise UnknownInScope("contract", name, _known(d, "id", CONTRACTS))
            assets |= look.holders("contract_id", ON_CONTRACT, {name})
        else:
            if not look.values_of(OPENED, "id", {name}, "ticket"):
                raise UnknownInScope("ticket", name)
            tickets.add(name)
    replacing = f"coalesce({d.field('replaces')}, {d.field('by_asset')})"
    while True:  # the closure: assets of the tickets, their replacements, their tickets
        more = look.values_of(OPENED, "asset_id", tickets, "ticket") - assets
        more |= look.values_of(REPLACING, "replaces", assets, "asset") - assets
        more |= look.values_of(REPLACING, "by_asset", assets, "asset") - assets
        more |= look.holders("replaces|by_asset", REPLACING, assets, replacing) - assets
        more_tickets = look.holders("asset_id", OPENED, assets | more) - tickets
        if not more and not more_tickets:
            break
        assets |= more
        tickets |= more_tickets
    sites = look.values_of(AT_SITE, "site", assets, "asset")
    neighbours = look.holders("site", AT_SITE, sites) - assets
    # the contracts the scope's assets and tickets were ever under (contract moves included):
    # the others' terms decide no row of the scope, and each adds calendars to expand
    contracts = look.values_of(ON_CONTRACT, "contract_id", assets | neighbours, "asset")
    contracts |= look.values_of(OPENED, "contract_id", tickets, "ticket")
    if kind == "contract":
        contracts |= set(names)
    calendar = d.run(f"SELECT DISTINCT {d.oid()} FROM {d.events} WHERE {d.topic_in(RARE)} "
                     f"AND {d.topic_in(CALENDAR)}")
    originators = {_hex(r[0]) for r in calendar}
    originators |= {aggregate_uuid("contract", c).hex for c in contracts if c}
    originators |= {aggregate_uuid("ticket", t).hex for t in tickets}
    originators |= {aggregate_uuid("asset", a).hex for a in assets | neighbours}
    return Scope(kind=kind, names=tuple(names), tickets=frozenset(tickets), assets=frozenset(assets),
                 originators=tuple(sorted(originators)))


def _known(d: _Dialect, field: str, tps: Sequence[str], limit: int = 12) -> list[str]:
    rows = d.run(f"SELECT DISTINCT {d.field(field)} FROM {d.events} WHERE {d.topic_in(tps)} "
                 f"ORDER BY 1 LIMIT {limit}")
    return [r[0] for r in rows if r[0] is not None]


def scoped_rows(app: EventStoreApp, originators: Sequence[str], stop: int | None = None) -> Iterator[LogRow]:
    """The log rows of these aggregates, in log order (for a cut filtered row by row)."""
    d = _Dialect(app)
    oids = [str(uuid.UUID(o)) for o in originators] if d.pg else list(originators)
    sql = (f"SELECT e.{'notification_id' if d.pg else 'rowid'}, {('e.' + d.oid())}, e.originator_version, "
           f"e.topic, e.state, c.recorded_at, c.state_sha256, c.link FROM {d.events} e "
           f"JOIN {d.chain} c ON c.position = e.{'notification_id' if d.pg else 'rowid'} "
           f"WHERE {d.among('e.originator_id', 'uuid')} AND c.position <= %s ORDER BY c.position")
    for r in d.run(sql, [d.param(oids), stop if stop is not None else 2**62]):
        yield LogRow(r[0], _hex(r[1]), r[2], r[3], bytes(r[4]), r[5], r[6], r[7])


def contract_ids(app: EventStoreApp) -> list[str]:
    """The ids of the ledger's contracts (indexed)."""
    ensure_indexes(app)
    d = _Dialect(app)
    rows = d.run(f"SELECT DISTINCT {d.field('id')} FROM {d.events} WHERE {d.topic_in(RARE)} "
                 f"AND {d.topic_in(CONTRACTS)} ORDER BY 1")
    return [r[0] for r in rows]
