"""Stream commands: `nats serve`, `nats customer-stream`, `relay`, `tail`, `schema`.

NATS options (every stream command): --nats-url (or TICKETLEDGER_NATS_URL) names a server
or cluster; without it the command starts a local nats-server itself (JetStream store in
<data-dir>/nats) and stops it at the end. Credentials and TLS pass through
(--nats-user/--nats-password/--nats-token/--nats-creds/--nats-nkey/--tls-ca/--tls-cert/
--tls-key, or the TICKETLEDGER_NATS_* variables) and are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from domain import events as ev
from domain.errors import N_
from replay.printable import printable

from . import UserError, positive_int
from .output import emit, said, speak
from .usage_language import usage_said

if TYPE_CHECKING:
    from ..stream import ConnectOptions, StreamEvent

# the NATS client (adapters.stream, adapters.nats_server) is imported by the commands that use
# it, not when the parser is built: every other command (explain, report, replay ...) would pay
# its import (~0.1 s) for nothing

AGGREGATES = ("ticket", "asset", "contract", "calendar")


def nats_options(p: argparse.ArgumentParser, title: str = "NATS (default: a nats-server started in the data folder)") -> None:
    g = p.add_argument_group(title)
    g.add_argument("--nats-url", default=None, help=N_("server or cluster URLs, comma-separated (env TICKETLEDGER_NATS_URL)"))
    g.add_argument("--nats-user", default=None, help=N_("user (env TICKETLEDGER_NATS_USER)"))
    g.add_argument("--nats-password", default=None, help=N_("password (prefer env TICKETLEDGER_NATS_PASSWORD)"))
    g.add_argument("--nats-token", default=None, help=N_("token (prefer env TICKETLEDGER_NATS_TOKEN)"))
    g.add_argument("--nats-creds", default=None, metavar="FILE", help=N_("credentials file (env TICKETLEDGER_NATS_CREDS)"))
    g.add_argument("--nats-nkey", default=None, metavar="FILE", help=N_("NKey seed file (env TICKETLEDGER_NATS_NKEY)"))
    g.add_argument("--tls-ca", default=None, metavar="FILE", help=N_("CA bundle (env TICKETLEDGER_NATS_TLS_CA)"))
    g.add_argument("--tls-cert", default=None, metavar="FILE", help=N_("client certificate (env TICKETLEDGER_NATS_TLS_CERT)"))
    g.add_argument("--tls-key", default=None, metavar="FILE", help=N_("client key (env TICKETLEDGER_NATS_TLS_KEY)"))
    g.add_argument("--nats-inbox-prefix", default=None,
                   help=N_("reply inbox prefix, e.g. _INBOX_acme for a customer-scoped user (env TICKETLEDGER_NATS_INBOX_PREFIX)"))


def options_of(args: argparse.Namespace) -> ConnectOptions:
    from ..stream import ConnectOptions

    return ConnectOptions.from_env(
        url=args.nats_url, user=args.nats_user, password=args.nats_password, token=args.nats_token,
        creds=args.nats_creds, nkey_seed=args.nats_nkey, tls_ca=args.tls_ca, tls_cert=args.tls_cert,
        tls_key=args.tls_key, inbox_prefix=args.nats_inbox_prefix,
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nats", help=N_("the local nats-server and per-customer streams"))
    nsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = nsub.add_parser("serve", help=N_("keep a nats-server running for other processes (prints its URL)"))
    a.add_argument("--port", type=_port, default=None, help=N_("client port (default: a free one)"))
    a.set_defaults(func=cmd_nats_serve)
    a = nsub.add_parser("customer-stream",
                        help=N_("create LEDGER_<customer>: one customer's events, for a reader scoped to that customer"))
    a.add_argument("customer", type=_subject_token("CUSTOMER"))
    a.add_argument("--replicas", type=positive_int, default=1,
                   help=N_("copies the cluster keeps of the stream, and of LEDGER when it is made here (default 1; 3 on a three-node cluster)"))
    nats_options(a)
    a.set_defaults(func=cmd_customer_stream)

    p = sub.add_parser("relay", help=N_("publish the log to NATS JetStream exactly once (once, or --follow)"))
    from ..relay_options import add_relay_arguments

    add_relay_arguments(p)
    nats_options(p)
    p.set_defaults(func=cmd_relay)

    p = sub.add_parser("tail", help=N_("read ledger events from the stream: from the start, a position or a time"))
    start = p.add_mutually_exclusive_group()
    start.add_argument("--from-start", action="store_true", help=N_("from the first event (default)"))
    start.add_argument("--from-position", type=positive_int, metavar="N", help=N_("from the ledger's log position N"))
    start.add_argument("--from-time", metavar="TIME", help=N_("from the ledger's recording time (ISO with zone)"))
    p.add_argument("--aggregate", choices=AGGREGATES, help=N_("only the events of this kind of aggregate"))
    p.add_argument("--id", type=_subject_token("--id"), help=N_("one ticket/asset/contract id"))
    p.add_argument("--type", choices=sorted(ev.FACT_TYPES), metavar="TYPE", help=N_("one event type, e.g. TicketOpened"))
    p.add_argument("--customer", type=_subject_token("--customer"),
                   help=N_("one customer (reads LEDGER_<customer> when it exists)"))
    p.add_argument("--stream", default=None, help=N_("stream to read (default LEDGER, or LEDGER_<customer>)"))
    p.add_argument("--limit", type=positive_int, default=None, help=N_("stop after N events"))
    p.add_argument("--follow", action="store_true", help=N_("keep waiting for new events (Ctrl-C stops)"))
    nats_options(p)
    p.set_defaults(func=cmd_tail)

    p = sub.add_parser("schema", help=N_("JSON Schema of every event type and version: printed, or written with --out"),
                       description=N_("Without TYPE: lists the schemas (--json prints them all). With TYPE: prints "
                                   "that type's schema. Writes files only with --out DIR (the repository's own "
                                   "docs/schemas/ is made by `make schemas`)."))
    p.add_argument("type", nargs="?", help=N_("print this event type's schema only"))
    p.add_argument("--out", default=None, metavar="DIR", help=N_("write the schema files into DIR (created if missing)"))
    p.add_argument("--no-write", action="store_true", help=argparse.SUPPRESS)  # the default now; kept for old scripts
    p.set_defaults(func=cmd_schema)


# --- nats -------------------------------------------------------------------------------------


def cmd_nats_serve(args: argparse.Namespace) -> int:
    from ..nats_server import ServerError, local_server

    store = Path(args.data_dir) / "nats"
    stop = {"now": False}

    def on_signal(*_: object) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with local_server(args.data_dir, port=args.port) as server:
            if not server.stopped_here:
                _ = speak()
                raise UserError(_("a nats-server already serves {store} at {url}: another "
                                  "ticketledger command started it and stops it when it ends; "
                                  "use --nats-url {url}, or stop that command first", store=store, url=server.url))
            if args.json:
                print(msgspec.json.encode({"url": server.url, "monitor": server.monitor_url,
                                           "store": str(store)}).decode(), flush=True)
            else:
                _ = speak()
                print(_("nats-server running: {url} (monitor {monitor}, store {store}); use --nats-url {url} or "
                        "TICKETLEDGER_NATS_URL (commands on --data-dir {data} use it by themselves); Ctrl-C stops",
                        url=server.url, monitor=server.monitor_url, store=store, data=args.data_dir), flush=True)
            while not stop["now"] and server.alive():
                time.sleep(0.2)
    except ServerError as e:
        raise UserError(said(e)) from None
    return 0


def cmd_customer_stream(args: argparse.Namespace) -> int:
    from ..stream import (
        STREAM,
        ServerTooOld,
        connect,
        connected_version,
        customer_stream_flowing,
        ensure_customer_stream,
        ensure_stream,
        refuse_old_server,
    )

    _refuse_unknown_customer(args)
    opts = options_of(args)

    async def go(url: str) -> tuple[Any, tuple[int, int, str]]:
        nc = await connect(url, opts, max_reconnect_attempts=0)
        try:
            refuse_old_server(connected_version(nc))
            js = nc.jetstream(timeout=10)
            await ensure_stream(js, args.replicas)
            info = await ensure_customer_stream(js, args.customer, args.replicas)
            return info, await customer_stream_flowing(js, args.customer)
        finally:
            await nc.close()

    with _server(args, opts) as url:
        try:
            info, (expected, got, errors) = asyncio.run(go(url))
        except ServerTooOld as e:
            raise UserError(said(e)) from None
    _ = speak()
    print(_("stream {name}: events of customer {customer} and the calendars (ledger._public.>) sourced from "
            "{source}, and the log's signed checkpoints from CHECKPOINTS; grant the customer's user the APIs in "
            "docs/nats-permissions.md", name=info.config.name, customer=args.customer, source=STREAM))
    if got:
        print(_("the source flows: {got} of the {expected} events of {customer} in {source} are in {name} already",
                got=format(got, ","), expected=format(expected, ","), customer=args.customer, source=STREAM,
                name=info.config.name))
    elif expected:
        print(_("warning: {name} received none of the {expected} events of {customer} in {source} within 10 s: "
                "its source does not flow ({errors}); see the nats-server's log",
                name=info.config.name, expected=format(expected, ","), customer=args.customer, source=STREAM,
                errors=errors or _("the server reports no error")), file=sys.stderr)
    return 0


def _refuse_unknown_customer(args: argparse.Namespace) -> None:
    """A mistyped customer would give a stream that stays empty forever: refuse it first."""
    from ..store_scope import UnknownInScope, require_customer
    from .core import ledger_for

    ledger = ledger_for(args)
    try:
        require_customer(ledger, args.customer)
    except UnknownInScope as e:
        from .core import _ledger_zone

        _ = speak(_ledger_zone(args))
        known = _("; the ledger's customers include {known}", known=", ".join(e.known)) if e.known else ""
        raise UserError(_("no customer {name} in the ledger: its stream would stay empty; a customer is known "
                          "once an asset is registered to it", name=repr(e.name)) + known,
                        code="TL-E042") from None
    finally:
        ledger.close()


@contextlib.contextmanager
def _server(args: argparse.Namespace, opts: ConnectOptions):  # type: ignore[no-untyped-def]
    from ..nats_server import ServerError, server_for

    try:
        with server_for(args.data_dir, opts.url) as url:
            yield url
    except ServerError as e:
        raise UserError(said(e)) from None


# --- relay ------------------------------------------------------------------------------------


def cmd_relay(args: argparse.Namespace) -> int:
    from eventsourcing.persistence import PersistenceError

    from ..nats_server import ServerError
    from ..relay import PoisonEvent, run
    from ..store import StoreMismatch
    from ..stream import NatsUnreachable, ServerTooOld
    from ..stream_guard import StreamChanged

    opts = options_of(args)
    try:
        return run(args, opts)
    except StreamChanged as e:
        _ = speak()
        raise UserError(_("refusing to publish: {error}", error=said(e)), code=e.code) from None
    except StoreMismatch as e:
        raise UserError(said(e), code="TL-E013") from None
    except PersistenceError as e:  # the ledger's store, never blamed on NATS
        _ = speak()
        raise UserError(_("the ledger's store: {kind}: {error}", kind=type(e).__name__,
                          error=str(e).strip().splitlines()[0] if str(e).strip() else ""), code="TL-E012") from None
    except (ServerError, NatsUnreachable, PoisonEvent, ServerTooOld) as e:  # a poison event is named, NATS not blamed
        raise UserError(said(e)) from None
    except Exception as e:  # noqa: BLE001 - NATS errors become one clear line, never credentials
        _ = speak()
        raise UserError(_("NATS at {server}: {kind}: {error}",
                          server=opts.describe(), kind=type(e).__name__, error=said(e))) from None


def _subject_token(option: str) -> Callable[[str], str]:
    """An id that is one token of a ledger subject (domain.events.SUBJECT_ID_PATTERN)."""
    def check(text: str) -> str:
        if not re.fullmatch(ev.SUBJECT_ID_PATTERN, text):
            raise argparse.ArgumentTypeError(usage_said(N_("{value}: {option} is 1-64 characters of A-Z a-z 0-9 _ -"),
                                                        value=repr(text), option=option))
        return text
    return check


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(usage_said(N_("{value}: a TCP port is a whole number from 1 to 65535"),
                                                    value=repr(text)))
    return int(text)


# --- tail -------------------------------------------------------------------------------------


def cmd_tail(args: argparse.Namespace) -> int:
    from ..stream import STREAM, connect, filter_subject, find_start_seq, iso_utc, read_events

    opts = options_of(args)
    start_time = None
    if args.from_time:
        from .core import parse_time

        start_time = iso_utc(parse_time(args.from_time, "--from-time"))
    if args.limit is not None and args.limit <= 0:
        return 0
    subject = filter_subject(args.customer, args.aggregate, args.id, args.type)
    shown = {"n": 0, "garbage": 0}
    table_rows: list[dict[str, Any]] = []

    def garbage(seq: int, subj: str, reason: str) -> None:
        shown["garbage"] += 1
        _ = speak()
        print(_("tail: stream sequence {seq} ({subject}) is not a ledger event: {reason}; skipped",
                seq=seq, subject=subj, reason=reason), file=sys.stderr, flush=True)

    def show(e: StreamEvent) -> None:
        if args.json:
            sys.stdout.write(msgspec.json.encode(e.json()).decode() + "\n")
            sys.stdout.flush()
        elif args.follow:
            r = e.row()
            print(printable(f"{r['position']:>8}  {r['recorded_at']}  {r['customer']}  {r['aggregate']}  {r['id']}  "
                            f"{r['type']} v{r['version']}  occurred {r['occurred_at']}"), flush=True)
        else:
            table_rows.append(e.row())

    async def go(url: str) -> None:
        from nats.js.errors import NotFoundError

        errors: list[str] = []
        nc = await connect(url, opts, errors=errors, max_reconnect_attempts=-1 if args.follow else 0)

        async def asked(make: Callable[[], Any]) -> Any:
            """A request of the set-up; with --follow, asked again while the cluster cannot answer it
            (a leader election after a node stopped), as reading itself waits through one."""
            import nats.errors

            said = False
            while True:
                try:
                    return await refused_fast(make(), errors)
                except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
                    if not args.follow:
                        raise
                    if not said:
                        _ = speak()
                        print(_("tail: the NATS server does not answer for the stream yet; asking again"),
                              file=sys.stderr, flush=True)
                        said = True
                    await asyncio.sleep(0.5)

        try:
            js = nc.jetstream(timeout=10)
            stream = args.stream or await asked(lambda: _pick_stream(js, args.customer))
            if args.from_position is not None:
                start = await asked(lambda: find_start_seq(js, stream, position=args.from_position))
                if not args.follow and start > (await js.stream_info(stream)).state.last_seq:
                    _ = speak()  # as `log --from` beyond the log: nothing to show is a mistake, not an empty table
                    raise UserError(_("--from-position {position}: beyond the last event of {stream}; name an "
                                      "earlier position (`ticketledger log` shows them), or add --follow to wait "
                                      "for it", position=args.from_position, stream=stream), code="TL-E021")
            elif start_time is not None:
                start = await asked(lambda: find_start_seq(js, stream, recorded_at=start_time))
            else:
                start = 1
            async for e in read_events(js, stream=stream, subject=subject, start_seq=start,
                                       follow=args.follow, on_garbage=garbage):
                show(e)
                shown["n"] += 1
                if args.limit is not None and shown["n"] >= args.limit:
                    break
        except UserError:
            raise
        except NotFoundError:  # a --stream the server does not hold: say which are the ledger's
            _ = speak()
            raise UserError(_("no stream {stream} on the NATS server; the ledger's is {ledger}, a customer's "
                              "{ledger}_CUSTOMER (`--customer C` picks it)", stream=args.stream or STREAM,
                              ledger=STREAM)) from None
        except Exception as e:  # noqa: BLE001 - one clear line, never credentials
            why = next((x for x in errors if "ermission" in x), "")
            _ = speak()
            raise UserError(_("reading {stream} at {server}: {error}",
                              stream=args.stream or STREAM, server=opts.describe(),
                              error=why or type(e).__name__ + ': ' + str(e))) from None
        finally:
            with contextlib.suppress(Exception):
                await nc.close()

    with _server(args, opts) as url, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(go(url))
    if not args.json and not args.follow:  # as `log` shows the log: words, local times, the zone named
        from .core import LOG_COLUMNS, Column, _ledger_zone

        zone = _ledger_zone(args)
        _ = speak(zone)
        columns = [*(c for c in LOG_COLUMNS if c.key != "link"), Column("version", N_("version"), "number"),
                   Column("actor", N_("actor"), "id")]
        emit(table_rows, False, columns, zone=zone, lang=_.lang,
             title=_("stream events; times in {zone}", zone=_.zone_name(zone)) if table_rows else None)
    return 0


async def _pick_stream(js: Any, customer: str | None) -> str:
    from nats.js.errors import NotFoundError

    from ..stream import STREAM, customer_stream_name

    if customer:
        try:
            await js.stream_info(customer_stream_name(customer))
            return customer_stream_name(customer)
        except NotFoundError:
            pass
    try:
        await js.stream_info(STREAM)
    except NotFoundError:
        _ = speak()
        raise UserError(_("no stream {stream} yet: run `ticketledger relay` first", stream=STREAM)) from None
    return STREAM


class PermissionRefused(Exception):
    pass


async def refused_fast(coro: Any, errors: list[str], every: float = 0.05) -> Any:
    """Await `coro`, but fail at once when the server reports a permissions violation
    (a refused request gets no reply: it would otherwise wait for the timeout)."""
    seen = len(errors)
    task = asyncio.ensure_future(coro)
    while not task.done():
        await asyncio.wait({task}, timeout=every)
        new = [e for e in errors[seen:] if "ermission" in e]
        if new and not task.done():
            task.cancel()
            raise PermissionRefused(new[0])
    return task.result()


# --- schema -----------------------------------------------------------------------------------


def schemas() -> dict[str, dict[str, Any]]:
    """file name -> JSON Schema: one per event type and current version, plus commands.json
    (the JSON Lines import: any fact, tagged by "type"), Terms.json and alert.json (the payload
    on the stream ALERTS).

    Only current versions are generated (from domain.events). When a type gets version
    N+1, its `Type.vN.json` already in docs/schemas/ is kept as the frozen record of the
    old version and is never overwritten (e.g. TicketOpened.v1.json)."""
    from domain import events as ev

    out: dict[str, dict[str, Any]] = {}
    for name, cls in sorted(ev.FACT_TYPES.items()):
        s = msgspec.json.schema(cls)
        doc = {"$schema": "https://json-schema.org/draft/2020-12/schema",
               "$id": f"ticketledger/{name}.v{cls.version}.json",
               "title": f"{name} v{cls.version}",
               "description": (cls.__doc__ or "").strip() or f"ledger event {name}",
               "x-ledger-type": name, "x-ledger-version": cls.version, **s}
        out[f"{name}.v{cls.version}.json"] = doc
    s = msgspec.json.schema(ev.AnyFact)
    out["commands.json"] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                            "$id": "ticketledger/commands.json",
                            "title": "ticketledger command (one JSON Lines line)",
                            "description": "Any fact, tagged by its \"type\"; the import decodes each line into it.",
                            **s}
    from domain.terms import Terms

    out["Terms.json"] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                         "$id": "ticketledger/Terms.json",
                         "title": "contract terms (the [terms] of a contract file; `terms` of ContractRegistered "
                                  "and ContractAmended)",
                         "description": "Besides the bounds below: opening hours run from an earlier to a later "
                                        "time of day, in order and not overlapping; a schedule's `every` is at "
                                        "least 1 of its unit.",
                         **msgspec.json.schema(Terms)}
    from ..alerts import Alert

    out["alert.json"] = {"$schema": "https://json-schema.org/draft/2020-12/schema",
                         "$id": "ticketledger/alert.json",
                         "title": "alert (stream ALERTS, subject alert.<customer>.<ticket>.<clock>)",
                         "description": "One change of one SLA clock, published by `views follow`; times are "
                                        "UTC instants, ISO 8601 with Z.",
                         **msgspec.json.schema(Alert)}
    return out


def _write_schemas(docs: dict[str, dict[str, Any]], folder: str) -> None:
    """Every schema as a file in `folder` (created if missing); a file or an unwritable place is refused."""
    out = Path(folder)
    if not out.is_dir() and (out.exists() or out.suffix == ".json"):
        _ = speak()
        raise UserError(_("--out {folder} names a file; --out is the folder the schemas are "
                          "written to (created if missing), e.g. docs/schemas; `schema TYPE` "
                          "prints one type's schema", folder=folder))
    try:
        out.mkdir(parents=True, exist_ok=True)
        for fname, doc in docs.items():
            (out / fname).write_bytes(msgspec.json.format(msgspec.json.encode(doc), indent=2) + b"\n")
    except OSError as e:
        _ = speak()
        raise UserError(_("--out {folder}: cannot write there ({reason}: {filename}); name a "
                          "folder you can write, e.g. docs/schemas",
                          folder=folder, reason=e.strerror, filename=e.filename)) from None


_UNTYPED = {"commands.json": "(any command)", "Terms.json": "(contract terms)", "alert.json": "(alert payload)"}


def cmd_schema(args: argparse.Namespace) -> int:
    """Print; write files only where --out says (it wrote docs/schemas/ into whatever folder
    the user stood in)."""
    docs = schemas()
    if args.type:
        docs = {k: v for k, v in docs.items() if k.split(".")[0] == args.type}
        if not docs:
            _ = speak()
            raise UserError(_("unknown event type {type}; known: {names}",
                              type=repr(args.type),
                              names=', '.join(sorted(k.split('.')[0] for k in schemas() if k != 'commands.json'))))
    if args.out is not None:
        _write_schemas(docs, args.out)
    if args.type and args.out is None:
        for doc in docs.values():
            print(msgspec.json.format(msgspec.json.encode(doc), indent=2).decode())
        return 0
    if args.json and args.out is None:
        print(msgspec.json.format(msgspec.json.encode(docs), indent=2).decode())
        return 0
    rows = [{"file": k, "version": v.get("x-ledger-version", ""),
             "type": v.get("x-ledger-type", _UNTYPED.get(k, ""))}
            for k, v in docs.items()]
    title = (f"written to {args.out}/" if args.out is not None else
             "`schema TYPE` prints one, `schema --json` all, `schema --out DIR` writes the files")
    emit(rows, args.json, title=title)
    return 0
