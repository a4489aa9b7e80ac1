"""`ticketledger demo`: a synthetic year of service under the four seed contracts, recorded
through the Ledger like any other commands, then summarised.

Steps:
  1. calendar years          (adapters.calendar_data.record_calendar, as `init` records them)
  2. the four seed contracts  (ContractRegistered, idempotent command ids)
  3. the synthetic year       (adapters.synthetic, Ledger.execute_many in batches)
  4. stream                   adapters.relay.relay_all(ledger, url) unless --no-stream
  5. views                    adapters.store_arrow.rebuild_from_store(...) headline figures
  6. dispute report           one ticket's report (adapters.dispute) and `verify`'s check of the log
  7. summary                  events by type, tickets, assets, refusals, log position, throughput

The CLI (`ticketledger demo`) opens the ledger and calls run_demo; the demo imports none of the
CLI's command modules (only its output helpers), so the arrows point one way.

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

from .calendar_data import record_calendar
from .cli.output import Column, Progress, emit, language, said, speak, table
from .data_folder import views_path
from .ledger import Ledger
from .store import iter_log, last_position
from .synthetic import Synth

# The synthetic ledger's composition, named for people (the keys are adapters.synthetic's counters).
MIX_LABELS = (
    ("national_day_tickets", N_("tickets over National Day")), ("late_entries", N_("late entries")),
    ("corrections", N_("corrections")), ("customer_waits", N_("customer waits")),
    ("extensions", N_("extensions")), ("repeat_failures", N_("repeat failures")),
    ("repeat_follow_tickets", N_("repeat follow-up tickets")), ("replacements", N_("replacements")),
    ("follow_ups", N_("follow-up calls")), ("inspections", N_("inspections")), ("spares", N_("spare units lent")),
    ("loss_claims", N_("loss claims")), ("cancellations", N_("cancellations")), ("reopenings", N_("reopenings")),
    ("part_lines", N_("part lines")), ("consumable_lines", N_("consumable lines")),
)


def run_demo(args: argparse.Namespace, ledger: Ledger) -> int:
    """The demo on `ledger` (the data folder's, opened by the CLI), with the CLI's options."""
    t_start = time.perf_counter()
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
                refusals.append(o.refusal.said(_) if o.refusal else o.error)
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
        print(_("  refused: {reason}", reason=err), file=sys.stderr)

    # 4. stream: publish to NATS JetStream. Skipped with --no-stream.
    stream = _hook_stream(ledger, args, say)

    # 5. views: rebuild the DuckDB views and print headline figures.
    views = _hook_views(ledger, args, say, _, year_end[0] if year_end else None)

    # 6. dispute report: one interesting ticket, and verify the log.
    example = _example_ticket(synth)
    audit = _dispute_report(ledger, Path(args.data_dir), example, views, say)

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
    proof_ok = True
    if quiet:
        if audit.get("checkpoint"):
            audit["proof_verify_ok"] = proof_ok = _show_proof(Path(args.data_dir), Path(audit["report"]),
                                                              (audit["verifier_key"], audit["checkpoint"]), say, _)
        emit([summary], True)
    else:
        _print_summary(summary, _, args)
        if audit.get("checkpoint"):  # the end: what a customer keeps, and the offline check run
            print()
            proof_ok = _show_proof(Path(args.data_dir), Path(audit["report"]),
                                   (audit["verifier_key"], audit["checkpoint"]), print, _)
    return 1 if status["refused"] or not proof_ok else 0


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
    print(_("synthetic mix: {mix}", mix=", ".join(f"{_(label)} {n(mix.get(k, 0))}" for k, label in MIX_LABELS)))
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
    if "/" in runnable():  # the folder of the `ticketledger` script, or of the Python running `-m adapters.cli`
        script = Path(sys.argv[0]).absolute()
        folder = script.parent if script.name == "ticketledger" else Path(sys.executable).absolute().parent
        how = 'export PATH="' + str(folder) + ':$PATH"'
        print(_("(or put the CLI on your PATH for this shell: {how})", how=how))


def _hook_stream(ledger: Ledger, args: argparse.Namespace, say: Any) -> dict[str, Any] | None:
    _ = speak(DEFAULT_TZ)
    if getattr(args, "no_stream", False):
        say(_("stream: skipped (--no-stream)"))
        return None
    import asyncio
    import os

    from . import relay
    from .nats_server import server_for

    # A named server, or one the tool starts itself with its JetStream store in the data folder.
    url = getattr(args, "nats_url", None) or os.environ.get("TICKETLEDGER_NATS_URL") or None
    t = time.perf_counter()
    try:
        with server_for(args.data_dir, url) as live_url:
            published = relay.relay_all(ledger, live_url)
            held = asyncio.run(relay.stream_count(live_url))
    except Exception as e:  # the demo still summarises the ledger without NATS
        say(_("stream: relay failed: {error}", error=said(e)))
        return {"error": str(e)}
    n = published if isinstance(published, int) else getattr(published, "published", published)
    say(_("stream: {n} events published now in {seconds} s; the stream holds {held} events, the store {position}",
          n=n, seconds=f"{time.perf_counter() - t:.1f}", held=held, position=ledger.position))
    return {"published": n, "stream_holds": held}


def _hook_views(ledger: Ledger, args: argparse.Namespace, say: Any, _: Texts, year_end: Any) -> dict[str, Any] | None:
    """Views evaluated at the end of the synthetic year (its last fact), so that follow-ups and
    inspections due after it are not counted as missed by whoever runs the demo later."""
    from projections import open_views

    from .store_arrow import rebuild_from_store

    t = time.perf_counter()
    path = views_path(args.data_dir)
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
    shown = [Column("clock", N_("clock"), "clock"), Column("severity", N_("severity"), "severity"),
             Column("clocks", N_("clocks applicable"), "number"), Column("breached", N_("breached"), "number"),
             Column("breach_rate", N_("breach rate"), "percent"), Column("obligation", N_("obligation"), "obligation"),
             Column("done", N_("done"), "number"), Column("missed", N_("missed"), "number"),
             Column("due", N_("due, still open"), "number"), Column("compliance", N_("compliance"), "percent"), Column("contract", N_("contract"), "id"),
             Column("supplier", N_("supplier"), "id"), Column("tickets", N_("tickets"), "number"),
             Column("supplier_paid", N_("borne by supplier (at quoted price)"), "money"),
             Column("customer_paid", N_("customer pays"), "money")]
    # Counted as the views count them: a breach rate over the applicable clocks (sla_summary),
    # by the ticket's final severity (§9.4); compliance over the periods already closed, done or
    # missed (those still open or upcoming are neither).
    queries = {
        "breach rate by clock and severity":
            "SELECT clock, severity, count(*) AS clocks, count(*) FILTER (WHERE state = 'breached') AS breached, "
            "count(*) FILTER (WHERE state = 'breached') / nullif(count(*), 0) AS breach_rate "
            "FROM sla_clocks WHERE state <> 'not_applicable' GROUP BY ALL ORDER BY ALL",
        "follow-up and inspection compliance":
            "SELECT obligation, count(*) FILTER (WHERE status = 'done') AS done, "
            "count(*) FILTER (WHERE status = 'missed') AS missed, count(*) FILTER (WHERE status = 'due') AS due, "
            "count(*) FILTER (WHERE status = 'done') / "
            "nullif(count(*) FILTER (WHERE status IN ('done', 'missed')), 0) AS compliance "
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
                say(_("views: {what}: {error}", what=_(titles[name]), error=e))
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


def _dispute_report(ledger: Ledger, data_dir: Path, ticket: str, views: dict[str, Any] | None,
                    say: Any) -> dict[str, Any]:
    """Write one dispute report for `ticket` (HTML, in <data-dir>/reports/) from the views step 5
    rebuilt, and verify the log.

    The synthetic year attaches signed service reports whose content is `<ticket>/service-report`;
    those files are stored content-addressed first (as `attach` would have), so that `verify`
    checks real files."""
    import hashlib

    from replay.i18n import DEFAULT_TZ
    from replay.verify import verify_log

    from .cli import runnable
    from .dispute import UnknownTicket, calendar_rows, chain_head, render_report, ticket_rows
    from .evidence import check_evidence, evidence_path

    stored = 0
    for r in iter_log(ledger, batch=20_000):
        if ".EvidenceAttached." not in r.topic:
            continue
        f = msgspec.json.decode(r.state)
        content = f"{f['id']}/service-report".encode()
        if hashlib.sha256(content).hexdigest() == f["sha256"] and check_evidence(data_dir, f["sha256"]) == "missing":
            path = evidence_path(data_dir, f["sha256"])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            stored += 1
    if views is None or "error" in views:
        _ = speak(DEFAULT_TZ)
        say(_("dispute report: skipped (no views)"))
        return {"error": "no views"}
    try:
        toid, rows = ticket_rows(ledger, ticket)
    except UnknownTicket as e:
        _ = speak(DEFAULT_TZ)
        say(_("dispute report: {error}", error=said(e)))
        return {"error": str(e)}
    out = data_dir / "reports" / f"{ticket}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    try:
        signed = _sign_checkpoint(ledger, data_dir)
        from .tlog_evidence import report_proofs

        body, _report, _lang = render_report(ticket, toid, rows, views_path(data_dir), data_dir, "html",
                                              out.parent.resolve(), calendar=calendar_rows(ledger),
                                              lang_for=lambda tz: language(timezone=tz),  # --lang, else the contract's
                                              proofs=report_proofs(ledger, rows, None, None))
        out.write_bytes(body)
    except Exception as e:  # noqa: BLE001 - the demo goes on and says why
        _ = speak(DEFAULT_TZ)
        say(_("dispute report: failed: {error}", error=said(e)))
        return {"error": str(e)}
    seconds = time.perf_counter() - started
    report = verify_log(iter_log(ledger, batch=20_000), evidence=lambda sha: check_evidence(data_dir, sha),
                        head=chain_head(ledger))
    _ = speak(DEFAULT_TZ)  # the demo's seed contracts are in China's time zone
    command = f"{runnable()} --data-dir {data_dir} explain {ticket} --format md"
    say(_("dispute report for {ticket}: {out} ({seconds} s); print it, or {command}", ticket=ticket, out=out,
          seconds=round(seconds, 1), command=command))
    say(_("verify: {verdict} — {events} events, head link {link}…, {evidence} evidence files ({stored} stored now) "
          "in {seconds} s", verdict="OK" if report.ok else _("FAILED"), events=_.number(report.events),
          link=report.head_link[:16], evidence=_.number(report.evidence_checked), stored=_.number(stored),
          seconds=round(report.seconds, 1))
        + ("" if report.ok else _("; first difference: {what}", what=report.first_difference)))
    return {"report": str(out), "verify_ok": report.ok, "verify_seconds": round(report.seconds, 2),
            "verifier_key": signed[0], "checkpoint": signed[1]}


def _sign_checkpoint(ledger: Ledger, data_dir: Path) -> tuple[str, str]:
    """The log key (made on first use), the tree, and a checkpoint of the current head (issue 16):
    (verifier key, signed note)."""
    from . import log_key
    from .ledger_tree import LedgerTree

    signer, _made = log_key.ensure(data_dir)
    tree = LedgerTree(ledger)
    tree.add_key(signer.verifier)
    tree.build()
    return signer.verifier.vkey, tree.sign_checkpoint(signer).note


def _show_proof(data_dir: Path, report: Path, signed: tuple[str, str], say: Any, _: Any) -> bool:
    """End of the demo: what a customer keeps (verifier key, checkpoint), the offline check of the
    dispute report, and that check run now."""
    import contextlib
    import io
    import shlex

    from .cli import main, runnable

    vkey, note = signed
    saved = data_dir / "reports" / "checkpoint.note"
    saved.write_text(note)
    command = f"{runnable()} proof verify {shlex.quote(str(report))} --log-key {shlex.quote(vkey)}"
    say(_("verifier key (for the contract annex): {vkey}", vkey=vkey))
    say(_("checkpoint (the signed tree head a customer saves; also in {file}):", file=saved))
    say(note.rstrip("\n"))
    say(_("check the dispute report offline: {command}", command=command))
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["--lang", _.lang, "proof", "verify", str(report), "--log-key", vkey])  # in the demo's language
    say(buf.getvalue().rstrip("\n").splitlines()[-1])
    return code == 0
