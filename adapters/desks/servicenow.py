"""ServiceNow incident audit log (CSV, one row per update of an incident; UCI 498 layout).

Only `sys_updated_at` is an event time: `resolved_at`, `closed_at` and `closed_code` are
end-of-life values copied onto every row (CHARACTERISATION.md), so they are never read.
The open is at `opened_at`. Rows are taken in file order; `sys_mod_count` only names them
(with an `r<k>` suffix after the k-th time the counter restarts within an incident).

What the desk's states, hold reasons and priorities mean is a mapping file
(`contracts/servicenow-mapping.toml`, the UCI log's names, is the default); how its times are
written is decided from the whole file first (`scan`, adapters/desks/dates.py).
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from domain import events as ev
from domain.errors import N_, Phrase

from ..importer import (
    READ_ERRORS,
    ImportInputError,
    Item,
    Problem,
    looks_like,
    open_measured,
    open_text,
    unreadable,
)
from .common import (
    CONTRACTS_DIR,
    WAIT_REASONS,
    Desk,
    DeskSummary,
    TicketTrack,
    check_status_kinds,
    known,
    read_mapping,
    safe_id,
)
from .dates import DateFormat, DateOrder, date_format

MISSING = "?"
# Columns, named as in the UCI log; a mapping's [columns] gives an export's own names for them.
NEED = ("number", "incident_state", "sys_mod_count", "opened_at", "sys_updated_at", "priority")
OPTIONAL = ("sys_created_at", "sys_updated_by", "reassignment_count", "assignment_group", "assigned_to",
            "cmdb_ci", "category", "subcategory", "u_symptom", "caller_id", "opened_by", "hold_reason")
# Optional columns whose absence loses facts (TicketReassigned): refused unless the mapping's
# optional_columns lists them, then the summary says what is not imported.
FACT_COLUMNS = {"reassignment_count": N_("reassignments (TicketReassigned) are not imported: the file has no "
                                         "column {column}")}
TIMES = ("opened_at", "sys_updated_at", "sys_created_at")  # the columns whose format is detected
DEFAULT_MAPPING = CONTRACTS_DIR / "servicenow-mapping.toml"
EXAMPLE = "contracts/servicenow-mapping.toml"


def severity_of(priority: str) -> str:
    """'3 - Moderate' -> 'moderate' (the contract lists the severities it knows)."""
    return priority.split(" - ", 1)[-1].strip().lower() if priority and priority != MISSING else ""


@dataclass
class ServiceNowMapping:
    """What an export's states, hold reasons and priorities mean, and what its columns are called."""

    name: str  # the file, as refusals name it
    prefix: str = "sn"
    channel: str = "servicenow"
    contract_file: str = "desk-servicenow.toml"
    date_format: str | None = None  # as --date-format; None: detected from the file
    columns: dict[str, str] = field(default_factory=dict)  # UCI column name -> the export's
    states: dict[str, str] = field(default_factory=dict)  # state -> kind ('wait': reason from the hold reason)
    hold_reasons: dict[str, str] = field(default_factory=dict)  # hold reason -> wait reason
    priorities: dict[str, str] = field(default_factory=dict)  # priority -> severity (else the label, lower-cased)
    optional_columns: list[str] = field(default_factory=list)  # FACT_COLUMNS the export may lack

    @classmethod
    def load(cls, path: str | None) -> ServiceNowMapping:
        name = path or f"{EXAMPLE} (the default)"
        raw = read_mapping(str(path or DEFAULT_MAPPING), EXAMPLE)
        try:
            m = cls(name=name, prefix=raw.get("prefix", "sn"), channel=raw.get("channel", "servicenow"),
                    contract_file=raw.get("contract_file", "desk-servicenow.toml"),
                    date_format=raw.get("date_format"), columns=dict(raw.get("columns", {})),
                    states=dict(raw.get("state", {})), hold_reasons=dict(raw.get("hold_reason", {})),
                    priorities=dict(raw.get("priority", {})),
                    optional_columns=[str(c) for c in raw.get("optional_columns", [])])
            unknown = sorted(set(raw) - {"prefix", "channel", "contract_file", "date_format", "columns", "state",
                                         "hold_reason", "priority", "optional_columns"})
            if unknown:
                raise ImportInputError(N_("unknown key {unknown}"), unknown=', '.join(unknown))
            if not m.states:
                raise ImportInputError(N_("no [state] table: map each state of the export to a kind"))
            check_status_kinds(m.states, "state", wait_from_hold=True)
            for hold, reason in m.hold_reasons.items():
                if reason not in WAIT_REASONS:
                    raise ImportInputError(N_("[hold_reason] {hold} maps to {reason}; use one of "
                                      "{reasons}"),
                                      hold=repr(hold), reason=repr(reason), reasons=', '.join(sorted(WAIT_REASONS)))
            odd = [c for c in m.columns if c not in NEED + OPTIONAL]
            if odd:
                raise ImportInputError(N_("[columns] {columns}: not a column we read; name one of "
                                  "{readable} (as the UCI log calls them)"),
                                  columns=', '.join(odd), readable=', '.join(NEED + OPTIONAL))
            odd = [c for c in m.optional_columns if c not in FACT_COLUMNS]
            if odd:
                raise ImportInputError(N_("optional_columns {columns}: only {optional} may be marked optional "
                                          "(the other columns are required or optional already)"),
                                       columns=', '.join(odd), optional=', '.join(FACT_COLUMNS))
            if m.date_format is not None:
                date_format(str(m.date_format), "date_format")
        except ImportInputError as e:
            raise ImportInputError(N_("--mapping {name}: {error}; a mapping is written like {example}"),
                                   name=name, error=e, example=EXAMPLE) from None
        except (TypeError, AttributeError, ValueError) as e:  # a table where a value belongs, or the reverse
            raise ImportInputError(N_("--mapping {name}: a value of the wrong kind ({error}); a mapping is "
                              "written like {example}"), name=name, error=e, example=EXAMPLE) from None
        return m

    def column(self, role: str) -> str:
        return self.columns.get(role, role)


