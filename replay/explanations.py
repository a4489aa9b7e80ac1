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

from .i18n import Texts, recorded_word, texts, to_local, word

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


def payer_undetermined(li: Row) -> bool:
    """No payer rule decided who pays (projections.liability.UNDETERMINED): no amount, not ¥0.00."""
    return li.get("customer_pays_fen") is None


def nothing_to_pay(li: Row) -> bool:
    """No parts and no labour, and no payer rule matched: no payer question (projections.liability.NOTHING_TO_PAY)."""
    return li.get("parts_payer") == "none"


def value_in_question(li: Row) -> int:
    """The parts and labour whose payer is undetermined (projections.liability.VALUE_IN_QUESTION)."""
    return (li.get("parts_value_fen") or 0) + (li.get("labour_value_fen") or 0)


def clause_text(clause: Any) -> str:
    """A clause as quoted in a sentence: «…» in both languages."""
    text = str(clause or "").strip()
    return f"«{text}»" if text else ""


def promise_clause(clock: Row, t: Texts) -> str:
    """The clause a clock's promise quotes. Under what-if terms that changed the promise, the
    contract's words are not quoted as if they promised the what-if target: the file's own clause
    only where it rewrote it, then what the contract as recorded promises, marked replaced."""
    recorded = clock.get("recorded_promise")
    if not recorded:
        return clause_text(clock.get("clause"))
    own = clause_text(clock.get("clause")) if clock.get("clause") != recorded["clause"] else ""
    was = (t.period(recorded["amount"], recorded["unit"]) if recorded["unit"] else t(_("no promise")))
    replaced = t(_("(what-if; replaces the contract as recorded: {target} {clause})"),
                 target=was, clause=clause_text(recorded["clause"]))
    return f"{own} {replaced}" if own else replaced


def target_text(clock: Row, t: Texts) -> str:
    """The promise's size as the contract writes it (`36 hours`, `3 个工作日`)."""
    unit, amount = clock.get("target_unit"), clock.get("target_amount")
    if unit and amount is not None:
        return t.period(amount, unit)
    if clock.get("target_minutes") is not None:
        return t.duration(clock["target_minutes"])
    return ""


DAY_UNITS = frozenset({"days", "weeks", "months", "years", "working_days"})


def day_counted(clock: Row) -> bool:
    """A target in days, weeks, months or working days: a period counted by days (SPEC §8)."""
    return clock.get("target_unit") in DAY_UNITS


def calendar_text(clock: Row, t: Texts) -> str:
    """The calendar a clock counts on, in words: never the code (`prc`) alone."""
    cal = clock.get("calendar")
    unit = clock.get("target_unit")
    if cal not in (None, "", "7x24", "prc"):
        return t(_("on the contract's calendar “{calendar}”"), calendar=cal)
    if unit == "working_days" or (cal == "prc" and day_counted(clock)):
        version = clock.get("calendar_version")
        return (t(_("counted in working days of the official PRC calendar (calendar data {version})"), version=version)
                if version else t(_("counted in working days of the official PRC calendar")))
    if day_counted(clock):
        return t(_("counted in calendar days"))
    if cal == "prc":
        return t(_("in working time of the official PRC calendar"))
    return t(_("around the clock (7×24)"))


def pause_parts(clock: Row, inputs: Iterable[Row]) -> tuple[float, float]:
    """A clock's uncounted time as (paused, reopened): the pauses proper, and the time between a
    resolution and the reopen that undid it (counting rule 9.1), which `paused_minutes` holds too.
    The verdict table (`target_adjusted`) and the console's ticket page both read it so."""
    gaps = sum(r.get("minutes") or 0 for r in inputs
               if r.get("clock") == clock.get("clock") and r.get("kind") == "reopen"
               and r.get("reason") == "undone_resolution")
    reopened = min(gaps, clock.get("paused_minutes") or 0)
    paused = (clock.get("paused_minutes") or 0) - reopened
    return (paused if paused > 1e-6 else 0.0), reopened


