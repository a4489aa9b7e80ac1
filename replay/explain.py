"""`explain`: one ticket's dispute report (SPEC §5) — HTML, Markdown or JSON.

Built from what the CLI hands over: the log rows of the ticket, its asset and its contract
(already cut to an as-of recording time when asked), and a DuckDB connection to views that
projections computed for the same events. Nothing here computes a deadline, a pause, a
lateness or a payer: the clock rows, the late entries and the liability row are the views'
rows, shown with their inputs. What is computed here is presentation only: which fields a
correction changed (from the two facts in the log), the picture's geometry.

Deterministic: the same rows and views give byte-identical output (no clock is read; the
only time in the report that is not an event's is the evaluation time the views hold).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import msgspec

from domain.events import CLOCKS, parse_topic
from domain.upcasting import upcast_state

from .printable import printable

ENVELOPE = {"type", "command_id", "id", "occurred_at", "actor", "channel", "customer", "v", "source_recorded_at"}


# --- the model -------------------------------------------------------------------------------------


def iso(v: Any) -> Any:
    """A view value in a stable printable form: UTC instants as ISO with Z."""
    if isinstance(v, datetime):
        if v.tzinfo is not None:
            v = v.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
        return v.isoformat(timespec="seconds") + "Z"
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float):
        return round(v, 3)
    if isinstance(v, Decimal):
        return float(round(v, 3))
    if isinstance(v, list | tuple):
        return [iso(x) for x in v]
    return v


def _utc_text(s: str | None) -> str | None:
    """A stored UTC time ('…Z' with or without fractions) as ISO seconds with Z."""
    if not s:
        return None
    t = datetime.fromisoformat(s.replace("Z", "+00:00"))
    return iso(t)


def view_rows(con: Any, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows of a view query as dicts of printable values; [] when the table does not exist."""
    if con is None:
        return []
    try:
        cur = con.execute(sql, list(params))
    except Exception as e:  # noqa: BLE001 - a view the projections do not (yet) provide
        if "does not exist" in str(e) or "not found" in str(e).lower():
            return []
        raise
    cols = [d[0] for d in cur.description]
    return [{c: iso(v) for c, v in zip(cols, r, strict=True)} for r in cur.fetchall()]


def _current(topic: str, state: bytes) -> dict[str, Any]:
    """A stored event as the current version of its fact (old versions upcast, §6)."""
    _, name, version = parse_topic(topic)
    return msgspec.json.decode(upcast_state(name, version, state))


