"""How the views' tables read in a terminal: which columns a person needs by default (`--wide`
adds more, `--columns` picks), what each column holds (a time, a deadline, a duration, ¥, a code
of a vocabulary) and its header. JSON and CSV always carry every column, raw.

Headers are English, marked with N_ for the catalog, and translated when printed.
"""

from __future__ import annotations

from dataclasses import dataclass

from replay.i18n import N_

from .output import Column

# What a column of the views holds, wherever it appears (projections/README.md).
COLUMNS: dict[str, Column] = {c.key: c for c in (
    Column("ticket", N_("ticket"), "id"),
    Column("asset", N_("asset"), "id"),
    Column("contract", N_("contract"), "id"),
    Column("contract_version", N_("version"), "number"),
    Column("customer", N_("customer"), "id"),
    Column("supplier", N_("supplier"), "id"),
    Column("site", N_("site"), "id"),
    Column("clause", N_("clause")),
    Column("severity", N_("severity"), "severity"),
    Column("clock_severity", N_("clock severity"), "severity"),
    Column("clock", N_("clock"), "clock"),
    Column("calendar", N_("calendar")),
    Column("start", N_("reported"), "time"),
    Column("deadline", N_("deadline"), "end"),
    Column("stopped_at", N_("stopped"), "time"),
    Column("state", N_("state"), "state"),
    Column("breach_minutes", N_("breach"), "duration"),
    Column("paused_minutes", N_("paused"), "duration"),
    Column("extension_minutes", N_("extension"), "duration"),
    Column("counted_minutes", N_("counted"), "duration"),
    Column("target_minutes", N_("target"), "duration"),
    Column("provisional", N_("provisional"), "bool"),
    Column("final", N_("final"), "bool"),
    Column("technician", N_("technician"), "id"),
    Column("month", N_("month")),
    Column("evaluated_at", N_("evaluated at"), "time"),
    Column("obligation", N_("obligation"), "obligation"),
    Column("kind", N_("kind"), "visit_kind"),
    Column("schedule_no", N_("schedule"), "number"),
    Column("period", N_("period"), "number"),
    Column("anchor_date", N_("anchor date"), "date"),
    Column("status", N_("status"), "visit_status"),
    Column("visit_at", N_("visited"), "time"),
    Column("reported_at", N_("reported"), "time"),
    Column("coverage", N_("coverage"), "coverage"),
    Column("warranty_end", N_("warranty to"), "end"),
    Column("paid_end", N_("paid period to"), "end"),
    Column("cause", N_("cause"), "cause"),
    Column("payer_clause", N_("payer clause")),
    Column("parts_payer", N_("parts paid by"), "payer"),
    Column("labour_payer", N_("labour paid by"), "payer"),
    Column("parts_rate", N_("parts"), "rate"),
    Column("consumables_rate", N_("consumables"), "rate"),
    Column("labour_rate", N_("labour"), "rate"),
    Column("parts_value_fen", N_("parts value"), "money"),
    Column("labour_value_fen", N_("labour value"), "money"),
    Column("customer_pays_fen", N_("customer pays"), "money"),
    Column("supplier_pays_fen", N_("borne by supplier (at quoted price)"), "money"),
    Column("losses_claimed_fen", N_("losses claimed"), "money"),
    Column("losses_supplier_liable_fen", N_("losses supplier owes"), "money"),
    Column("undetermined_tickets", N_("payer undetermined"), "number"),
    Column("undetermined_value_fen", N_("value undetermined"), "money"),
    Column("supplier_liable_for_losses", N_("liable for losses"), "bool"),
    Column("replacement_due", N_("replacement due"), "bool"),
    Column("breaches_cited", N_("breaches cited")),
    Column("late_entries", N_("late entries"), "number"),
    Column("tickets", N_("tickets"), "number"),
    Column("dimension", N_("by"), "dimension"),
    Column("key", N_("value")),
    Column("clocks", N_("clocks"), "number"),
    Column("met", N_("met"), "number"),
    Column("breached", N_("breached"), "number"),
    Column("at_risk", N_("at risk"), "number"),
    Column("running", N_("running"), "number"),
    Column("not_applicable", N_("not applicable"), "number"),
    Column("breach_rate", N_("breach rate"), "percent"),
    Column("time_zone", N_("time zone")),
)}
# where the same key holds another kind of value
BY_TABLE: dict[str, dict[str, Column]] = {
    "visit_periods": {"start": Column("start", N_("from"), "date"), "end": Column("end", N_("to"), "last_day")},
    "sla_summary": {"breach_minutes": Column("breach_minutes", N_("total breach"), "duration")},
}


def column(table: str, key: str) -> Column:
    """The column `key` of `table` as people read it (a key not described here: as it is)."""
    return BY_TABLE.get(table, {}).get(key) or COLUMNS.get(key) or Column(key)


@dataclass(frozen=True)
class Report:
    """One `report` view: its table, order, title and the columns shown by default and with --wide."""

    table: str
    order: str
    title: str
    columns: tuple[str, ...]
    wide: tuple[str, ...] = ()

    def shown(self, wide: bool, chosen: list[str] | None, have: list[str]) -> list[Column]:
        keys = chosen or [k for k in (*self.columns, *(self.wide if wide else ())) if k in have]
        return [column(self.table, k) for k in keys]


REPORTS: dict[str, Report] = {
    "sla": Report("sla_clocks", "ticket, clock", N_("SLA clocks"),
                  # the severity whose target the deadline is (and the final one where it differs, §9.4)
                  ("ticket", "clock", "clock_severity", "deadline", "stopped_at", "state", "breach_minutes"),
                  ("customer", "site", "start", "paused_minutes", "extension_minutes", "provisional", "clause")),
    "visits": Report("visit_periods", "asset, schedule_no, period", N_("Follow-ups and inspections"),
                     ("asset", "obligation", "kind", "period", "start", "end", "status", "visit_at"),
                     ("customer", "site", "contract", "anchor_date", "clause")),
    "liability": Report("liability", "ticket", N_("Who pays"),
                        ("ticket", "coverage", "cause", "parts_rate", "consumables_rate", "labour_rate", "customer_pays_fen",
                         "supplier_pays_fen"),
                        ("contract", "customer", "site", "reported_at", "warranty_end", "parts_payer", "labour_payer",
                         "replacement_due", "losses_claimed_fen", "supplier_liable_for_losses",
                         "breaches_cited", "payer_clause", "provisional")),
    "summary": Report("sla_summary", "dimension, key, clock", N_("Breach rates"),
                      ("dimension", "key", "clock", "clocks", "met", "breached", "running", "breach_rate",
                       "breach_minutes"),
                      ("at_risk", "not_applicable")),
    "totals": Report("liability_totals", "contract", N_("Totals per contract"),
                     ("contract", "supplier", "tickets", "customer_pays_fen", "supplier_pays_fen",
                      "losses_claimed_fen", "losses_supplier_liable_fen"),
                     # per contract with --wide; the default table names their sum under it (views.cmd_report)
                     ("undetermined_tickets", "undetermined_value_fen")),
}
# the values of the column `--state` filters (projections/README.md)
STATES = {
    "sla_clocks": ("met", "breached", "running", "at_risk", "not_applicable"),
    "visit_periods": ("done", "due", "missed", "upcoming"),
}
# --limit when none is given, for tables; JSON and CSV carry every row unless --limit says otherwise
TABLE_LIMIT = 200
