"""Every verdict in a sentence, rendered from the rows the views computed (issue 17).

Pure: rows in, sentences out, in the reader's language (replay/i18n.py). Nothing here decides a
deadline, a pause, a payer or a verdict: each sentence reads a `sla_clocks`, `clock_inputs`,
`late_entries` or `liability` row (projections/README.md), and the effect of a correction is
the clock rows of a scoped replay without it beside the rows with it. Arithmetic here is
presentation only (a margin between two instants the row holds).

Rows are mappings of column -> value; instants may be datetimes (naive UTC, as DuckDB returns
them) or ISO text with Z (as the report's JSON holds them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .i18n import Texts, texts, to_local, word

Row = Mapping[str, Any]


def _(message: str) -> str:
    """Marks a message for the catalog; translated where it is used (Texts.__call__)."""
    return message


# --- small readers of row values ------------------------------------------------------------------


def _minutes_between(a: Any, b: Any) -> float | None:
    """Wall-clock minutes from instant a to instant b (presentation: a margin the row implies)."""
    la, lb = to_local(a, "UTC"), to_local(b, "UTC")
    if la is None or lb is None:
        return None
    return (lb - la).total_seconds() / 60


def _pos(row: Row) -> str:
    p = row.get("position")
    return "" if p is None else str(p)


def clause_text(clause: Any) -> str:
    """A clause as quoted in a sentence: «…» in both languages."""
    text = str(clause or "").strip()
    return f"«{text}»" if text else ""


def target_text(clock: Row, t: Texts) -> str:
    """The promise's size as the contract writes it (`36 hours`, `3 个工作日`)."""
    unit, amount = clock.get("target_unit"), clock.get("target_amount")
    if unit and amount is not None:
        return t.period(amount, unit)
    if clock.get("target_minutes") is not None:
        return t.duration(clock["target_minutes"])
    return ""


def calendar_text(clock: Row, t: Texts) -> str:
    cal = clock.get("calendar")
    if not cal or cal == "7x24":
        return t(_("around the clock (7×24)"))
    return t(_("on the contract's calendar “{calendar}”"), calendar=cal)


# --- the verdict of one clock ------------------------------------------------------------------------


def verdict_short(clock: Row, lang: str) -> str:
    """`breached by 1 h 5 min`, `met`, `not applicable`, … (tables, the first page)."""
    t = texts(lang)
    state = clock.get("state")
    if state == "breached":
        return t(_("breached by {duration}"), duration=t.duration(clock.get("breach_minutes")))
    if state == "met":
        margin = _minutes_between(clock.get("stopped_at"), clock.get("deadline"))
        if margin is not None and margin >= 0.5:
            return t(_("met, {duration} before the deadline"), duration=t.duration(margin))
        return word(lang, "state", "met")
    return word(lang, "state", state)


def promise_sentence(clock: Row, lang: str, tz: str) -> str:
    """What the contract promised for this clock, with its clause quoted."""
    t = texts(lang)
    if clock.get("target_unit") is None and clock.get("target_minutes") is None:
        return t(_("The contract sets no {clock} promise for severity {severity}."),
                 clock=word(lang, "clock", clock.get("clock")),
                 severity=word(lang, "severity", clock.get("clock_severity") or clock.get("severity")))
    return t(_("Promise: {clock} within {target}, {calendar}, from the report at {start} (severity {severity}, "
               "contract {contract} version {version}): {clause}."),
             clock=word(lang, "clock", clock.get("clock")), target=target_text(clock, t),
             calendar=calendar_text(clock, t), start=t.time(clock.get("start"), tz),
             severity=word(lang, "severity", clock.get("clock_severity") or clock.get("severity")),
             contract=clock.get("contract") or "", version=clock.get("contract_version") or "",
             clause=clause_text(clock.get("clause")) or t(_("(no clause named)")))