def target_adjusted(clock: Row, t: Texts, tz: str = "Asia/Shanghai", inputs: Iterable[Row] = ()) -> str:
    """The promise's size with what changed the deadline, as the verdict table shows it:
    `36 hours + 12 hours (extended with consent)`, `36 hours + 63 min paused`,
    `36 hours + 63 h 2 min (between a resolution and its reopening, not counted)`."""
    text = target_text(clock, t)
    if clock.get("extension_minutes"):
        text += t(_(" + {duration} (extended with consent)"), duration=t.duration(clock["extension_minutes"], days=False))
    paused, reopened = pause_parts(clock, inputs)
    if paused >= 0.5:
        text += t(_(" + {duration} paused"), duration=t.duration(paused, days=False))
    if reopened:
        text += t(_(" + {duration} (between a resolution and its reopening, not counted)"), duration=t.duration(reopened, days=False))
    if _rest_day_deferred({**clock, "_tz": tz}) is not None:
        text += t(_(" (last day a rest day: ends with the next working day)"))
    return text


def _day_count(clock: Row) -> tuple[Any, Any, Any] | None:
    """(report day, last day by the count, last day of the deadline) of a period in days or
    weeks, local dates in the contract's zone; None for other targets (presentation: the deadline
    is the view's)."""
    from datetime import timedelta

    unit, amount = clock.get("target_unit"), clock.get("target_amount")
    tz = clock.get("_tz") or "Asia/Shanghai"
    start, deadline = to_local(clock.get("start"), tz), to_local(clock.get("deadline"), tz)
    if unit not in ("days", "weeks") or amount is None or start is None or deadline is None:
        return None
    counted = start.date() + timedelta(days=int(amount) * (7 if unit == "weeks" else 1))
    last = (deadline - timedelta(minutes=1)).date() if deadline.time().hour == 0 and deadline.minute == 0 \
        else deadline.date()
    return start.date(), counted, last


def _rest_day_deferred(clock: Row) -> Any:
    """The last day by the count when the rest-day rule moved the end past it (art. 203): the
    deadline falls after the count's last day, and nothing else (a pause, an extension) moved it."""
    if clock.get("paused_minutes") or clock.get("extension_minutes"):
        return None
    days = _day_count(clock)
    return days[1] if days and days[2] > days[1] else None