def build_report(ticket: str, rows: Iterable[Any], views: Any, *, as_of_recorded: str | None = None,
                 ticket_oid: str = "", evidence_href: Callable[[str], str] | None = None,
                 evidence_status: Callable[[str], str] | None = None) -> dict[str, Any]:
    """The report as plain data. `rows`: log rows (position order) of the ticket, its asset and
    contract; `views`: a DuckDB connection to views evaluated for the same events."""
    rows = sorted(rows, key=lambda r: r.position)
    ticket_rows = [r for r in rows if r.originator_id == ticket_oid] if ticket_oid else \
        [r for r in rows if r.topic.startswith("ticket.")]
    other_rows = [r for r in rows if r not in ticket_rows]
    late = {r["position"]: r for r in view_rows(
        views, "SELECT position, lateness_minutes, tolerance_minutes FROM late_entries WHERE id = ? "
               "ORDER BY position", [ticket])}

    timeline: list[dict[str, Any]] = []
    by_version: dict[int, dict[str, Any]] = {}
    corrections: list[dict[str, Any]] = []
    opened: dict[str, Any] = {}
    evidence: list[dict[str, Any]] = []
    for r in ticket_rows:
        f = _current(r.topic, r.state)
        kind = f.get("type", r.topic.split(".")[1])
        entry: dict[str, Any] = {
            "position": r.position, "version": r.originator_version, "type": kind,
            "occurred_at": _utc_text(f.get("occurred_at")), "recorded_at": _utc_text(r.recorded_at),
            "recorded_at_exact": r.recorded_at, "source_recorded_at": _utc_text(f.get("source_recorded_at")),
            "actor": f.get("actor"), "channel": f.get("channel"),
            "detail": {k: v for k, v in f.items() if k not in ENVELOPE and v not in ("", None, [], {}, False)},
            "late": None, "corrected_by": [], "link": r.link, "state_sha256": r.state_sha256,
        }
        if r.position in late:
            lr = late[r.position]
            entry["late"] = {"lateness_minutes": lr["lateness_minutes"], "tolerance_minutes": lr["tolerance_minutes"],
                             "measured_from": "source_recorded_at" if entry["source_recorded_at"] else "recorded_at"}
        if kind == "TicketOpened":
            opened = f
        if kind == "FactCorrected":
            target_v = f.get("corrects_version")
            target = by_version.get(target_v)
            before = {k: (target["effective"].get(k) if target else None) for k in f.get("changes", {})}
            corr = {
                "position": r.position, "link": r.link, "corrects_version": target_v,
                "corrects_position": target["entry"]["position"] if target else None,
                "corrects_type": target["entry"]["type"] if target else None,
                "original": before, "corrected": f.get("changes", {}), "reason": f.get("reason"),
                "actor": f.get("actor"), "recorded_at": entry["recorded_at"],
                "occurred_at": entry["occurred_at"],
            }
            corrections.append(corr)
            if target:
                target["effective"] = {**target["effective"], **f.get("changes", {})}
                target["entry"]["corrected_by"].append(r.position)
                for k, v in f.get("changes", {}).items():
                    target["entry"].setdefault("corrected", {})[k] = {"original": before[k], "corrected": v}
            entry["detail"] = {"corrects_version": target_v, "changes": f.get("changes", {}),
                               "reason": f.get("reason")}
        else:
            by_version[r.originator_version] = {"entry": entry, "effective": dict(f)}
        if kind == "EvidenceAttached":
            sha = f.get("sha256", "")
            evidence.append({
                "position": r.position, "link": r.link, "sha256": sha, "filename": f.get("filename", ""),
                "media_type": f.get("media_type", ""), "size": f.get("size"), "actor": f.get("actor"),
                "description": f.get("description", ""), "occurred_at": entry["occurred_at"],
                "href": evidence_href(sha) if evidence_href else "",
                "status": evidence_status(sha) if evidence_status else "not checked",
            })
        timeline.append(entry)

    contract_versions, asset_events, tz = [], [], "Asia/Shanghai"
    for r in other_rows:
        f = _current(r.topic, r.state)
        kind = f.get("type")
        if r.topic.startswith("contract."):
            terms = f.get("terms", {})
            tz = terms.get("timezone", tz) if r.originator_version == 1 else tz
            contract_versions.append({
                "contract": f.get("id"), "version": r.originator_version, "type": kind,
                "in_force_from": _utc_text(f.get("effective_from")) or "(start)", "name": terms.get("name", ""),
                "late_entry_tolerance": terms.get("late_entry_tolerance", {"hours": 24}),
                "position": r.position, "link": r.link, "recorded_at": _utc_text(r.recorded_at),
                "recorded_at_exact": r.recorded_at, "state_sha256": r.state_sha256,
            })
        elif r.topic.startswith("asset."):
            asset_events.append({
                "position": r.position, "type": kind, "occurred_at": _utc_text(f.get("occurred_at")),
                "recorded_at": _utc_text(r.recorded_at), "actor": f.get("actor"), "link": r.link,
                "recorded_at_exact": r.recorded_at, "state_sha256": r.state_sha256,
                "detail": {k: v for k, v in f.items() if k not in ENVELOPE and v not in ("", None, [], {}, False)},
            })

    clocks = view_rows(views, "SELECT * FROM sla_clocks WHERE ticket = ?", [ticket])
    order = {c: i for i, c in enumerate(CLOCKS)}
    clocks.sort(key=lambda c: (order.get(c.get("clock"), 99), str(c.get("clock"))))
    liability = view_rows(views, "SELECT * FROM liability WHERE ticket = ?", [ticket])
    evaluated = sorted({c.get("evaluated_at") for c in clocks + liability if c.get("evaluated_at")})
    if not evaluated:
        cp = view_rows(views, "SELECT max(evaluated_at) AS evaluated_at FROM checkpoint", [])
        evaluated = [cp[0]["evaluated_at"]] if cp and cp[0]["evaluated_at"] else []
    cited = sorted({e["position"] for e in timeline} | {c["position"] for c in contract_versions}
                   | {a["position"] for a in asset_events})
    return {
        "ticket": ticket,
        "as_of_recorded": as_of_recorded,
        "evaluated_at": evaluated[-1] if evaluated else None,
        "timezone": tz,
        "summary": {
            "asset": opened.get("asset_id"), "contract": opened.get("contract_id"),
            "customer": opened.get("customer"), "site": opened.get("site"),
            "severity_at_report": opened.get("severity"), "fault_category": opened.get("fault_category"),
            "reported_at": _utc_text(opened.get("occurred_at")), "reporter_ref": opened.get("reporter_ref") or None,
        },
        "timeline": timeline,
        "corrections": corrections,
        "late_entries": [e for e in timeline if e["late"]],
        "clocks": clocks,
        "liability": liability[0] if liability else None,
        "liability_reasoning": liability_reasoning(liability[0] if liability else None),
        "evidence": evidence,
        "contract_versions": contract_versions,
        "asset_events": asset_events,
        "log": {"positions_cited": cited, "last_position_read": rows[-1].position if rows else None,
                "head_link_cited": rows[-1].link if rows else None},
        "views_available": views is not None and bool(clocks or liability),
        # values recorded before today's bounds, as the views flagged and counted them
        "beyond_bounds": view_rows(views, "SELECT position, type, field, value, bound, effect FROM beyond_bounds "
                                          "WHERE list_contains(?, position) ORDER BY position, field", [cited]),
    }


