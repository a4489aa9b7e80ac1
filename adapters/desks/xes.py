"""XES event logs (IEEE 1849), streamed one trace at a time.

A mapping file (TOML, e.g. contracts/volvo-mapping.toml) says which attribute is the
ticket id, the status, the severity, the timestamp, the assignee, and which status values
mean which fact. No process-mining framework is needed.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from lxml import etree

from domain import events as ev
from domain.errors import N_, Phrase

from ..importer import (
    FILE_BINARY,
    FILE_EMPTY,
    READ_ERRORS,
    ImportInputError,
    Item,
    Problem,
    looks_like,
    open_binary,
    open_measured,
    unreadable,
)
from .common import Desk, DeskSummary, TicketTrack, check_status_kinds, known, read_mapping, safe_id


@dataclass
class Mapping:
    prefix: str
    channel: str
    contract_file: str
    ticket: str  # trace attribute naming the ticket
    status: list[str]  # event attributes whose values, joined with "/", are the status
    timestamp: str
    severity: str = ""  # event attribute; empty: the contract's first severity
    assignee: str = ""  # event attribute; a change is a reassignment
    actor: str = ""  # event attribute naming who recorded it
    ci: str = ""  # event attribute naming a configuration item; empty: one placeholder per desk
    category: str = ""  # event attribute used as the fault category
    severities: dict[str, str] = field(default_factory=dict)  # desk value -> contract severity
    statuses: dict[str, str] = field(default_factory=dict)  # desk status -> kind

    @classmethod
    def load(cls, path: str) -> Mapping:
        where, example = f"--mapping {path}", "contracts/volvo-mapping.toml"
        raw = read_mapping(path, example)
        try:
            return cls._of(raw)
        except ImportInputError as e:
            raise ImportInputError(N_("{where}: {error}; a mapping is written like {example}"),
                                   where=where, error=e, example=example) from None
        except (TypeError, AttributeError, ValueError) as e:  # a table where a value belongs, or the reverse
            raise ImportInputError(N_("{where}: a value of the wrong kind ({error}); a mapping is written "
                              "like {example}"), where=where, error=e, example=example) from None

    @classmethod
    def _of(cls, raw: dict[str, Any]) -> Mapping:
        a = raw.get("attributes", {})
        try:
            m = cls(
                prefix=raw["prefix"], channel=raw.get("channel", "xes"), contract_file=raw["contract_file"],
                ticket=a["ticket"], status=list(a["status"]) if isinstance(a["status"], list) else [a["status"]],
                timestamp=a.get("timestamp", "time:timestamp"), severity=a.get("severity", ""),
                assignee=a.get("assignee", ""), actor=a.get("actor", ""), ci=a.get("ci", ""),
                category=a.get("category", ""), severities=dict(raw.get("severity", {})),
                statuses=dict(raw.get("status", {})),
            )
        except KeyError as e:
            raise ImportInputError(N_("missing {error} (prefix and contract_file at the top, ticket and "
                              "status under [attributes])"), error=e) from None
        check_status_kinds(m.statuses, "status")
        return m


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


Trace = tuple[dict[str, str], list[dict[str, str]]]


def iter_traces(path: str, layout: tuple[bytes, int] | None | bool = True) -> Iterator[Trace]:
    """(trace attributes, [event attributes]) per trace; only top-level attributes are read.

    Logs in the plain layout every XES writer we know produces (OpenXES, pm4py) are read by
    `_plain_traces`, about twice as fast as lxml; anything else by `_lxml_traces`. Both give
    the same result on every log (tests/test_desks_xes.py). `layout`: `_plain_layout`'s answer
    when it is known already (True: find it).
    """
    if layout is True:
        layout = _plain_layout(path)
    return _plain_traces(path, *layout) if layout else _lxml_traces(open_binary(path))


def _lxml_traces(f: Any) -> Iterator[Trace]:
    # lxml's iterparse (libxml2) parses about twice as fast as ElementTree's; streamed as before.
    with f:
        events: list[dict[str, str]] = []
        # comments and processing instructions dropped: every child is then an element
        for _, elem in etree.iterparse(f, events=("end",), tag=("{*}event", "{*}trace"),
                                       remove_comments=True, remove_pis=True):
            tag = elem.tag
            if tag == "event" or tag.endswith("}event"):
                events.append({c.get("key", ""): c.get("value", "") for c in elem})
                elem.clear()
                continue
            attrs = {c.get("key", ""): c.get("value", "") for c in elem if _local(c.tag) != "event"}
            yield attrs, events
            events = []
            elem.clear()
            while elem.getprevious() is not None:  # drop the finished traces from memory
                del elem.getparent()[0]


_CHUNK = 1 << 20
_PROLOG = re.compile(rb"""\s*(?:<\?xml(?P<decl>[^?]*)\?>|<!--.*?-->)""", re.S)
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']+)["']""")
_LOG_OPEN = re.compile(rb"""\s*<log(?:\s[^>]*)?>""")
# one attribute element as writers write it: self-closing, key then value, double quotes, and
# values without entity references or characters XML would normalise (those go to lxml)
_ATTR = re.compile(r'<(?:string|date|int|float|boolean|id)\s+key="([^"&<\t\n\r]*)"\s+value="([^"&<\t\n\r]*)"\s*/>')