EXPECTED = Phrase(N_("a ServiceNow incident audit log (CSV with the columns {columns})"), columns=", ".join(NEED))


@dataclass
class Scan:
    """What the first pass over the whole file found: its columns, its time format, its rows."""

    header: list[str]
    dates: DateFormat
    rows: int  # data rows the import reads (within --limit)
    times: dict[str, datetime]  # every distinct time text of the file, parsed (in the desk's zone, as UTC)


def scan(path: str, m: ServiceNowMapping, tz: tzinfo, option: str | None, limit: int | None = None,
         on_bytes: Callable[[int], None] | None = None) -> Scan:
    """Read the whole file once before anything is recorded: the header, every time (to settle
    the date format: `option`, else the mapping's, else detected) and the rows to import.
    ImportInputError when the file cannot be imported at all."""
    try:
        with open_measured(path) as (stream, position):
            reader = csv.reader(io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""))  # a BOM is dropped
            try:
                return _scan(path, reader, m, tz, option, limit, on_bytes, position)
            except csv.Error as e:
                raise ImportInputError(N_("{path}: line {line}: not readable as CSV ({error}); nothing "
                                  "recorded; give {expected}"),
                                  path=path, line=reader.line_num, error=e, expected=EXPECTED) from None
    except READ_ERRORS as e:
        raise unreadable(path, e, EXPECTED) from None