def day_count_sentence(clock: Row, lang: str, tz: str) -> str | None:
    """How a period in days was counted (Civil Code arts. 201, 203; counting rule 8): from the
    next day, to the end of the last day, and a last day that was a rest day moved to the next
    working day."""
    from datetime import timedelta

    if not day_counted(clock):
        return None
    t = texts(lang)
    start = to_local(clock.get("start"), tz)
    if start is None:
        return None
    first = (start.date() + timedelta(days=1)).isoformat()
    text = t(_("A period counted in days does not count the day of the report: it runs from {first} (Civil Code "
               "art. 201) and ends at the end of its last day, {end} (art. 203)."),
             first=first, end=t.end(clock.get("deadline"), tz))
    deferred = _rest_day_deferred({**clock, "_tz": tz})
    if deferred is not None:
        text += " " + t(_("Its last day by the count, {day}, was a rest day (a weekend day or public holiday on the "
                          "official calendar), so the period ends with the next working day instead (art. 203, "
                          "the rest-day rule; counting rule 8)."), day=deferred.isoformat())
    return text


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
    # a period in days runs after the report (from the next day, art. 201); one in hours from it
    message = _("Promise: {clock} within {target}, {calendar}, after the report at {start} (severity {severity}, "
                "contract {contract} version {version}): {clause}.") if day_counted(clock) else \
        _("Promise: {clock} within {target}, {calendar}, from the report at {start} (severity {severity}, "
          "contract {contract} version {version}): {clause}.")
    if clock.get("what_if_file") is not None:  # not the recorded version's terms: say whose they are
        message = _("Promise (what-if): {clock} within {target}, {calendar}, after the report at {start} (severity "
                    "{severity}, the terms of file {file} in place of contract {contract} version {version}): "
                    "{clause}.") if day_counted(clock) else \
            _("Promise (what-if): {clock} within {target}, {calendar}, from the report at {start} (severity "
              "{severity}, the terms of file {file} in place of contract {contract} version {version}): {clause}.")
    return t(message,
             clock=word(lang, "clock", clock.get("clock")), target=target_text(clock, t),
             calendar=calendar_text(clock, t), start=t.time(clock.get("start"), tz),
             severity=word(lang, "severity", clock.get("clock_severity") or clock.get("severity")),
             contract=clock.get("contract") or "", version=clock.get("contract_version") or "",
             file=clock.get("what_if_file") or "",
             clause=promise_clause(clock, t) or t(_("(no clause named)")))


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
                        "is ignored: it moves neither the deadline nor the breach (counting rule 9.3)."),
    "day_counted": _("The wait ({reason}) from {at} (log position {position}) did not pause this clock: a "
                     "target counted in days runs to the end of its last day whatever the waits (Civil Code arts. 201–203)."),
    "outside_clock": _("The wait ({reason}) from {at} to {until} (log position {position}) lay outside the time "
                       "this clock ran and is ignored."),
}
CONSENT = {
    "applied": _("The consent of {at} (log position {position}) added {minutes} to the target; it was given "
                 "before the deadline it moves (counting rule 9.5)."),
    "capped": _("The consent of {at} (log position {position}) asked for {asked} in all; the clause allows at "
                "most {minutes}, so the target grew by {minutes} (counting rule 9.5)."),
    "after_deadline": _("The consent of {at} (log position {position}) was given after the deadline it would "
                        "move: it is kept as a fact but moves nothing (counting rule 9.5)."),
    "not_allowed": _("The consent of {at} (log position {position}) moves nothing: this clause allows no "
                     "extension."),
}
SEVERITY = {
    "applied": _("The change to severity {severity} at {at} (log position {position}) set the target to "
                 "{target}, still measured from the report time (counting rule 9.4)."),
    "same_target": _("The change to severity {severity} at {at} (log position {position}) left the target at "
                     "{target}."),
    "after_deadline": _("The change to severity {severity} at {at} (log position {position}) came after the "
                        "deadline had passed: the deadline and the breach stay (counting rule 9.4)."),
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
                   "breach is measured to the cancellation (counting rule 9.1)."),
}
NOT_APPLICABLE = {
    "no_target": _("Not applicable: the contract sets no such promise for severity {severity}."),
    "fixed_remotely": _("Not applicable: the fault was fixed remotely at {at} (log position {position}), so this "
                        "was never needed (counting rule 9.1)."),
    "resolved_before_trigger": _("Not applicable: the ticket was resolved at {at} (log position {position}), "
                                 "within {minutes} of the report, before a spare unit was due (counting rule 9.1)."),
    "visit_decided_in_time": _("Not applicable: the on-site visit was decided at {at} (log position {position}), "
                               "within the remote-resolution target (counting rule 9.1)."),
    "cancelled_before_deadline": _("Not applicable: the ticket was cancelled at {at} (log position {position}), "
                                   "before the deadline (counting rule 9.1)."),
}
REOPEN = _("The resolution of {at} was undone by the reopen of {until} (log position {position}): those "
           "{minutes} do not count (counting rule 9.1).")
REOPEN_AFTER_DEADLINE = _("The resolution of {at} was undone by the reopen of {until} (log position {position}). "
                          "That span of {span} began after the deadline had already passed, so leaving it out moves "
                          "nothing: the deadline stays, and the breach is measured to the final resolution (counting "
                          "rules 9.1, 9.2).")
PROVISIONAL_YEAR = _("Provisional: the result depends on {year}, whose official working-day calendar the ledger "
                     "does not hold yet; it is counted with weekends only until that year is recorded (counting rule 8).")
PROVISIONAL = _("Provisional: the result depends on a calendar year the ledger does not hold yet (counting rule 8).")
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
    if kind == "reopen" and reason == "after_deadline":
        return t(REOPEN_AFTER_DEADLINE, span=t.duration(row.get("input_minutes") or 0), **common)
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
    mine = [r for r in mine if not _changes_nothing(clock, r)]
    out = [promise_sentence(clock, lang, tz)]
    counted = day_count_sentence(clock, lang, tz)
    if counted:
        out.append(counted)
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


def _changes_nothing(clock: Row, row: Row) -> bool:
    """An input the rules weighed but that could not matter, left out of the explanation: a wait
    or reopen on a clock that was not applicable, a reopen outside the time the clock ran, a wait
    whose reason the clause does not list that began after the clock had stopped."""
    kind, reason = row.get("kind"), row.get("reason")
    if kind not in ("wait", "reopen"):
        return False
    if clock.get("state") == "not_applicable" or reason == "outside_clock":
        return True
    if kind == "wait" and reason == "not_listed" and clock.get("stopped_at"):
        began = _minutes_between(clock.get("stopped_at"), row.get("at"))
        return began is not None and began >= 0
    return False


