"""`replay`'s scope (--customer, --contract, --tickets) and what-if (--terms, --terms-for):
reading the options, refusing what the ledger does not hold, and the what-if's count of clocks
that appeared, disappeared or changed verdict against the terms as recorded (issue 14 item 20).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from domain.events import SUBJECT_ID_PATTERN
from replay.scope import Scope

from ..data_folder import sql_text
from . import UserError
from .output import said, speak

TICKET_LINE = re.compile(SUBJECT_ID_PATTERN)  # a ticket id as the domain defines it


def ticket_ids(path: str) -> list[str]:
    """The ticket ids of a --tickets file: one a line, blank lines and '#' comments skipped."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
        _ = speak()
        raise UserError(_("--tickets {path}: cannot be read ({reason}); name a text file with "
                          "one ticket id a line, e.g. T-0001", path=path, reason=reason), code="TL-E042") from None
    out: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        t = line.split("#", 1)[0].strip()
        if not t:
            continue
        if not TICKET_LINE.match(t):
            _ = speak()
            raise UserError(_("--tickets {path} line {n}: {text} is not a ticket id; write one "
                              "ticket id a line (1-64 letters, digits, '-' or '_', e.g. T-0001)",
                              path=path, n=n, text=repr(t[:60])), code="TL-E042")
        out.append(t)
    if not out:
        _ = speak()
        raise UserError(_("--tickets {path} names no ticket; write one ticket id a line, e.g. "
                          "T-0001", path=path),
                        code="TL-E042")
    return list(dict.fromkeys(out))


def scope_of(args: argparse.Namespace, ledger: Any, stop: int | None = None) -> Scope | None:
    """The scope the options ask for, selected on the store among the events up to log position
    `stop` (the cut's last, when it is a prefix); None for a full replay."""
    from ..store_scope import UnknownInScope, select_scope

    if args.customer:
        kind, names = "customer", list(dict.fromkeys(args.customer))
    elif args.contract:
        kind, names = "contract", list(dict.fromkeys(args.contract))
    elif args.tickets:
        kind, names = "tickets", ticket_ids(args.tickets)
    else:
        return None
    try:
        return select_scope(ledger, kind, names, stop)
    except UnknownInScope as e:
        from .core import _ledger_zone

        # in the ledger's language, as `report` and `statement` refuse an unknown customer
        _ = speak(_ledger_zone(args))
        if e.kind == "ticket":
            line = _line_of(args.tickets, e.name)
            raise UserError(_("--tickets {tickets} line {line}: no ticket {name} in the ledger; "
                              "list tickets with `ticketledger report sla`",
                              tickets=args.tickets, line=line, name=repr(e.name)), code="TL-E042") from None
        said = {"name": e.name, "name_quoted": repr(e.name), "known": ", ".join(e.known)}
        if e.kind == "customer":
            known = _("; the ledger's customers include {known}", **said) if e.known else ""
            raise UserError(_("--customer {name}: no customer {name_quoted} in the ledger", **said) + known,
                            code="TL-E042") from None
        known = _("; the ledger's contracts include {known}", **said) if e.known else ""
        raise UserError(_("--contract {name}: no contract {name_quoted} in the ledger", **said) + known,
                        code="TL-E042") from None


def _line_of(path: str, ticket: str) -> int:
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if line.split("#", 1)[0].strip() == ticket:
            return n
    return 0


def what_if_of(args: argparse.Namespace, ledger: Any) -> Any:
    """The what-if terms and the contracts they replace; each named contract must be the ledger's."""
    from replay import asof

    from ..store_scope import contract_ids

    if args.terms_for and not args.terms:
        _ = speak()
        raise UserError(_("--terms-for says whose terms --terms FILE replaces; add --terms FILE"), code="TL-E001")
    if not args.terms:
        return None
    try:
        what_if = asof.load_what_if(args.terms, args.terms_for)
    except asof.NoContractNamed as e:
        raise UserError(said(e), code="TL-E043") from None
    except (OSError, ValueError) as e:  # a file that cannot be read or used: the command's code, as import's
        from .core import contract_file_error

        raise UserError(contract_file_error(args.terms, e)) from None
    if what_if.contracts is not None:
        have = contract_ids(ledger)
        unknown = sorted(what_if.contracts - set(have))
        if unknown:
            where = "--terms-for" if args.terms_for else f"{args.terms} (its id)"
            _ = speak()
            raise UserError(_("{where}: no contract {unknown} in the ledger; its contracts: "
                              "{have}; name one with --terms-for, or '*' for every one",
                              where=where, unknown=', '.join(unknown), have=", ".join(have) or _("none yet")),
                            code="TL-E043")
    return what_if


