"""What every desk adapter shares: the desk's contract and placeholder assets, the summary,
and the one state machine that turns a desk status into the ticket facts it implies.

A desk adapter reads its export row by row (or event by event), maps each row to a
*status kind* — new, active, wait:<reason>, resolved, closed, cancelled — plus the row's
time, severity and assignee, and hands it to `TicketTrack.step`. The track mirrors the
ledger's ticket state closely enough to say which facts the row implies; rows that imply
none are counted as "no fact", rows that cannot be a valid event are refused with a reason.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

import msgspec

from domain import events as ev
from domain.errors import N_, Phrase
from domain.terms import Terms, TermsError, load_contract_file, terms_from_mapping

from ..importer import ImportInputError, ImportSummary, Problem, reason_kind

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"
# Desk-made records (contract, placeholder assets) carry a fixed time so that their content,
# and so their command ids, are the same on every import (idempotency, §3).
DESK_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

# Row-level refusal kinds (the start of every problem string a desk adapter yields), marked for
# the catalog: the importer says a kind in the reader's language (importer.kind_said).
KINDS = (
    N_("unknown status"),
    N_("unmapped status"),
    N_("unknown severity"),
    N_("missing or unreadable time"),
    N_("missing ticket id"),
    N_("wrong number of fields"),
    N_("update before the report time"),
    N_("update out of order"),
    N_("update after cancellation"),
    N_("unmapped hold reason"),
    N_("differs from an earlier import"),
)

# What a desk status can mean (a mapping's values): see TicketTrack.step.
STATUS_KINDS = ("new", "active", "resolved", "closed", "cancelled")

_BAD_ID = re.compile(r"[^A-Za-z0-9_-]")


def safe_id(text: str) -> str:
    """An aggregate id from a desk's id: ASCII [A-Za-z0-9_-], at most 64 characters (§6).

    Ids that must be shortened or changed get a short hash so that two desk ids never meet.
    """
    clean = _BAD_ID.sub("_", text.strip())
    if clean == text and 0 < len(clean) <= 64:
        return clean
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{clean[:55]}-{digest}"


class DeskSummary(ImportSummary):
    """ImportSummary plus what a desk import adds: its tickets and the rows that imply no new fact."""

    def __init__(self) -> None:
        super().__init__()
        self.no_fact = 0
        self.tickets = 0
        self.notes: list[Any] = []  # Phrases: what the export's layout keeps from being imported

    def refuse(self, where: str, reason: str, kind: str | None = None) -> None:
        if kind is None:
            kind = next((k for k in KINDS if reason.startswith(k)), None) or reason_kind(reason)
        super().refuse(where, reason, kind)

    def refuse_command(self, where: str, error: str, refusal: Any = None) -> None:
        """A desk's command ids are derived from its rows: one used for different content means the
        row reads differently than when an earlier import recorded it, not a command to rename."""
        if refusal is not None and refusal.wrong.startswith("command id {command_id} was already used"):
            self.refuse(where, Problem(N_("differs from an earlier import: {command}: the row gives other facts than "
                                          "an earlier import of the same desk row recorded (another --timezone "
                                          "or --mapping?); the earlier facts are kept. Import it as before, or "
                                          "into a new ledger"),
                                       "differs from an earlier import", command=refusal.command))
            return
        super().refuse_command(where, error, refusal)

    def as_dict(self) -> dict:
        return {**super().as_dict(), "tickets": self.tickets, "no_fact_rows": self.no_fact,
                "not_imported": [str(n) for n in self.notes]}


@dataclass
class Desk:
    """One desk: its contract, its customer, its placeholder assets and its id prefix."""

    prefix: str  # command-id and asset-id prefix, e.g. "sn" or "volvo"
    channel: str
    contract_id: str
    customer: str
    terms: Terms
    contract_fact: ev.ContractRegistered | None  # to record first, when the ledger lacks it
    assets_seen: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, ledger: Any, prefix: str, channel: str, contract: str | None, default_file: str,
             source: str = "--contract") -> Desk:
        """`contract` is a contract id already in the ledger or a contract file (TOML/JSON);
        `source` names where it came from in errors."""
        path = Path(contract) if contract and Path(contract).exists() else None
        if contract and path is None:
            existing = ledger.contract(contract)
            if existing is None:
                raise ImportInputError(N_("{source} {contract}: no such contract in the ledger and no "
                                  "such file; give a contract id the ledger holds or a contract "
                                  "file (TOML/JSON)"), source=source, contract=contract)
            return cls(prefix, channel, contract, existing.customer, existing.latest, None)
        try:
            data = load_contract_file(str(path or CONTRACTS_DIR / default_file))
        except TermsError as e:  # its message names the file, what is wrong and what would be right
            raise ImportInputError(N_("{source}: {error}"), source=source, error=e) from None
        except OSError as e:
            raise ImportInputError(N_("{source} {contract}: cannot be read ({reason}); give a contract "
                              "id the ledger holds or a contract file (TOML/JSON, see contracts/)"),
                              source=source, contract=contract, reason=e.strerror) from None
        existing = ledger.contract(data["id"])
        fact = None
        if existing is None:
            digest = hashlib.sha256(msgspec.json.encode(data)).hexdigest()[:16]
            fact = ev.ContractRegistered(
                command_id=f"contract-{data['id']}-{digest}", id=data["id"], occurred_at=DESK_EPOCH,
                actor=f"{prefix}-import", channel=channel, supplier=data["supplier"],
                customer_id=data["customer"], name=data.get("name", ""), terms=data["terms"],
            )
            terms = terms_from_mapping(data["terms"])
        else:
            terms = existing.latest
        return cls(prefix, channel, data["id"], data["customer"], terms, fact)

    def setup(self) -> list[tuple[str, ev.Fact]]:
        return [("contract", self.contract_fact)] if self.contract_fact else []

    def asset_for(self, ci: str | None) -> tuple[str, ev.AssetRegistered | None]:
        """The placeholder asset for a configuration item (None: the desk's one placeholder, §9.14)."""
        asset_id = safe_id(f"{self.prefix.upper()}-desk" if not ci else f"{self.prefix.upper()}-CI-{ci}")
        if asset_id in self.assets_seen:
            return asset_id, None
        self.assets_seen.add(asset_id)
        return asset_id, ev.AssetRegistered(
            command_id=f"{self.prefix}-asset-{asset_id}", id=asset_id, occurred_at=DESK_EPOCH,
            actor=f"{self.prefix}-import", channel=self.channel, serial=ci or f"{self.prefix} desk (no CI)",
            asset_type="desk-ci", customer_id=self.customer, site="unknown",
            contract_id=self.contract_id, placeholder=True,
        )


@dataclass(slots=True)
class TicketTrack:
    """The adapter's mirror of one ticket, to tell which facts a desk row implies."""

    ticket: str
    opened_at: datetime
    severity: str
    status: str = "open"  # open, resolved, closed, cancelled
    acked: bool = False
    wait: str | None = None
    last_at: datetime | None = None
    assignee: str | None = None
    zone: tzinfo | None = None  # the desk's zone, to show times in refusals as the export has them

    def _shown(self, t: datetime) -> str:
        return (t.astimezone(self.zone) if self.zone else t).isoformat()

    def check_time(self, t: datetime) -> Problem | None:
        if t < self.opened_at:
            return Problem(N_("update before the report time: {time} < opened {opened}"),
                           "update before the report time", time=self._shown(t), opened=self._shown(self.opened_at))
        return None

    def may_refuse_order(self, t: datetime) -> bool:
        """Whether `check_order` could refuse a row at `t`: only then must the adapter keep a copy
        of the track to restore (copying on every row cost a tenth of the adapter's time)."""
        return self.last_at is not None and t < self.last_at

    def check_order(self, t: datetime) -> Problem | None:
        """A row that implies facts may not go back before the ticket's last recorded fact:
        its facts would contradict the order of the ones already taken (a row out of order
        that implies nothing new is harmless and counted as "no fact")."""
        if self.last_at is not None and t < self.last_at:
            return Problem(N_("update out of order: {time} is before the ticket's last recorded fact at {last}"),
                           "update out of order", time=self._shown(t), last=self._shown(self.last_at))
        return None

    def step(self, kind: str, t: datetime) -> list[tuple[type[ev.Fact], dict]] | Problem:
        """The facts a row in status `kind` at time `t` implies (after the time checks)."""
        out: list[tuple[type[ev.Fact], dict]] = []
        end_wait = self._end_wait  # a bound method, not a closure made anew for every row
        base, _, reason = kind.partition(":")
        if base in ("new", "active", "wait"):
            if self.status == "cancelled":
                return Problem(N_("update after cancellation: the ticket was cancelled (closed without resolution)"),
                               "update after cancellation")
            if self.status in ("resolved", "closed"):
                out.append((ev.TicketReopened, {"reason": f"desk status back to {kind}"}))
                self.status = "open"
            if base != "new" and not self.acked:
                out.append((ev.TicketAcknowledged, {}))
                self.acked = True
            if base == "wait":
                if self.wait != reason:
                    end_wait(out)
                    out.append((ev.WaitStarted, {"reason": reason}))
                    self.wait = reason
            else:
                end_wait(out)
        elif base == "resolved":
            if self.status == "open":
                end_wait(out)
                out.append((ev.TicketResolved, {}))
                self.status = "resolved"
        elif base == "closed":
            if self.status == "resolved":
                out.append((ev.TicketClosed, {}))
                self.status = "closed"
            elif self.status == "open":
                end_wait(out)
                out.append((ev.TicketCancelled, {"reason": "closed by the desk without a resolution"}))
                self.status = "cancelled"
        elif base == "cancelled":
            if self.status == "open":
                end_wait(out)
                out.append((ev.TicketCancelled, {"reason": "cancelled by the desk"}))
                self.status = "cancelled"
        else:
            return Problem(N_("unknown status kind {status_kind!r}"), "unknown status", status_kind=kind)
        return out

    def _end_wait(self, out: list[tuple[type[ev.Fact], dict]]) -> None:
        if self.wait:
            out.append((ev.WaitEnded, {"reason": self.wait}))
            self.wait = None


WAIT_REASONS = set(ev.WaitReason.__args__)  # type: ignore[attr-defined]


def read_mapping(path: str, example: str) -> dict[str, Any]:
    """A desk mapping file's TOML (`example` names a shipped one); ImportInputError naming the file
    and what would be right when it cannot be read."""
    where = f"--mapping {path}"
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ImportInputError(N_("{where}: no such file; give the mapping TOML (e.g. {example})"),
                               where=where, example=example) from None
    except IsADirectoryError:
        raise ImportInputError(N_("{where} is a folder; name the mapping TOML file (e.g. {example})"),
                               where=where, example=example) from None
    except OSError as e:
        raise ImportInputError(N_("{where}: cannot be read ({reason})"), where=where, reason=e.strerror) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ImportInputError(N_("{where}: not valid TOML ({error}); a mapping is written like {example}"),
                               where=where, error=e, example=example) from None


def check_status_kinds(statuses: dict[str, str], table: str, wait_from_hold: bool = False) -> None:
    """Every value of a mapping's status table is a kind TicketTrack.step knows (`wait` alone, the
    reason taken from the row's hold reason, only where `wait_from_hold`)."""
    for status, kind in statuses.items():
        base, _, reason = str(kind).partition(":")
        if kind in STATUS_KINDS or (base == "wait" and reason in WAIT_REASONS) or (kind == "wait" and wait_from_hold):
            continue
        hold = Phrase(N_(", wait (the reason from the row's hold reason)")) if wait_from_hold else ""
        raise ImportInputError(N_("[{table}] {status} maps to {kind}; use one of {kinds}{hold} or "
                          "wait:<reason> with a reason in {reasons}"),
                          table=table, status=repr(status), kind=repr(kind), kinds=', '.join(STATUS_KINDS),
                          hold=hold, reasons=', '.join(sorted(WAIT_REASONS)))


def known(names: Any, limit: int = 20) -> str:
    """A refusal's list of the accepted names, quoted, at most `limit` of them."""
    names = list(names)
    shown = ", ".join(repr(n) for n in names[:limit])
    # names and a count: the same in either language, so a refusal's template can hold it
    return shown + (f" (+{len(names) - limit})" if len(names) > limit else "")


def counter_dict(c: Counter) -> dict:
    return dict(sorted(c.items()))