# --- rendering ---------------------------------------------------------------------------------


def render_json(report: dict[str, Any]) -> bytes:
    return msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"


def _local(ts: str | None, tz: str) -> str:
    if not ts:
        return ""
    t = datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(ZoneInfo(tz))
    return t.strftime("%Y-%m-%d %H:%M")


def _minutes(m: Any) -> str:
    if m is None or m == "":
        return ""
    m = float(m)
    sign = "-" if m < 0 else ""
    m = abs(m)
    h, mm = divmod(round(m), 60)
    return f"{sign}{h} h {mm:02d} min" if h else f"{sign}{mm} min"


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return msgspec.json.encode(v).decode()
    if isinstance(v, float):
        return f"{v:.3f}".rstrip("0").rstrip(".")
    return str(v)


def _value(v: Any, key: str, tz: str) -> str:
    """A corrected or original field value; times as local time with the UTC instant."""
    if key.endswith("_at") and isinstance(v, str) and v:
        try:
            u = _utc_text(v)
        except ValueError:
            return _fmt(v)
        return f"{_local(u, tz)} ({u})"
    return _fmt(v)


def _detail(d: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in d.items())


CLOCK_FIELDS = [
    ("clock", "clock"), ("contract", "contract"), ("contract_version", "version"), ("clause", "clause"),
    ("severity", "severity"), ("calendar", "calendar"), ("start", "start"), ("target_minutes", "target"),
    ("paused_minutes", "paused"), ("extension_minutes", "extension"), ("deadline", "deadline"),
    ("stopped_at", "actual"), ("state", "result"), ("breach_minutes", "breach"),
]


def _clock_cells(c: dict[str, Any], tz: str) -> list[str]:
    out = []
    for key, _ in CLOCK_FIELDS:
        v = c.get(key)
        if key in ("start", "deadline", "stopped_at"):
            out.append(_local(v, tz) if v else "—")
        elif key in ("paused_minutes", "extension_minutes", "breach_minutes"):
            out.append(_minutes(v) if v else "0")
        elif key == "target_minutes":
            unit, amount = c.get("target_unit"), c.get("target_amount")
            out.append(f"{amount} {unit}" if unit and amount is not None else _minutes(v))
        else:
            out.append(_fmt(v))
    return out


def _clock_notes(c: dict[str, Any]) -> str:
    notes = []
    if c.get("extension_note"):
        notes.append(str(c["extension_note"]))
    if c.get("provisional"):
        notes.append("provisional: a calendar year the ledger does not hold")
    if c.get("calendar_version"):
        notes.append(f"calendar data {c['calendar_version']}")
    return "; ".join(notes)


