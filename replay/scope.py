"""A scoped replay (issue 15): the views of one customer, contract or set of tickets, rebuilt
from only the events they need (adapters.store_scope selects them on the store).

Its rows of the scope's tickets and assets equal the same rows of a full replay at the same cut
and evaluation time (tests/test_replay_scoped.py proves it). The events replayed also hold
assets that only share a site with the scope (their site-wide visits reach it); their own rows
would miss their tickets, so `prune` drops them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .i18n import N_, Texts

# view tables keyed by asset and by ticket (projections.schema.VIEW_TABLES)
ASSET_TABLES = ("warranty", "visit_periods", "repeat_failures", "replacement_obligations")
TICKET_TABLES = ("sla_clocks", "liability", "first_time_fix")


@dataclass(frozen=True)
class Scope:
    kind: str  # customer | contract | tickets
    names: tuple[str, ...]
    tickets: frozenset[str]  # every ticket replayed whole: the scope's and its assets' other tickets
    assets: frozenset[str]  # the assets replayed whole (their tickets included)
    originators: tuple[str, ...]  # stored originator ids (hex) of every aggregate replayed

    def describe(self) -> str:
        what = {"customer": "customer", "contract": "contract", "tickets": "ticket"}[self.kind]
        named = ", ".join(self.names[:3]) + (f" and {len(self.names) - 3} more" if len(self.names) > 3 else "")
        return f"{what} {named}: {len(self.tickets)} tickets on {len(self.assets)} assets"

    def said(self, t: Texts) -> str:
        """`describe` for people, in their language (JSON keeps `describe`)."""
        what = {"customer": N_("customer {names}"), "contract": N_("contract {names}"),
                "tickets": N_("tickets {names}")}[self.kind]
        names = ", ".join(self.names[:3])
        if len(self.names) > 3:
            names = t(N_("{names} and {n} more"), names=names, n=t.number(len(self.names) - 3))
        return t(N_("{what}: {tickets} tickets on {assets} assets"), what=t(what, names=names),
                 tickets=t.number(len(self.tickets)), assets=t.number(len(self.assets)))


def prune(con: Any, scope: Scope, read_to: int | None = None) -> None:
    """Drop the rows of assets replayed only for their site-wide visits (and, defensively, of
    any ticket outside the scope), in one transaction. `read_to`: the log position the replay read
    up to (its cut), which the checkpoint then holds: the ledger's state its reports name, not the
    position of the scope's last event, which lies before it."""
    con.execute("BEGIN TRANSACTION")
    try:
        if read_to is not None:
            con.execute("UPDATE checkpoint SET position = greatest(position, ?)", [read_to])
        con.execute("CREATE OR REPLACE TEMP TABLE _scope_assets AS SELECT unnest(?::VARCHAR[]) AS asset",
                    [sorted(scope.assets)])
        con.execute("CREATE OR REPLACE TEMP TABLE _scope_tickets AS SELECT unnest(?::VARCHAR[]) AS ticket",
                    [sorted(scope.tickets)])
        for t in ASSET_TABLES:
            con.execute(f"DELETE FROM {t} WHERE asset NOT IN (SELECT asset FROM _scope_assets)")
        for t in TICKET_TABLES:
            con.execute(f"DELETE FROM {t} WHERE ticket NOT IN (SELECT ticket FROM _scope_tickets)")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