def verdict_sentence(clock: Row, lang: str, tz: str) -> str:
    """The clock's result and by how much, from its row."""
    t = texts(lang)
    state = clock.get("state")
    deadline, stopped = t.end(clock.get("deadline"), tz), t.time(clock.get("stopped_at"), tz)
    if state == "breached" and clock.get("stopped_at"):
        return t(_("Breached by {duration}: the deadline was {deadline} and the clock stopped at {stop}."),
                 duration=t.duration(clock.get("breach_minutes")), deadline=deadline, stop=stopped)
    if state == "breached":
        return t(_("Breached by {duration} so far: the deadline {deadline} has passed and the clock was still "
                   "running at the evaluation time {at}."),
                 duration=t.duration(clock.get("breach_minutes")), deadline=deadline,
                 at=t.time(clock.get("evaluated_at"), tz))
    if state == "met":
        margin = _minutes_between(clock.get("stopped_at"), clock.get("deadline"))
        return t(_("Met: the clock stopped at {stop}, {duration} before the deadline {deadline}."),
                 stop=stopped, duration=t.duration(max(margin or 0, 0)), deadline=deadline)
    if state == "at_risk" and clock.get("counted_minutes") is not None:
        return t(_("At risk: still running at the evaluation time {at} with {counted} of the target counted; "
                   "deadline {deadline}."),
                 at=t.time(clock.get("evaluated_at"), tz), deadline=deadline,
                 counted=t.duration(clock.get("counted_minutes")))
    if state == "at_risk":
        return t(_("At risk: still running at the evaluation time {at}, close to the deadline {deadline}."),
                 at=t.time(clock.get("evaluated_at"), tz), deadline=deadline)
    if state == "running":
        return t(_("Running at the evaluation time {at}; deadline {deadline}."),
                 at=t.time(clock.get("evaluated_at"), tz), deadline=deadline)
    if state == "not_applicable":
        return t(_("Not applicable."))
    return str(state or "")


# --- the inputs of one clock (clock_inputs rows) ------------------------------------------------------

WAIT = {
    "paused": _("The wait ({reason}) from {at} to {until} (log position {position}) paused this clock for "
                "{minutes}: the clause lists that reason."),
    "paused_open": _("The wait ({reason}) from {at}, still open at the evaluation time (log position {position}), "
                     "paused this clock for {minutes}: the clause lists that reason."),
    "paused_overlap": _("The wait ({reason}) from {at} to {until} (log position {position}) fell within another "
                        "pause of this clock and added {minutes}."),
    "not_listed": _("The wait ({reason}) from {at} to {until} (log position {position}) did not pause this clock: "
                    "the clause does not list that reason."),
    "after_deadline": _("The wait ({reason}) from {at} (log position {position}) started after the deadline and "
                        "is ignored: it moves neither the deadline nor the breach (§9.3)."),
    "day_counted": _("The wait ({reason}) from {at} (log position {position}) did not pause this clock: a "
                     "target counted in days runs to the end of its last day whatever the waits (arts. 201–203)."),
    "outside_clock": _("The wait ({reason}) from {at} to {until} (log position {position}) lay outside the time "
                       "this clock ran and is ignored."),
}
CONSENT = {
    "applied": _("The consent of {at} (log position {position}) added {minutes} to the target; it was given "
                 "before the deadline it moves (§9.5)."),
    "capped": _("The consent of {at} (log position {position}) asked for {asked} in all; the clause allows at "
                "most {minutes}, so the target grew by {minutes} (§9.5)."),
    "after_deadline": _("The consent of {at} (log position {position}) was given after the deadline it would "
                        "move: it is kept as a fact but moves nothing (§9.5)."),
    "not_allowed": _("The consent of {at} (log position {position}) moves nothing: this clause allows no "
                     "extension."),
}
SEVERITY = {
    "applied": _("The change to severity {severity} at {at} (log position {position}) set the target to "
                 "{target}, still measured from the report time (§9.4)."),
    "same_target": _("The change to severity {severity} at {at} (log position {position}) left the target at "
                     "{target}."),
    "after_deadline": _("The change to severity {severity} at {at} (log position {position}) came after the "
                        "deadline had passed: the deadline and the breach stay (§9.4)."),
    "after_stop": _("The change to severity {severity} at {at} (log position {position}) came after the clock "
                    "had stopped and changes nothing."),
}
STOP = {
    "acknowledged": _("The clock stopped at {at} with the acknowledgement (log position {position})."),
    "arrived": _("The clock stopped at {at} when the technician arrived (log position {position})."),
    "resolved": _("The clock stopped at {at} with the resolution (log position {position}), which was not "
                  "reopened later."),
    "remote_fix": _("The clock stopped at {at} with the successful remote fix (log position {position})."),
    "visit_decided": _("The clock stopped at {at}, when the on-site visit was decided (technician dispatched, "
                       "log position {position}): the remote phase ended there."),
    "spare_lent": _("The clock stopped at {at} when the spare unit was lent (log position {position})."),
    "solution_plan": _("The clock stopped at {at} with the solution plan (log position {position}), which this "
                       "contract accepts as a resolution."),
    "cancelled": _("The ticket was cancelled at {at} (log position {position}) after the deadline had passed: the "
                   "breach is measured to the cancellation (§9.1)."),
}
NOT_APPLICABLE = {
    "no_target": _("Not applicable: the contract sets no such promise for severity {severity}."),
    "fixed_remotely": _("Not applicable: the fault was fixed remotely at {at} (log position {position}), so this "
                        "was never needed (§9.1)."),
    "resolved_before_trigger": _("Not applicable: the ticket was resolved at {at} (log position {position}), "
                                 "within {minutes} of the report, before a spare unit was due (§9.1)."),
    "visit_decided_in_time": _("Not applicable: the on-site visit was decided at {at} (log position {position}), "
                               "within the remote-resolution target (§9.1)."),
    "cancelled_before_deadline": _("Not applicable: the ticket was cancelled at {at} (log position {position}), "
                                   "before the deadline (§9.1)."),
}
REOPEN = _("The resolution of {at} was undone by the reopen of {until} (log position {position}): those "
           "{minutes} do not count (§9.1).")