def liability_reasoning(li: dict[str, Any] | None, value: Callable[[Any], str] = str,
                        strong: Callable[[str], str] = lambda s: s) -> list[str]:
    """The liability row read out as steps (its own fields, in the order the views decided them).
    `value` formats each field (escaping it for the page), `strong` marks the deciding words."""
    if not li:
        return []

    def g(key: str) -> str:
        return value(li.get(key))

    get = li.get
    steps = [f"Reported {g('reported_at')}: coverage {strong(g('coverage'))} under {g('contract')} version "
             f"{g('contract_version')}" + (f" (warranty to {g('warranty_end')})" if get("warranty_end") else "")
             + (f", paid period to {g('paid_end')}" if get("paid_end") else "") + "."]
    steps.append(f"Cause {strong(value(get('cause') or 'not determined'))} → payer rule: "
                 f"{value(get('payer_clause') or '(none)')}.")
    steps.append(f"Parts: {g('parts_payer')} pays at rate {g('parts_rate')} (value {g('parts_value_fen')} fen); "
                 f"labour: {g('labour_payer')} pays at rate {g('labour_rate')} (value {g('labour_value_fen')} fen).")
    steps.append(f"Customer pays {g('customer_pays_fen')} fen, supplier pays {g('supplier_pays_fen')} fen.")
    if get("losses_claimed_fen"):
        steps.append(f"Losses claimed {g('losses_claimed_fen')} fen; supplier liable: "
                     f"{'yes' if get('supplier_liable_for_losses') else 'no'}"
                     + (f", because: {g('breaches_cited')}" if get("breaches_cited") else "") + ".")
    elif get("breaches_cited"):
        steps.append(f"Breaches cited: {g('breaches_cited')}.")
    if get("replacement_due"):
        steps.append("The replacement obligation is due for this asset.")
    if get("provisional"):
        steps.append("Provisional: depends on a calendar year the ledger does not hold yet.")
    return steps


