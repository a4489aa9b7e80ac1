"""`verify`: the log is what was recorded (SPEC §5, §9.13), and the stream holds the same.

Pure over what it is handed (no store, no stream opened here): an iterable of log rows
(`adapters.store.LogRow` or anything with the same attributes) in position order,
optionally the stream's events in stream order (`adapters.stream.StreamEvent`-like:
position, data, link, topic, recorded_at), an evidence checker and the chain table's head.

Each row is checked on its own against the chain (so one tampering gives one finding and
the rest of the log is still checked):
  - `altered`:   sha256(state) differs from the digest chained when it was recorded;
  - `chain`:     the link does not follow from the previous row's link and this row's
                 position, recording time, originator, version, topic and digest — an
                 event before it was deleted (`deleted`, when positions are missing), or
                 rows were reordered/rewritten;
  - `time`:      the recording time decreases along the log (§9.13);
  - `truncated`: the chain table has a later head than the last event read;
  - `evidence`:  an attached file is missing or its content no longer has its hash;
  - `stream`:    the stream's event at the same place differs (position, payload, link)
                 or one side has events the other lacks.
The report names the first position that differs.

Notices, which do not fail the log (issue 14, settled after review):
  - `beyond`:    a fact recorded before today's bounds existed holds a value beyond them
                 (domain.bounds, domain.terms): readable, flagged by the views, listed here;
  - `withheld`:  the stream holds the event's headers without its payload, because it is larger
                 than the server accepts in one message (adapters.relay.message_for); its
                 Ledger-Sha256 is compared with the store instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from domain import hashchain
from domain.bounds import Breach, breaches
from domain.events import ContractAmended, ContractRegistered, decode, parse_topic
from domain.terms import terms_breaches, terms_from_mapping
from domain.upcasting import upcast_state

from .i18n import texts
from .printable import printable

MAX_FINDINGS = 200
TEXT_FINDINGS = 20


class Row(Protocol):
    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes
    recorded_at: str
    state_sha256: str
    link: str


@dataclass(frozen=True)
class Finding:
    position: int
    kind: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"position": self.position, "kind": self.kind, "detail": self.detail}


@dataclass
class Report:
    events: int = 0
    first_position: int | None = None
    last_position: int | None = None
    head_link: str = hashchain.GENESIS
    evidence_checked: int = 0
    stream_checked: bool = False
    stream_events: int = 0
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    more_findings: int = 0
    notices: list[Finding] = field(default_factory=list)  # beyond today's bounds, withheld: not failures
    more_notices: int = 0
    tree_leaves: int | None = None  # leaves recomputed by replay/tree_check.py (None: not checked)
    tree_checkpoints: int = 0  # signed checkpoints found to be the log's head at their size

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first_difference(self) -> Finding | None:
        return min(self.findings, key=lambda f: (f.position, f.kind)) if self.findings else None

    def add(self, position: int, kind: str, detail: str) -> None:
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append(Finding(position, kind, detail))
        else:
            self.more_findings += 1

    def notice(self, position: int, kind: str, detail: str) -> None:
        if len(self.notices) < MAX_FINDINGS:
            self.notices.append(Finding(position, kind, detail))
        else:
            self.more_notices += 1

    def as_dict(self) -> dict[str, Any]:
        first = self.first_difference
        return {
            "ok": self.ok,
            "events": self.events,
            "first_position": self.first_position,
            "last_position": self.last_position,
            "head_link": self.head_link,
            "evidence_checked": self.evidence_checked,
            "stream_checked": self.stream_checked,
            "stream_events": self.stream_events,
            "first_difference": first.as_dict() if first else None,
            "findings": [f.as_dict() for f in sorted(self.findings, key=lambda f: (f.position, f.kind))],
            "more_findings": self.more_findings,
            "notices": [f.as_dict() for f in self.notices],
            "more_notices": self.more_notices,
            "tree_leaves": self.tree_leaves,
            "tree_checkpoints": self.tree_checkpoints,
        }

    def text(self, lang: str = "en") -> str:
        """The verdict for people, in `lang` (replay/i18n.py); --json carries the same, language-neutral."""
        _ = texts(lang)
        n = _.number
        lines = []
        span = (_("positions {first}..{last}", first=n(self.first_position), last=n(self.last_position))
                if self.events else _("empty log"))
        lines.append(_("log: {events} events, {span}; head link {link}", events=n(self.events), span=span,
                       link=self.head_link))
        if self.evidence_checked:
            lines.append(_("evidence: {n} attached file(s) checked", n=n(self.evidence_checked)))
        if self.stream_checked:
            lines.append(_("stream: {n} events compared with the store", n=n(self.stream_events)))
        else:
            lines.append(_("stream: not compared (no NATS stream given)"))
        if self.tree_leaves is not None:
            lines.append(_("Merkle tree: {n} leaves recomputed from the log; {k} signed checkpoint(s) are its head "
                           "at their size", n=n(self.tree_leaves), k=n(self.tree_checkpoints)))
        if self.notices:
            kinds: dict[str, int] = {}
            for note in self.notices:
                kinds[note.kind] = kinds.get(note.kind, 0) + 1
            total = len(self.notices) + self.more_notices
            lines.append(_("notes ({n}, not failures): {kinds}; beyond: recorded before today's bounds, still read; "
                           "withheld: too large for one stream message, its Ledger-Sha256 checked instead",
                           n=n(total), kinds=", ".join(f"{k} {n(v)}" for k, v in sorted(kinds.items()))))
            for note in self.notices[:TEXT_FINDINGS]:
                lines.append(printable(f"  position {note.position:>9}  {note.kind:<9}  {note.detail}"))
            if total > TEXT_FINDINGS:
                lines.append(_("  ... and {n} more (--json lists up to {max})", n=n(total - TEXT_FINDINGS),
                               max=MAX_FINDINGS))
        if self.ok:
            lines.append(_("OK: every event verifies against the hash chain and the stream holds the same events "
                           "in the same order") if self.stream_checked else
                         _("OK: every event verifies against the hash chain"))
            return "\n".join(lines)
        first = self.first_difference
        assert first is not None
        lines.append(_("FAILED: first difference at position {position} ({kind}): {detail}",
                       position=first.position, kind=first.kind, detail=first.detail))
        kinds: dict[str, int] = {}
        for f in self.findings:
            kinds[f.kind] = kinds.get(f.kind, 0) + 1
        total = len(self.findings) + self.more_findings
        lines.append(_("{n} difference(s): ", n=n(total)) + ", ".join(f"{k} {n(c)}" for k, c in sorted(kinds.items()))
                     + (_(" (+{n} not itemised)", n=n(self.more_findings)) if self.more_findings else ""))
        shown = sorted(self.findings, key=lambda f: (f.position, f.kind))[:TEXT_FINDINGS]
        for f in shown:
            position, kind = str(f.position).rjust(9), f.kind.ljust(9)
            lines.append(_("  position {position}  {kind}  {detail}", position=position, kind=kind, detail=f.detail))
        if total > len(shown):
            lines.append(_("  ... and {n} more (--json lists up to {max})", n=n(total - len(shown)),
                           max=MAX_FINDINGS))
        return "\n".join(lines)


class _Evidence(msgspec.Struct):
    sha256: str = ""
    filename: str = ""


_evidence = msgspec.json.Decoder(_Evidence)


def verify_log(rows: Iterable[Row], *, evidence: Callable[[str], str] | None = None,
               head: tuple[int, str] | None = None, stream: Iterable[Any] | None = None,
               progress: Callable[[int], None] | None = None, bounds: bool = True) -> Report:
    """Recompute digests and links over `rows`; see the module docstring for what is checked.
    bounds: also list the facts beyond today's bounds (notices).

    evidence(sha256) -> 'ok' | 'missing' | 'altered' (adapters.evidence.check_evidence).
    head: (position, link) of the last row of the chain table, to catch a truncated log.
    stream: the stream's events in stream order, compared event by event.
    """
    started = time.perf_counter()
    report = Report()
    prev_link, prev_pos, prev_time = hashchain.GENESIS, 0, ""
    stream_it: Iterator[Any] | None = iter(stream) if stream is not None else None
    report.stream_checked = stream_it is not None
    stream_done = False
    for row in rows:
        pos = row.position
        report.events += 1
        if report.first_position is None:
            report.first_position = pos
        digest = hashlib.sha256(row.state).hexdigest()
        if digest != row.state_sha256:
            report.add(pos, "altered", f"the stored event's content (sha256 {digest[:16]}…) is not what was "
                                       f"recorded (sha256 {row.state_sha256[:16]}…)")
        expected = hashchain.link(prev_link, pos, row.recorded_at, row.originator_id, row.originator_version,
                                  row.topic, row.state_sha256)
        if expected != row.link:
            if pos != prev_pos + 1:
                missing = f"{prev_pos + 1}" if pos == prev_pos + 2 else f"{prev_pos + 1}..{pos - 1}"
                report.add(pos, "deleted", f"position(s) {missing} are missing and this event's link does not "
                                           f"follow from position {prev_pos}'s: event(s) were deleted")
            else:
                report.add(pos, "chain", f"the link does not follow from position {prev_pos}'s link and this "
                                         "event's position, recording time, originator, version and topic: "
                                         "an event was moved, rewritten or deleted here")
        if row.recorded_at < prev_time:
            report.add(pos, "time", f"recording time {row.recorded_at} is before position {prev_pos}'s "
                                    f"{prev_time} (§9.13: it never decreases)")
        if evidence is not None and ".EvidenceAttached." in row.topic:
            try:
                att = _evidence.decode(row.state)
            except msgspec.DecodeError:
                att = _Evidence()
            if att.sha256:
                report.evidence_checked += 1
                status = evidence(att.sha256)
                if status != "ok":
                    report.add(pos, "evidence", f"evidence file {att.filename or ''} sha256 {att.sha256} is "
                                                f"{status}" + (" (its content no longer has the recorded hash)"
                                                               if status == "altered" else ""))
        if bounds and digest == row.state_sha256:
            for b in beyond_bounds(row.topic, row.state):
                report.notice(pos, "beyond", f"{row.topic.split('.')[1]}: {b.path} {b.wrong}; today's bound: {b.right}")
        if stream_it is not None and not stream_done:
            msg = next(stream_it, None)
            if msg is None:
                stream_done = True
                report.add(pos, "stream", f"the stream ends before position {pos} (it holds "
                                          f"{report.stream_events} events; is the relay behind?)")
            else:
                report.stream_events += 1
                _compare(report, row, digest, msg)
        prev_link, prev_pos, prev_time = row.link, pos, max(prev_time, row.recorded_at)
        if progress is not None:
            progress(1)
    report.last_position = prev_pos if report.events else None
    report.head_link = prev_link
    if head is not None and head[0] > prev_pos:
        report.add(prev_pos + 1, "truncated", f"the chain table goes on to position {head[0]} but the last "
                                              f"event read is at {prev_pos}: events were deleted from the end")
    if stream_it is not None and not stream_done:
        extra = 0
        first_extra = None
        for msg in stream_it:
            extra += 1
            report.stream_events += 1
            if first_extra is None:
                first_extra = msg
        if first_extra is not None:
            p = getattr(first_extra, "position", prev_pos + 1)
            report.add(p, "stream", f"the stream holds {extra} event(s) after the store's last position "
                                    f"{prev_pos}, from position {p}: the store lost them, or the stream has "
                                    "events the store never recorded")
    report.seconds = time.perf_counter() - started
    return report


def beyond_bounds(topic: str, state: bytes) -> list[Breach]:
    """The values of a stored fact beyond today's bounds ([] when it does not decode: a stored
    event altered into something unreadable is reported as altered, not here)."""
    _, name, version = parse_topic(topic)
    try:
        fact = decode(upcast_state(name, version, state))
    except (msgspec.DecodeError, msgspec.ValidationError, KeyError, ValueError, TypeError):
        return []
    found = breaches(fact)
    if isinstance(fact, ContractRegistered | ContractAmended):
        with contextlib.suppress(ValueError):  # terms that do not read are not this check's to report
            found += [Breach(f"terms.{b.path}", b.value, b.wrong, b.right, b.keyword)
                      for b in terms_breaches(terms_from_mapping(fact.terms))]
    return found


def _compare(report: Report, row: Row, digest: str, msg: Any) -> None:
    pos = row.position
    if msg.position != pos:
        report.add(min(pos, msg.position), "stream",
                   f"order differs: the store's next event is position {pos}, the stream's is {msg.position}")
        return
    withheld = getattr(msg, "withheld", "")
    if withheld:  # no payload: the headers' sha256 of the stored bytes stands for it
        if getattr(msg, "sha256", "") == row.state_sha256 == digest and not msg.data:
            report.notice(pos, "withheld", f"the stream holds this event's headers without its payload ({withheld}); "
                                           f"its Ledger-Sha256 is the store's")
        else:
            report.add(pos, "stream", f"payload withheld ({withheld}) but its Ledger-Sha256 "
                                      f"{getattr(msg, 'sha256', '')[:16]}… is not the store's {digest[:16]}…")
    elif (payload := hashlib.sha256(msg.data).hexdigest()) != digest:
        report.add(pos, "stream", f"payload differs: stream sha256 {payload[:16]}…, store {digest[:16]}…")
    if msg.link and msg.link != row.link:
        report.add(pos, "stream", f"link header differs: stream {msg.link[:16]}…, store {row.link[:16]}…")
    if getattr(msg, "topic", row.topic) != row.topic:
        report.add(pos, "stream", f"topic differs: stream {msg.topic}, store {row.topic}")
    if getattr(msg, "recorded_at", row.recorded_at) != row.recorded_at:
        report.add(pos, "stream", f"recording time differs: stream {msg.recorded_at}, store {row.recorded_at}")