def _sort_time(v: Any) -> str:
    local = to_local(v, "UTC")
    return local.isoformat() if isinstance(local, datetime) else ""


# --- late entries, corrections, liability -----------------------------------------------------------


def late_sentence(row: Row, lang: str, tz: str) -> str:
    """A `late_entries` row: lateness against the contract's tolerance (counting rule 9.12)."""
    t = texts(lang)
    if row.get("default_tolerance"):
        message = (_("{event} (log position {position}) occurred at {at} but the source desk recorded it {lateness} "
                     "later, beyond the default tolerance of {tolerance} (the contract sets none; counting rule 9.12).")
                   if row.get("source_recorded_at") else
                   _("{event} (log position {position}) occurred at {at} but was recorded {lateness} later, beyond "
                     "the default tolerance of {tolerance} (the contract sets none; counting rule 9.12)."))
    else:
        message = (_("{event} (log position {position}) occurred at {at} but the source desk recorded it {lateness} "
                     "later, beyond the contract's tolerance of {tolerance} (counting rule 9.12).")
                   if row.get("source_recorded_at") else
                   _("{event} (log position {position}) occurred at {at} but was recorded {lateness} later, beyond "
                     "the contract's tolerance of {tolerance} (counting rule 9.12)."))
    return t(message, event=word(lang, "event", row.get("type")), position=_pos(row),
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
                 "registered (counting rule 9.14)."),
}