def render_md(r: dict[str, Any]) -> bytes:
    """The report in Markdown. Every value from the log or the views goes through `_md`, so that
    recorded text can neither break a table nor become HTML, a link or an image."""
    tz = r["timezone"]
    s = r["summary"]
    L: list[str] = []
    L.append(f"# Dispute report: ticket {_md(r['ticket'])}")
    L.append("")
    known = f"as recorded up to {_md(r['as_of_recorded'])}" if r["as_of_recorded"] else "as recorded up to the last position read"
    L.append(f"What the ledger held {known} (last log position read: {_md(r['log']['last_position_read'])}); "
             f"views evaluated at {_md(r['evaluated_at'] or '(no views)')}. Local times are {_md(tz)}; "
             "instants in the tables marked Z are UTC.")
    L.append("")
    L.append(f"- asset **{_md(s['asset'])}**, contract **{_md(s['contract'])}**, customer {_md(s['customer'])}, "
             f"site {_md(s['site'])}")
    L.append(f"- reported {_md(_local(s['reported_at'], tz))} ({_md(s['reported_at'])}), severity at report "
             f"{_md(s['severity_at_report'])}, fault {_md(s['fault_category'])}"
             + (f", reporter ref {_md(s['reporter_ref'])}" if s["reporter_ref"] else ""))
    L.append("")
    L.append("## Timeline")
    L.append("")
    L.append("| pos | event | occurred (local) | recorded (local) | late | actor | detail | link |")
    L.append("|---:|---|---|---|---|---|---|---|")
    for e in r["timeline"]:
        late = ""
        if e["late"]:
            late = (f"LATE {_minutes(e['late']['lateness_minutes'])} > {_minutes(e['late']['tolerance_minutes'])}"
                    f" (from {e['late']['measured_from']})")
        occ = _md(_local(e["occurred_at"], tz))
        if e.get("corrected", {}).get("occurred_at"):
            occ = (f"{_md(_value(e['corrected']['occurred_at']['corrected'], 'occurred_at', tz))} "
                   f"(corrected from {occ}, see corrections)")
        rec = _md(_local(e["recorded_at"], tz))
        if e["source_recorded_at"]:
            rec += f" (source {_md(_local(e['source_recorded_at'], tz))})"
        L.append(f"| {e['position']} | {_md(e['type'])} | {occ} | {rec} | {late} | {_md(e['actor'])} | "
                 f"{_md(_detail(e['detail']))} | `{_md(e['link'][:16])}` |")
    L.append("")
    L.append("## Corrections")
    L.append("")
    if not r["corrections"]:
        L.append("None.")
    for c in r["corrections"]:
        L.append(f"- position {c['position']} corrects {_md(c['corrects_type'])} at position "
                 f"{_md(c['corrects_position'])} (version {_md(c['corrects_version'])}), by {_md(c['actor'])}, "
                 f"recorded {_md(_local(c['recorded_at'], tz))}: reason \"{_md(c['reason'])}\"")
        for k in c["corrected"]:
            L.append(f"  - {_md(k)}: original **{_md(_value(c['original'].get(k), k, tz))}** → corrected "
                     f"**{_md(_value(c['corrected'][k], k, tz))}**")
    L.append("")
    L.append("## Clocks")
    L.append("")
    if not r["clocks"]:
        L.append("No clock rows in the views for this ticket.")
    else:
        L.append("| " + " | ".join(h for _, h in CLOCK_FIELDS) + " | notes |")
        L.append("|" + "---|" * (len(CLOCK_FIELDS) + 1))
        for c in r["clocks"]:
            L.append("| " + " | ".join(_md(x) for x in _clock_cells(c, tz)) + f" | {_md(_clock_notes(c))} |")
    L.append("")
    L.append("## Liability")
    L.append("")
    if r["liability"] is None:
        L.append("No liability row in the views for this ticket.")
    else:
        for i, step in enumerate(liability_reasoning(r["liability"], _md, lambda x: f"**{x}**"), 1):
            L.append(f"{i}. {step}")
        L.append("")
        L.append("<details><summary>the liability row</summary>")
        L.append("")
        for k, v in r["liability"].items():
            L.append(f"- {_md(k)}: {_md(_fmt(v))}")
        L.append("")
        L.append("</details>")
    L.append("")
    L.append("## Evidence")
    L.append("")
    if not r["evidence"]:
        L.append("None attached.")
    for ev in r["evidence"]:
        name = _md(ev["filename"] or ev["sha256"][:12])
        link = f"[{name}](<{quote(ev['href'])}>)" if ev["href"] else name
        L.append(f"- {link} — {_md(ev['media_type'])}, {_md(ev['size'])} bytes, sha256 `{_md(ev['sha256'])}`, by "
                 f"{_md(ev['actor'])}, position {ev['position']}, file {_md(ev['status'])}")
    L.append("")
    L.append("## Contract versions")
    L.append("")
    for v in r["contract_versions"]:
        L.append(f"- {_md(v['contract'])} version {v['version']} ({_md(v['type'])}), in force from "
                 f"{_md(v['in_force_from'])}, late-entry tolerance {_md(_fmt(v['late_entry_tolerance']))}; "
                 f"position {v['position']}, link `{_md(v['link'])}`")
    L.append("")
    if r.get("beyond_bounds"):
        L.append("## Recorded before today's bounds")
        L.append("")
        for b in r["beyond_bounds"]:
            L.append(f"- position {b['position']} {_md(b['type'])}: {_md(b['field'])} is {_md(b['value'])}, beyond "
                     f"today's bound ({_md(b['bound'])}); in the views: {_md(b['effect'])}")
        L.append("")
    L.append("## Log positions and hashes cited")
    L.append("")
    L.append("| position | recorded (UTC) | sha256 of state | link |")
    L.append("|---:|---|---|---|")
    for e in _cited(r):
        L.append(f"| {e['position']} | {_md(e['recorded_at_exact'])} | `{_md(e['state_sha256'])}` | `{_md(e['link'])}` |")
    L.append("")
    L.append("Check them with `ticketledger verify`: every link is sha256(previous link | position | "
             "recording time | originator | version | topic | sha256(state)).")
    return ("\n".join(L) + "\n").encode()


def _cited(r: dict[str, Any]) -> list[dict[str, Any]]:
    seen: dict[int, dict[str, Any]] = {}
    for e in r["timeline"] + r["contract_versions"] + r["asset_events"]:
        seen.setdefault(e["position"], e)
    return [seen[p] for p in sorted(seen)]


# Markdown reads these as syntax: raw HTML (<img onerror=...>), links and images ([..](..),
# ![..](..), <javascript:...>), emphasis, code spans, table cells and entities.
_MD_SYNTAX = re.compile(r"([\\`*_~\[\]<>|&!])")


def _md(s: Any) -> str:
    """A recorded value inert in Markdown: visible escapes for control characters (printable),
    then every character Markdown reads as syntax backslash-escaped (CommonMark shows it as is)."""
    return _MD_SYNTAX.sub(r"\\\1", printable(str(s if s is not None else "")))


