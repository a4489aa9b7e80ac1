"""Who sees what: the one place every query of the console is limited.

A `Scope` is resolved once per request from the signed-in user and the views' own terms:
  - a supplier user sees the rows of every contract its supplier id signed;
  - a customer user sees the rows of its customer only (tickets, assets, statements, proofs);
  - an arbitrator sees the rows of the contracts named for it.
Every function of `queries` takes a Scope and puts `scope.where(alias)` into its SQL; the
templates never decide what to show. `admits` answers the same question for things that are
not rows of a query (an alert on the live stream, a file to download).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .users import User


class OutOfScope(LookupError):
    """Asked for something the user may not see (or that does not exist: the same answer)."""


@dataclass(frozen=True)
class Scope:
    user: str
    role: str
    contracts: frozenset[str] | None  # None: any contract (a customer sees all of its own)
    customers: frozenset[str] | None  # None: any customer of those contracts

    @classmethod
    def of(cls, user: User, con: Any) -> Scope:
        """Resolve a user's scope against the views (a supplier's contracts from `terms`)."""
        if user.role == "customer":
            return cls(user.name, user.role, None, frozenset({user.customer or ""}))
        if user.role == "arbitrator":
            return cls(user.name, user.role, frozenset(user.contracts), None)
        rows = con.execute("SELECT DISTINCT contract FROM terms WHERE supplier = ?", [user.supplier]).fetchall()
        return cls(user.name, user.role, frozenset(r[0] for r in rows), None)

    @property
    def sees(self) -> tuple[str, frozenset[str] | None, frozenset[str] | None]:
        """What decides everything this scope is shown, without the user's name: the key of any
        cache of pages (two users with the same role and rows share it; no other user does)."""
        return (self.role, self.contracts, self.customers)

    def where(self, alias: str = "") -> tuple[str, list[Any]]:
        """An SQL predicate over a row with `contract` and `customer` columns, and its parameters."""
        a = f"{alias}." if alias else ""
        parts, params = [], []
        for column, allowed in (("contract", self.contracts), ("customer", self.customers)):
            if allowed is None:
                continue
            if not allowed:
                return "false", []
            parts.append(f"{a}{column} IN ({', '.join('?' * len(allowed))})")
            params.extend(sorted(allowed))
        return (" AND ".join(parts) or "true"), params

    def admits(self, customer: str | None, contract: str | None) -> bool:
        if self.customers is not None and customer not in self.customers:
            return False
        return not (self.contracts is not None and contract not in self.contracts)

    def only(self, values: Iterable[str], allowed: Iterable[str]) -> None:
        """Refuse any value outside `allowed` (the values this scope can see)."""
        ok = set(allowed)
        if any(v not in ok for v in values):
            raise OutOfScope("not in your view")
