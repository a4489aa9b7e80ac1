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
from functools import cached_property
from typing import Any

import msgspec

from domain import events as ev
from domain.base import aggregate_uuid
from replay.scope import Scope

from .store import EventStoreApp, LogRow, on_postgres

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
# an asset's later facts that link it elsewhere (its registration is version 1 of its stream)
RELINKED = topics("AssetReplaced", "AssetMoved", "AssetContractChanged")


class UnknownInScope(ValueError):
    """A scope names something the ledger does not hold."""

    def __init__(self, kind: str, name: str, known: list[str] | None = None) -> None:
        self.kind, self.name, self.known = kind, name, known or []
        super().__init__(f"no {kind} {name!r} in the ledger")


class _Dialect:
    """The few SQL differences between the two recorders."""

    def __init__(self, app: EventStoreApp) -> None:
        rec = app.recorder
        self.pg = on_postgres(rec)
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


def _relinking(d: _Dialect) -> str:
    """A correction that changes a link (an asset's customer, site, contract or replacement, a
    ticket's asset): the partial index `ledger_scope_relinking` and the query it serves share
    this text, which is how the database knows the query may use the index."""
    return "(" + " OR ".join(f"{d.field(f, 'changes')} IS NOT NULL" for f in LINKS) + ")"


def _indexes(d: _Dialect) -> list[tuple[str, str, Sequence[str], str]]:
    """(name, indexed expression, topics of the partial index, any further condition of it)."""
    return [
        ("ledger_scope_opened_asset", d.field("asset_id"), OPENED, ""),
        ("ledger_scope_asset_customer", d.field("customer_id"), REGISTERED, ""),
        ("ledger_scope_asset_contract", d.field("contract_id"), ON_CONTRACT, ""),
        ("ledger_scope_asset_site", d.field("site"), AT_SITE, ""),
        ("ledger_scope_asset_replacing", f"coalesce({d.field('replaces')}, {d.field('by_asset')})", REPLACING, ""),
        ("ledger_scope_rare", "topic", RARE, ""),
        ("ledger_scope_asset_relinked", "originator_id", RELINKED, ""),
        # the corrections that change a link, few among the corrections: without it, every
        # scoped replay read each correction up to its cut (7,397 at position 5M of the 10M
        # ledger, 40-110 ms) to find none
        ("ledger_scope_relinking", "topic", CORRECTED, _relinking(d)),
    ]


def ensure_indexes(app: EventStoreApp) -> list[str]:
    """Create the scope lookups' partial indexes if missing; the names of those created."""
    d = _Dialect(app)
    have = {r[0] for r in d.run(
        "SELECT indexname FROM pg_indexes WHERE schemaname = %s" if d.pg else
        "SELECT name FROM sqlite_master WHERE type = 'index'", [d.rec.datastore.schema] if d.pg else [])}
    wanted = _indexes(d)
    missing = [(n, e, t, more) for n, e, t, more in wanted if n not in have]
    if not missing:
        return []
    with d.rec.datastore.transaction(commit=True) as c:
        if d.pg:
            c.execute(f"CREATE OR REPLACE FUNCTION {d.fn}(s bytea) RETURNS jsonb LANGUAGE sql IMMUTABLE "
                      "PARALLEL SAFE AS $$ SELECT convert_from(s, 'UTF8')::jsonb $$")
        for name, expr, tps, more in missing:
            where = d.topic_in(tps) + (f" AND {more}" if more else "")
            c.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {d.events} (({expr})) WHERE {where}" if d.pg else
                      f"CREATE INDEX IF NOT EXISTS {name} ON {d.events} ({expr}) WHERE {where}")
    return [n for n, _, _, _ in missing]


def _hex(oid: str) -> str:
    return oid.replace("-", "")