# --- HTML ---------------------------------------------------------------------------------------

CSS = """
body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC",sans-serif;margin:2em;color:#111;font-size:13px}
h1{font-size:20px}h2{font-size:16px;border-bottom:1px solid #999;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:.5em 0}td,th{border:1px solid #bbb;padding:3px 5px;vertical-align:top;text-align:left}
th{background:#eee}code{font-size:11px;word-break:break-all}.late{color:#b00;font-weight:bold}
.breached{background:#fdd}.met{background:#dfd}.at_risk{background:#ffd}.running{background:#eef}
.corr{color:#064}.old{text-decoration:line-through;color:#777}svg{width:100%;height:auto}
@media print{body{margin:0;font-size:10px}h2{page-break-after:avoid}tr{page-break-inside:avoid}}
"""


def _e(s: Any) -> str:
    """A value for HTML: visible escapes for control characters (printable), then html.escape."""
    return html.escape(printable(str(s if s is not None else "")), quote=True)


def _svg(r: dict[str, Any]) -> str:
    """The timeline picture: for each event its occurred time (top lane) and its recording time
    (second lane: the source desk's own when imported, else the ledger's), joined by a line (red
    for a late entry); one bar per clock from start to deadline, its stop marked. The axis spans
    the field times and the clocks; a recording far later is drawn at the right edge (»)."""
    tz = r["timezone"]

    def recorded(e: dict[str, Any]) -> str:
        return e["source_recorded_at"] or e["recorded_at"]

    pts: list[str] = []
    for e in r["timeline"]:
        pts.append(e["occurred_at"])
        if e["source_recorded_at"]:
            pts.append(e["source_recorded_at"])
    for c in r["clocks"]:
        pts += [c.get("start"), c.get("deadline"), c.get("stopped_at")]
    pts = sorted(p for p in pts if p)
    if not pts:
        return ""

    def sec(ts: str) -> int:
        return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp())

    t0, t1 = sec(pts[0]), sec(pts[-1])
    span = max(t1 - t0, 3600)
    W, left, right = 1000, 130, 30
    clocks = r["clocks"]
    H = 110 + 22 * len(clocks) + 30

    def x(ts: str) -> str:
        v = min(max(sec(ts), t0), t1 + span // 50)
        return f"{left + (v - t0) * (W - left - right) / (span + span // 50):.1f}"

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" '
           f'aria-label="timeline of ticket {_e(r["ticket"])}" font-size="11" font-family="sans-serif">']
    out.append(f'<text x="4" y="34">occurred</text><line x1="{left}" y1="30" x2="{W - right}" y2="30" stroke="#444"/>')
    out.append(f'<text x="4" y="84">recorded</text><line x1="{left}" y1="80" x2="{W - right}" y2="80" stroke="#444"/>')
    for e in r["timeline"]:
        rec = recorded(e)
        beyond = sec(rec) > t1 + span // 50
        xo, xr = x(e["occurred_at"]), x(rec)
        colour = "#c00" if e["late"] else "#888"
        out.append(f'<line x1="{xo}" y1="30" x2="{xr}" y2="80" stroke="{colour}" stroke-width="1"/>')
        out.append(f'<circle cx="{xo}" cy="30" r="4" fill="{"#064" if e["corrected_by"] else "#036"}">'
                   f'<title>{e["position"]} {_e(e["type"])} occurred {_local(e["occurred_at"], tz)}</title></circle>')
        mark = (f'<text x="{float(xr) + 2:.1f}" y="84" fill="{colour}">»</text>' if beyond else
                f'<rect x="{float(xr) - 3:.1f}" y="77" width="6" height="6" fill="{colour}"/>')
        out.append(f'<g><title>{e["position"]} {_e(e["type"])} recorded {_local(rec, tz)}'
                   f'{" (source desk)" if e["source_recorded_at"] else " (ledger)"}</title>{mark}</g>')
        out.append(f'<text x="{xo}" y="20" transform="rotate(-30 {xo} 20)" font-size="9">{e["position"]}</text>')
    y = 110
    fill = {"breached": "#e66", "met": "#6b6", "at_risk": "#ec4", "running": "#69c"}
    for c in clocks:
        name = _e(c.get("clock"))
        out.append(f'<text x="4" y="{y + 10}">{name}</text>')
        if c.get("start") and c.get("deadline"):
            xs, xd = x(c["start"]), x(c["deadline"])
            w = max(float(xd) - float(xs), 1.0)
            out.append(f'<rect x="{xs}" y="{y}" width="{w:.1f}" height="12" fill="{fill.get(c.get("state"), "#bbb")}" '
                       f'opacity="0.6"><title>{name}: deadline {_local(c["deadline"], tz)} ({_e(c.get("state"))})'
                       f'</title></rect>')
            out.append(f'<line x1="{xd}" y1="{y - 2}" x2="{xd}" y2="{y + 14}" stroke="#000"/>')
        if c.get("stopped_at"):
            xa = x(c["stopped_at"])
            out.append(f'<path d="M{xa} {y - 3} l4 9 l-8 0 z" fill="#000"><title>{name} stopped '
                       f'{_local(c["stopped_at"], tz)}</title></path>')
        out.append(f'<text x="{W - right + 4}" y="{y + 10}" font-size="9">{_e(c.get("state"))}</text>')
        y += 22
    out.append(f'<text x="{left}" y="{H - 6}">{_local(pts[0], tz)}</text>')
    out.append(f'<text x="{W - right}" y="{H - 6}" text-anchor="end">{_local(pts[-1], tz)} ({_e(tz)}); '
               f'» recorded later</text>')
    out.append("</svg>")
    return "".join(out)


