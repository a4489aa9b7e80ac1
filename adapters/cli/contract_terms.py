"""One contract version's terms as people read them (`contract show`): the promise of each clock
per severity with the clause it is written in, the payer rules, the losses clause and the
late-entry tolerance, in the reader's language; the clauses quoted as the contract stores them."""

from __future__ import annotations

from typing import Any

import msgspec
from rich.text import Text

from domain.contract import ContractVersion
from domain.terms import Period
from replay.explanations import calendar_text
from replay.i18n import N_, Texts, word

from .output import Column, console, emit

CLOCK_COLUMNS = [Column("severity", N_("severity")), Column("clock", N_("clock")), Column("target", N_("target")),
                 Column("calendar", N_("calendar")), Column("paused_by", N_("paused by")),
                 Column("max_extension", N_("longest extension")), Column("clause", N_("clause"))]
PAYER_COLUMNS = [Column("rule", N_("rule"), "number"), Column("coverage", N_("coverage")),
                 Column("causes", N_("causes")), Column("parts", N_("parts")),
                 Column("consumables", N_("consumables")), Column("labour", N_("labour")),
                 Column("clause", N_("clause"))]


def period_said(p: Period | None, _: Texts) -> str:
    return _.period(p.amount, p.unit) if p is not None else ""


def clock_rows(v: ContractVersion, _: Texts) -> list[dict[str, Any]]:
    """One row per severity and clock, in the contract's order of severities."""
    terms = v.terms
    return [{"severity": word(_.lang, "severity", sev), "clock": word(_.lang, "clock", name),
             "target": period_said(ct.target, _) + (_(" or a solution plan") if ct.stopped_by_plan else ""),
             "calendar": calendar_text({"calendar": ct.calendar, "target_unit": ct.target.unit if ct.target else None}, _),
             "paused_by": _.listing(word(_.lang, "wait", w) for w in ct.paused_by),
             "max_extension": period_said(ct.max_extension, _), "clause": ct.clause}
            for sev in terms.severities for name, ct in terms.clocks.get(sev, {}).items()]


def payer_rows(v: ContractVersion, _: Texts) -> list[dict[str, Any]]:
    """The payer rules in the order they are tried (the first that matches applies, §9.10)."""
    def causes(codes: list[str]) -> str:
        return _("any cause") if "*" in codes else _.listing(word(_.lang, "cause", c) for c in codes)

    return [{"rule": i + 1, "coverage": word(_.lang, "coverage", p.coverage), "causes": causes(p.causes),
             "parts": word(_.lang, "rate", p.parts), "consumables": word(_.lang, "rate", p.consumables),
             "labour": word(_.lang, "rate", p.labour), "clause": p.clause}
            for i, p in enumerate(v.terms.payer)]


def losses_said(v: ContractVersion, _: Texts) -> str:
    terms = v.terms
    if not terms.losses_liable:
        return _("losses: the supplier is not liable for the customer's losses under these terms")
    clocks = (_.listing(word(_.lang, "clock", c) for c in terms.losses_clocks) if terms.losses_clocks
              else _("every clock"))
    return _("losses: a late supplier bears the customer's losses for a breach of {clocks}: «{clause}»",
             clocks=clocks, clause=terms.losses_clause)


def show_terms(v: ContractVersion, _: Texts) -> None:
    """The terms of version `v` below the versions table."""
    out = console()
    out.print(Text(""))
    if v.in_force_from is None:
        out.print(Text(_("terms of version {version} (as signed)", version=v.number)))
    else:
        out.print(Text(_("terms of version {version} (in force from {since})", version=v.number,
                         since=_.time(v.in_force_from, v.terms.timezone, zone=True))))
    emit(clock_rows(v, _), False, CLOCK_COLUMNS, title=_("promises per severity and clock"), lang=_.lang)
    emit(payer_rows(v, _), False, PAYER_COLUMNS,
         title=_("who pays (the first rule that matches applies)"), lang=_.lang)
    out.print(Text(losses_said(v, _)))
    tolerance = period_said(v.terms.late_entry_tolerance, _)
    out.print(Text(_("late entries: a fact recorded more than {tolerance} after it occurred is a late entry (§9.12)",
                     tolerance=tolerance)))


def change_said(path: str, before: Any, after: Any, _: Texts) -> str:
    """One amendment change (`domain.terms.terms_changes`) in words: a clock's target as the contract
    writes a period (`一般 响应：1 小时 → 2 小时`), any other term by its path and values."""
    parts = path.split(".")
    if len(parts) == 5 and parts[0] == "clocks" and parts[3] in ("target", "max_extension"):
        severity, clock, unit = word(_.lang, "severity", parts[1]), word(_.lang, "clock", parts[2]), parts[4]
        what = f"{severity} {clock}" + ("" if parts[3] == "target" else " " + _("longest extension"))
        return _("{what}: {before} → {after}", what=what, before=_.period(before, unit) if before is not None else "—",
                 after=_.period(after, unit) if after is not None else "—")
    if len(parts) >= 4 and parts[0] == "clocks":
        what = f"{word(_.lang, 'severity', parts[1])} {word(_.lang, 'clock', parts[2])} {'.'.join(parts[3:])}"
        return _("{what}: {before} → {after}", what=what, before=term_value(before), after=term_value(after))
    if path == "payer":  # the rules as a whole: the terms below say them in words
        return _("payer rules changed (the terms below list them)")
    if isinstance(before, list | dict) or isinstance(after, list | dict):
        return _("{what} changed", what=path)
    return _("{what}: {before} → {after}", what=path, before=term_value(before), after=term_value(after))


def term_value(value: Any) -> str:
    """A term's value as its JSON reads (a list, a number, text unquoted); — where it is absent."""
    if value is None:
        return "—"
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()