_TAG = re.compile(rb"<(trace|event)[\s/>]")


class _Tally:
    """The traces of a log and the events of its first `limit` traces, counted on its bytes while
    its layout is scanned: how many rows an import will read, for its progress."""

    def __init__(self, limit: int | None) -> None:
        self.limit, self.traces, self.events, self.tail = limit, 0, 0, b""

    def count(self, chunk: bytes) -> None:
        buf, self.tail = self.tail + chunk, chunk[-6:]  # a tag cut at the chunk's end: counted next time
        for m in _TAG.finditer(buf):
            if m.group(1) == b"trace":
                self.traces += 1
            elif self.limit is None or self.traces <= self.limit:
                self.events += 1


def _plain_layout(path: str, tally: _Tally | None = None,
                  on_bytes: Callable[[int], None] | None = None) -> tuple[bytes, int] | None:
    """The log's start tag and where it ends (in characters) when the whole file can be read
    by `_plain_traces`, else None.

    Plain: UTF-8, a prolog of the XML declaration and comments, and inside <log> no comment,
    CDATA, DOCTYPE or processing instruction (nothing that could hide or fake a tag). A scan of
    the bytes for '!' and '?' (memchr), much cheaper than parsing them. `tally` counts the
    traces and events of a plain log on the way.
    """
    count = tally.count if tally else None
    with open_measured(path) as (f, position):
        head = f.read(_CHUNK)
        pos = 3 if head.startswith(b"\xef\xbb\xbf") else 0
        while m := _PROLOG.match(head, pos):
            enc = _ENCODING.search(m.group("decl") or b"")
            if enc and enc.group(1).lower() not in (b"utf-8", b"utf8"):
                return None
            pos = m.end()
        m = _LOG_OPEN.match(head, pos)
        if m is None or m.group().count(b'"') % 2 or m.group().count(b"'") % 2:
            return None
        log_open = m.group().strip()
        try:
            log_end = len(head[:m.end()].decode("utf-8"))
        except UnicodeDecodeError:
            return None
        window, last, lines = head[m.end():], head[-64:], head.count(b"\n")
        fresh = window  # bytes not counted yet
        while True:
            if (b"!" in window and b"<!" in window) or (b"?" in window and b"<?" in window):
                return None
            if count:
                count(fresh)
            if on_bytes:
                on_bytes(position())
            chunk = f.read(_CHUNK)
            if not chunk:
                _check_end(path, last, lines)
                return log_open, log_end
            window = window[-1:] + chunk  # a '<' at the end of the last chunk, with what follows
            fresh = chunk
            last, lines = (last + chunk[-64:])[-64:], lines + chunk.count(b"\n")


