"""The documents the console serves but does not write itself: the seam to the reports.

- `dispute_report_html` — the dispute report of one ticket as the A4 exhibit (replay.exhibit),
  built from the ticket's log rows up to the position the views hold and from those views (the
  data `ticketledger explain` renders).
- `dispute_report_pdf` — the same exhibit printed by the system's Chromium (adapters.printing,
  as `explain --format pdf`), dated at the views' evaluation time.
- `ticket_proof` — the evidence for the report's events (leaves, inclusion proofs, the signed
  checkpoint) that `proof verify` checks offline; ProofsUnavailable (501) while the ledger has
  no tree or no checkpoint covering the cut.
- `statement` — the monthly statement (adapters.statements, as `ticketledger statement`).
Each page calls only these functions, so switching a renderer changes this file only.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

from ..statements import LedgerAccess

SHA256 = re.compile(r"[0-9a-f]{64}")


def report_rows(ledger: Any, ticket: str, *, position: int | None = None, recorded: Any = None
                ) -> tuple[str, list[Any]]:
    """(ticket originator id, the log rows of the ticket, its asset and its contract) inside the
    cut the views were built from. LookupError when the ticket has no rows there."""
    from replay import asof

    from ..dispute import UnknownTicket, ticket_rows

    try:
        toid, rows = ticket_rows(ledger, ticket)
    except UnknownTicket:
        raise LookupError(ticket) from None
    rows = list(asof.cut(rows, asof.Cut(position=position, recorded=recorded)))
    if not rows:
        raise LookupError(ticket)
    return toid, rows


def report_data(ledger: Any, data_dir: Path, ticket: str, con: Any, *, position: int | None,
                recorded: Any = None, evidence_href: Any = None,
                ledger_lock: AbstractContextManager[Any] | None = None,
                rows_read: tuple[str, list[Any]] | None = None) -> dict[str, Any]:
    """The report as plain data (`replay.explain.build_report`), evidence checked on disk.
    `ledger_lock` is held while the ledger is read, not while the views are (at 10M events
    the views' part is ~0.7 s: held throughout, it queued every other ticket page behind it).
    `rows_read`: `report_rows` of the same cut, when the caller read them already."""
    from replay import asof
    from replay.explain import build_report

    from ..evidence import check_evidence
    from ..tlog_evidence import report_proofs

    lock = ledger_lock or nullcontext()
    if rows_read is None:
        with lock:
            rows_read = report_rows(ledger, ticket, position=position, recorded=recorded)
    toid, rows = rows_read
    stamp = asof.stamp(recorded) if recorded else None
    report = build_report(ticket, rows, con, as_of_recorded=stamp, ticket_oid=toid, evidence_href=evidence_href,
                          evidence_status=lambda sha: check_evidence(data_dir, sha))
    with lock:
        report["proofs"] = report_proofs(ledger, rows, stamp, None)  # as `explain` carries them
    return report


def report_version(report: dict[str, Any]) -> str:
    """What of the views a report shows that can change while the ticket's log rows do not: its
    clocks and liability (time moves a running clock; another ticket of the asset moves
    liability), but for the evaluation time every row is stamped with at each batch."""
    rows = [*(report.get("clocks") or []), report.get("liability") or {}]
    kept = [sorted((k, str(v)) for k, v in r.items() if k != "evaluated_at") for r in rows]
    return hashlib.sha256(repr(kept).encode()).hexdigest()


def views_version(con: Any, ticket: str) -> str:
    """`report_version` of the report these views would give the ticket, read as the report
    reads them (two scans of the 10M-event tables, not the report's five)."""
    from replay.explain import _in_clock_order, view_rows

    liability = view_rows(con, "SELECT * FROM liability WHERE ticket = ?", [ticket])
    return report_version({"clocks": _in_clock_order(view_rows(con, "SELECT * FROM sla_clocks WHERE ticket = ?",
                                                                 [ticket])),
                           "liability": liability[0] if liability else None})


def dispute_report_html(report: dict[str, Any], lang: str) -> bytes:
    """The report as one printable HTML document: the A4 exhibit in the reader's language."""
    from replay.exhibit import render_html

    return render_html(report, lang)


def dispute_report_pdf(report: dict[str, Any], lang: str) -> bytes:
    """The exhibit as an A4 PDF (PrintError when no Chromium can print it), dated at the
    report's evaluation time so two downloads of one cut are the same bytes."""
    from ..printing import print_pdf

    return print_pdf(dispute_report_html(report, lang), _instant(report.get("evaluated_at")))


def pdf_available() -> bool:
    """A PDF can be printed here (the system's Chromium is installed)."""
    from ..printing import PrintError, chromium_path

    try:
        chromium_path()
    except PrintError:
        return False
    return True


def _instant(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class ProofsUnavailable(LookupError):
    """The ledger keeps no transparency-log tree, so it has no inclusion proofs to give."""


PROOFS_UNAVAILABLE = "proofs not available on this ledger"


def proofs_available(ledger: Any) -> bool:
    """The ledger keeps a transparency-log tree with a signed checkpoint (issue 16). Read only:
    the console never builds the tree or signs; `ticketledger checkpoint` does."""
    return latest_checkpoint_id(ledger) is not None


def latest_checkpoint_id(ledger: Any) -> int | None:
    """The newest signed checkpoint's id (None without one): reports are cached per checkpoint."""
    from ..ledger_tree import LedgerTree

    try:
        latest = LedgerTree(ledger).latest_checkpoint()
    except Exception:  # noqa: BLE001 - no tree tables on this ledger: no checkpoint
        return None
    return latest.id if latest else None


def ticket_proof(ledger: Any, ticket: str, report: dict[str, Any]) -> tuple[bytes, str]:
    """(document, media type) of the evidence for the events the report cites: each event's
    stored bytes, leaf and inclusion proof against the first signed checkpoint at or after the
    report's cut — what `ticketledger proof verify FILE --log-key KEY` checks offline.
    ProofsUnavailable when the ledger has no tree or no checkpoint covering the cut (501)."""
    import msgspec

    proofs = report.get("proofs") or {}
    if "evidence" not in proofs:
        raise ProofsUnavailable(f"{PROOFS_UNAVAILABLE}: {proofs['missing']}" if proofs.get("missing")
                                else PROOFS_UNAVAILABLE)
    return msgspec.json.format(msgspec.json.encode(proofs["evidence"]), indent=2), "application/json"


def statement_data(con: Any, ledger: LedgerAccess, customer: str, contract: str | None, month: str
                   ) -> dict[str, Any]:
    """One monthly statement as data, on the path `ticketledger statement` takes
    (adapters.statements). Call it only for a customer the user's scope admits
    (queries.statement_admitted). UnknownCustomer when the views have no such customer."""
    from .. import statements as sts

    return sts.statement_data(con, customer, month, contract, ledger)


def statement(data: dict[str, Any], fmt: str, lang: str) -> tuple[bytes, str]:
    """(document, media type) of a statement: HTML, XLSX, or the HTML printed as an A4 PDF
    (PrintError when no Chromium can print it). Needs no views: run it after letting them go."""
    from .. import statements as sts

    return sts.render(data, fmt, lang, where_all="console"), sts.FORMATS[fmt]


def evidence_file(data_dir: Path, report: dict[str, Any], sha: str) -> Path | None:
    """An evidence file the report cites, by its hash, or None (no other path is ever opened)."""
    from ..evidence import evidence_path

    if not SHA256.fullmatch(sha) or sha not in {e["sha256"] for e in report.get("evidence", [])}:
        return None
    path = evidence_path(data_dir, sha)
    return path if path.is_file() else None