class _Lookups:
    """The scope's indexed lookups, over the events up to log position `stop` only (None: all):
    a fact recorded after the cut is not replayed, so neither are the links it makes."""

    def __init__(self, app: EventStoreApp, stop: int | None = None) -> None:
        self.d = _Dialect(app)
        self.upto = "" if stop is None else f" AND {'notification_id' if self.d.pg else 'rowid'} <= {int(stop)}"

    @cached_property
    def corrections(self) -> list[tuple]:
        """Corrections that change a link: few, read once when first asked (their own index)."""
        d = self.d
        by = "" if d.pg else " INDEXED BY ledger_scope_relinking"
        return d.run(
            f"SELECT {d.oid()}, {d.field('id')}, " + ", ".join(d.field(f, "changes") for f in LINKS)
            + f" FROM {d.events}{by} WHERE {d.topic_in(CORRECTED)} AND {_relinking(d)}{self.upto}")

    def _corrected(self, field: str) -> list[tuple[str, str]]:
        """(aggregate name, corrected value) of corrections changing `field`."""
        if field not in LINKS:
            return []
        i = 2 + LINKS.index(field)
        return [(r[1], r[i]) for r in self.corrections if r[i] is not None]

    def corrected_of(self, names: set[str], field: str) -> set[str]:
        """The values corrections gave `field` of these aggregates."""
        return {v for n, v in self._corrected(field) if n in names}

    def facts(self, kind: str, names: set[str], kind_topics: Sequence[str], fields: Sequence[str],
              first: bool = False, index: str | None = None) -> list[tuple]:
        """(topic, *fields) of these aggregates' facts of these topics, by primary key (`first`:
        only each stream's version 1, its opening fact, one row each; `index`: by that index)."""
        if not names:
            return []
        d = self.d
        oids = [str(aggregate_uuid(kind, n)) if d.pg else aggregate_uuid(kind, n).hex for n in names]
        # named columns: PostgreSQL rows come as dicts, where unnamed expressions would collide
        cols = ", ".join(f"{d.field(*reversed(f.split('.')))} AS f_{f.replace('.', '_')}" for f in fields)
        by = f" INDEXED BY {index}" if index and not d.pg else ""
        return d.run(f"SELECT topic, {cols} FROM {d.events}{by} "
                     f"WHERE {d.among('originator_id', 'uuid')}{' AND originator_version = 1' if first else ''} "
                     f"AND {d.topic_in(kind_topics)}{self.upto}", [d.param(oids)])

    def asset_links(self, names: set[str]) -> list[tuple]:
        """(topic, replaces, by_asset, site, contract_id) of these assets' registrations (version
        1 of each stream) and later moves, contract changes and replacements (their own index):
        not every fact of each asset, read only to look at its topic."""
        fields = ("replaces", "by_asset", "site", "contract_id")
        return (self.facts("asset", names, REGISTERED, fields, first=True)
                + self.facts("asset", names, RELINKED, fields, index="ledger_scope_asset_relinked"))

    def values_of(self, kind_topics: Sequence[str], field: str, names: set[str], kind: str) -> set[str]:
        """`field` of these aggregates' facts of these topics (by primary key), corrected values too."""
        out = {r[1] for r in self.facts(kind, names, kind_topics, [field]) if r[1] is not None}
        return out | self.corrected_of(names, field)

    def holders(self, expr: str, tps: Sequence[str], values: set[str], fields: Sequence[str] = ()) -> list[tuple]:
        """(name, *fields) of the facts of these topics whose `expr` holds one of `values` (by index)."""
        if not values:
            return []
        d = self.d
        return d.run(f"SELECT {', '.join(f'{d.field(f)} AS f_{f}' for f in ('id', *fields))} FROM {d.events} "
                     f"WHERE {d.topic_in(tps)} AND {d.among(expr)}{self.upto}", [d.param(values)])

    def corrected_to(self, expr_field: str, values: set[str]) -> set[str]:
        """The aggregates a correction gave one of `values` in one of these fields ('a|b')."""
        return {n for f in expr_field.split("|") for n, v in self._corrected(f) if v in values}

    def names(self, expr_field: str, tps: Sequence[str], values: set[str], expr: str | None = None) -> set[str]:
        """Names of the aggregates whose facts of these topics hold one of `values`, corrections too."""
        rows = self.holders(expr or self.d.field(expr_field), tps, values)
        return {r[0] for r in rows} | self.corrected_to(expr_field, values)


def require_customer(app: EventStoreApp, customer: str) -> None:
    """Raise UnknownInScope unless an asset of the ledger is registered to this customer, the
    test a scoped replay applies (select_scope)."""
    ensure_indexes(app)
    look = _Lookups(app)
    if not look.names("customer_id", REGISTERED, {customer}):
        raise UnknownInScope("customer", customer, _known(look.d, "customer_id", REGISTERED))