_LOG_CLOSE = re.compile(rb"</log\s*>\Z")


LOG_UNCLOSED = N_("the log does not end with its closing </log> tag (a truncated file?)")


def _check_end(path: str, last: bytes, lines: int) -> None:
    """A plain-layout log ends with </log> (nothing but white space may follow): checked while the
    layout is scanned, so that a truncated file is refused before any of it is recorded."""
    end = last.rstrip()
    if end and not _LOG_CLOSE.search(end):  # all white space: too far to see, lxml reads the end
        line = lines + 1 - last[len(end):].count(b"\n")
        raise etree.XMLSyntaxError(LOG_UNCLOSED, 0, line, 0, path)


def _plain_traces(path: str, log_open: bytes, log_end: int) -> Iterator[Trace]:
    """Traces of a plain-layout log, found by their `<trace>` tags and read by regular
    expression. What lxml must read instead, as it stands: a trace whose content is not plain
    attribute elements (entities, nested attributes, other quoting, an empty <event/>), and the
    text between traces when a trace there is written otherwise (`<trace >`)."""

    def lxml_part(text: str, close: bytes, buf: str, at: int, line_base: int) -> Iterator[Trace]:
        """`text` (at `buf[at]`) read by lxml inside the log's start tag; an error names its line in the file."""
        try:
            yield from _lxml_traces(io.BytesIO(log_open + text.encode() + close))
        except etree.XMLSyntaxError as e:
            line = line_base + buf.count("\n", 0, at) + (e.lineno or 1) - log_open.count(b"\n")
            raise etree.XMLSyntaxError(_bare(e), e.code, line, 0, path) from None

    with open_binary(path) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as f:
        buf, done = f.read(max(_CHUNK, log_end)), False
        pos = log_end  # after <log ...>: the prolog is not part of any trace
        line_base = 0  # line breaks before buf[0], to name a line in lxml's errors
        while True:
            start = buf.find("<trace>", pos)
            end = buf.find("</trace>", start + 7) if start >= 0 else -1
            if end < 0:
                if done:
                    break
                chunk = f.read(_CHUNK)
                done = not chunk
                line_base += buf.count("\n", 0, pos)
                buf, pos = buf[pos:] + chunk, 0
                continue
            gap = buf[pos:start]
            if "<trace" in gap:
                yield from lxml_part(gap, b"</log>", buf, pos, line_base)
            body = buf[start + 7:end]
            pos = end + 8
            trace = _plain_trace(body)
            if trace is None:
                yield from lxml_part("<trace>" + body + "</trace>", b"</log>", buf, start, line_base)
            else:
                yield trace
        tail = buf[pos:]
        if tail.strip() != "</log>":  # a trace written otherwise, or a broken end: lxml reads or says
            yield from lxml_part(tail, b"", buf, pos, line_base)


def _bare(e: etree.XMLSyntaxError) -> str:
    """lxml's message without its ", line N, column M" (a line of the part it was handed)."""
    return re.sub(r", line \d+, column \d+$", "", e.msg or str(e))


def _plain_trace(body: str) -> Trace | None:
    """A trace's attributes and events when every tag in it is a plain attribute element,
    <event> or </event> (each '<' starts a tag: no comment or CDATA here), else None."""
    pairs = _ATTR.findall(body)
    n_events = body.count("<event>")
    if body.count("<") != len(pairs) + 2 * n_events or body.count("</event>") != n_events:
        return None
    head, *parts = body.split("<event>")
    if "</event>" in head:
        return None
    k = head.count("<")
    attrs, events = pairs[:k], []
    for part in parts:
        inner, sep, tail = part.partition("</event>")
        if not sep:  # with the counts above: every event is closed before the next opens
            return None
        n = inner.count("<")
        events.append(dict(pairs[k:k + n]))
        k += n
        if "<" in tail:  # trace attributes after an event, in document order like lxml's
            n = tail.count("<")
            attrs += pairs[k:k + n]
            k += n
    return dict(attrs), events