PROVISIONAL_YEAR = _("Provisional: the result depends on {year}, whose official working-day calendar the ledger "
                     "does not hold yet; it is counted with weekends only until that year is recorded (§8).")
PROVISIONAL = _("Provisional: the result depends on a calendar year the ledger does not hold yet (§8).")
UNKNOWN_INPUT = _("Input {kind} at log position {position}: {reason}.")


def input_sentence(row: Row, lang: str, tz: str) -> str:
    """One `clock_inputs` row as a sentence."""
    t = texts(lang)
    kind, reason = row.get("kind"), row.get("reason")
    common = {"at": t.time(row.get("at"), tz), "until": t.time(row.get("until"), tz), "position": _pos(row),
              "minutes": t.duration(row.get("minutes") or 0)}
    if kind == "wait" and reason in WAIT:
        key = reason
        if reason == "paused" and row.get("until") is None:
            key = "paused_open"
        elif reason == "paused" and (row.get("minutes") or 0) + 0.5 < (row.get("input_minutes") or 0):
            key = "paused_overlap"
        return t(WAIT[key], reason=word(lang, "wait", row.get("detail")), **common)
    if kind == "reopen":
        return t(REOPEN, **common)
    if kind == "consent" and reason in CONSENT:
        return t(CONSENT[reason], asked=t.duration(row.get("input_minutes") or 0), **common)
    if kind == "severity" and reason in SEVERITY:
        return t(SEVERITY[reason], severity=word(lang, "severity", row.get("detail")), target=severity_target(row, t),
                 **common)
    if kind == "stop" and reason in STOP:
        return t(STOP[reason], **common)
    if kind == "not_applicable" and reason in NOT_APPLICABLE:
        common["minutes"] = t.duration(row.get("input_minutes") or 0)
        return t(NOT_APPLICABLE[reason], severity=word(lang, "severity", row.get("detail")), **common)
    if kind == "calendar":
        year = row.get("awaits_year")
        return t(PROVISIONAL_YEAR, year=year) if year else t(PROVISIONAL)
    return t(UNKNOWN_INPUT, kind=kind or "", position=_pos(row), reason=reason or "")


def severity_target(row: Row, t: Texts) -> str:
    """The target a severity change set, as the contract writes it: `3 working days` for a
    day-counted clock (which has no minutes), else its minutes as a duration."""
    if row.get("target_unit") and row.get("target_amount") is not None:
        return t.period(row["target_amount"], row["target_unit"])
    minutes = row.get("minutes") if row.get("minutes") is not None else row.get("input_minutes")
    return t.duration(minutes) if minutes is not None else ""