def render_html(r: dict[str, Any]) -> bytes:
    tz = r["timezone"]
    s = r["summary"]
    P: list[str] = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
                    f'<title>Dispute report: ticket {_e(r["ticket"])}</title><style>{CSS}</style></head><body>']
    P.append(f'<h1>Dispute report: ticket {_e(r["ticket"])}</h1>')
    known = f"as recorded up to {_e(r['as_of_recorded'])}" if r["as_of_recorded"] else "as recorded up to the last position read"
    P.append(f'<p>What the ledger held {known} (last log position read: {_e(r["log"]["last_position_read"])}); '
             f'views evaluated at {_e(r["evaluated_at"] or "(no views)")}. Local times are {_e(tz)}.</p>')
    P.append(f'<p>Asset <b>{_e(s["asset"])}</b>, contract <b>{_e(s["contract"])}</b>, customer {_e(s["customer"])}, '
             f'site {_e(s["site"])}. Reported {_e(_local(s["reported_at"], tz))}, severity at report '
             f'{_e(s["severity_at_report"])}, fault {_e(s["fault_category"])}'
             + (f', reporter ref {_e(s["reporter_ref"])}' if s["reporter_ref"] else "") + '.</p>')
    P.append('<h2>Timeline</h2>')
    P.append(_svg(r))
    P.append('<table><tr><th>pos</th><th>event</th><th>occurred</th><th>recorded</th><th>late</th>'
             '<th>actor</th><th>detail</th><th>link</th></tr>')
    for e in r["timeline"]:
        late = ""
        if e["late"]:
            late = (f'<span class="late">LATE {_e(_minutes(e["late"]["lateness_minutes"]))} &gt; '
                    f'{_e(_minutes(e["late"]["tolerance_minutes"]))}</span> (from {_e(e["late"]["measured_from"])})')
        occ = _e(_local(e["occurred_at"], tz))
        corr = e.get("corrected", {})
        if "occurred_at" in corr:
            occ = (f'<span class="old">{occ}</span> '
                   f'<span class="corr">{_e(_value(corr["occurred_at"]["corrected"], "occurred_at", tz))}</span>')
        rec = _e(_local(e["recorded_at"], tz))
        if e["source_recorded_at"]:
            rec += f' (source {_e(_local(e["source_recorded_at"], tz))})'
        P.append(f'<tr id="p{e["position"]}"><td>{e["position"]}</td><td>{_e(e["type"])}</td><td>{occ}</td>'
                 f'<td>{rec}</td><td>{late}</td><td>{_e(e["actor"])}</td><td>{_e(_detail(e["detail"]))}</td>'
                 f'<td><code>{_e(e["link"][:16])}</code></td></tr>')
    P.append('</table>')
    P.append('<h2>Corrections</h2>')
    if not r["corrections"]:
        P.append('<p>None.</p>')
    else:
        P.append('<table><tr><th>pos</th><th>corrects</th><th>field</th><th>original</th><th>corrected</th>'
                 '<th>reason</th><th>actor</th><th>recorded</th></tr>')
        for c in r["corrections"]:
            for k in c["corrected"]:
                P.append(f'<tr><td>{c["position"]}</td><td><a href="#p{c["corrects_position"]}">'
                         f'{_e(c["corrects_type"])} at {_e(c["corrects_position"])}</a> (v{_e(c["corrects_version"])})'
                         f'</td><td>{_e(k)}</td><td class="old">{_e(_value(c["original"].get(k), k, tz))}</td>'
                         f'<td class="corr">{_e(_value(c["corrected"][k], k, tz))}</td><td>{_e(c["reason"])}</td>'
                         f'<td>{_e(c["actor"])}</td><td>{_e(_local(c["recorded_at"], tz))}</td></tr>')
        P.append('</table>')
    P.append('<h2>Clocks</h2>')
    if not r["clocks"]:
        P.append('<p>No clock rows in the views for this ticket.</p>')
    else:
        P.append('<table><tr>' + "".join(f'<th>{_e(h)}</th>' for _, h in CLOCK_FIELDS) + '<th>notes</th></tr>')
        for c in r["clocks"]:
            P.append(f'<tr class="{_e(c.get("state"))}">' + "".join(f'<td>{_e(x)}</td>' for x in _clock_cells(c, tz))
                     + f'<td>{_e(_clock_notes(c))}</td></tr>')
        P.append('</table>')
    P.append('<h2>Liability</h2>')
    if r["liability"] is None:
        P.append('<p>No liability row in the views for this ticket.</p>')
    else:
        P.append('<ol>' + "".join(f'<li>{step}</li>'
                                  for step in liability_reasoning(r["liability"], _e, lambda x: f"<b>{x}</b>")) + '</ol>')
        P.append('<table>' + "".join(f'<tr><th>{_e(k)}</th><td>{_e(_fmt(v))}</td></tr>'
                                     for k, v in r["liability"].items()) + '</table>')
    P.append('<h2>Evidence</h2>')
    if not r["evidence"]:
        P.append('<p>None attached.</p>')
    else:
        P.append('<ul>')
        for ev in r["evidence"]:
            name = _e(ev["filename"] or ev["sha256"][:12])
            link = f'<a href="{_e(ev["href"])}">{name}</a>' if ev["href"] else name
            P.append(f'<li>{link} — {_e(ev["media_type"])}, {_e(ev["size"])} bytes, sha256 '
                     f'<code>{_e(ev["sha256"])}</code>, by {_e(ev["actor"])}, position {ev["position"]}, '
                     f'file {_e(ev["status"])}</li>')
        P.append('</ul>')
    P.append('<h2>Contract versions</h2><ul>')
    for v in r["contract_versions"]:
        P.append(f'<li>{_e(v["contract"])} version {v["version"]} ({_e(v["type"])}), in force from '
                 f'{_e(v["in_force_from"])}, late-entry tolerance {_e(_fmt(v["late_entry_tolerance"]))}; '
                 f'position {v["position"]}, link <code>{_e(v["link"])}</code></li>')
    P.append('</ul>')
    if r.get("beyond_bounds"):
        P.append("<h2>Recorded before today's bounds</h2><ul>")
        for b in r["beyond_bounds"]:
            P.append(f'<li>position {b["position"]} {_e(b["type"])}: {_e(b["field"])} is {_e(b["value"])}, beyond '
                     f"today's bound ({_e(b['bound'])}); in the views: {_e(b['effect'])}</li>")
        P.append("</ul>")
    P.append('<h2>Log positions and hashes cited</h2><table><tr><th>position</th><th>recorded (UTC)</th>'
             '<th>sha256 of state</th><th>link</th></tr>')
    for e in _cited(r):
        P.append(f'<tr><td>{e["position"]}</td><td>{_e(e["recorded_at_exact"])}</td>'
                 f'<td><code>{_e(e["state_sha256"])}</code></td><td><code>{_e(e["link"])}</code></td></tr>')
    P.append('</table><p>Check them with <code>ticketledger verify</code>: every link is sha256(previous link | '
             'position | recording time | originator | version | topic | sha256(state)).</p>')
    P.append('</body></html>')
    return ("\n".join(P) + "\n").encode()


RENDERERS = {"html": render_html, "md": render_md, "json": render_json}
