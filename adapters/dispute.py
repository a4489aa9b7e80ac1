"""A ticket's dispute file, read from the store and the views: its log rows (the ticket, its
asset and its contract, with their chain columns), the chain's head that `verify` checks the
log against, and the dispute report rendered from a views file. Used by `explain` and
`verify` (adapters.cli.audit) and by the demo's closing step (adapters.demo)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from domain.base import aggregate_uuid
from domain.errors import N_, Explained

from .evidence import check_evidence, evidence_path
from .store import EventStoreApp, LogRow, on_postgres


class UnknownTicket(Explained, LookupError):
    """No ticket of that id in the log."""


def rows_for(app: EventStoreApp, oids: list[str]) -> list[LogRow]:
    """The log rows (with chain columns) of the given originators only, in log order."""
    if not oids:
        return []
    rec = app.recorder
    if on_postgres(rec):
        sch = rec.datastore.schema
        sql = (f'SELECT e.notification_id, e.originator_id::text, e.originator_version, e.topic, e.state, '
               f'c.recorded_at, c.state_sha256, c.link FROM "{sch}".{rec.events_table_name} e '
               f'JOIN "{sch}".ledger_chain c ON c.position = e.notification_id '
               f'WHERE e.originator_id = ANY(%s) ORDER BY e.notification_id')
        with rec.datastore.transaction(commit=False) as curs:
            curs.execute(sql, ([uuid.UUID(o) for o in oids],))
            return [LogRow(r["notification_id"], r["originator_id"].replace("-", ""), r["originator_version"],
                           r["topic"], bytes(r["state"]), r["recorded_at"], r["state_sha256"], r["link"])
                    for r in curs.fetchall()]
    sql = ("SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state, c.recorded_at, "
           "c.state_sha256, c.link FROM stored_events e JOIN ledger_chain c ON c.position = e.rowid "
           f"WHERE e.originator_id IN ({','.join('?' * len(oids))}) ORDER BY e.rowid")
    with rec.datastore.transaction(commit=False) as c:
        c.execute(sql, oids)
        return [LogRow(*tuple(r)) for r in c.fetchall()]


def ticket_rows(app: EventStoreApp, ticket: str) -> tuple[str, list[LogRow]]:
    """(ticket originator id, rows of the ticket, its asset and its contract); UnknownTicket if none."""
    toid = aggregate_uuid("ticket", ticket).hex
    rows = tickets_rows(app, [ticket])
    if not rows:
        raise UnknownTicket(N_("no ticket {id}"), id=ticket)
    return toid, rows


def tickets_rows(app: EventStoreApp, tickets: list[str], *, assets: bool = True) -> list[LogRow]:
    """The rows of each of these tickets, its asset (unless `assets` is false: a replay of their
    clocks alone reads none, projections.recompute.CLOCKS_READ) and its contract, together, each
    row once, in log order: two reads of the store for any number of tickets (a statement's
    restated tickets share their contract, often their assets), not two per ticket."""
    rows = rows_for(app, [aggregate_uuid("ticket", t).hex for t in tickets])
    opened: dict[str, LogRow] = {}
    for r in rows:  # in log order: each ticket's first row is its opening
        opened.setdefault(r.originator_id, r)
    extra: set[str] = set()
    for r in opened.values():
        state = msgspec.json.decode(r.state)
        if assets and state.get("asset_id"):
            extra.add(aggregate_uuid("asset", state["asset_id"]).hex)
        if state.get("contract_id"):
            extra.add(aggregate_uuid("contract", state["contract_id"]).hex)
    return sorted(rows + rows_for(app, sorted(extra)), key=lambda r: r.position)


def chain_head(app: EventStoreApp) -> tuple[int, str] | None:
    """(position, link) of the last row of the chain table, read independently of the events."""
    rec = app.recorder
    if on_postgres(rec):
        with rec.datastore.transaction(commit=False) as curs:
            curs.execute(f'SELECT position, link FROM "{rec.datastore.schema}".ledger_chain '
                         "ORDER BY position DESC LIMIT 1")
            r = curs.fetchone()
            return (int(r["position"]), r["link"]) if r else None
    with rec.datastore.transaction(commit=False) as c:
        c.execute("SELECT position, link FROM ledger_chain ORDER BY position DESC LIMIT 1")
        r = c.fetchone()
        return (int(r[0]), r[1]) if r else None


def calendar_rows(app: EventStoreApp) -> list[LogRow]:
    """The recorded calendar years (the views count working days from them, §8)."""
    return rows_for(app, [aggregate_uuid("calendar", f"CN-{y}").hex for y in range(2000, 2061)])


# DuckDB threads of a scratch replay of a few tickets: its ~80 statements each run on a few hundred
# rows, where a second thread only hands work over (explain --as-of-recorded: ~20 ms less CPU with
# one), and a statement's figures read the views on the other core meanwhile
SCRATCH_THREADS = 1


def clocks_without(ticket: str | list[str], rows: list[LogRow], leave_out: set[int], evaluated: Any,
                   terms: Any = None) -> list[dict[str, Any]]:
    """The ticket's (or tickets') clock rows from a scoped replay of its own, its asset's, its
    contract's and the calendar's facts without the facts at the positions `leave_out` (a
    correction's effect, a late entry's restatement; issue 17): the projections' one code path,
    in memory, evaluated at the views' evaluation time. `terms`: the what-if terms the views it is
    compared with were built under (replay.asof.what_if_in_views), None for the terms as recorded."""
    return views_without(ticket, rows, leave_out, evaluated, terms)[0]


def views_without(ticket: str | list[str], rows: list[LogRow], leave_out: set[int], evaluated: Any,
                  terms: Any = None, *, liability: bool = False) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(clock rows, liability rows) of the replay clocks_without describes; the liability rows
    only with `liability` (a statement's money restatements), whose replay also reads the
    assets' facts (warranty, coverage) and computes the liability view, else [] (clocks alone)."""
    from datetime import UTC

    from projections import open_views, rebuild
    from projections.recompute import CLOCKS_READ
    from replay.asof import arrow_batches

    # only the facts the clocks read (an asset's are most of a ticket's file and feed no clock)
    kept = sorted({r.position: r for r in rows if r.position not in leave_out
                   and (liability or r.topic.split(".", 1)[0] in CLOCKS_READ)}.values(), key=lambda r: r.position)
    tickets = [ticket] if isinstance(ticket, str) else list(ticket)
    con = open_views(None, threads=SCRATCH_THREADS)
    try:
        # only the views read: no view computed after them (summaries, visits; liability unless asked)
        rebuild(con, lambda: arrow_batches(kept), evaluated.replace(tzinfo=UTC) if evaluated.tzinfo is None else evaluated,
                upto="liability" if liability else "clocks", terms_override=terms)

        def read(table: str, order: str) -> list[dict[str, Any]]:
            cur = con.execute(f"SELECT * FROM {table} WHERE list_contains(?, ticket) ORDER BY {order}", [tickets])
            cols = [d[0] for d in cur.description]
            return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]

        return read("sla_clocks", "ticket, clock"), read("liability", "ticket") if liability else []
    finally:
        con.close()


