"""ServiceNow incident audit log (CSV, one row per update of an incident; UCI 498 layout).

Only `sys_updated_at` is an event time: `resolved_at`, `closed_at` and `closed_code` are
end-of-life values copied onto every row (CHARACTERISATION.md), so they are never read.
The open is at `opened_at`. Rows are taken in file order; `sys_mod_count` only names them
(with an `r<k>` suffix after the k-th time the counter restarts within an incident).
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any

from domain import events as ev

from ..importer import READ_ERRORS, ImportInputError, Item, looks_like, open_text, unreadable
from .common import Desk, DeskSummary, TicketTrack, safe_id

STATES = {
    "New": "new",
    "Active": "active",
    "Awaiting User Info": "wait:user",
    "Awaiting Evidence": "wait:customer",
    "Awaiting Vendor": "wait:vendor",
    "Awaiting Problem": "wait:other",
    "Resolved": "resolved",
    "Closed": "closed",
    "Canceled": "cancelled",
    "Cancelled": "cancelled",
}
MISSING = "?"
NEED = ("number", "incident_state", "sys_mod_count", "opened_at", "sys_updated_at", "priority")


def severity_of(priority: str) -> str:
    """'3 - Moderate' -> 'moderate' (the contract lists the severities it knows)."""
    return priority.split(" - ", 1)[-1].strip().lower() if priority and priority != MISSING else ""


class TimeParser:
    """ServiceNow's `D/M/YYYY HH:MM` (day first, no padding, no zone) in the desk's zone, as UTC.

    UTC because the ledger stores UTC: a fact that already carries UTC times is fingerprinted
    and normalised without a copy. Cached: an export repeats its minutes many times.
    """

    def __init__(self, tz: tzinfo) -> None:
        self.tz, self.cache = tz, {}

    def __call__(self, text: str) -> datetime | None:
        t = self.cache.get(text)
        if t is None:
            try:
                date_part, time_part = text.split(" ")
                d, m, y = date_part.split("/")
                hh, mm = time_part.split(":")
                t = datetime(int(y), int(m), int(d), int(hh), int(mm), tzinfo=self.tz).astimezone(UTC)
            except ValueError:
                return None
            if len(self.cache) < 500_000:
                self.cache[text] = t
        return t


EXPECTED = f"a ServiceNow incident audit log (CSV with the columns {', '.join(NEED)})"


def read_servicenow(path: str, desk: Desk, tz: tzinfo, summary: DeskSummary,
                    limit: int | None = None) -> Iterator[Item]:
    """The export's rows as facts or problems; a file that is not such an export (or cannot be
    read) is an ImportInputError naming the file and, where known, the line."""
    reader = csv.reader(open_text(path))
    try:
        yield from _read_rows(path, reader, desk, tz, summary, limit)
    except csv.Error as e:
        raise ImportInputError(f"{path}: line {reader.line_num}: not readable as CSV ({e}); give {EXPECTED}") from None
    except READ_ERRORS as e:
        raise unreadable(path, e, EXPECTED) from None


def _read_rows(path: str, reader: Any, desk: Desk, tz: tzinfo, summary: DeskSummary,
               limit: int | None) -> Iterator[Item]:
    header = next(reader, None)
    if header is None:
        raise ImportInputError(f"{path} is empty; give {EXPECTED}")
    col = {name: i for i, name in enumerate(header)}
    missing = [c for c in NEED if c not in col]
    if missing:
        hint = looks_like(path) if len(missing) == len(NEED) else ""
        raise ImportInputError(f"{path}: line 1: not a ServiceNow incident audit log: "
                               f"{hint or 'its header lacks ' + ', '.join(missing)}; give {EXPECTED}")
    yield from desk.setup()  # once the file is known to be an export: a refused file records nothing
    width = len(header)
    c_num, c_state, c_count = col["number"], col["incident_state"], col["sys_mod_count"]
    c_opened, c_updated, c_prio = col["opened_at"], col["sys_updated_at"], col["priority"]
    c_created = col.get("sys_created_at")
    c_by = col.get("sys_updated_by")
    c_rc = col.get("reassignment_count")
    c_group, c_person = col.get("assignment_group"), col.get("assigned_to")
    c_ci, c_cat, c_sub, c_sym = col.get("cmdb_ci"), col.get("category"), col.get("subcategory"), col.get("u_symptom")
    c_caller, c_opened_by = col.get("caller_id"), col.get("opened_by")
    parse = TimeParser(tz)
    times = parse.cache
    severities = set(desk.terms.severities)
    severity_cache: dict[str, str] = {}
    pfx, channel = desk.prefix, desk.channel
    tracks: dict[str, TicketTrack] = {}
    counters: dict[str, tuple[int, int]] = {}  # number -> (last sys_mod_count, restarts)
    reassign: dict[str, int] = {}
    seen = 0

    def get(row: list[str], c: int | None) -> str:
        v = row[c] if c is not None else MISSING  # rows are as wide as the header (checked)
        return "" if v == MISSING else v

    for n, row in enumerate(reader, start=2):
        if len(row) != width:
            summary.rows += 1
            yield f"line {n}", f"missing ticket id: row has {len(row)} fields, the header {width}"
            continue
        number = row[c_num]
        if number not in counters:
            if not number or number == MISSING:
                summary.rows += 1
                yield f"line {n}", "missing ticket id: number is '?'"
                continue
            seen += 1
            if limit is not None and seen > limit:
                break
            counters[number] = (-1, 0)
        summary.rows += 1
        # the row's name: its counter, and how often the counter has restarted before it
        try:
            count = int(row[c_count])
        except ValueError:
            count = -1
        last, restarts = counters[number]
        if count <= last:
            restarts += 1
        counters[number] = (count, restarts)

        kind = STATES.get(row[c_state])
        if kind is None:
            yield f"line {n}", f"unknown status {row[c_state]!r}"
            continue
        priority = row[c_prio]
        severity = severity_cache.get(priority)
        if severity is None:
            severity = severity_cache[priority] = severity_of(priority)
        if severity not in severities:
            yield f"line {n}", f"unknown severity: priority {priority!r} (the contract's: {sorted(severities)})"
            continue
        # most times were seen before: the cache is read here, the parser called on a miss
        opened_at = times.get(row[c_opened]) or parse(row[c_opened])
        t = times.get(row[c_updated]) or parse(row[c_updated])
        if opened_at is None or t is None:
            yield (f"line {n}", f"missing or unreadable time: opened_at {row[c_opened]!r}, "
                   f"sys_updated_at {row[c_updated]!r}")
            continue
        track = tracks.get(number)
        fresh = track is None
        if track is None:
            track = TicketTrack(safe_id(number), opened_at, severity, zone=tz)
        problem = track.check_time(t)
        if problem:
            yield f"line {n}", problem
            continue
        ticket_id = track.ticket
        rc = get(row, c_rc)
        rc_n = int(rc) if rc.isdigit() else None
        if fresh:
            actor = get(row, c_by) or "servicenow"
            tracks[number] = track
            reassign[number] = rc_n if rc_n is not None else 0
            asset_id, asset_fact = desk.asset_for(get(row, c_ci) or None)
            if asset_fact is not None:
                yield f"line {n}", asset_fact
            created = parse(get(row, c_created)) if get(row, c_created) else None
            summary.tickets += 1
            yield f"line {n}", ev.TicketOpened(
                command_id=f"{pfx}-{number}-open", id=ticket_id, occurred_at=opened_at,
                source_recorded_at=created or t, actor=get(row, c_opened_by) or actor,
                channel=channel, asset_id=asset_id, severity=severity,
                fault_category=get(row, c_cat) or "unknown", reporter_ref=get(row, c_caller),
                description=" / ".join(x for x in (get(row, c_sub), get(row, c_sym)) if x),
            )
        was_ended = track.status in ("closed", "cancelled")
        # a copy to restore only when the order check below could refuse the row
        before = dataclasses.replace(track) if not fresh and track.may_refuse_order(t) else None
        before_rc = reassign[number]
        state_facts = track.step(kind, t)
        if isinstance(state_facts, str):
            yield f"line {n}", state_facts
            continue
        live = not was_ended or any(cls is ev.TicketReopened for cls, _ in state_facts)
        facts: list[tuple[type[ev.Fact], dict]] = []
        if live and severity != track.severity:
            facts.append((ev.SeverityChanged, {"severity": severity, "reason": f"priority {priority}"}))
            track.severity = severity
        if rc_n is not None and rc_n > before_rc:
            reassign[number] = rc_n
            if live:
                assignee = " / ".join(x for x in (get(row, c_group), get(row, c_person)) if x) or "unknown"
                facts.append((ev.TicketReassigned, {"assignee": assignee}))
        if live and state_facts and state_facts[0][0] is ev.TicketReopened:
            facts.insert(0, state_facts.pop(0))  # a reopen comes before what happens on the reopened ticket
        facts += state_facts
        if not facts:
            if not fresh:
                summary.no_fact += 1
            continue
        if before is not None:
            problem = track.check_order(t)
            if problem:
                tracks[number], reassign[number] = before, before_rc
                yield f"line {n}", problem
                continue
        track.last_at = t
        where = f"line {n}"
        actor = get(row, c_by) or "servicenow"
        key = f"{pfx}-{number}-{count}" + (f"r{restarts}" if restarts else "")
        for cls, extra in facts:
            yield where, cls(
                command_id=f"{key}-{cls.__name__}", id=ticket_id, occurred_at=t, source_recorded_at=t,
                actor=actor, channel=channel, **extra,
            )
