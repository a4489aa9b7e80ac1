"""Audit commands (SPEC §5): verify, explain, replay (as of / what-if), diff.

This module opens the store, the stream and DuckDB; `replay/` only computes over what it
is handed (rows, stream events, connections).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from replay.i18n import N_, word

from ..store import ChainedPostgresRecorder, iter_log, read_log
from . import UserError, position_in_log, positive_int
from .output import Column, Progress, language, speak
from .views import open_views_file, output_file, sql_text


def register(sub: argparse._SubParsersAction) -> None:
    """Add this module's subcommands."""
    p = sub.add_parser(
        "verify",
        help="prove the log is unaltered: recompute the hash chain, check evidence files, compare with NATS",
        description="Recompute every event's digest and hash-chain link, check every attached evidence "
                    "file against its recorded hash, and compare the store with the NATS stream event by "
                    "event (count, order, payload sha256, position and link headers). Names the first "
                    "position that differs and exits 1 on any difference.",
    )
    p.add_argument("--nats-url", default=None, metavar="URL",
                   help="compare with the LEDGER stream on this server (default: $TICKETLEDGER_NATS_URL, "
                        "else a self-started server on the data folder's JetStream store if it has one)")
    p.add_argument("--no-stream", action="store_true", help="do not compare with the NATS stream")
    p.add_argument("--no-evidence", action="store_true", help="do not check evidence files")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "explain",
        help="a ticket's dispute report: timeline with both times, corrections, clocks, liability, hashes",
        description="One ticket's dispute report (HTML, Markdown or JSON): every event with its occurred "
                    "and recorded times, log position and hash link; late entries flagged against the "
                    "contract's tolerance (§9.12); corrections with original and corrected values; every "
                    "clock row and the liability row the views computed; evidence files. Reads only the "
                    "ticket's, its asset's and its contract's events. Deterministic: the same log and terms "
                    "give byte-identical output.",
    )
    p.add_argument("ticket")
    p.add_argument("--format", choices=("html", "md", "json"), default="md")
    p.add_argument("--out", default=None, metavar="FILE", help="write the report here (default: stdout)")
    p.add_argument("--as-of-recorded", default=None, metavar="TIME",
                   help="what the ledger knew at this recording time (views rebuilt for it, evaluated then)")
    p.add_argument("--at", default=None, metavar="TIME",
                   help="evaluation time when views must be rebuilt (default: the as-of time, else now)")
    p.add_argument("--views", default=None, metavar="FILE.duckdb",
                   help="read clock and liability rows from this views file (e.g. one `replay` wrote)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser(
        "replay",
        help="rebuild the views as of a time or position, or under other terms, into a separate DuckDB file",
        description="Rebuild the views from only the events recorded up to a time (--as-of-recorded) or a "
                    "log position (--as-of-position) — what the ledger knew then — or from the events that "
                    "had occurred by a time (--as-of-occurred); --terms FILE replaces every contract "
                    "version's terms (what-if, §9.11). Writes a DuckDB file with the same tables as the "
                    "views, for `sql`, `report`, `explain --views` and `diff`.",
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--as-of-recorded", default=None, metavar="TIME")
    g.add_argument("--as-of-position", default=None, type=int, metavar="N")
    g.add_argument("--as-of-occurred", default=None, metavar="TIME")
    p.add_argument("--terms", default=None, metavar="FILE",
                   help="what-if: a contract file (TOML/JSON) whose [terms] replace every version's")
    p.add_argument("--at", default=None, metavar="TIME",
                   help="evaluation time (default: the as-of time, else now)")
    p.add_argument("--out", default=None, metavar="FILE.duckdb",
                   help="where to write (default: <data-dir>/replay/<what>.duckdb)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser(
        "diff",
        help="rows that differ between two views files (two as-of points, or two sets of terms)",
        description="Compare two DuckDB views files row by row (rows keyed by ticket and clock, ticket, "
                    "asset, …; evaluation times ignored). Exit 0 when they agree, 1 when rows differ.",
    )
    p.add_argument("a", metavar="A.duckdb")
    p.add_argument("b", metavar="B.duckdb")
    p.add_argument("--table", action="append", default=None,
                   help="a table to compare (repeatable; default: sla_clocks, liability, visit_periods, "
                        "warranty, replacement_obligations)")
    p.add_argument("--limit", type=positive_int, default=None, help="at most N differing rows per table")
    p.set_defaults(func=cmd_diff)


# --- verify ---------------------------------------------------------------------------------------


def chain_head(app: Any) -> tuple[int, str] | None:
    """(position, link) of the last row of the chain table, read independently of the events."""
    rec = app.recorder
    if isinstance(rec, ChainedPostgresRecorder):
        with rec.datastore.transaction(commit=False) as curs:
            curs.execute(f'SELECT position, link FROM "{rec.datastore.schema}".ledger_chain '
                         "ORDER BY position DESC LIMIT 1")
            r = curs.fetchone()
            return (int(r["position"]), r["link"]) if r else None
    with rec.datastore.transaction(commit=False) as c:
        c.execute("SELECT position, link FROM ledger_chain ORDER BY position DESC LIMIT 1")
        r = c.fetchone()
        return (int(r[0]), r[1]) if r else None


class StreamRow:
    """One stream message as verify compares it: the ledger's headers and the payload."""

    __slots__ = ("position", "data", "link", "topic", "recorded_at", "seq")

    def __init__(self, position: int, data: bytes, link: str, topic: str, recorded_at: str, seq: int) -> None:
        self.position, self.data, self.link, self.topic, self.recorded_at, self.seq = (
            position, data, link, topic, recorded_at, seq)

    @classmethod
    def of(cls, msg: Any) -> StreamRow:
        from ..stream import H_LINK, H_POSITION, H_RECORDED_AT, H_TOPIC

        h = msg.headers or {}
        try:
            position = int(h.get(H_POSITION, "-1"))
        except ValueError:
            position = -1
        return cls(position, msg.data or b"", h.get(H_LINK, ""), h.get(H_TOPIC, ""), h.get(H_RECORDED_AT, ""),
                   msg.metadata.sequence.stream)


def stream_events(data_dir: Path, url: str | None) -> list[Any] | None:
    """Every event of the LEDGER stream in stream order, or None when there is no stream to read."""
    from ..nats_server import server_for
    from ..stream import STREAM, SUBJECTS, ConnectOptions, connect

    url = url or os.environ.get("TICKETLEDGER_NATS_URL") or None
    if url is None and not (data_dir / "nats").exists():
        return None

    async def read(u: str) -> list[Any] | None:
        from nats.js import api as jsapi
        from nats.js.errors import NotFoundError

        nc = await connect(u, ConnectOptions.from_env(url=u))
        try:
            js = nc.jetstream()
            try:
                info = await js.stream_info(STREAM)
            except NotFoundError:
                return None
            out: list[Any] = []
            if info.state.messages == 0:
                return out
            sub = await js.subscribe(SUBJECTS, stream=STREAM, ordered_consumer=True,
                                     deliver_policy=jsapi.DeliverPolicy.ALL)
            try:
                while True:
                    msg = await sub.next_msg(timeout=10.0)
                    out.append(StreamRow.of(msg))
                    if msg.metadata.num_pending == 0:
                        return out
            finally:
                await sub.unsubscribe()
        finally:
            await nc.close()

    with server_for(data_dir, url) as u:
        return asyncio.run(read(u))


def cmd_verify(args: argparse.Namespace) -> int:
    from replay.verify import verify_log

    from ..evidence import check_evidence
    from .core import ledger_for

    data_dir = Path(args.data_dir)
    if not data_dir.exists():
        raise UserError(f"no data folder {data_dir}")
    ledger = ledger_for(args)
    stream = None
    if not args.no_stream:
        try:
            stream = stream_events(data_dir, args.nats_url)
        except Exception as e:  # noqa: BLE001 - report why the stream could not be read, then fail
            raise UserError(f"cannot read the NATS stream ({type(e).__name__}: {e}); "
                            "use --no-stream to verify the store alone") from None
    progress = Progress("verify", total=ledger.position or None, every=20_000, unit=speak()("events"))
    report = verify_log(
        iter_log(ledger),
        evidence=None if args.no_evidence else (lambda sha: check_evidence(data_dir, sha)),
        head=chain_head(ledger),
        stream=stream,
        progress=progress.add,
    )
    progress.done()
    ledger.close()
    if args.json:
        sys.stdout.write(msgspec.json.encode(report.as_dict()).decode() + "\n")
    else:
        from .core import _ledger_zone

        print(report.text(language(_ledger_zone(args))))
    return 0 if report.ok else 1


# --- reading one ticket's events -------------------------------------------------------------------


def rows_for(app: Any, oids: list[str]) -> list[Any]:
    """The log rows (with chain columns) of the given originators only, in log order."""
    from ..store import LogRow

    if not oids:
        return []
    rec = app.recorder
    if isinstance(rec, ChainedPostgresRecorder):
        import uuid

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


def ticket_rows(app: Any, ticket: str) -> tuple[str, list[Any]]:
    """(ticket originator id, rows of the ticket, its asset and its contract)."""
    from domain.base import aggregate_uuid

    toid = aggregate_uuid("ticket", ticket).hex
    rows = rows_for(app, [toid])
    if not rows:
        raise UserError(f"no ticket {ticket}", code="TL-E040")
    opened = msgspec.json.decode(rows[0].state)
    extra = []
    if opened.get("asset_id"):
        extra.append(aggregate_uuid("asset", opened["asset_id"]).hex)
    if opened.get("contract_id"):
        extra.append(aggregate_uuid("contract", opened["contract_id"]).hex)
    return toid, sorted(rows + rows_for(app, extra), key=lambda r: r.position)


def _time(text: str | None, what: str) -> Any:
    from .core import parse_time

    return parse_time(text, what) if text else None


def _views_position(path: Path) -> int | None:
    import duckdb

    if not path.exists():
        return None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        r = con.execute("SELECT max(position) FROM checkpoint").fetchone()
        return int(r[0]) if r and r[0] is not None else None
    except duckdb.Error:
        return None
    finally:
        con.close()


def cmd_explain(args: argparse.Namespace) -> int:
    import duckdb

    from replay import asof
    from replay.explain import RENDERERS, build_report

    from ..evidence import check_evidence, evidence_path
    from .core import ledger_for, now

    data_dir = Path(args.data_dir)
    out_file = output_file("--out", args.out, f"{args.ticket}.{args.format}") if args.out else None
    if args.views:
        open_views_file(args.views).close()
    ledger = ledger_for(args)
    as_of = _time(args.as_of_recorded, "--as-of-recorded")
    at = _time(args.at, "--at")
    try:
        toid, rows = ticket_rows(ledger, args.ticket)
        cut = asof.Cut(recorded=as_of)
        rows = list(asof.cut(rows, cut))
        if not rows:
            raise UserError(f"ticket {args.ticket} was not yet recorded at {args.as_of_recorded}")
        if args.views:
            views_path = Path(args.views)
        else:
            current = data_dir / "views.duckdb"
            last = ledger.position
            if as_of is None and at is None and _views_position(current) == last:
                views_path = current
            else:
                # the views for this as-of (or brought up to date), rebuilt by projections aside
                name = "explain-asof-" + asof.stamp(as_of).replace(":", "") if as_of else "explain-current"
                views_path = data_dir / "replay" / f"{name}.duckdb"
                views_path.parent.mkdir(parents=True, exist_ok=True)
                _rebuild_cut(ledger, cut, views_path, at or cut.evaluation_time() or now(), None)
    finally:
        ledger.close()
    out_dir = out_file.resolve().parent if out_file else Path.cwd()
    con = duckdb.connect(str(views_path), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        report = build_report(
            args.ticket, rows, con, as_of_recorded=cut.recorded_text, ticket_oid=toid,
            evidence_href=lambda sha: os.path.relpath(evidence_path(data_dir.resolve(), sha), out_dir),
            evidence_status=lambda sha: check_evidence(data_dir, sha),
        )
    finally:
        con.close()
    body = RENDERERS[args.format](report)
    if out_file:
        try:
            out_file.write_bytes(body)
        except OSError as e:
            raise UserError(f"--out {args.out}: cannot be written ({e.strerror}); name a file you can write") from None
        print(f"wrote {args.out} ({len(body):,} bytes): ticket {args.ticket}, {len(report['timeline'])} events, "
              f"{len(report['clocks'])} clocks, views evaluated at {report['evaluated_at']}")
    else:
        out = getattr(sys.stdout, "buffer", None)
        if out is not None:
            sys.stdout.flush()
            out.write(body)
            out.flush()
        else:
            sys.stdout.write(body.decode())
    return 0


# --- replay (as of / what-if) and diff ---------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    import duckdb

    from replay import asof

    from .core import ledger_for, now
    from .output import emit

    cut = asof.Cut(position=args.as_of_position, recorded=_time(args.as_of_recorded, "--as-of-recorded"),
                   occurred=_time(args.as_of_occurred, "--as-of-occurred"))
    at = _time(args.at, "--at")
    terms = None
    if args.terms:
        try:
            terms = asof.load_terms(args.terms)
        except (OSError, ValueError) as e:
            raise UserError(str(e)) from None
    data_dir = Path(args.data_dir)
    ledger_for(args).close()  # a folder without a ledger is refused before the replay folder is made
    if args.out:
        out = _replay_target(args.out, data_dir)
    else:
        parts = []
        if cut.position is not None:
            parts.append(f"pos{cut.position}")
        for label, t in (("rec", cut.recorded), ("occ", cut.occurred)):
            if t is not None:
                parts.append(label + asof.stamp(t)[:19].replace(":", "").replace("-", ""))
        if args.terms:
            parts.append("terms-" + Path(args.terms).stem)
        out = _replay_target(str(data_dir / "replay" / (("-".join(parts) or "full") + ".duckdb")), data_dir)
    evaluate_at = at or cut.evaluation_time() or now()
    if cut.position is not None and at is None:
        evaluate_at = None  # as of a position: evaluated at that position's recording time (below)
    ledger = ledger_for(args)
    try:
        position_in_log(cut.position, ledger.position)
        if evaluate_at is None:  # as of a position: its recording time (recording time never decreases)
            last = read_log(ledger, min(cut.position, ledger.position), 1) if ledger.position else []
            evaluate_at = _parse_stamp(last[0].recorded_at) if last else now()
            if cut.recorded_text is not None and last and last[0].recorded_at > cut.recorded_text:
                evaluate_at = cut.recorded
        stats = _rebuild_cut(ledger, cut, out, evaluate_at, terms)
    finally:
        ledger.close()
    con = duckdb.connect(str(out), read_only=True)
    try:
        states = con.execute("SELECT state, count(*) FROM sla_clocks GROUP BY 1 ORDER BY 1").fetchall()
    finally:
        con.close()
    summary = {"file": str(out), "events": stats.get("events"), "last_position": stats.get("last_position"),
               "cut": cut.describe(), "evaluated_at": str(stats.get("evaluated_at")),
               "terms": args.terms or "as recorded", "clocks": {s: n for s, n in states},
               "seconds": round(stats.get("seconds", 0.0), 2)}
    if args.json:
        emit([summary], True)
    else:
        from .core import _ledger_zone

        zone = _ledger_zone(args)
        _ = speak(zone)
        terms_used = args.terms or _("as recorded")
        print(_("replayed {events} events ({cut}; terms {terms}) into {out}, evaluated at {when} in {seconds} s",
                events=_.number(summary["events"] or 0), cut=summary["cut"], terms=terms_used, out=out,
                when=_.time(stats.get("evaluated_at"), zone, zone=True), seconds=summary["seconds"]))
        print(_("clocks: {states}", states=", ".join(f"{word(_.lang, 'state', s)} {_.number(n)}" for s, n in states)
                or _("none")))
        print(_("use it: ticketledger explain TICKET --views {out}; ticketledger diff {out} OTHER.duckdb; "
                "or open it read-only in DuckDB (the same tables as views.duckdb)", out=out))
    return 0


def _replay_target(path: str, data_dir: Path) -> Path:
    """`replay --out FILE`: a new file, or a views file to replace; never the ledger's own views
    nor a file that is not a views database (it would be lost without a word)."""
    from .views import SNAPSHOT_FILE, VIEWS_FILE

    out = output_file("--out", path, "asof.duckdb")
    if out.resolve() in ((data_dir / VIEWS_FILE).resolve(), (data_dir / SNAPSHOT_FILE).resolve()):
        raise UserError(f"--out {path} is the ledger's own views; name another file, e.g. "
                        f"{data_dir / 'replay' / 'asof.duckdb'}")
    if out.exists():
        try:
            open_views_file(out, "--out").close()
        except UserError:
            raise UserError(f"--out {path} exists and is not a views file (DuckDB): replay replaces only views "
                            "files; name a new file, or move this one away first") from None
    return out


def _rebuild_cut(ledger: Any, cut: Any, out: Path, evaluate_at: Any, terms: dict | None) -> dict[str, Any]:
    """Views of the events inside `cut` in a fresh file. A cut by position or recording time is a
    prefix of the log: the store's bulk reader streams it straight into DuckDB. A cut by
    occurrence time filters row by row (replay.asof.cut)."""
    from replay import asof

    if cut.occurred is None:
        from ..store_arrow import rebuild_from_store

        return rebuild_from_store(ledger, out, evaluate_at, as_of_position=cut.position,
                                  as_of_recorded=cut.recorded_text, terms_override=terms)
    return asof.rebuild(asof.cut(iter_log(ledger), cut), out, evaluate_at=evaluate_at, terms_override=terms)


def _parse_stamp(s: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def cmd_diff(args: argparse.Namespace) -> int:
    import duckdb

    from replay.diff import DEFAULT_TABLES, MissingTable, diff_table, flat

    from .output import emit

    for f in (args.a, args.b):
        open_views_file(f, "").close()
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"ATTACH {sql_text(Path(args.a).resolve())} AS va (READ_ONLY)")
        if Path(args.a).resolve() == Path(args.b).resolve():
            con.execute("CREATE VIEW _same AS SELECT 1")
            b = "va"
        else:
            con.execute(f"ATTACH {sql_text(Path(args.b).resolve())} AS vb (READ_ONLY)")
            b = "vb"
        rows = []
        tables = args.table or DEFAULT_TABLES
        with Progress("diff", total=len(tables), every=1, unit=speak()("tables")) as progress:
            for t in tables:
                try:
                    rows += diff_table(con, "va", b, t, limit=args.limit)
                except MissingTable as e:  # name the file, not its attached alias
                    raise UserError(f"table {e.table!r} is not in {args.a if e.db == 'va' else args.b}; "
                                    f"its tables: {', '.join(e.have)}") from None
                progress.add(1)
    finally:
        con.close()
    if args.json:
        sys.stdout.write(msgspec.json.encode(rows).decode() + "\n")
        return 1 if rows else 0
    _ = speak()
    if rows:
        emit(flat(rows), False, columns=DIFF_COLUMNS, title=f"A = {args.a}\nB = {args.b}", lang=_.lang)
    print(_("{n} row(s) differ", n=_.number(len(rows))))
    return 1 if rows else 0


DIFF_COLUMNS = [Column("table", N_("table"), "id"), Column("key", N_("row")), Column("change", N_("change"), "change"),
                Column("column", N_("column"), "id"), Column("a", "A"), Column("b", "B")]


# --- the demo's closing step (adapters.demo step 6) ---------------------------------------------------


def demo_dispute_report(ledger: Any, data_dir: str | Path, ticket: str, say: Any) -> dict[str, Any]:
    """Write one dispute report for `ticket` (HTML, in <data-dir>/reports/) and verify the log.

    The synthetic year attaches signed service reports whose content is `<ticket>/service-report`;
    those files are stored content-addressed first (as `attach` would have), so that `verify`
    checks real files."""
    import hashlib

    from domain.base import aggregate_uuid

    from ..evidence import check_evidence, evidence_path

    data_dir = Path(data_dir)
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
    if not rows_for(ledger, [aggregate_uuid("ticket", ticket).hex]):
        say(f"dispute report: no ticket {ticket}")
        return {"error": f"no ticket {ticket}"}
    from . import build_parser

    out = data_dir / "reports" / f"{ticket}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    started = __import__("time").perf_counter()
    args = build_parser().parse_args(["--data-dir", str(data_dir), "explain", ticket, "--format", "html",
                                      "--out", str(out)])
    try:
        import contextlib
        import io

        with contextlib.redirect_stdout(io.StringIO()):
            cmd_explain(args)
    except Exception as e:  # noqa: BLE001 - the demo goes on and says why
        say(f"dispute report: failed: {e}")
        return {"error": str(e)}
    seconds = __import__("time").perf_counter() - started
    from replay.verify import verify_log

    report = verify_log(iter_log(ledger, batch=20_000), evidence=lambda sha: check_evidence(data_dir, sha),
                        head=chain_head(ledger))
    from replay.i18n import DEFAULT_TZ

    from . import runnable

    _ = speak(DEFAULT_TZ)  # the demo's seed contracts are in China's time zone
    command = f"{runnable()} --data-dir {data_dir} explain {ticket} --format md"
    say(_("dispute report for {ticket}: {out} ({seconds} s); print it, or {command}", ticket=ticket, out=out,
          seconds=round(seconds, 1), command=command))
    say(_("verify: {verdict} — {events} events, head link {link}…, {evidence} evidence files ({stored} stored now) "
          "in {seconds} s", verdict="OK" if report.ok else _("FAILED"), events=_.number(report.events),
          link=report.head_link[:16], evidence=_.number(report.evidence_checked), stored=_.number(stored),
          seconds=round(report.seconds, 1))
        + ("" if report.ok else _("; first difference: {what}", what=report.first_difference)))
    return {"report": str(out), "verify_ok": report.ok, "verify_seconds": round(report.seconds, 2)}
