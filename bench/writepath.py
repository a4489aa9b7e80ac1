"""Write path: commands recorded per second through the Ledger, beside the eventsourcing
library's own append rate for the same events in the same run (issue 7, target 1).

The events: for each synthetic ticket its first two facts (TicketOpened, TicketAcknowledged),
so each ticket is one aggregate with two events, as in the library's own measure.

Each pair of figures (the Ledger and the library, single or batched) is measured side by side,
their chunks in turn (bench.interleave), in `rounds` rounds; the round of the median ratio is kept.

- single:  one command per save (`Ledger.execute_many([fact])`; the acknowledgement loads the
           ticket back from the store), beside the library doing the same: create + save, then
           get + one `@event` method + save.
- batched: 100 tickets (200 commands) per `execute_many`, i.e. 100 aggregates per save,
           beside the library saving 100 aggregates of two events each per `save`.
- mix:     the demo's time-ordered synthetic facts, 1,000 commands per batch (information).

Targets: batched >= 0.5 x library at 100/save; single >= 0.5 x library at one per save.
On SQLite always; on PostgreSQL too when reachable (TICKETLEDGER_POSTGRES, else
127.0.0.1:5432 database `test`), each in a fresh schema dropped afterwards.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from adapters.ledger import Ledger
from adapters.store import StoreConfig
from adapters.synthetic import Synth
from domain import events as ev

from .interleave import median_round, side_by_side

DEFAULT_PG = "host=127.0.0.1 port=5432 dbname=test user=postgres"


class Note(Aggregate):
    """The library's plain aggregate: created with a payload, one `@event` method."""

    def __init__(self, payload: dict) -> None:
        self.payload = payload

    @event("Recorded")
    def record(self, payload: dict) -> None:
        self.payload = payload


def workload(tickets: int, seed: int = 5) -> tuple[list[ev.Fact], list[tuple[ev.Fact, ev.Fact]], list[ev.Fact]]:
    """(setup facts: contracts + asset registrations, ticket pairs (opened, ack), the full mix)."""
    synth = Synth(seed=seed, tickets=tickets)
    facts = list(synth.facts())
    setup = [f for f in facts if isinstance(f, ev.ContractRegistered | ev.AssetRegistered)]
    firsts: dict[str, list[ev.Fact]] = {}
    for f in facts:
        if isinstance(f, ev.TicketOpened | ev.TicketAcknowledged) and f.id.startswith("T-"):
            firsts.setdefault(f.id, []).append(f)
    pairs = [(a, b) for a, b in firsts.values()]
    # asset life first (registrations already in setup), so the mix is only what a desk sends
    mix = [f for f in facts if not isinstance(f, ev.ContractRegistered | ev.AssetRegistered)]
    return setup, pairs, mix


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else 0.0


# --- the Ledger ------------------------------------------------------------------------------


def _ledger(config: StoreConfig, setup: list[ev.Fact]) -> Ledger:
    ledger = Ledger.open(config)
    for i in range(0, len(setup), 1000):
        bad = [o for o in ledger.execute_many(setup[i : i + 1000]) if o.status == "refused"]
        if bad:
            raise RuntimeError(f"setup refused: {bad[0].error}")
    return ledger


# pairs (or saves) per chunk when run side by side (bench.interleave): a few tens of ms each
SINGLE_CHUNK = 25
BATCHED_CHUNK = 1


def ledger_single(config: StoreConfig, setup: list[ev.Fact], pairs: list[tuple[ev.Fact, ev.Fact]]) -> Iterator[float]:
    """One command per save, a chunk of SINGLE_CHUNK tickets at a time (seconds per chunk)."""
    ledger = _ledger(config, setup)
    try:
        for i in range(0, len(pairs), SINGLE_CHUNK):
            t = time.perf_counter()
            for opened, ack in pairs[i : i + SINGLE_CHUNK]:
                for f in (opened, ack):
                    (o,) = ledger.execute_many([f])
                    assert o.status == "recorded", o
            yield time.perf_counter() - t
    finally:
        ledger.close()


