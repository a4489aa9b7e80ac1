"""`ticketledger demo`: a synthetic year of service under the four seed contracts, recorded
through the Ledger like any other commands, then summarised.

Steps (each marked; later issues fill the hooks):
  1. calendar years          (record_calendar)
  2. the four seed contracts  (ContractRegistered, idempotent command ids)
  3. the synthetic year       (adapters.synthetic, Ledger.execute_many in batches)
  4. HOOK stream              adapters.relay.relay_all(ledger, url) unless --no-stream
  5. HOOK views               projections.rebuild_from_store(...) headline figures
  6. HOOK dispute report      pointer to `ticketledger explain TICKET`
  7. summary                  events by type, tickets, assets, refusals, log position, throughput

Re-running on the same data folder records nothing twice (every command id is a function of
--seed and --tickets) and prints the same summary.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from replay.i18n import DEFAULT_TZ, N_, Texts

from .cli.output import Column, Progress, emit, speak, table
from .ledger import Ledger, open_ledger
from .store import iter_log, last_position
from .synthetic import Synth


def run_demo(args: argparse.Namespace) -> int:
    from .cli.core import record_calendar

    t_start = time.perf_counter()
    ledger = open_ledger(args.data_dir)
    quiet = getattr(args, "json", False)
    say = (lambda *a: None) if quiet else print  # noqa: E731
    _ = speak(DEFAULT_TZ)  # the four seed contracts are in China's time zone

    # 1. calendar data, as `ticketledger init` records it
    years = record_calendar(ledger, None)
    say(_("calendar years recorded now: {n}", n=len(years) or _("none new")))

    # 2 + 3. contracts and the synthetic year, through the Ledger in batches
    synth = Synth(seed=args.seed, tickets=args.tickets)
    batch_size = getattr(args, "batch", 2000) or 2000
    status: Counter[str] = Counter()
    recorded_types: Counter[str] = Counter()
    refusals: list[str] = []
    progress = Progress(_("demo: recording"), every=5000, unit=_("commands"))
    chunk: list[Any] = []
    t_rec = time.perf_counter()
    year_end: list[Any] = []  # the last time anything happens in the synthetic year

    def flush() -> None:
        year_end[:] = [max([*year_end, *(f.occurred_at for f in chunk)])]
        outcomes = ledger.execute_many(chunk)
        for fact, o in zip(chunk, outcomes, strict=True):
            status[o.status] += 1
            if o.status == "recorded":
                recorded_types[type(fact).__name__] += 1
            elif o.status == "refused":
                refusals.append(o.error)
        progress.add(len(chunk))
        chunk.clear()

    for fact in synth.facts():
        chunk.append(fact)
        if len(chunk) >= batch_size:
            flush()
    if chunk:
        flush()
    progress.done()
    rec_seconds = time.perf_counter() - t_rec
    commands = sum(status.values())
    say(_("commands: {n} — recorded {recorded}, already recorded {already}, refused {refused} in {seconds} s "
          "({rate} commands/s)", n=_.number(commands), recorded=_.number(status["recorded"]),
          already=_.number(status["already_recorded"]), refused=_.number(status["refused"]),
          seconds=f"{rec_seconds:.1f}", rate=_.number(commands / rec_seconds)))
    for err in refusals[:10]:
        print(f"  refused: {err}", file=sys.stderr)

    # 4. HOOK stream: publish to NATS JetStream (issue: relay). Skipped with --no-stream.
    stream = _hook_stream(ledger, args, say)

    # 5. HOOK views: rebuild the DuckDB views and print headline figures (issue: views).
    views = _hook_views(ledger, args, say, _, year_end[0] if year_end else None)

    # 6. HOOK dispute report (issue: audit replay): point at one interesting ticket.
    example = _example_ticket(synth)
    from .cli.audit import demo_dispute_report

    audit = demo_dispute_report(ledger, args.data_dir, example, say)

    # 7. summary from the store itself (so a re-run prints it too)
    summary = _summary(ledger)
    summary.update({
        "refusals": status["refused"], "recorded_now": status["recorded"],
        "already_recorded": status["already_recorded"], "commands": commands,
        "record_seconds": round(rec_seconds, 2),
        "commands_per_second": round(commands / rec_seconds) if rec_seconds else None,
        "total_seconds": round(time.perf_counter() - t_start, 2),
        "synthetic_mix": dict(sorted(synth.counts.items())), "stream": stream, "views": views,
        "example_ticket": example, "audit": audit,
    })
    if quiet:
        emit([summary], True)
    else:
        _print_summary(summary, _, args)
    return 1 if status["refused"] else 0


def _summary(ledger: Ledger) -> dict[str, Any]:
    by_type: Counter[str] = Counter()
    by_customer: Counter[str] = Counter()
    tickets: set[str] = set()
    assets: set[str] = set()
    for row in iter_log(ledger, batch=20_000):
        kind, name, _ = row.topic.split(".")
        by_type[name] += 1
        if kind in ("ticket", "asset"):
            head = msgspec.json.decode(row.state, type=_Head)
            (tickets if kind == "ticket" else assets).add(head.id)
            by_customer[head.customer] += 1
    return {"events": sum(by_type.values()), "events_by_type": dict(by_type.most_common()),
            "tickets": len(tickets), "assets": len(assets), "events_by_customer": dict(sorted(by_customer.items())),
            "log_position": last_position(ledger)}


class _Head(msgspec.Struct):
    id: str
    customer: str = ""


def _print_summary(s: dict[str, Any], _: Texts, args: argparse.Namespace) -> None:
    from .cli import runnable

    n = _.number
    print()
    print(_("ledger summary: {events} events, {tickets} tickets, {assets} assets, refusals {refusals}, "
            "log position {position}", events=n(s["events"]), tickets=n(s["tickets"]), assets=n(s["assets"]),
            refusals=n(s["refusals"]), position=n(s["log_position"])))
    print(_("this run: recorded {recorded} new, already recorded {already}; {rate} commands/s; total {seconds} s",
            recorded=n(s["recorded_now"]), already=n(s["already_recorded"]), rate=n(s["commands_per_second"] or 0),
            seconds=s["total_seconds"]))
    rows = [{"type": k, "events": v} for k, v in s["events_by_type"].items()]
    print(table(rows, [Column("type", N_("event"), "fact"), Column("events", N_("events"), "number")], lang=_.lang))
    print()
    mix = s["synthetic_mix"]
    keys = ("national_day_tickets", "late_entries", "corrections", "customer_waits", "extensions",
            "repeat_failures", "repeat_follow_tickets", "replacements", "follow_ups", "inspections", "spares",
            "loss_claims", "cancellations", "reopenings", "part_lines", "consumable_lines")
    print(_("synthetic mix: {mix}", mix=", ".join(f"{k.replace('_', ' ')} {mix.get(k, 0)}" for k in keys)))
    audit = s.get("audit") or {}
    if audit.get("report"):
        print(_("dispute report: {report} (ticket {ticket}); verify {verdict} ({seconds} s)", report=audit["report"],
                ticket=s["example_ticket"], verdict=_("passed") if audit.get("verify_ok") else _("FAILED"),
                seconds=audit.get("verify_seconds")))
    cli = f"{runnable()} --data-dir {args.data_dir}"
    print()
    print(_("next, try:"))
    for command in ("report sla --state breached", "report liability", "report visits --state missed",
                    f"ticket show {s['example_ticket']}", f"explain {s['example_ticket']} --format md",
                    "verify", "--lang en report summary"):
        print(f"  {cli} {command}")
    if "/" in runnable():
        how = 'export PATH="' + str(Path(sys.argv[0]).absolute().parent) + ':$PATH"'
        print(_("(or put the CLI on your PATH for this shell: {how})", how=how))


def _hook_stream(ledger: Ledger, args: argparse.Namespace, say: Any) -> dict[str, Any] | None:
    if getattr(args, "no_stream", False):
        say("stream: skipped (--no-stream)")
        return None
    try:
        from . import relay  # type: ignore[attr-defined]
    except ImportError:
        say("stream: not available yet (adapters.relay is not installed)")
        return None
    relay_all = getattr(relay, "relay_all", None)
    if relay_all is None:
        say("stream: adapters.relay has no relay_all yet")
        return None
    import asyncio
    import os

    from .nats_server import server_for

    # A named server, or one the tool starts itself with its JetStream store in the data folder.
    url = getattr(args, "nats_url", None) or os.environ.get("TICKETLEDGER_NATS_URL") or None
    t = time.perf_counter()
    try:
        with server_for(args.data_dir, url) as live_url:
            published = relay_all(ledger, live_url)
            held = asyncio.run(relay.stream_count(live_url))
    except Exception as e:  # the demo still summarises the ledger without NATS
        say(f"stream: relay failed: {e}")
        return {"error": str(e)}
    n = published if isinstance(published, int) else getattr(published, "published", published)
    say(f"stream: {n} events published now in {time.perf_counter() - t:.1f} s; the stream holds {held} events, "
        f"the store {ledger.position}")
    return {"published": n, "stream_holds": held}


def _hook_views(ledger: Ledger, args: argparse.Namespace, say: Any, _: Texts, year_end: Any) -> dict[str, Any] | None:
    """Views evaluated at the end of the synthetic year (its last fact), so that follow-ups and
    inspections due after it are not counted as missed by whoever runs the demo later."""
    try:
        from projections import open_views

        from .cli.views import views_path
        from .store_arrow import rebuild_from_store
    except (ImportError, AttributeError):
        say(_("views: not available yet (projections / adapters.store_arrow are not installed)"))
        return None
    t = time.perf_counter()
    path = views_path(args)
    try:
        stats = rebuild_from_store(ledger, path, year_end)
        con = open_views(path)
    except Exception as e:  # the demo still summarises the ledger without the views
        error = f"{type(e).__name__}: {e}"
        say(_("views: rebuild failed: {error}", error=error))
        return {"error": str(e)}
    figures: dict[str, Any] = {"rebuild_seconds": round(time.perf_counter() - t, 2), "path": str(path),
                               "stats": stats if isinstance(stats, dict) else None}
    say(_("views: rebuilt {path} in {seconds} s, evaluated at {when} (the end of the synthetic year)", path=path,
          seconds=figures["rebuild_seconds"], when=_.time(year_end, DEFAULT_TZ, zone=True) if year_end else "—"))
    titles = {"breach rate by clock and severity": N_("breach rate by clock and severity"),
              "follow-up and inspection compliance": N_("follow-up and inspection compliance"),
              "who pays (yuan)": N_("who pays")}
    shown = [Column("clock", N_("clock"), "clock"), Column("severity", N_("severity")),
             Column("clocks", N_("clocks"), "number"), Column("breached", N_("breached"), "number"),
             Column("breach_rate", N_("breach rate"), "percent"), Column("obligation", N_("obligation"), "obligation"),
             Column("periods", N_("periods"), "number"), Column("missed", N_("missed"), "number"),
             Column("compliance", N_("compliance"), "percent"), Column("contract", N_("contract"), "id"),
             Column("supplier", N_("supplier"), "id"), Column("tickets", N_("tickets"), "number"),
             Column("supplier_paid", N_("supplier pays"), "money"),
             Column("customer_paid", N_("customer pays"), "money")]
    queries = {
        "breach rate by clock and severity":
            "SELECT clock, severity, count(*) AS clocks, count(*) FILTER (WHERE state = 'breached') AS breached, "
            "round(count(*) FILTER (WHERE state = 'breached') / "
            "nullif(count(*) FILTER (WHERE state IN ('met', 'breached')), 0), 3) AS breach_rate "
            "FROM sla_clocks GROUP BY ALL ORDER BY ALL",
        "follow-up and inspection compliance":
            "SELECT obligation, count(*) AS periods, count(*) FILTER (WHERE status = 'missed') AS missed, "
            "round(1 - count(*) FILTER (WHERE status = 'missed') / "
            "nullif(count(*) FILTER (WHERE status <> 'due'), 0), 3) AS compliance "
            "FROM visit_periods GROUP BY ALL ORDER BY ALL",
        "who pays (yuan)":
            "SELECT contract, supplier, tickets, supplier_pays_fen AS supplier_paid, "
            "customer_pays_fen AS customer_paid FROM liability_totals ORDER BY contract",
    }
    try:
        for name, sql in queries.items():
            try:
                cur = con.execute(sql)
                cols = [d[0] for d in cur.description]
                rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
            except Exception as e:  # column names are the views issue's to settle
                say(f"views: {name}: {e}")
                continue
            figures[name] = rows
            say(_("views: {what}", what=_(titles[name])))
            say(table(rows, [c for c in shown if rows and c.key in rows[0]], lang=_.lang))
    finally:
        con.close()
    return figures


def _example_ticket(synth: Synth) -> str:
    """A ticket worth disputing: the first one with a repeated failure, else the first."""
    pairs = getattr(synth, "repeat_pairs", [])
    n = pairs[0][2] if pairs else 0
    return f"T-{synth.tag}-{n:06d}"