def liability_sentences(li: Row | None, lang: str, tz: str, *, breached: Sequence[Row] = (),
                        losses_clause: str = "", losses_clocks: Sequence[str] = (), consumable_lines: bool = False,
                        replacement: Row | None = None) -> list[str]:
    """The liability row read out: coverage, the rule that matched, who pays what, losses.
    `breached`: the ticket's breached clock rows; those of `losses_clocks` (the clocks the losses
    clause covers; none named: every clock) are the breaches the losses rule cites;
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
                                    "is lower (counting rule 9.10, resting on Civil Code art. 498)"), rate=word(lang, "rate", li.get("parts_rate")))
                     if consumable_lines and li.get("parts_rate") not in (None, "free")
                     else word(lang, "rate", li.get("parts_rate")),
                     parts_payer=word(lang, "payer", li.get("parts_payer")),
                     labour_value=t.money(li.get("labour_value_fen") or 0),
                     labour_rate=word(lang, "rate", li.get("labour_rate")),
                     labour_payer=word(lang, "payer", li.get("labour_payer"))))
        out.append(t(_("The customer pays {customer}; the supplier bears {supplier}."),
                     customer=t.money(li.get("customer_pays_fen") or 0),
                     supplier=t.money(li.get("supplier_pays_fen") or 0)))
    elif nothing_to_pay(li):
        out.append(t(_("Cause: {cause}. No parts or labour were charged: there is nothing to pay, so no payer "
                       "to decide."), cause=cause))
    else:
        out.append(t(_("Cause: {cause}. No payer rule of the contract matches this coverage and cause: who pays "
                       "is undetermined."), cause=cause))
        out.append(t(_("Parts and labour worth {value} are in question: neither side owes them until it is decided, "
                       "and no total counts them on either side."), value=t.money(value_in_question(li))))
    losses = li.get("losses_claimed_fen") or 0
    if losses:
        covered = [c for c in breached if not losses_clocks or c.get("clock") in losses_clocks]
        cited = "; ".join(f"{word(lang, 'clock', c.get('clock'))} {verdict_short(c, lang)}" for c in covered)
        if li.get("supplier_liable_for_losses"):
            out.append(t(_("The customer claims {losses} in losses; the supplier is liable for them under {clause}, "
                           "because a promise was broken: {breaches}."),
                         losses=t.money(losses), clause=clause_text(losses_clause) or t(_("(no clause named)")),
                         breaches=cited))
        elif not losses_clause:
            out.append(t(_("The customer claims {losses} in losses; the contract has no clause making the supplier "
                           "liable for them."), losses=t.money(losses)))
        elif breached:  # breaches, but of clocks the clause does not cover
            out.append(t(_("The customer claims {losses} in losses; the supplier is not liable for them under "
                           "{clause}: it covers {covers}, none of which was breached (the {others} breach is "
                           "outside it)."),
                         losses=t.money(losses), clause=clause_text(losses_clause),
                         covers=t.listing(word(lang, "clock", c) for c in losses_clocks),
                         others=t.listing(word(lang, "clock", c.get("clock")) for c in breached)))
        else:
            out.append(t(_("The customer claims {losses} in losses; the supplier is not liable for them under "
                           "{clause}, because no clock of this ticket was breached."),
                         losses=t.money(losses), clause=clause_text(losses_clause)))
    if replacement:
        out += replacement_sentences(replacement, lang, tz)
    elif li.get("replacement_due"):
        out.append(t(_("The replacement obligation is due for this asset: it failed repeatedly for the same fault.")))
    if li.get("provisional"):
        out.append(t(_("Provisional: the warranty's end depends on a calendar year the ledger does not hold yet "
                       "(counting rule 8).")))
    return out


# --- the replacement obligation (SPEC §8 repeat failure, §9.9) -----------------------------------------

REPLACEMENT_WHEN = {
    "this_ticket": _("The replacement obligation arose during this ticket, at {due}, with the failure that "
                     "reached the threshold."),
    "during": _("The replacement obligation arose while this ticket was open, at {due}, from a failure on "
                "another ticket."),
    "earlier": _("The replacement obligation was already due before this ticket, since {due}."),
    "later": _("This asset's replacement obligation arose later, at {due}, after this ticket: it is not a fact "
               "of this ticket, which neither caused nor counted towards it."),
}


def replacement_short(rep: Row, lang: str, tz: str) -> str:
    """The obligation in a line for the first page: when it arose, the count against the
    threshold, and whether it was fulfilled."""
    t = texts(lang)
    when = {"this_ticket": _("due since {due}, reached during this ticket"),
            "during": _("due since {due}, while this ticket was open"),
            "earlier": _("due since {due}, before this ticket"),
            "later": _("arose later, at {due}, after this ticket")}[rep.get("when") or "this_ticket"]
    text = t(_("{when}: {failures} failures of the same fault counted, threshold {threshold}"),
             when=t(when, due=t.time(rep.get("due_since"), tz)), failures=rep.get("failures"),
             threshold=rep.get("threshold"))
    if rep.get("replaced_by"):
        text += t(_("; fulfilled: replaced by {by} on {at}"), by=rep["replaced_by"],
                  at=t.time(rep.get("replaced_at"), tz) if rep.get("replaced_at") else t(_("a date not recorded")))
    else:
        text += t(_("; not fulfilled: the asset has not been replaced"))
    return text


def replacement_sentences(rep: Row, lang: str, tz: str) -> list[str]:
    """The obligation explained: the clause, the count against the threshold and each failure
    counted, when it arose relative to this ticket, and whether it was fulfilled."""
    t = texts(lang)
    out = [t(REPLACEMENT_WHEN.get(rep.get("when") or "this_ticket", REPLACEMENT_WHEN["this_ticket"]),
             due=t.time(rep.get("due_since"), tz))]
    out.append(t(_("Replacement clause: {clause}. The ledger counts, per asset and fault category, every repair that "
                   "did not fix the fault, every reopened resolution and every new report within the repeat window "
                   "(counting rule 9.9); the obligation is due when the count reaches the contract's threshold of "
                   "{threshold}. Asset {asset} (serial number {serial}), fault {category}: {failures} failures."),
                 clause=clause_text(rep.get("clause")) or t(_("(no clause named)")), threshold=rep.get("threshold"),
                 asset=rep.get("asset") or "", serial=rep.get("serial") or "",
                 category=recorded_word(lang, "fault_category", rep.get("fault_category")), failures=rep.get("failures")))
    for f in rep.get("failure_list") or []:
        out.append(t(_("Failure {n} of {threshold}: {kind}, ticket {ticket}, at {at}{due}."), n=f.get("n"),
                     threshold=rep.get("threshold"), kind=word(lang, "failure_kind", f.get("kind")), ticket=f.get("ticket") or "", at=t.time(f.get("failed_at"), tz),
                     due=t(_(" — the obligation became due")) if f.get("n") == rep.get("threshold") else ""))
    if rep.get("replaced_by"):
        out.append(t(_("Fulfilled: the asset was replaced by {by} on {at} (log position {position})."),
                     by=rep["replaced_by"], at=t.time(rep.get("replaced_at"), tz),
                     position=rep.get("replaced_position") or ""))
    else:
        out.append(t(_("Not fulfilled at the evaluation time: the asset has not been replaced.")))
    return out