def ledger_batched(config: StoreConfig, setup: list[ev.Fact], pairs: list[tuple[ev.Fact, ev.Fact]],
                   per_save: int = 100) -> Iterator[float]:
    """`per_save` tickets (two commands each) per save, BATCHED_CHUNK saves at a time."""
    ledger = _ledger(config, setup)
    try:
        step = per_save * BATCHED_CHUNK
        for i in range(0, len(pairs), step):
            t = time.perf_counter()
            for j in range(i, min(i + step, len(pairs)), per_save):
                chunk = [f for pair in pairs[j : j + per_save] for f in pair]
                outcomes = ledger.execute_many(chunk)
                assert all(o.status == "recorded" for o in outcomes), [o for o in outcomes if o.status != "recorded"][:1]
            yield time.perf_counter() - t
    finally:
        ledger.close()


def ledger_mix(config: StoreConfig, setup: list[ev.Fact], mix: list[ev.Fact], batch: int = 1000) -> dict[str, Any]:
    ledger = _ledger(config, setup)
    t = time.perf_counter()
    refused = 0
    for i in range(0, len(mix), batch):
        refused += sum(o.status == "refused" for o in ledger.execute_many(mix[i : i + batch]))
    seconds = time.perf_counter() - t
    ledger.close()
    return {"events": len(mix), "refused": refused, "seconds": round(seconds, 3),
            "events_per_second": _rate(len(mix), seconds)}


# --- the library's own rate, same events ------------------------------------------------------


def _library_app(env: dict[str, str]) -> Application:
    return Application(env=env)


def library_single(env: dict[str, str], pairs: list[tuple[dict, dict]]) -> Iterator[float]:
    app = _library_app(env)
    try:
        for i in range(0, len(pairs), SINGLE_CHUNK):
            t = time.perf_counter()
            for a, b in pairs[i : i + SINGLE_CHUNK]:
                note = Note(a)
                app.save(note)
                note = app.repository.get(note.id)
                note.record(b)
                app.save(note)
            yield time.perf_counter() - t
    finally:
        app.close()


def library_batched(env: dict[str, str], pairs: list[tuple[dict, dict]], per_save: int = 100) -> Iterator[float]:
    app = _library_app(env)
    try:
        step = per_save * BATCHED_CHUNK
        for i in range(0, len(pairs), step):
            t = time.perf_counter()
            for j in range(i, min(i + step, len(pairs)), per_save):
                notes = []
                for a, b in pairs[j : j + per_save]:
                    note = Note(a)
                    note.record(b)
                    notes.append(note)
                app.save(*notes)
            yield time.perf_counter() - t
    finally:
        app.close()


def measured(events: int, seconds: float) -> dict[str, Any]:
    return {"events": events, "seconds": round(seconds, 3), "events_per_second": _rate(events, seconds)}


def ledger_and_library(ledger: Iterator[float], library: Iterator[float], events: int, kind: str) -> dict[str, Any]:
    """The Ledger and the library recording the same events, side by side (bench.interleave)."""
    spent = side_by_side({"ledger": ledger, "library": library})
    return {f"ledger_{kind}": measured(events, spent["ledger"]), f"library_{kind}": measured(events, spent["library"])}


# --- backends -------------------------------------------------------------------------------


def postgres_dsn() -> str | None:
    """The PostgreSQL to measure on, if one answers."""
    dsn = os.environ.get("TICKETLEDGER_POSTGRES") or DEFAULT_PG
    try:
        import psycopg

        with psycopg.connect(dsn, connect_timeout=2) as con:
            con.execute("SELECT 1")
        return dsn
    except Exception:
        return None


def _pg_schema(dsn: str, action: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        if action == "create":
            con.execute(f'CREATE SCHEMA "{schema}"')
        else:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _library_pg_env(dsn: str, schema: str) -> dict[str, str]:
    parts = dict(p.split("=", 1) for p in dsn.split())
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.get("dbname", "postgres"), "POSTGRES_HOST": parts.get("host", "127.0.0.1"),
        "POSTGRES_PORT": parts.get("port", "5432"), "POSTGRES_USER": parts.get("user", "postgres"),
        "POSTGRES_PASSWORD": parts.get("password", ""), "POSTGRES_SCHEMA": schema, "CREATE_TABLE": "y",
    }