INPUT_ORDER = {"not_applicable": 0, "stop": 1, "severity": 2, "wait": 3, "reopen": 4, "consent": 5, "calendar": 6}


def clock_sentences(clock: Row, inputs: Iterable[Row], lang: str, tz: str,
                    late: Iterable[Row] = ()) -> list[str]:
    """The clock's promise, its verdict, then one sentence per input the rules weighed (in the
    order: why not applicable, what stopped it, severity, pauses, consents, calendar), and the
    late entries among those inputs."""
    t = texts(lang)
    mine = sorted((r for r in inputs if r.get("ticket", clock.get("ticket")) == clock.get("ticket")
                   and r.get("clock") == clock.get("clock")),
                  key=lambda r: (INPUT_ORDER.get(r.get("kind"), 9), _sort_time(r.get("at")), r.get("position") or 0))
    out = [promise_sentence(clock, lang, tz)]
    not_applicable = [r for r in mine if r.get("kind") == "not_applicable"]
    if clock.get("state") == "not_applicable" and not_applicable:
        out += [input_sentence(r, lang, tz) for r in not_applicable]
    else:
        out.append(verdict_sentence(clock, lang, tz))
    out += [input_sentence(r, lang, tz) for r in mine if r.get("kind") not in ("not_applicable",)]
    if not mine:  # views without clock_inputs: what the clock row itself says
        if clock.get("paused_minutes"):
            out.append(t(_("Pauses counted: {minutes}."), minutes=t.duration(clock["paused_minutes"])))
        if clock.get("extension_minutes"):
            out.append(t(_("Consented extension applied: {minutes}."), minutes=t.duration(clock["extension_minutes"])))
        if clock.get("provisional"):
            out.append(t(PROVISIONAL))
    positions = {r.get("position") for r in mine if r.get("position") is not None}
    out += [late_sentence(r, lang, tz) for r in late if r.get("position") in positions]
    return out


def _sort_time(v: Any) -> str:
    local = to_local(v, "UTC")
    return local.isoformat() if isinstance(local, datetime) else ""


# --- late entries, corrections, liability -----------------------------------------------------------


def late_sentence(row: Row, lang: str, tz: str) -> str:
    """A `late_entries` row: lateness against the contract's tolerance (§9.12)."""
    t = texts(lang)
    message = (_("{event} (log position {position}) occurred at {at} but the source desk recorded it {lateness} "
                 "later, beyond the contract's tolerance of {tolerance} (§9.12).")
               if row.get("source_recorded_at") else
               _("{event} (log position {position}) occurred at {at} but was recorded {lateness} later, beyond "
                 "the contract's tolerance of {tolerance} (§9.12)."))
    return t(message, event=word(lang, "fact", row.get("type")), position=_pos(row),
             at=t.time(row.get("occurred_at"), tz), lateness=t.duration(row.get("lateness_minutes")),
             tolerance=t.duration(row.get("tolerance_minutes")))


def correction_sentences(correction: Row, without: Sequence[Row], with_: Sequence[Row], lang: str) -> list[str]:
    """A correction's effect on each verdict: the clock rows of a replay without it (`without`)
    beside the rows with it (`with_`), matched by clock."""
    t = texts(lang)
    before = {r.get("clock"): r for r in without}
    out = []
    for clock in with_:
        name = clock.get("clock")
        other = before.get(name)
        now = verdict_short(clock, lang)
        if other is None:
            out.append(t(_("Correction at log position {position}: without it there would be no {clock} clock; "
                           "with it, {verdict}."), position=_pos(correction), clock=word(lang, "clock", name),
                         verdict=now))
            continue
        then = verdict_short(other, lang)
        if then == now and other.get("deadline") == clock.get("deadline"):
            out.append(t(_("Correction at log position {position} did not change the {clock} verdict ({verdict})."),
                         position=_pos(correction), clock=word(lang, "clock", name), verdict=now))
        else:
            out.append(t(_("Correction at log position {position}: without it, {clock} would be {before}; with it, "
                           "{after}."), position=_pos(correction), clock=word(lang, "clock", name),
                         before=then, after=now))
    return out