def what_if_scope(ledger: Any, terms: Any, stop: int | None = None) -> Scope | None:
    """The scope of a what-if no --customer, --contract or --tickets scopes: the contracts its
    terms replace (None: a what-if of every contract, or no what-if). Only their tickets can
    differ from the terms as recorded; the what-if and its comparison both hold this scope, so
    the two files compare row for row (`diff`) and the other contracts read as the views do."""
    from ..store_scope import select_scope

    if terms is None or terms.contracts is None:
        return None
    return select_scope(ledger, "contract", sorted(terms.contracts), stop)


def clock_changes(what_if_file: Path, base_file: Path, scope: Scope | None) -> dict[str, Any]:
    """Clocks of the what-if beside the same replay under the terms as recorded: how many
    appeared, disappeared, and changed verdict (state), with the moves between states."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {sql_text(what_if_file.resolve())} AS w (READ_ONLY)")
        con.execute(f"ATTACH {sql_text(base_file.resolve())} AS b (READ_ONLY)")
        within = ""
        if scope is not None:
            con.execute("CREATE TEMP TABLE _t AS SELECT unnest(?::VARCHAR[]) AS ticket", [sorted(scope.tickets)])
            within = "WHERE ticket IN (SELECT ticket FROM _t)"
        rows = con.execute(f"""
            WITH w AS (SELECT ticket, clock, state FROM w.main.sla_clocks {within}),
                 b AS (SELECT ticket, clock, state FROM b.main.sla_clocks {within})
            SELECT b.state, w.state, count(*) FROM w FULL JOIN b USING (ticket, clock)
            WHERE b.state IS DISTINCT FROM w.state GROUP BY ALL ORDER BY ALL""").fetchall()
        same = con.execute(f"""
            SELECT count(*) FROM (SELECT ticket, clock, state FROM w.main.sla_clocks {within}) w
            JOIN (SELECT ticket, clock, state FROM b.main.sla_clocks {within}) b USING (ticket, clock, state)
            """).fetchall()[0][0]
    finally:
        con.close()
    moves = {f"{a}->{b}": n for a, b, n in rows if a is not None and b is not None}
    return {"against": str(base_file), "appeared": sum(n for a, _, n in rows if a is None),
            "disappeared": sum(n for _, b, n in rows if b is None), "changed_verdict": sum(moves.values()),
            "unchanged": same, "moves": moves}


# the money of a what-if: the liability totals' amounts (views' liability_totals) that its terms
# can move, in this order: the losses the supplier owes, what the customer pays, what the supplier
# bears, and the value whose payer is undetermined where the views count it
MONEY = ("losses_supplier_liable_fen", "customer_pays_fen", "supplier_pays_fen", "undetermined_value_fen")


def money_changes(what_if_file: Path, base_file: Path, contracts: frozenset[str] | set[str] | None) -> list[dict[str, Any]]:
    """The liability totals of `contracts` (None: every contract) as recorded (`base_file`) and
    under the what-if, per contract and supplier, in fen, with the change (what-if - recorded)."""
    import duckdb

    from .tables import REPORTS

    table = REPORTS["totals"].table
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {sql_text(what_if_file.resolve())} AS w (READ_ONLY)")
        con.execute(f"ATTACH {sql_text(base_file.resolve())} AS b (READ_ONLY)")
        have = [{r[0] for r in con.execute(f"DESCRIBE {db}.main.{table}").fetchall()} for db in ("w", "b")]
        keys = [k for k in MONEY if k in have[0] and k in have[1]]
        within, params = "", []
        if contracts is not None:
            within, params = "WHERE contract IN (SELECT unnest(?::VARCHAR[]))", [sorted(contracts)]
        amounts = ", ".join(f"coalesce(b.{k}, 0), coalesce(w.{k}, 0)" for k in keys)
        rows = con.execute(f"""
            SELECT contract, supplier, {amounts}
            FROM (SELECT * FROM b.main.{table} {within}) b FULL JOIN (SELECT * FROM w.main.{table} {within}) w
                 USING (contract, supplier)
            ORDER BY contract, supplier""", params * 2).fetchall()
    finally:
        con.close()
    out = []
    for contract, supplier, *values in rows:
        recorded, what_if = dict(zip(keys, values[0::2], strict=True)), dict(zip(keys, values[1::2], strict=True))
        out.append({"contract": contract, "supplier": supplier, "as_recorded": recorded, "what_if": what_if,
                    "change": {k: what_if[k] - recorded[k] for k in keys}})
    return out
