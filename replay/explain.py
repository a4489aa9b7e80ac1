"""`explain`: one ticket's dispute report (SPEC §5) as plain data; `replay/exhibit.py` writes it
for people (HTML to print on A4, Markdown) and `render_json` for programs.

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

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from domain.events import CLOCKS, parse_topic
from domain.upcasting import upcast_state
from projections.schema import late_entries_sql

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


# fields whose `false` is a fact a reader must see (a repair or remote fix that did not fix the fault)
SAID_WHEN_FALSE = frozenset({"fixed"})


def _shown(f: dict[str, Any]) -> dict[str, Any]:
    """A fact's own fields as the report lists them: empty values left out, but a `false` that
    says something (`fixed: no`) kept."""
    return {k: v for k, v in f.items() if k not in ENVELOPE and
            (v is False and k in SAID_WHEN_FALSE or v not in ("", None, [], {}, False))}


def _current(topic: str, state: bytes) -> dict[str, Any]:
    """A stored event as the current version of its fact (old versions upcast, §6)."""
    _, name, version = parse_topic(topic)
    return msgspec.json.decode(upcast_state(name, version, state))


def build_report(ticket: str, rows: Iterable[Any], views: Any, *, as_of_recorded: str | None = None,
                 as_of_source_recorded: str | None = None,
                 ticket_oid: str = "", evidence_href: Callable[[str], str] | None = None,
                 evidence_status: Callable[[str], str] | None = None,
                 clocks_without: Callable[[int], list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """The report as plain data. `rows`: log rows (position order) of the ticket, its asset and
    contract; `views`: a DuckDB connection to views evaluated for the same events;
    `clocks_without(position)`: the ticket's clock rows of a scoped replay without the fact at
    that position (a correction's effect, issue 17), when the caller can replay."""
    rows = sorted(rows, key=lambda r: r.position)
    ticket_rows = [r for r in rows if r.originator_id == ticket_oid] if ticket_oid else \
        [r for r in rows if r.topic.startswith("ticket.")]
    other_rows = [r for r in rows if r not in ticket_rows]
    # the view's rule narrowed to this ticket's events first (the whole view reads the whole log),
    # and to the span of log positions they lie in: the events table is in log order, so DuckDB
    # skips the row groups outside it (a ticket of the 10M ledger: 2 of 82, 0.04 s instead of 0.4 s)
    span = [min(r.position for r in ticket_rows), max(r.position for r in ticket_rows)] if ticket_rows else [0, -1]
    late = {r["position"]: r for r in view_rows(
        views, f"SELECT position, lateness_minutes, tolerance_minutes FROM "
               f"({late_entries_sql(' AND id = ? AND position BETWEEN ? AND ?')}) ORDER BY position", [ticket, *span])}

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
            "detail": _shown(f),
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
    recorded_terms: dict[int, dict[str, Any]] = {}  # the terms each version recorded (a what-if is compared to them)
    parties: dict[str, Any] = {}
    asset: dict[str, Any] = {}
    for r in other_rows:
        f = _current(r.topic, r.state)
        kind = f.get("type")
        if r.topic.startswith("contract."):
            terms = f.get("terms", {})
            recorded_terms[r.originator_version] = terms
            tz = terms.get("timezone", tz) if r.originator_version == 1 else tz
            if kind == "ContractRegistered":
                parties = {"contract": f.get("id"), "contract_name": f.get("name") or terms.get("name", ""),
                           "supplier": f.get("supplier"), "customer": f.get("customer_id")}
            contract_versions.append({
                "contract": f.get("id"), "version": r.originator_version, "type": kind,
                "in_force_from": _utc_text(f.get("effective_from")) or "(start)", "name": terms.get("name", ""),
                "supplier_name": terms.get("supplier_name", ""), "customer_name": terms.get("customer_name", ""),
                "losses_clause": terms.get("losses_clause", "") if terms.get("losses_liable") else "",
                "losses_clocks": list(terms.get("losses_clocks") or []),  # empty: every clock
                "late_entry_tolerance": terms.get("late_entry_tolerance", {"hours": 24}),
                "tolerance_set": terms.get("late_entry_tolerance") is not None,  # else the default (§9.12)
                "position": r.position, "link": r.link, "recorded_at": _utc_text(r.recorded_at),
                "recorded_at_exact": r.recorded_at, "state_sha256": r.state_sha256,
            })
        elif r.topic.startswith("asset."):
            if kind == "AssetRegistered":
                asset = {"asset": f.get("id"), "serial": f.get("serial"), "model": f.get("model") or "",
                         "asset_type": f.get("asset_type"), "site": f.get("site"), "placeholder": f.get("placeholder", False)}
            elif kind == "AssetMoved":
                asset["site"] = f.get("site")
            elif kind in ("AssetAccepted", "AssetDelivered"):
                asset.setdefault(kind, _utc_text(f.get("occurred_at")))
            asset_events.append({
                "position": r.position, "type": kind, "occurred_at": _utc_text(f.get("occurred_at")),
                "recorded_at": _utc_text(r.recorded_at), "actor": f.get("actor"), "link": r.link,
                "recorded_at_exact": r.recorded_at, "state_sha256": r.state_sha256,
                "detail": {k: v for k, v in f.items() if k not in ENVELOPE and v not in ("", None, [], {}, False)},
            })

    clocks = _in_clock_order(view_rows(views, "SELECT * FROM sla_clocks WHERE ticket = ?", [ticket]))
    what_if = what_if_terms(views, opened.get("contract_id") or parties.get("contract"))
    if what_if:
        clocks = [{**c, "what_if_file": what_if["file"],
                   "recorded_promise": recorded_promise(c, recorded_terms.get(c.get("contract_version") or 0))}
                  for c in clocks]
    inputs = view_rows(views, "SELECT * FROM clock_inputs WHERE ticket = ? ORDER BY clock, position", [ticket])
    liability = view_rows(views, "SELECT * FROM liability WHERE ticket = ?", [ticket])
    replacement = _replacement(views, ticket, opened, timeline, asset_events)
    effects = []
    for c in corrections:
        without = _in_clock_order([{k: iso(v) for k, v in row.items()} for row in clocks_without(c["position"])]) \
            if clocks_without else None
        effects.append({"position": c["position"], "clocks_without": without})
    # the terms version the verdicts use (in force at the report time, §9.11)
    in_force = (liability[0].get("contract_version") if liability else None) or \
        next((c.get("contract_version") for c in clocks), None)
    version = next((v for v in contract_versions if v["version"] == in_force), None) or \
        (contract_versions[0] if contract_versions else {})
    for e in timeline:  # the tolerance is the contract's, or the default where it sets none (§9.12)
        if e["late"]:
            e["late"]["default_tolerance"] = not version.get("tolerance_set", False)
    late_rows = [{"position": e["position"], "type": e["type"], "occurred_at": e["occurred_at"],
                  "source_recorded_at": e["source_recorded_at"], "recorded_at": e["recorded_at"], **e["late"]}
                 for e in timeline if e["late"]]
    parties = {**parties, "supplier_name": version.get("supplier_name", ""),
               "customer_name": version.get("customer_name", ""), "version_in_force": version.get("version"),
               "losses_clause": version.get("losses_clause", ""), "losses_clocks": version.get("losses_clocks", [])}
    evaluated = sorted({c.get("evaluated_at") for c in clocks + liability if c.get("evaluated_at")})
    if not evaluated:
        cp = view_rows(views, "SELECT max(evaluated_at) AS evaluated_at FROM checkpoint", [])
        evaluated = [cp[0]["evaluated_at"]] if cp and cp[0]["evaluated_at"] else []
    checkpoint = view_rows(views, "SELECT max(position) AS position FROM checkpoint", [])
    checkpoint = [c for c in checkpoint if c.get("position") is not None]
    cited = sorted({e["position"] for e in timeline} | {c["position"] for c in contract_versions}
                   | {a["position"] for a in asset_events})
    return {
        "ticket": ticket,
        "as_of_recorded": as_of_recorded,
        "as_of_source_recorded": as_of_source_recorded,  # the desks' own recording time (replay.asof)
        "evaluated_at": evaluated[-1] if evaluated else None,
        "timezone": tz,
        "what_if": what_if,  # the views' terms are a what-if file's, not the contract's as recorded
        "summary": {
            "asset": opened.get("asset_id"), "contract": opened.get("contract_id"),
            "customer": opened.get("customer"), "site": opened.get("site"),
            "severity_at_report": opened.get("severity"), "fault_category": opened.get("fault_category"),
            "reported_at": _utc_text(opened.get("occurred_at")), "reporter_ref": opened.get("reporter_ref") or None,
        },
        "parties": parties,
        "asset": asset,
        "timeline": timeline,
        "corrections": corrections,
        "correction_effects": effects,
        "late_entries": [e for e in timeline if e["late"]],
        "late_rows": late_rows,
        "clocks": clocks,
        "clock_inputs": inputs,
        "liability": liability[0] if liability else None,
        "replacement": replacement,
        "evidence": evidence,
        "contract_versions": contract_versions,
        "asset_events": asset_events,
        "log": {"positions_cited": cited, "last_position_read": rows[-1].position if rows else None,
                # the ledger's state the views were computed for (their checkpoint), which is the
                # same for every report of the same views, unlike the last position a report cites
                "views_position": checkpoint[0]["position"] if checkpoint else None,
                "head_link_cited": rows[-1].link if rows else None},
        "views_available": views is not None and bool(clocks or liability),
        # values recorded before today's bounds, as the views flagged and counted them
        "beyond_bounds": view_rows(views, "SELECT position, type, field, value, bound, effect FROM beyond_bounds "
                                          "WHERE list_contains(?, position) ORDER BY position, field", [cited]),
    }


def what_if_terms(views: Any, contract: str | None) -> dict[str, Any] | None:
    """The what-if terms file (`replay --terms`) the views judged `contract` by, or None when they
    used its terms as recorded: a report from such views is a hypothesis, and says so."""
    return _what_if_of(view_rows(views, "SELECT * FROM terms WHERE what_if AND contract = ? ORDER BY version",
                                 [contract]))


def views_what_if(views: Any) -> dict[str, Any] | None:
    """The what-if terms file (`replay --terms`) the views judged any of their contracts by (a
    file replaces one contract's terms, or those of the contracts it was given for), or None: a
    report of the views' rows (`report`) is then a hypothesis, and says so."""
    return _what_if_of(view_rows(views, "SELECT * FROM terms WHERE what_if ORDER BY contract, version", []))


def _what_if_of(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if not rows:
        return None
    # `contract`: the first replaced (as before); `contracts`: every one (`--terms-for` names several)
    return {"contract": rows[0]["contract"], "contracts": sorted({r["contract"] for r in rows}),
            "file": rows[0].get("what_if_file") or "", "sha256": rows[0].get("what_if_sha256") or ""}


def recorded_promise(clock: dict[str, Any], terms: dict[str, Any] | None) -> dict[str, Any] | None:
    """The promise the contract as recorded makes for this clock, where the what-if terms the clock
    was judged by changed its target or clause (None where they kept it); unit None: it made none."""
    by_severity = (terms or {}).get("clocks", {}).get(clock.get("clock_severity") or clock.get("severity"), {})
    recorded = by_severity.get(clock.get("clock")) or {}
    (unit, amount), = (recorded.get("target") or {None: None}).items()
    clause = recorded.get("clause") or ""
    if (unit, amount, clause) == (clock.get("target_unit"), clock.get("target_amount"), clock.get("clause") or ""):
        return None
    return {"unit": unit, "amount": amount, "clause": clause}


def _replacement(views: Any, ticket: str, opened: dict[str, Any], timeline: list[dict[str, Any]],
                 asset_events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The asset's replacement obligation for this ticket's fault (SPEC §8, §9.9), as the views
    hold it (`replacement_obligations`, `repeat_failures`), with its place in time against this
    ticket: `when` is "this_ticket" (its threshold-th failure is one of this ticket's), "later"
    (it arose after this ticket's last event), "earlier" (it was due before the report) or
    "during" (due while this ticket ran, from another ticket's failure); the replacement that
    fulfilled it from the asset's AssetReplaced fact. None when no obligation is due."""
    asset, category = opened.get("asset_id"), opened.get("fault_category")
    if not asset or not category:
        return None
    due = view_rows(views, "SELECT * FROM replacement_obligations WHERE asset = ? AND fault_category = ?",
                    [asset, category])
    if not due or not due[0].get("due_since"):
        return None
    o = due[0]
    failures = view_rows(views, "SELECT ticket, kind, failed_at, n FROM repeat_failures WHERE asset = ? "
                                "AND fault_category = ? ORDER BY n", [asset, category])
    since = o["due_since"]
    times = sorted(e["occurred_at"] for e in timeline if e.get("occurred_at"))
    first, last = (times[0], times[-1]) if times else (None, None)
    if any(f["ticket"] == ticket and f["n"] == o["threshold"] for f in failures):
        when = "this_ticket"
    elif first and since < first:
        when = "earlier"
    elif last and since > last:
        when = "later"
    else:
        when = "during"
    replaced = next((a for a in asset_events if a["type"] == "AssetReplaced"), None)
    return {"asset": asset, "serial": o.get("serial"), "fault_category": category, "failures": o["failures"],
            "threshold": o["threshold"], "due_since": since, "clause": o.get("clause"), "when": when,
            "replaced_by": o.get("replaced_by") or (replaced or {}).get("detail", {}).get("by_asset"),
            "replaced_at": (replaced or {}).get("occurred_at"), "replaced_position": (replaced or {}).get("position"),
            "failure_list": failures}


def _in_clock_order(clocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = {c: i for i, c in enumerate(CLOCKS)}
    return sorted(clocks, key=lambda c: (order.get(c.get("clock"), 99), str(c.get("clock"))))


def render_json(report: dict[str, Any], lang: str = "en") -> bytes:
    """The report for programs: instants in UTC, amounts in fen; the explanations in `lang`."""
    from .exhibit import explanations, what_if_fields
    from .i18n import texts

    said = what_if_fields(report.get("what_if"), texts(lang))
    return msgspec.json.format(msgspec.json.encode({**report, "lang": lang, **said,
                                                    "explanations": explanations(report, lang)}), indent=2) + b"\n"