COVERAGE = {
    "warranty": _("Coverage at the report time {reported}: in warranty, which runs to {warranty_end}."),
    "paid": _("Coverage at the report time {reported}: the paid maintenance period, which runs to {paid_end} "
              "(the warranty ended {warranty_end})."),
    "out": _("Coverage at the report time {reported}: out of coverage (the warranty ended {warranty_end})."),
    "pre_acceptance": _("Coverage at the report time {reported}: before acceptance."),
    "unknown": _("Coverage at the report time {reported}: unknown, because the asset is a desk placeholder or not "
                 "registered (§9.14)."),
}


def liability_sentences(li: Row | None, lang: str, tz: str, *, breached: Sequence[Row] = (),
                        losses_clause: str = "", consumable_lines: bool = False) -> list[str]:
    """The liability row read out: coverage, the rule that matched, who pays what, losses.
    `breached`: the ticket's breached clock rows (the breaches the losses rule cites);
    `consumable_lines`: a repair of the ticket used a consumable part (its line may be priced at
    the contract's rate for consumables, the lower of two promises, §9.10)."""
    if not li:
        return []
    t = texts(lang)
    out = [t(COVERAGE.get(li.get("coverage"), COVERAGE["unknown"]),
             reported=t.time(li.get("reported_at"), tz), warranty_end=t.end(li.get("warranty_end"), tz),
             paid_end=t.end(li.get("paid_end"), tz))]
    cause = word(lang, "cause", li.get("cause") or "unknown")
    if li.get("payer_clause") or li.get("parts_rate"):
        out.append(t(_("Cause: {cause}. The first payer rule of the contract that matches this coverage and cause "
                       "decides: {clause}."), cause=cause, clause=clause_text(li.get("payer_clause"))
                     or t(_("(no clause named)"))))
        out.append(t(_("Parts worth {parts_value}: {parts_rate}, borne by the {parts_payer}. Labour worth "
                       "{labour_value}: {labour_rate}, borne by the {labour_payer}."),
                     parts_value=t.money(li.get("parts_value_fen") or 0),
                     parts_rate=t(_("{rate}; a consumable line at the contract's rate for consumables where that "
                                    "is lower (§9.10)"), rate=word(lang, "rate", li.get("parts_rate")))
                     if consumable_lines and li.get("parts_rate") not in (None, "free")
                     else word(lang, "rate", li.get("parts_rate")),
                     parts_payer=word(lang, "payer", li.get("parts_payer")),
                     labour_value=t.money(li.get("labour_value_fen") or 0),
                     labour_rate=word(lang, "rate", li.get("labour_rate")),
                     labour_payer=word(lang, "payer", li.get("labour_payer"))))
        out.append(t(_("The customer pays {customer}; the supplier bears {supplier}."),
                     customer=t.money(li.get("customer_pays_fen") or 0),
                     supplier=t.money(li.get("supplier_pays_fen") or 0)))
    else:
        out.append(t(_("Cause: {cause}. No payer rule of the contract matches this coverage and cause: who pays "
                       "is undetermined."), cause=cause))
    losses = li.get("losses_claimed_fen") or 0
    if losses:
        cited = "; ".join(f"{word(lang, 'clock', c.get('clock'))} {verdict_short(c, lang)}" for c in breached)
        if li.get("supplier_liable_for_losses"):
            out.append(t(_("The customer claims {losses} in losses; the supplier is liable for them under {clause}, "
                           "because a promise was broken: {breaches}."),
                         losses=t.money(losses), clause=clause_text(losses_clause) or t(_("(no clause named)")),
                         breaches=cited))
        elif not losses_clause:
            out.append(t(_("The customer claims {losses} in losses; the contract has no clause making the supplier "
                           "liable for them."), losses=t.money(losses)))
        else:
            out.append(t(_("The customer claims {losses} in losses; the supplier is not liable for them under "
                           "{clause}, because no clock of this ticket was breached."),
                         losses=t.money(losses), clause=clause_text(losses_clause)))
    if li.get("replacement_due"):
        out.append(t(_("The replacement obligation is due for this asset: it failed repeatedly for the same fault.")))
    if li.get("provisional"):
        out.append(t(_("Provisional: the warranty's end depends on a calendar year the ledger does not hold yet "
                       "(§8).")))
    return out