def run(*, quick: bool = False, tickets_single: int | None = None, tickets_batched: int | None = None,
        rounds: int | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure every write-path figure on SQLite (and PostgreSQL when reachable)."""
    ns = tickets_single or (300 if quick else 1500)
    nb = tickets_batched or (1000 if quick else 5000)
    rounds = rounds or (2 if quick else 3)
    setup_s, pairs_s, _ = workload(ns)
    setup_b, pairs_b, mix = workload(nb)
    lib_pairs_s = [(msgspec.to_builtins(a), msgspec.to_builtins(b)) for a, b in pairs_s]
    lib_pairs_b = [(msgspec.to_builtins(a), msgspec.to_builtins(b)) for a, b in pairs_b]
    results: dict[str, Any] = {}

    with tempfile.TemporaryDirectory(prefix="tl-bench-write-") as tmp:
        def cfg(name: str) -> StoreConfig:
            return StoreConfig(Path(tmp) / name)

        def lib_env(name: str) -> dict[str, str]:
            (Path(tmp) / name).mkdir()
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(Path(tmp) / name / "lib.sqlite"),
                    "CREATE_TABLE": "y"}

        log("write path on SQLite ...")
        # the disk is shared and fsync-bound: ledger and library side by side, in each of `rounds`
        # rounds; the round of the median ratio is kept (its own two rates)
        sq = _rounds(rounds, lambda r: {
            **ledger_and_library(ledger_single(cfg(f"ls{r}"), setup_s, pairs_s),
                                 library_single(lib_env(f"lib1-{r}"), lib_pairs_s), 2 * len(pairs_s), "single"),
            **ledger_and_library(ledger_batched(cfg(f"lb{r}"), setup_b, pairs_b),
                                 library_batched(lib_env(f"lib100-{r}"), lib_pairs_b), 2 * len(pairs_b), "batched"),
        })
        sq["ledger_mix"] = ledger_mix(cfg("lm"), setup_b, mix)
        results["sqlite"] = sq

    dsn = postgres_dsn()
    if dsn is None:
        log("write path on PostgreSQL: skipped (no server answered; set TICKETLEDGER_POSTGRES)")
        results["postgres"] = None
    else:
        log("write path on PostgreSQL ...")
        tag = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        schemas = [f"{tag}_{k}" for k in ("ls", "lb", "lib1", "lib100")]
        for s in schemas:
            _pg_schema(dsn, "create", s)
        try:
            with tempfile.TemporaryDirectory(prefix="tl-bench-pg-") as tmp:
                results["postgres"] = _rounds(1, lambda r: {
                    **ledger_and_library(ledger_single(StoreConfig(Path(tmp), dsn, schemas[0]), setup_s, pairs_s),
                                         library_single(_library_pg_env(dsn, schemas[2]), lib_pairs_s),
                                         2 * len(pairs_s), "single"),
                    **ledger_and_library(ledger_batched(StoreConfig(Path(tmp), dsn, schemas[1]), setup_b, pairs_b),
                                         library_batched(_library_pg_env(dsn, schemas[3]), lib_pairs_b),
                                         2 * len(pairs_b), "batched"),
                })
        finally:
            for s in schemas:
                _pg_schema(dsn, "drop", s)
    return results


def _rounds(rounds: int, one: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
    """`rounds` measurements, each with its ratios; for each of single and batched, the round of the
    median ratio is kept, with the rates it was computed from (and every round's ratio)."""
    runs = [_with_ratios(one(r)) for r in range(rounds)]
    out: dict[str, Any] = {"rounds": rounds}
    for kind in ("single", "batched"):
        median = median_round(runs, lambda m, kind=kind: m[f"ratio_{kind}"])
        out.update({f"ledger_{kind}": median[f"ledger_{kind}"], f"library_{kind}": median[f"library_{kind}"],
                    f"ratios_{kind}": [m[f"ratio_{kind}"] for m in runs]})
    return _with_ratios(out)


def _with_ratios(r: dict[str, Any]) -> dict[str, Any]:
    r["ratio_single"] = round(r["ledger_single"]["events_per_second"] / r["library_single"]["events_per_second"], 3)
    r["ratio_batched"] = round(r["ledger_batched"]["events_per_second"] / r["library_batched"]["events_per_second"], 3)
    r["target_single"] = r["target_batched"] = 0.5
    r["single_ok"] = r["ratio_single"] >= 0.5
    r["batched_ok"] = r["ratio_batched"] >= 0.5
    return r


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=1))