def parse_time(text: str, tz: tzinfo) -> datetime | None:
    """An XES timestamp as UTC (the ledger's form: such a fact is fingerprinted without a copy);
    a time without an offset is in the desk's zone."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (t if t.tzinfo is not None else t.replace(tzinfo=tz)).astimezone(UTC)


EXPECTED = Phrase(N_("an XES event log (XML, gzip read directly)"))
TIME_FORMAT = Phrase(N_("ISO 8601 as XES writes it (xs:dateTime, e.g. 2012-05-22T23:22:25+02:00)"))


@dataclass
class Scan:
    """What the pass over the whole file before the import found (`_plain_layout`)."""

    layout: tuple[bytes, int] | None  # None: read by lxml
    rows: int | None  # events the import reads, when the layout let them be counted


def scan(path: str, limit: int | None = None, on_bytes: Callable[[int], None] | None = None) -> Scan:
    """The log's layout, checked to its end before anything is recorded (a plain log cut short
    is refused here), and the events the import will read."""
    tally = _Tally(limit)
    try:
        layout = _plain_layout(path, tally, on_bytes)
    except (etree.XMLSyntaxError, *READ_ERRORS) as e:
        raise _refusal(path, e) from None
    return Scan(layout, tally.events if layout else None)


def _refusal(path: str, e: BaseException) -> ImportInputError:
    if not isinstance(e, etree.XMLSyntaxError):
        return unreadable(path, e, EXPECTED)
    hint = looks_like(path) if (e.lineno or 0) <= 1 else ""
    error: str = _bare(e)
    if error == LOG_UNCLOSED:  # ours, said in the reader's language
        error = Phrase(LOG_UNCLOSED)
    if hint in (FILE_EMPTY, FILE_BINARY):
        what = hint
    elif hint:
        what = Phrase(N_("line {line}: {error}; {hint}"), line=e.lineno, error=error, hint=hint)
    else:
        what = Phrase(N_("line {line}: {error}"), line=e.lineno, error=error)
    return ImportInputError(N_("{path}: not a well-formed XES log: {what}; give {expected}"),
                            path=path, what=what, expected=EXPECTED)


def read_xes(path: str, m: Mapping, found: Scan, desk: Desk, tz: tzinfo, summary: DeskSummary,
             limit: int | None = None) -> Iterator[Item]:
    """The log's events as facts or problems; a file that is not a well-formed XES log (or cannot
    be read) is an ImportInputError naming the file and the line."""
    try:
        yield from _read_events(path, m, found, desk, tz, summary, limit)
    except (etree.XMLSyntaxError, *READ_ERRORS) as e:
        raise _refusal(path, e) from None


def _read_events(path: str, m: Mapping, found: Scan, desk: Desk, tz: tzinfo, summary: DeskSummary,
                 limit: int | None) -> Iterator[Item]:
    traces = iter_traces(path, found.layout)
    first = next(traces, None)  # a file that is not an XES log fails here, before anything is recorded
    severities = desk.terms.severities
    # the mapping's names as locals: this loop runs once per XES event
    statuses, status_keys, sev_key, sev_map = m.statuses, m.status, m.severity, m.severities
    ts_key, actor_key, assignee_key, pfx, channel = m.timestamp, m.actor, m.assignee, m.prefix, desk.channel
    default_actor = f"{pfx}-desk"
    two_keys = len(status_keys) == 2
    for n_trace, (tattrs, events) in enumerate(itertools.chain([first] if first is not None else [], traces), start=1):
        if limit is not None and n_trace > limit:
            break
        sr = tattrs.get(m.ticket, "")
        if not sr:
            summary.rows += len(events)
            for i in range(1, len(events) + 1):
                yield f"trace #{n_trace} event {i}", Problem(N_("missing ticket id: trace has no {key!r}"),
                                                             "missing ticket id", key=m.ticket)
            continue
        ticket_id = safe_id(sr)
        track: TicketTrack | None = None
        assignee: str | None = None
        summary.rows += len(events)
        for i, e in enumerate(events, start=1):
            if two_keys:  # the usual concept:name + lifecycle:transition, without a join
                status = e.get(status_keys[0], "") + "/" + e.get(status_keys[1], "")
            else:
                status = "/".join([e.get(k, "") for k in status_keys])
            kind = statuses.get(status)
            if kind is None:
                yield (f"trace {sr} event {i}",
                       Problem(N_("unmapped status {status!r}: the mapping knows {known}; add it to the "
                                  "mapping's [status] table"), "unmapped status", status=status, known=known(statuses)))
                continue
            raw_sev = e.get(sev_key, "") if sev_key else ""
            severity = sev_map.get(raw_sev, raw_sev.lower()) if sev_key else severities[0]
            if severity not in severities:
                yield (f"trace {sr} event {i}",
                       Problem(N_("unknown severity: {key} {severity!r} (the contract's: {severities})"),
                               "unknown severity", key=sev_key, severity=raw_sev, severities=severities))
                continue
            t = parse_time(e.get(ts_key, ""), tz)
            if t is None:
                yield (f"trace {sr} event {i}",
                       Problem(N_("missing or unreadable time: {key} {time!r}; expected {expected}"),
                               "missing or unreadable time", key=ts_key, time=e.get(ts_key, ''), expected=TIME_FORMAT))
                continue
            fresh = track is None
            current = track or TicketTrack(ticket_id, t, severity, zone=tz)
            problem = current.check_time(t)
            if problem:
                yield f"trace {sr} event {i}", problem
                continue
            where = f"trace {sr} event {i}"
            actor = (e.get(actor_key) if actor_key else "") or default_actor
            if fresh:
                track = current
                assignee = e.get(assignee_key) if assignee_key else None
                asset_id, asset_fact = desk.asset_for(e.get(m.ci) if m.ci else None)
                if asset_fact is not None:
                    yield where, asset_fact
                summary.tickets += 1
                yield where, ev.TicketOpened(
                    command_id=f"{pfx}-{sr}-open", id=ticket_id, occurred_at=t, source_recorded_at=t,
                    actor=actor, channel=channel, asset_id=asset_id, severity=severity,
                    fault_category=(e.get(m.category) if m.category else "") or "unknown",
                )
            assert track is not None
            was_ended = track.status in ("closed", "cancelled")
            # a copy to restore only when the order check below could refuse the row
            before = dataclasses.replace(track) if not fresh and track.may_refuse_order(t) else None
            before_assignee = assignee
            state_facts = track.step(kind, t)
            if isinstance(state_facts, str):
                yield where, state_facts
                continue
            live = not was_ended or any(cls is ev.TicketReopened for cls, _ in state_facts)
            facts: list[tuple[type[ev.Fact], dict]] = []
            if live and state_facts and state_facts[0][0] is ev.TicketReopened:
                facts.append(state_facts.pop(0))
            if live and severity != track.severity:
                facts.append((ev.SeverityChanged, {"severity": severity, "reason": f"{sev_key} {raw_sev}"}))
                track.severity = severity
            new_assignee = e.get(assignee_key) if assignee_key else None
            if new_assignee and new_assignee != assignee:
                assignee = new_assignee
                if live and not fresh:
                    facts.append((ev.TicketReassigned, {"assignee": new_assignee}))
            facts += state_facts
            if not facts:
                if not fresh:
                    summary.no_fact += 1
                continue
            if before is not None:
                problem = track.check_order(t)
                if problem:
                    track, assignee = before, before_assignee
                    yield where, problem
                    continue
            track.last_at = t
            for cls, extra in facts:
                yield where, cls(
                    command_id=f"{pfx}-{sr}-{i}-{cls.__name__}", id=ticket_id, occurred_at=t,
                    source_recorded_at=t, actor=actor, channel=channel, **extra,
                )