def _scan(path: str, reader: Any, m: ServiceNowMapping, tz: tzinfo, option: str | None, limit: int | None,
          on_bytes: Callable[[int], None] | None, position: Callable[[], int]) -> Scan:
    header = next(reader, None)
    if header is None:
        raise ImportInputError(N_("{path} is empty; give {expected}"), path=path, expected=EXPECTED)
    col = {name: i for i, name in enumerate(header)}
    missing = [m.column(c) for c in NEED if m.column(c) not in col]
    if missing:
        hint = looks_like(path) if len(missing) == len(NEED) else ""
        lacks = ", ".join(missing)
        lacking = (Phrase(N_("its header lacks {columns} (named by --mapping {mapping})"), columns=lacks,
                          mapping=m.name) if m.columns else Phrase(N_("its header lacks {columns}"), columns=lacks))
        raise ImportInputError(N_("{path}: line 1: not a ServiceNow incident audit log: {what}; give "
                          "{expected}, or name its columns in a mapping's [columns] "
                          "(docs/desks.md)"),
                          path=path, what=hint or lacking,
                          expected=EXPECTED)
    hold = m.column("hold_reason")
    if "wait" in m.states.values() and hold not in col:
        waits = [s for s, k in m.states.items() if k == "wait"]
        raise ImportInputError(N_("{path}: line 1: --mapping {name} takes the wait reason of {known} "
                          "from the column {hold}, which the file lacks; name it in [columns] "
                          "hold_reason, or map those states to wait:<reason>"),
                          path=path, name=m.name, known=known(waits), hold=repr(hold))
    for role in FACT_COLUMNS:
        if m.column(role) not in col and role not in m.optional_columns:
            raise ImportInputError(N_("{path}: line 1: its header lacks {column}, the column of {role} "
                                      "(--mapping {name}); without it every {what} would be lost; nothing "
                                      "recorded. Name the file's column in [columns] {role}, or list "
                                      "{role} in the mapping's optional_columns to import without them"),
                                   path=path, column=repr(m.column(role)), role=role, name=m.name,
                                   what="TicketReassigned")
    width, c_num = len(header), col[m.column("number")]
    time_cols = [(m.column(c), col[m.column(c)]) for c in TIMES if m.column(c) in col]
    order = DateOrder()
    see, seen = order.see, order.seen
    incidents: set[str] = set()
    rows = 0
    counting = True  # rows within --limit
    short = None  # the line of the last row, when it is shorter than the header
    for n, row in enumerate(reader, start=2):
        if len(row) != width:
            rows += counting
            short = (n, len(row)) if len(row) < width else None
            continue
        short = None
        if counting:
            number = row[c_num]
            if number not in incidents and number and number != MISSING:
                if limit is not None and len(incidents) == limit:
                    counting = False
                else:
                    incidents.add(number)
            rows += counting
        for name, c in time_cols:
            text = row[c]
            if text not in seen and text != MISSING and text:  # most times repeat: seen is checked here
                see(text, n, name)
        if on_bytes and n % 8192 == 0:
            on_bytes(position())
    if on_bytes:
        on_bytes(position())
    if short is not None:  # the export stops inside its last row: a file cut short, as an XES without </log>
        raise ImportInputError(N_("{path}: line {line}: the file ends inside a row ({fields} of the header's "
                                  "{width} fields): cut short in a copy or a download?; nothing recorded; "
                                  "give the whole export"), path=path, line=short[0], fields=short[1], width=width)
    if rows == 0:
        raise ImportInputError(N_("{path}: line 1 is a header and no row follows; nothing recorded; give "
                          "{expected}"), path=path, expected=EXPECTED)
    chosen, source = (option, "--date-format") if option is not None else (m.date_format, f"--mapping {m.name}: date_format")
    fmt = date_format(chosen, source) if chosen is not None else None
    if fmt is None:
        fmt = order.decide(path)  # refuses a file no format reads without guessing
    times = {}
    for text in seen:
        t = fmt.parse(text, tz)
        if t is not None:
            times[text] = t
    if seen and not times:  # only a format given can read none of them (detection refused that already)
        line, column, text = next(iter(order.first.values()))
        raise ImportInputError(N_("{path}: no time in it reads as {source} {shown} (line {line}: "
                          "{column} {text}); nothing recorded. Give the format the file is "
                          "written in (docs/desks.md)"),
                          path=path, source=source, shown=fmt.shown, line=line, column=column, text=repr(text))
    unread = [text for text in seen if text not in times]
    if unread and chosen is not None:  # a format given that reads only some times would misread the rest
        line, column, text = next((v for v in order.first.values() if v[2] not in times), (None, None, unread[0]))
        raise ImportInputError(N_("{path}: {source} {shown} cannot read {text}{where} nor {more} more of the "
                                  "file's times, so it would misread the others; nothing recorded. Give the "
                                  "format the file is written in, or leave --date-format out to detect it "
                                  "(docs/desks.md)"),
                               path=path, source=source, shown=fmt.shown, text=repr(text),
                               where=Phrase(N_(" (line {line}, {column})"), line=line, column=column) if line else "",
                               more=len(unread) - 1)
    return Scan(header, fmt, rows, times)


class TimeParser:
    """Times of the file's one format in the desk's zone, as UTC.

    UTC because the ledger stores UTC: a fact that already carries UTC times is fingerprinted
    and normalised without a copy. The scan has parsed every time of the file already.
    """

    def __init__(self, fmt: DateFormat, tz: tzinfo, times: dict[str, datetime]) -> None:
        self.fmt, self.tz, self.cache = fmt, tz, times

    def __call__(self, text: str) -> datetime | None:
        t = self.cache.get(text)
        return t if t is not None else self.fmt.parse(text, self.tz)


def read_servicenow(path: str, m: ServiceNowMapping, found: Scan, desk: Desk, tz: tzinfo, summary: DeskSummary,
                    limit: int | None = None) -> Iterator[Item]:
    """The export's rows as facts or problems (the file was scanned whole first); a file that
    cannot be read on is an ImportInputError naming the file and, where known, the line."""
    reader = csv.reader(open_text(path))
    try:
        yield from _read_rows(path, reader, m, found, desk, tz, summary, limit)
    except csv.Error as e:
        raise ImportInputError(N_("{path}: line {line}: not readable as CSV ({error}); give {expected}"),
                               path=path, line=reader.line_num, error=e, expected=EXPECTED) from None
    except READ_ERRORS as e:
        raise unreadable(path, e, EXPECTED) from None