def render_report(ticket: str, ticket_oid: str, rows: list[LogRow], views: Any, data_dir: Path, fmt: str,
                  out_dir: Path, *, as_of_recorded: str | None = None, as_of_source_recorded: str | None = None,
                  lang_for: Callable[[str], str] | None = None,
                  calendar: list[LogRow] | None = None,
                  proofs: dict[str, Any] | None = None,
                  printer: Any = None) -> tuple[bytes, dict[str, Any], str]:
    """The dispute report of `ticket` from its rows and a views file, in `fmt` (html, pdf, md,
    json), and the language it is written in: `lang_for(contract time zone)`, by default the
    contract's (Chinese in China's zone). `views`: a views file or an open views database. Evidence links are relative to `out_dir`, where the
    report will be read. With `calendar` (the calendar rows of the same cut), each correction's
    effect is shown by a replay of the ticket without it (`clocks_without`). `proofs`: what
    adapters.tlog_evidence.report_proofs gives (the transparency log's evidence). A PDF is printed by
    the system's Chromium (adapters.printing; PrintError when it cannot), by `printer` when the
    caller started one ahead (adapters.printing.Printer)."""
    import duckdb

    from replay.asof import what_if_in_views
    from replay.exhibit import RENDERERS
    from replay.explain import build_report, render_json
    from replay.i18n import resolve_lang

    # a views file, or an open views database (a scratch replay in memory: its owner closes it)
    con = duckdb.connect(str(views), read_only=True) if isinstance(views, str | Path) else views.cursor()
    try:
        con.execute("SET TimeZone = 'UTC'")
        evaluated = con.execute("SELECT max(evaluated_at) FROM checkpoint").fetchone()[0]
        terms = what_if_in_views(con)  # a correction's effect under the terms the report's verdicts use
        report = build_report(
            ticket, rows, con, as_of_recorded=as_of_recorded, as_of_source_recorded=as_of_source_recorded,
            ticket_oid=ticket_oid,
            evidence_href=lambda sha: os.path.relpath(evidence_path(data_dir.resolve(), sha), out_dir),
            evidence_status=lambda sha: check_evidence(data_dir, sha),
            clocks_without=None if calendar is None or evaluated is None else
            (lambda position: clocks_without(ticket, rows + calendar, {position}, evaluated, terms)),
        )
    finally:
        con.close()
    if proofs is not None:
        report["proofs"] = proofs
    lang = (lang_for or (lambda tz: resolve_lang(None, timezone=tz)))(report["timezone"])
    if fmt == "json":
        return render_json(report, lang), report, lang
    if fmt == "pdf":
        from replay.exhibit import render_html

        from .printing import print_pdf

        body = render_html(report, lang, "pdf")  # a printed copy: it says where its proof is
        return print_pdf(body, evaluated, printer=printer), report, lang
    body = RENDERERS[fmt](report, lang)
    return body, report, lang