def select_scope(app: EventStoreApp, kind: str, names: Sequence[str], stop: int | None = None) -> Scope:
    """The events a replay scoped to these customers, contracts or tickets needs (module doc),
    as of log position `stop` (None: the whole log). Raises UnknownInScope for a name the
    ledger does not hold (at all: one recorded after the cut gives an empty scope)."""
    ensure_indexes(app)
    look = _Lookups(app, stop)
    # the question's own tickets and a contract's assets are named over the whole log: an
    # asset moved onto the contract, or a named ticket opened, after the cut is still what the
    # question is about (its rows as of the cut are wanted); what links to them is read up to
    # the cut
    whole = _Lookups(app) if stop is not None else look
    d = look.d
    todo_tickets: set[str] = set()  # tickets whose own asset and contract are still to be read
    todo_assets: set[str] = set()
    for name in names:
        if kind == "customer":  # its assets registered by the cut: one registered later has no rows then
            found = look.names("customer_id", REGISTERED, {name})
            if not found and not whole.names("customer_id", REGISTERED, {name}):
                raise UnknownInScope("customer", name, _known(d, "customer_id", REGISTERED))
            todo_assets |= found
        elif kind == "contract":
            if not whole.values_of(CONTRACTS, "id", {name}, "contract"):
                raise UnknownInScope("contract", name, _known(d, "id", CONTRACTS))
            todo_assets |= whole.names("contract_id", ON_CONTRACT, {name})
        else:
            if not whole.values_of(OPENED, "id", {name}, "ticket"):
                raise UnknownInScope("ticket", name)
            todo_tickets.add(name)
    if look is not whole:  # the named tickets' assets, corrected ones too, by primary key
        for _, opened, corrected in whole.facts("ticket", todo_tickets, [*OPENED, *CORRECTED],
                                                ("asset_id", "changes.asset_id")):
            todo_assets |= {opened, corrected} - {None}
        todo_tickets = {r[1] for r in look.facts("ticket", todo_tickets, OPENED, ("id",))}  # those in the cut
    replacing = f"coalesce({d.field('replaces')}, {d.field('by_asset')})"
    tickets: set[str] = set()
    assets: set[str] = set()
    sites: set[str] = set()
    contracts: set[str] = set(names) if kind == "contract" else set()
    # the closure (assets of the tickets, their replacements, their tickets), each ticket and
    # asset looked up once: only what the last round found is asked about in the next
    while todo_tickets or todo_assets:
        found: set[str] = set()
        tickets |= todo_tickets
        for _, asset, contract in look.facts("ticket", todo_tickets, OPENED, ("asset_id", "contract_id"), first=True):
            found.add(asset)
            contracts.add(contract)
        found |= look.corrected_of(todo_tickets, "asset_id")
        contracts |= look.corrected_of(todo_tickets, "contract_id")
        todo_tickets = set()
        assets |= todo_assets
        for topic, replaces, by_asset, site, contract in look.asset_links(todo_assets):
            if topic in REPLACING:
                found |= {replaces, by_asset}
            if topic in AT_SITE:
                sites.add(site)
            if topic in ON_CONTRACT:
                contracts.add(contract)
        found |= look.corrected_of(todo_assets, "replaces") | look.corrected_of(todo_assets, "by_asset")
        sites |= look.corrected_of(todo_assets, "site")
        contracts |= look.corrected_of(todo_assets, "contract_id")
        found |= look.names("replaces|by_asset", REPLACING, todo_assets, replacing)
        # the assets' tickets: their opening fact says their contract; one a correction moved
        # onto these assets is read whole next round
        on_assets = look.holders(d.field("asset_id"), OPENED, todo_assets, fields=("contract_id",))
        opened = {t for t, _ in on_assets} - tickets
        contracts |= {c for t, c in on_assets if t in opened}
        found |= look.corrected_of(opened, "asset_id")
        contracts |= look.corrected_of(opened, "contract_id")
        tickets |= opened
        todo_tickets = look.corrected_to("asset_id", todo_assets) - tickets
        todo_assets = found - assets - {None}
    neighbours = look.names("site", AT_SITE, sites - {None}) - assets
    # the contracts the scope's assets and tickets were ever under (contract moves included):
    # the others' terms decide no row of the scope, and each adds calendars to expand
    contracts |= look.values_of(ON_CONTRACT, "contract_id", neighbours, "asset")
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