def _read_rows(path: str, reader: Any, m: ServiceNowMapping, found: Scan, desk: Desk, tz: tzinfo,
               summary: DeskSummary, limit: int | None) -> Iterator[Item]:
    header = next(reader, None)
    if header != found.header:
        raise ImportInputError(N_("{path}: line 1 changed while it was imported; import a file nobody "
                          "writes to"), path=path)
    col = {name: i for i, name in enumerate(header)}
    width = len(header)

    def at(role: str) -> int | None:
        return col.get(m.column(role))

    c_num, c_state, c_count = at("number"), at("incident_state"), at("sys_mod_count")
    c_opened, c_updated, c_prio = at("opened_at"), at("sys_updated_at"), at("priority")
    assert c_num is not None and c_state is not None and c_count is not None  # checked by the scan
    assert c_opened is not None and c_updated is not None and c_prio is not None
    c_created, c_by, c_rc, c_hold = at("sys_created_at"), at("sys_updated_by"), at("reassignment_count"), at("hold_reason")
    for role, note in FACT_COLUMNS.items():
        if at(role) is None:  # the mapping marks it optional (else the scan refused the header)
            summary.notes.append(Phrase(note, column=repr(m.column(role))))
    c_group, c_person = at("assignment_group"), at("assigned_to")
    c_ci, c_cat, c_sub, c_sym = at("cmdb_ci"), at("category"), at("subcategory"), at("u_symptom")
    c_caller, c_opened_by = at("caller_id"), at("opened_by")
    state_col, hold_col, prio_col = m.column("incident_state"), m.column("hold_reason"), m.column("priority")
    parse = TimeParser(found.dates, tz, found.times)
    times = parse.cache
    expected_time = found.dates.shown
    states, holds = m.states, m.hold_reasons
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
            yield f"line {n}", Problem(N_("wrong number of fields: row has {fields} fields, the header {width}"),
                                       "wrong number of fields", fields=len(row), width=width)
            continue
        number = row[c_num]
        if number not in counters:
            if not number or number == MISSING:
                summary.rows += 1
                yield f"line {n}", (Problem(N_("missing ticket id: the number field is empty"), "missing ticket id")
                                    if not number else
                                    Problem(N_("missing ticket id: number is '?'"), "missing ticket id"))
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

        state = row[c_state]
        kind = states.get(state)
        if kind is None:
            yield f"line {n}", Problem(N_("unknown status {state!r} ({column}): --mapping {mapping} knows "
                                          "{known}; map it in the mapping's [state] table (docs/desks.md)"),
                                       "unknown status", state=state, column=state_col, mapping=m.name,
                                       known=known(states))
            continue
        if kind == "wait":
            hold = get(row, c_hold)
            reason = holds.get(hold)
            if reason is None:
                yield f"line {n}", Problem(N_("unmapped hold reason {hold!r} ({column}, state {state!r}): "
                                              "--mapping {mapping} knows {known}; map it in the mapping's "
                                              "[hold_reason] table"), "unmapped hold reason", hold=hold,
                                           column=hold_col, state=state, mapping=m.name, known=known(holds))
                continue
            kind = "wait:" + reason
        priority = row[c_prio]
        severity = severity_cache.get(priority)
        if severity is None:
            severity = severity_cache[priority] = m.priorities.get(priority) or severity_of(priority)
        if severity not in severities:
            yield f"line {n}", Problem(N_("unknown severity: {column} {priority!r} is {severity!r}, not one of "
                                          "the contract's severities {severities}; map it in the mapping's "
                                          "[priority] table"), "unknown severity", column=prio_col,
                                       priority=priority, severity=severity, severities=sorted(severities))
            continue
        # the scan parsed every time of the file: the cache is read here, the parser called on a miss
        opened_at = times.get(row[c_opened]) or parse(row[c_opened])
        t = times.get(row[c_updated]) or parse(row[c_updated])
        if opened_at is None or t is None:
            yield f"line {n}", Problem(N_("missing or unreadable time: {opened_column} {opened!r}, "
                                          "{updated_column} {updated!r}; the file's times are {expected}"),
                                       "missing or unreadable time", opened_column=m.column('opened_at'),
                                       opened=row[c_opened], updated_column=m.column('sys_updated_at'),
                                       updated=row[c_updated], expected=expected_time)
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
        if isinstance(state_facts, Problem):
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

